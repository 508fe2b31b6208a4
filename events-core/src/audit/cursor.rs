//! Keyset cursors: a position in one [`Order`], with an opaque text form that
//! survives a URL. Owns [`Cursor`], its text format (`c1.<order>.<micros>.<id>`)
//! and the parsing that refuses malformed or foreign cursors.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::{Order, check};
use crate::{Error, EventId};

/// A position in one order, for keyset paging: the entry's sort time and id.
///
/// Its text form (`Display` / `FromStr`) is opaque and safe to put in a URL;
/// parsing a malformed or foreign one is [`AuditError::InvalidFilter`](crate::AuditError::InvalidFilter) for `cursor`.
/// Times are kept to the microsecond, PostgreSQL's precision, which is what
/// stored entries carry.
///
/// ```
/// use events_core::{EventId, audit::{Cursor, Order}};
/// let at = chrono::DateTime::from_timestamp_micros(1_718_000_000_123_456).unwrap();
/// let c = Cursor { order: Order::OccurredDesc, at, id: EventId::Integer(42) };
/// let text = c.to_string();
/// assert_eq!(text.parse::<Cursor>()?, c);
/// assert!("c1.od.x.i42".parse::<Cursor>().is_err());
/// # Ok::<(), events_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Cursor {
    /// The order the cursor belongs to.
    pub order: Order,
    /// The entry's `occurred_at` or `committed_at`, per the order.
    pub at: DateTime<Utc>,
    /// The entry's id.
    pub id: EventId,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.at.timestamp_micros();
        match self.id {
            EventId::Integer(i) => write!(f, "c1.{}.{micros}.i{i}", self.order.code()),
            EventId::Uuid(u) => write!(f, "c1.{}.{micros}.u{}", self.order.code(), u.simple()),
        }
    }
}

impl From<Cursor> for String {
    fn from(cursor: Cursor) -> String {
        cursor.to_string()
    }
}

impl TryFrom<String> for Cursor {
    type Error = Error;
    fn try_from(text: String) -> Result<Self, Error> {
        text.parse()
    }
}

impl FromStr for Cursor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            check::filter(
                "cursor",
                "not a cursor of this audit log; pass `next_cursor` of a page back unchanged",
            )
        };
        if s.len() > 80 {
            return Err(bad());
        }
        let mut parts = s.split('.');
        let (Some("c1"), Some(order), Some(micros), Some(id), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let order = Order::from_code(order).ok_or_else(bad)?;
        let at = micros
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_micros)
            .filter(|at| check::time_problem(*at).is_none())
            .ok_or_else(bad)?;
        let id = match id.split_at_checked(1) {
            Some(("i", n)) => EventId::Integer(n.parse().map_err(|_| bad())?),
            Some(("u", u)) if u.len() == 32 => {
                EventId::Uuid(uuid::Uuid::parse_str(u).map_err(|_| bad())?)
            }
            _ => return Err(bad()),
        };
        Ok(Cursor { order, at, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() -> Result<(), Error> {
        let at = DateTime::from_timestamp_micros(1_718_000_000_123_456).ok_or(Error::Audit(
            crate::AuditError::EntryNotFound {
                id: EventId::Integer(0),
            },
        ))?;
        for id in [EventId::Integer(-5), EventId::Uuid(uuid::Uuid::now_v7())] {
            for order in [
                Order::OccurredAsc,
                Order::OccurredDesc,
                Order::CommittedAsc,
                Order::CommittedDesc,
            ] {
                let c = Cursor { order, at, id };
                assert_eq!(c.to_string().parse::<Cursor>()?, c);
            }
        }
        for bad in [
            "",
            "c1",
            "c1.od.1.i1.extra",
            "c2.od.1.i1",
            "c1.zz.1.i1",
            "c1.od.99999999999999999999.i1",
            "c1.od.1.x1",
            "c1.od.1.u123",
            "c1.od.1.i' OR 1=1",
            "c1.od.1.é",
        ] {
            let err = bad.parse::<Cursor>().expect_err(bad);
            assert!(
                matches!(&err, Error::Audit(crate::AuditError::InvalidFilter { field, .. }) if field == "cursor"),
                "{bad}: {err}"
            );
        }
        Ok(())
    }
}
