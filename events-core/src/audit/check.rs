//! Validation shared by queries and manual entries: lengths, NUL characters, key
//! shapes. Every failure is a typed error naming the field, found before any SQL
//! runs, so hostile input never reaches the database as a SQL error.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{Error, Key, KeyType};

/// Longest name accepted (action, resource, mode, module, target type, request id,
/// tenant), in bytes. Stored names are limited to it too, so a longer filter could
/// never match.
pub const MAX_NAME_LEN: usize = 255;
/// Longest string key accepted (record ids, actor keys, target ids), in bytes;
/// keeps every indexed value far below PostgreSQL's B-tree entry limit.
pub const MAX_KEY_LEN: usize = 1024;
/// User agents longer than this many bytes are cut (at a character boundary) when
/// an entry is stored; nothing filters on them.
pub const MAX_USER_AGENT_LEN: usize = 1024;
/// Largest page (`per_page`, `limit`).
pub const MAX_PAGE_SIZE: u64 = 1000;
/// Most values in one list filter (`resources`, `rows`, `transactions`, ...).
pub const MAX_LIST_LEN: usize = 100;
/// Largest JSON document accepted as a metadata filter or as entry data, in bytes
/// of its serialized form.
pub const MAX_JSON_LEN: usize = 64 * 1024;

/// The earliest instant PostgreSQL's `timestamptz` holds: 4714-11-24 00:00:00
/// UTC BC (year -4713 of the proleptic Gregorian calendar chrono uses). An
/// earlier time in an audit query (a time filter or a cursor) is
/// [`AuditError::InvalidFilter`](crate::AuditError::InvalidFilter) naming the field, before any SQL runs; replaying up
/// to an earlier time replays nothing
/// ([`Replay::up_to_time`](crate::replay::Replay::up_to_time)).
///
/// ```
/// use chrono::{Datelike, Timelike};
/// let t = events_core::audit::EARLIEST_TIME;
/// assert_eq!((t.year(), t.month(), t.day(), t.hour()), (-4713, 11, 24, 0));
/// ```
pub const EARLIEST_TIME: DateTime<Utc> = match DateTime::from_timestamp_micros(
    // PostgreSQL's MIN_TIMESTAMP (-211813488000000000 µs from 2000-01-01),
    // from the Unix epoch.
    -210_866_803_200_000_000,
) {
    Some(at) => at,
    None => panic!("PostgreSQL's earliest timestamptz is within chrono's range"),
};

/// The latest instant both chrono and PostgreSQL's `timestamptz` hold: chrono's
/// [`DateTime::<Utc>::MAX_UTC`] (262143 AD), well before PostgreSQL's own
/// limit (294276 AD). Every `DateTime<Utc>` is at or before it, so no time is
/// refused for being too late.
pub const LATEST_TIME: DateTime<Utc> = DateTime::<Utc>::MAX_UTC;

/// What keeps `at` out of a query, if anything: a time before
/// [`EARLIEST_TIME`].
pub(crate) fn time_problem(at: DateTime<Utc>) -> Option<String> {
    (at < EARLIEST_TIME).then(|| {
        format!(
            "{at} is before {EARLIEST_TIME} (4714 BC), the earliest time PostgreSQL's timestamptz \
             holds; leave the bound out to mean \"from the start\""
        )
    })
}

/// A filter error.
pub(crate) fn filter(field: &str, message: impl Into<String>) -> Error {
    Error::Audit(crate::AuditError::InvalidFilter {
        field: field.to_owned(),
        message: message.into(),
    })
}

/// An entry error.
pub(crate) fn entry(field: &str, message: impl Into<String>) -> Error {
    Error::Audit(crate::AuditError::InvalidEntry {
        field: field.to_owned(),
        message: message.into(),
    })
}

/// What is wrong with `value` as a text of at most `max` bytes, if anything.
pub(crate) fn text_problem(value: &str, max: usize) -> Option<String> {
    if value.len() > max {
        return Some(format!(
            "{} bytes long; at most {max} are accepted",
            value.len()
        ));
    }
    if value.contains('\0') {
        return Some("contains a NUL character, which PostgreSQL text cannot hold".to_owned());
    }
    None
}

/// Checks a filter string.
pub(crate) fn filter_text(field: &str, value: &str, max: usize) -> Result<(), Error> {
    match text_problem(value, max) {
        Some(problem) => Err(filter(field, problem)),
        None => Ok(()),
    }
}

/// Checks an entry string.
pub(crate) fn entry_text(field: &str, value: &str, max: usize) -> Result<(), Error> {
    match text_problem(value, max) {
        Some(problem) => Err(entry(field, problem)),
        None => Ok(()),
    }
}

/// Deepest nesting of arrays and objects accepted in stored JSON, counted as
/// [`json::depth`](crate::json::depth) does (`{"a": [1]}` is 2 deep).
///
/// One rule for everything the log writes: the data and metadata of actions
/// (single calls, `#[bulk]` calls and `each(..)`), the data and metadata of
/// manual entries, and recorded [`Changes`](super::Changes). A deeper value is
/// refused before any SQL runs: [`Error::InvalidValue`] naming the column for
/// actions, [`AuditError::InvalidEntry`](crate::AuditError::InvalidEntry) naming the field for entries and changes.
///
/// Why 512: PostgreSQL 15 with its default `max_stack_depth` (2 MB) parses
/// about 13,000 levels of `jsonb` (13,087 nested objects, 14,541 nested arrays,
/// measured), so every accepted value is stored; serde_json's recursive code
/// needs up to 2 KiB of stack per level in debug builds, so at 512 levels a
/// value still fits twice in a 2 MiB tokio worker stack. The store reads any
/// depth back (rows written with raw SQL may nest deeper; see
/// [`json`](crate::json)).
///
/// ```
/// use events_core::audit::{MAX_JSON_DEPTH, stored_json_problem};
/// let mut deep = serde_json::json!(1);
/// for _ in 1..MAX_JSON_DEPTH {
///     deep = serde_json::json!([deep]);
/// }
/// assert_eq!(stored_json_problem(&serde_json::json!({"ok": deep})), None);
/// let problem = stored_json_problem(&serde_json::json!({"a": [deep]})).unwrap();
/// assert!(problem.starts_with("nested 513 levels deep"), "{problem}");
/// ```
pub const MAX_JSON_DEPTH: usize = 512;

/// Metadata keys that the event table indexes as text (`metadata ->> key`),
/// with the longest text each may hold: longer ones would not fit a B-tree
/// entry. Manual entries set them from their builder; actions from
/// [`ActionCall::request`](crate::ActionCall::request) or their own metadata.
pub const INDEXED_METADATA_KEYS: [(&str, usize); 4] = [
    ("target_id", MAX_KEY_LEN),
    ("request_id", MAX_NAME_LEN),
    ("mode", MAX_NAME_LEN),
    ("module", MAX_NAME_LEN),
];

/// What keeps `value` from being stored in a `jsonb` column and read back, if
/// anything: nesting deeper than [`MAX_JSON_DEPTH`], or a string or key holding
/// a NUL character (`jsonb` rejects `\u0000`). Walks the value with a heap
/// stack, so a value of any depth is safe to check.
///
/// This is the rule for every JSON value the log writes (see
/// [`MAX_JSON_DEPTH`]); manual entries, changes and filters are also limited in
/// size ([`MAX_JSON_LEN`]).
///
/// ```
/// use events_core::audit::stored_json_problem;
/// assert_eq!(stored_json_problem(&serde_json::json!({"a": ["b"]})), None);
/// assert!(stored_json_problem(&serde_json::json!({"a": "nul \u{0}"})).is_some());
/// ```
pub fn stored_json_problem(value: &Value) -> Option<String> {
    shape_problem(vec![(value, 0)], false)
}

/// [`stored_json_problem`] of the object holding `fields`.
pub(crate) fn stored_fields_problem(fields: &Map<String, Value>) -> Option<String> {
    let nul_key = fields.keys().any(|key| key.contains('\0'));
    shape_problem(fields.values().map(|value| (value, 1)).collect(), nul_key)
}

/// The walk of [`stored_json_problem`] from `pending` (values with the number
/// of levels above them); `nul` when a NUL character was found already.
fn shape_problem(mut pending: Vec<(&Value, usize)>, mut nul: bool) -> Option<String> {
    while let Some((value, above)) = pending.pop() {
        let depth = above + 1;
        match value {
            Value::String(s) => nul |= s.contains('\0'),
            Value::Array(items) if depth <= MAX_JSON_DEPTH => {
                pending.extend(items.iter().map(|item| (item, depth)));
            }
            Value::Object(map) if depth <= MAX_JSON_DEPTH => {
                for (key, item) in map {
                    nul |= key.contains('\0');
                    pending.push((item, depth));
                }
            }
            Value::Array(_) | Value::Object(_) => {
                let found = crate::json::depth(value).saturating_add(above);
                return Some(format!(
                    "nested {found} levels deep (arrays and objects); at most {MAX_JSON_DEPTH} \
                     are accepted: store deeper structures flattened or as a string"
                ));
            }
            _ => {}
        }
    }
    if nul {
        return Some(
            "contains a NUL character (\\u0000), which PostgreSQL jsonb cannot hold; remove it"
                .to_owned(),
        );
    }
    None
}

/// What keeps `metadata` from being stored as an event's or entry's metadata,
/// if anything: [`stored_json_problem`], or an indexed key
/// ([`INDEXED_METADATA_KEYS`]) whose text is too long for its index.
///
/// ```
/// use events_core::audit::stored_metadata_problem;
/// assert_eq!(stored_metadata_problem(&serde_json::json!({"request_id": "req-7f3a"})), None);
/// assert!(stored_metadata_problem(&serde_json::json!({"request_id": "x".repeat(300)})).is_some());
/// ```
pub fn stored_metadata_problem(metadata: &Value) -> Option<String> {
    if let Some(problem) = stored_json_problem(metadata) {
        return Some(problem);
    }
    for (key, max) in INDEXED_METADATA_KEYS {
        // The text `->>` gives: a string as it is; anything else as JSON text,
        // which PostgreSQL spaces out to at most twice the compact form.
        let len = match metadata.get(key) {
            None => continue,
            Some(Value::String(s)) => s.len(),
            Some(other) => serde_json::to_string(other).map_or(usize::MAX, |s| s.len() * 2),
        };
        if len > max {
            return Some(format!(
                "key `{key}` is indexed as text and holds {len} bytes; at most {max} are accepted"
            ));
        }
    }
    None
}

/// What is wrong with a JSON value as something to store or compare, if anything:
/// [`stored_json_problem`], or too large ([`MAX_JSON_LEN`]).
pub(crate) fn json_problem(value: &Value) -> Option<String> {
    stored_json_problem(value).or_else(|| size_problem(value))
}

/// [`json_problem`] of the object holding `fields`.
pub(crate) fn fields_problem(fields: &Map<String, Value>) -> Option<String> {
    stored_fields_problem(fields).or_else(|| size_problem(fields))
}

/// Too large ([`MAX_JSON_LEN`]) when serialized, if so.
fn size_problem<T: serde::Serialize + ?Sized>(value: &T) -> Option<String> {
    let len = serde_json::to_string(value).map_or(usize::MAX, |s| s.len());
    (len > MAX_JSON_LEN)
        .then(|| format!("{len} bytes when serialized; at most {MAX_JSON_LEN} are accepted"))
}

/// `key` in the shape of a column holding `expected` keys, for a filter or entry
/// field named `field`.
///
/// Strings are parsed: `"42"` fits an integer column, a UUID in any case fits a
/// UUID column, so keys can come straight from URLs and forms. UUIDs and integers
/// fit a string column as their text. Anything else is
/// [`AuditError::InvalidFilter`](crate::AuditError::InvalidFilter) naming `field`.
///
/// ```
/// use events_core::{Key, KeyType, audit::coerce_key};
/// let id = "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b";
/// assert_eq!(coerce_key("record_id", KeyType::Uuid, &Key::from(id))?, Key::Uuid(id.parse().unwrap()));
/// assert_eq!(coerce_key("record_id", KeyType::Integer, &Key::from("42"))?, Key::Integer(42));
/// assert!(coerce_key("record_id", KeyType::Uuid, &Key::from("not-a-uuid")).is_err());
/// # Ok::<(), events_core::Error>(())
/// ```
pub fn coerce_key(field: &str, expected: KeyType, key: &Key) -> Result<Key, Error> {
    coerce(expected, key).map_err(|message| filter(field, message))
}

/// [`coerce_key`] for entry fields: the error is [`AuditError::InvalidEntry`](crate::AuditError::InvalidEntry).
pub(crate) fn coerce_entry_key(field: &str, expected: KeyType, key: &Key) -> Result<Key, Error> {
    coerce(expected, key).map_err(|message| entry(field, message))
}

fn coerce(expected: KeyType, key: &Key) -> Result<Key, String> {
    let shown = |s: &str| -> String {
        if s.len() > 64 {
            let mut end = 64;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            format!("`{}…` ({} bytes)", &s[..end], s.len())
        } else {
            format!("`{s}`")
        }
    };
    match (expected, key) {
        (KeyType::Uuid, Key::Uuid(u)) => Ok(Key::Uuid(*u)),
        (KeyType::Uuid, Key::String(s)) => Uuid::parse_str(s.trim())
            .map(Key::Uuid)
            .map_err(|_| format!("{} is not a UUID", shown(s))),
        (KeyType::Integer, Key::Integer(i)) => Ok(Key::Integer(*i)),
        (KeyType::Integer, Key::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Key::Integer)
            .map_err(|_| format!("{} is not a 64-bit integer", shown(s))),
        (KeyType::String, Key::String(s)) => match text_problem(s, MAX_KEY_LEN) {
            Some(problem) => Err(problem),
            None => Ok(Key::String(s.clone())),
        },
        (KeyType::String, Key::Uuid(u)) => Ok(Key::String(u.to_string())),
        (KeyType::String, Key::Integer(i)) => Ok(Key::String(i.to_string())),
        (expected, other) => Err(format!(
            "{} key `{other}` does not fit a column of {expected} keys",
            other.key_type()
        )),
    }
}

/// The text a target id is stored and compared as (in the metadata key
/// `target_id`): UUIDs (also UUID-shaped strings) in lowercase hyphenated form,
/// integers in decimal, other strings as given.
///
/// ```
/// use events_core::{Key, audit::target_text};
/// assert_eq!(target_text(&Key::from("0190A5B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B")), "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b");
/// assert_eq!(target_text(&Key::from(42_i64)), "42");
/// ```
pub fn target_text(key: &Key) -> String {
    match key {
        Key::Uuid(u) => u.to_string(),
        Key::Integer(i) => i.to_string(),
        Key::String(s) => match Uuid::parse_str(s) {
            Ok(u) if s.len() == 36 => u.to_string(),
            _ => s.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coerces_strings_into_each_shape() {
        let u = Uuid::now_v7();
        assert_eq!(
            coerce(KeyType::Uuid, &Key::String(u.to_string().to_uppercase())),
            Ok(Key::Uuid(u))
        );
        assert_eq!(
            coerce(KeyType::Integer, &Key::from(" 7 ")),
            Ok(Key::Integer(7))
        );
        assert_eq!(
            coerce(KeyType::String, &Key::Integer(7)),
            Ok(Key::from("7"))
        );
        assert!(coerce(KeyType::Integer, &Key::Uuid(u)).is_err());
        assert!(coerce(KeyType::Uuid, &Key::from("' OR 1=1 --")).is_err());
        let long = "x".repeat(10_000);
        let err = coerce(KeyType::Uuid, &Key::from(long.as_str())).expect_err("not a uuid");
        assert!(err.len() < 200, "long inputs are not echoed in full: {err}");
    }

    #[test]
    fn finds_nul_characters_and_oversized_json() {
        assert!(text_problem("a\0b", 10).is_some());
        assert!(text_problem("abc", 2).is_some());
        assert!(text_problem("%_\\'", 10).is_none());
        assert!(json_problem(&serde_json::json!({"k": ["a\u{0}"]})).is_some());
        assert!(json_problem(&serde_json::json!({"a\u{0}": 1})).is_some());
        assert!(json_problem(&serde_json::json!({"k": "x".repeat(MAX_JSON_LEN)})).is_some());
        assert!(json_problem(&serde_json::json!({"k": "ok"})).is_none());
    }

    #[test]
    fn the_earliest_time_is_postgres_min_timestamp() {
        let start = chrono::NaiveDate::from_ymd_opt(-4713, 11, 24)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        assert_eq!(Some(EARLIEST_TIME), start);
        assert!(time_problem(EARLIEST_TIME).is_none());
        assert!(time_problem(LATEST_TIME).is_none());
        assert!(time_problem(EARLIEST_TIME - chrono::Duration::microseconds(1)).is_some());
        assert!(time_problem(DateTime::<Utc>::MIN_UTC).is_some());
    }

    #[test]
    fn json_rules_walk_any_depth() {
        let mut deep = serde_json::json!("leaf");
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        let problem = stored_json_problem(&deep).expect("too deep");
        assert!(
            problem.starts_with("nested 100000 levels deep"),
            "{problem}"
        );
        crate::json::with_stack(100_000, move || drop(deep));
        let mut ok = serde_json::json!({"\u{1F600}": ["é", 1e300, -0, ""]});
        for _ in 1..MAX_JSON_DEPTH - 1 {
            ok = serde_json::json!({"": ok});
        }
        assert_eq!(crate::json::depth(&ok), MAX_JSON_DEPTH);
        assert_eq!(stored_json_problem(&ok), None);
        assert!(stored_json_problem(&serde_json::json!([ok])).is_some());
        assert!(stored_metadata_problem(&serde_json::json!({"mode": "m".repeat(256)})).is_some());
        assert!(stored_metadata_problem(&serde_json::json!({"mode": "m".repeat(255)})).is_none());
        assert!(
            stored_metadata_problem(&serde_json::json!({"target_id": vec!["t"; 300]})).is_some()
        );
    }

    #[test]
    fn target_text_is_canonical() {
        let u = Uuid::now_v7();
        assert_eq!(
            target_text(&Key::String(u.to_string().to_uppercase())),
            u.to_string()
        );
        assert_eq!(target_text(&Key::Integer(5)), "5");
        assert_eq!(target_text(&Key::from("bob")), "bob");
    }
}
