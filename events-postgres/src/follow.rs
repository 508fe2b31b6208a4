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

use events_core::{Error, Event, EventId, EventLog};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::PgEventStore;
use crate::read::decode_event;
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
        let statements = self.statements();
        // Manual audit entries are not events: nothing to follow or replay.
        // Ordered and compared by the `xid8` column itself (qualified: the text copy
        // selected for decoding would sort '1000' before '999').
        let mut s = Sql::new(statements.select_list.as_str());
        s.push(", e.txid::text FROM ")
            .push(&statements.names.table)
            .push(" e WHERE e.txid < pg_snapshot_xmin(pg_current_snapshot()) AND e.action_type <> 'manual'");
        if let Some(c) = &after {
            s.push(" AND (e.txid, e.id) > (")
                .bind("txid", c.txid.to_string())?
                .push("::text::xid8, ")
                .bind("id", bind::event_id::<L>("id", c.id)?)?
                .push(")");
        }
        s.push(" ORDER BY e.txid, e.id LIMIT ")
            .bind("limit", limit)?;
        let q = s.query();
        let rows = q
            .fetch_all(self.pool())
            .await
            .map_err(|e| Error::from_sqlx("reading committed events", e))?;
        let mut events = Vec::with_capacity(rows.len());
        let mut cursor = after;
        for row in &rows {
            let event = decode_event::<L>(row)?;
            let txid = sql::get_txid(row, (row.len() - 1, "txid"))?;
            cursor = Some(Position { txid, id: event.id });
            events.push(event);
        }
        Ok(Committed { events, cursor })
    }
}
