//! Parsing what an operator types: times (absolute or ages), durations, record
//! ids and event ids in the shapes the event log stores. Every refusal says
//! what was expected, in one line.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use events_core::{EventId, Key, KeyType, PrimaryKeyType};

/// What an absolute or relative time looks like, for error messages.
const TIME_FORMS: &str = "use RFC 3339 (2024-05-01T12:00:00Z), a date (2024-05-01), \
                          a UTC date and time (2024-05-01 12:00:00), or an age (15m, 2h, 7d)";

/// A time: RFC 3339, `YYYY-MM-DD[ HH:MM[:SS]]` in UTC, `now`, or an age
/// before now (`15m`, `2h`, `7d`, `1h30m`).
pub(crate) fn time(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(Utc::now());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    if let Ok(age) = humantime::parse_duration(text)
        && let Ok(age) = chrono::Duration::from_std(age)
        && let Some(t) = Utc::now().checked_sub_signed(age)
    {
        return Ok(t);
    }
    Err(format!("`{}` is not a time: {TIME_FORMS}", shorten(text)))
}

/// A duration: `500ms`, `1s`, `2m`, `1h30m`.
pub(crate) fn duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|_| {
        format!(
            "`{}` is not a duration: write it as 500ms, 1s, 2m or 1h30m",
            shorten(text)
        )
    })
}

/// An age for retention: `30d`, `12h`, `1year`, `90days`.
pub(crate) fn age(text: &str) -> Result<chrono::Duration, String> {
    let bad = || {
        format!(
            "`{}` is not a period: write it as 30d, 12h, 90days or 1year",
            shorten(text)
        )
    };
    let d = humantime::parse_duration(text.trim()).map_err(|_| bad())?;
    chrono::Duration::from_std(d).map_err(|_| bad())
}

/// A record id in the log's record id type.
pub(crate) fn record_id(text: &str, ty: KeyType) -> Result<Key, String> {
    match ty {
        KeyType::Uuid => uuid::Uuid::parse_str(text.trim())
            .map(Key::Uuid)
            .map_err(|_| {
                format!(
                    "`{}` is not a record id: this log's record ids are UUIDs \
                 (0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b)",
                    shorten(text)
                )
            }),
        KeyType::Integer => text.trim().parse::<i64>().map(Key::Integer).map_err(|_| {
            format!(
                "`{}` is not a record id: this log's record ids are integers",
                shorten(text)
            )
        }),
        KeyType::String => Ok(Key::String(text.to_owned())),
    }
}

/// An event id of the log's primary key type.
pub(crate) fn event_id(text: &str, ty: PrimaryKeyType) -> Result<EventId, String> {
    match ty {
        PrimaryKeyType::Integer => text
            .trim()
            .parse::<i64>()
            .map(EventId::Integer)
            .map_err(|_| {
                format!(
                    "`{}` is not an event id: this log's event ids are integers",
                    shorten(text)
                )
            }),
        PrimaryKeyType::UuidV7 => uuid::Uuid::parse_str(text.trim())
            .map(EventId::Uuid)
            .map_err(|_| {
                format!(
                    "`{}` is not an event id: this log's event ids are UUIDs",
                    shorten(text)
                )
            }),
    }
}

/// At most 64 characters of what was typed, for an error message.
pub(crate) fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(64).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_absolute_or_ages() {
        let t = time("2024-05-01T12:00:00+02:00").expect("rfc 3339");
        assert_eq!(t.to_rfc3339(), "2024-05-01T10:00:00+00:00");
        assert_eq!(
            time("2024-05-01").expect("date").to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        assert_eq!(
            time("2024-05-01 08:30")
                .expect("date and time")
                .to_rfc3339(),
            "2024-05-01T08:30:00+00:00"
        );
        let age = Utc::now() - time("2h").expect("age");
        assert!((age - chrono::Duration::hours(2)).num_seconds().abs() < 5);
        let err = time("yesterday").expect_err("not a time");
        assert!(
            err.starts_with("`yesterday` is not a time: use RFC 3339"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn ids_follow_the_logs_types() {
        assert_eq!(record_id("42", KeyType::Integer), Ok(Key::Integer(42)));
        assert!(record_id("abc", KeyType::Uuid).is_err_and(|e| e.contains("UUIDs")));
        assert_eq!(
            event_id("7", PrimaryKeyType::Integer),
            Ok(EventId::Integer(7))
        );
        assert!(event_id("x", PrimaryKeyType::Integer).is_err());
        assert_eq!(age("30d"), Ok(chrono::Duration::days(30)));
        assert!(age("soon").is_err());
        assert_eq!(shorten(&"a".repeat(70)).chars().count(), 65);
    }
}
