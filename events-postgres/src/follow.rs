//! Following the log: reading events in commit-safe order, for subscribers,
//! projections and anything that keeps its own position in the log.
//!
//! Ids (and transaction ids) are assigned when an event is inserted, but
//! transactions commit in another order: a reader that pages by id alone can pass
//! over an event whose transaction is still open and never come back for it.
//! [`PgEventStore::read_committed`] reads in `(txid, id)` order (the replay order,
//! see `events_core::replay`) and only events whose transaction id is below the
//! reading snapshot's `xmin`: every transaction below `xmin` has finished, so no
//! event can later appear before the returned position. Paging with the returned
//! [`Position`] then sees every committed event exactly once.
//!
//! Manual audit entries (`audit().track(..)`) are not events and are not returned.
//!
//! The price is latency, not correctness: while any transaction that started
//! before an event's is still open (in any database of the cluster), that event is
//! held back. Keep transactions short.

use events_core::{Error, Event, EventId, EventLog, PrimaryKeyType};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::PgEventStore;
use crate::sql::{self, Sql, bind};

/// A position in the log's commit-safe order: after the event `id` of transaction
/// `txid`. Serializable, so a follower can store where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    /// The transaction id (`xid8`) of the last event read.
    pub txid: u64,
    /// The last event read.
    pub id: EventId,
}

impl std::fmt::Display for Position {
    /// `<txid>:<id>`, which [`FromStr`](std::str::FromStr) reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.txid, self.id)
    }
}

impl std::str::FromStr for Position {
    type Err = Error;

    /// Reads `<txid>:<id>` ([`Display`](std::fmt::Display)); the id is an
    /// integer or a UUID.
    ///
    /// ```
    /// # use events_postgres::follow::Position;
    /// let p: Position = "812:42".parse()?;
    /// assert_eq!(p.to_string(), "812:42");
    /// assert!("812".parse::<Position>().is_err());
    /// # Ok::<(), events_core::Error>(())
    /// ```
    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = |message: &str| Error::MalformedRow {
            column: "position".into(),
            message: format!("`{text}` is not a position (`<txid>:<event id>`): {message}"),
        };
        let (txid, id) = text.split_once(':').ok_or_else(|| bad("no `:`"))?;
        let txid = txid.parse().map_err(|_| bad("the txid is not a number"))?;
        let id = match id.parse::<i64>() {
            Ok(i) => EventId::Integer(i),
            Err(_) => EventId::Uuid(
                id.parse()
                    .map_err(|_| bad("the id is neither an integer nor a UUID"))?,
            ),
        };
        Ok(Position { txid, id })
    }
}

/// A page of [`PgEventStore::read_committed`].
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// Events in commit-safe order.
    pub events: Vec<Event>,
    /// Where to continue: the last event's position, or the one given when the
    /// page is empty.
    pub cursor: Option<Position>,
}

impl<L: EventLog> PgEventStore<L> {
    /// Reads up to `limit` events after `after` (from the start with `None`) in
    /// commit-safe order: no event committing later can ever sort before the
    /// returned cursor, so following with it sees each committed event once.
    ///
    /// ```no_run
    /// # async fn f<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) -> Result<(), events_core::Error> {
    /// let mut cursor = None;
    /// loop {
    ///     let page = store.read_committed(cursor, 500).await?;
    ///     for event in &page.events {
    ///         // project the event
    ///     }
    ///     cursor = page.cursor;
    ///     if page.events.is_empty() {
    ///         tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    ///     }
    /// #   break;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn read_committed(
        &self,
        after: Option<Position>,
        limit: i64,
    ) -> Result<Committed, Error> {
        if limit <= 0 {
            return Ok(Committed {
                events: Vec::new(),
                cursor: after,
            });
        }
        let page = self.read_positions(after, limit).await?;
        let cursor = page.last().map(|(position, _)| *position).or(after);
        let events = page.into_iter().map(|(_, event)| event).collect();
        Ok(Committed { events, cursor })
    }

    /// Up to `limit` (at least 1) events after `after` in commit-safe order,
    /// each with its position: what [`read_committed`](Self::read_committed)
    /// and subscriptions read.
    pub(crate) async fn read_positions(
        &self,
        after: Option<Position>,
        limit: i64,
    ) -> Result<Vec<(Position, Event)>, Error> {
        let statements = self.statements();
        // Manual audit entries are not events: nothing to follow or replay.
        // Ordered and compared by the `xid8` column itself (qualified: the text copy
        // selected for decoding would sort '1000' before '999').
        let mut s = Sql::new(statements.select_list.as_str());
        s.push(", e.txid::text FROM ")
            .push(&statements.names.table)
            .push(
                " e WHERE e.txid < pg_snapshot_xmin(pg_current_snapshot()) \
                 AND e.action_type <> 'manual'",
            );
        if let Some(c) = &after {
            s.push(" AND (e.txid, e.id) > (")
                .bind("txid", c.txid.to_string())?
                .push("::text::xid8, ")
                .bind("id", bind::event_id::<L>("id", c.id)?)?
                .push(")");
        }
        s.push(" ORDER BY e.txid, e.id LIMIT ")
            .bind("limit", limit.max(1))?;
        let rows = s
            .query()
            .fetch_all(self.pool())
            .await
            .map_err(|e| Error::from_sqlx("reading committed events", e))?;
        let events = self.decode_events(&rows, false).await?;
        rows.iter()
            .zip(events)
            .map(|(row, event)| {
                let txid = sql::get_txid(row, (row.len() - 1, "txid"))?;
                Ok((Position { txid, id: event.id }, event))
            })
            .collect()
    }

    /// Where a subscription from "now" starts, and which events it must skip:
    /// the current snapshot. Every event of a transaction that had committed
    /// when it was taken is skipped; every other (in flight then, or later)
    /// is delivered. The position is just before the snapshot's `xmin`, the
    /// oldest transaction still in flight.
    pub(crate) async fn snapshot_now(&self) -> Result<(Option<Position>, Snapshot), Error> {
        let row = sqlx::query("SELECT pg_current_snapshot()::text")
            .fetch_one(self.pool())
            .await
            .map_err(|e| Error::from_sqlx("taking the current snapshot", e))?;
        let text: String = sql::get(&row, (0, "pg_current_snapshot"))?;
        let snapshot = Snapshot::parse(&text)?;
        let position = snapshot.xmin.checked_sub(1).map(|txid| Position {
            txid,
            id: match L::PRIMARY_KEY_TYPE {
                PrimaryKeyType::Integer => EventId::Integer(i64::MAX),
                PrimaryKeyType::UuidV7 => EventId::Uuid(uuid::Uuid::max()),
            },
        });
        Ok((position, snapshot))
    }
}

/// A PostgreSQL snapshot (`xmin:xmax:xip,..`): which transactions had
/// committed when it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    xmin: u64,
    xmax: u64,
    in_progress: Vec<u64>,
}

impl Snapshot {
    /// Parses `pg_current_snapshot()::text`.
    fn parse(text: &str) -> Result<Snapshot, Error> {
        let bad = || sql::malformed("pg_current_snapshot", format!("`{text}` is not a snapshot"));
        let mut parts = text.split(':');
        let (Some(xmin), Some(xmax), Some(xip), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let number = |t: &str| t.parse::<u64>().map_err(|_| bad());
        Ok(Snapshot {
            xmin: number(xmin)?,
            xmax: number(xmax)?,
            in_progress: xip
                .split(',')
                .filter(|t| !t.is_empty())
                .map(number)
                .collect::<Result<_, _>>()?,
        })
    }

    /// True when transaction `txid` had committed (or aborted) when the
    /// snapshot was taken.
    pub(crate) fn finished(&self, txid: u64) -> bool {
        txid < self.xmin || (txid < self.xmax && !self.in_progress.contains(&txid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_say_which_transactions_had_finished() -> Result<(), Error> {
        let s = Snapshot::parse("100:105:100,103")?;
        assert!(s.finished(99) && s.finished(101) && s.finished(104));
        assert!(!s.finished(100) && !s.finished(103) && !s.finished(105));
        assert_eq!(Snapshot::parse("7:7:")?.in_progress, Vec::<u64>::new());
        assert!(Snapshot::parse("7:x:").is_err() && Snapshot::parse("7:7").is_err());
        Ok(())
    }
}
