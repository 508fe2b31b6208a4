//! Following the audit log: entries matching a query's filters, manual entries
//! included, in commit-safe `(txid, id)` order ([`AuditLog::follow`]), what a
//! terminal's `tail -f` runs.
//!
//! [`PgEventStore::read_committed`](crate::PgEventStore::read_committed) and
//! subscriptions follow the events of actions; this follows every entry the
//! audit query API returns, with its filters applied in SQL. The order and the
//! rule are the follower's ([`crate::follow`]): only rows whose transaction id is
//! below the reading snapshot's `xmin` are returned, so an entry whose
//! transaction commits late is never passed over. When a page comes back short,
//! the position moves up to the `xmin` read just before it, so later polls do
//! not scan again the rows the filters rejected.

use events_core::audit::{AuditEntry, AuditQuery, ValidQuery};
use events_core::{Error, EventId, EventLog, PrimaryKeyType};

use super::AuditLog;
use super::decode::decode_entry;
use super::sql::{Sql, bind_id};
use crate::follow::{Position, Snapshot};
use crate::sql::get_txid;
use crate::subscribe::StartAt;

/// A follower of the entries of one audit query, from [`AuditLog::follow`].
///
/// ```no_run
/// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
/// use events_core::audit::AuditQuery;
/// use events_postgres::subscribe::StartAt;
///
/// let mut follower = audit.follow(&AuditQuery::new().action_pattern("project.*"), StartAt::Now).await?;
/// loop {
///     for entry in follower.next_batch(500).await? {
///         println!("{} {}", entry.id, entry.action);
///     }
///     tokio::time::sleep(std::time::Duration::from_secs(1)).await;
/// #   break;
/// }
/// # Ok(()) }
/// ```
pub struct EntryFollower<L: EventLog> {
    audit: AuditLog<L>,
    query: ValidQuery<L>,
    position: Option<Position>,
    /// With [`StartAt::Now`]: the transactions finished when following began,
    /// whose entries are passed over.
    skip: Option<Snapshot>,
}

impl<L: EventLog> std::fmt::Debug for EntryFollower<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryFollower")
            .field("query", &self.query)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl<L: EventLog> AuditLog<L> {
    /// Follows the entries matching `query`'s filters (its order and pagination
    /// are ignored) in commit-safe order, from `start`: the beginning, a saved
    /// [`Position`], or now (every transaction committed so far is passed over;
    /// those still in flight are delivered when they commit). Read with
    /// [`EntryFollower::next_batch`].
    ///
    /// Unlike subscriptions, manual entries are included: this follows the
    /// audit log, not the events replay applies.
    pub async fn follow(
        &self,
        query: &AuditQuery<L>,
        start: StartAt,
    ) -> Result<EntryFollower<L>, Error> {
        let query = self.checked(query)?;
        let (position, skip) = match start {
            StartAt::Beginning => (None, None),
            StartAt::After(position) => (Some(position), None),
            StartAt::Now => {
                let (position, snapshot) = self.store.snapshot_now().await?;
                (position, Some(snapshot))
            }
        };
        Ok(EntryFollower {
            audit: self.clone(),
            query,
            position,
            skip,
        })
    }
}

impl<L: EventLog> EntryFollower<L> {
    /// The next entries (at most `limit`, at least 1 asked) committed after the
    /// follower's position, oldest transaction first; empty when there is
    /// nothing new yet. Moves the position past them.
    pub async fn next_batch(&mut self, limit: u64) -> Result<Vec<AuditEntry>, Error> {
        let limit =
            i64::try_from(limit.clamp(1, events_core::audit::MAX_PAGE_SIZE)).unwrap_or(i64::MAX);
        let pool = self.audit.store.pool();
        // Read before the page: the page's own xmin is at least this one, so
        // every transaction below it was visible to the page.
        let row = sqlx::query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
            .fetch_one(pool)
            .await
            .map_err(|e| Error::from_sqlx("reading the snapshot's xmin", e))?;
        let xmin = get_txid(&row, (0, "xmin"))?;
        let rows = self
            .page(limit)?
            .query()
            .fetch_all(pool)
            .await
            .map_err(|e| Error::from_sqlx("following audit entries", e))?;
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= limit;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let entry = decode_entry::<L>(row)?;
            self.position = Some(Position {
                txid: entry.transaction_id,
                id: entry.id,
            });
            let skipped = self
                .skip
                .as_ref()
                .is_some_and(|s| s.finished(entry.transaction_id));
            if !skipped {
                entries.push(entry);
            }
        }
        self.audit.store.reveal_entries(&mut entries).await?;
        if !full && let Some(below) = xmin.checked_sub(1) {
            // Every matching row of a transaction below `xmin` was returned.
            let floor = Position {
                txid: below,
                id: match L::PRIMARY_KEY_TYPE {
                    PrimaryKeyType::Integer => EventId::Integer(i64::MAX),
                    PrimaryKeyType::UuidV7 => EventId::Uuid(uuid::Uuid::max()),
                },
            };
            if self.position.is_none_or(|p| p < floor) {
                self.position = Some(floor);
            }
        }
        Ok(entries)
    }

    /// Where the follower is: after this position (save it to continue later
    /// with [`StartAt::After`]).
    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// The page statement: the filters, below the snapshot's `xmin`, after the
    /// position, in `(txid, id)` order; then commit times and changes.
    fn page(&self, limit: i64) -> Result<Sql, Error> {
        let sql = self.audit.sql();
        let join_commits = self.query.uses_commit_time();
        let mut s = Sql::default();
        let committed = if join_commits {
            "p.committed_at"
        } else {
            "c.committed_at"
        };
        sql.entry_select(&mut s, &self.audit.scope, committed)?;
        s.push(&format!(
            " FROM (SELECT {}{} FROM {} e",
            sql.inner_columns,
            if join_commits { ", c.committed_at" } else { "" },
            sql.table,
        ));
        if join_commits {
            s.push(&format!(" JOIN {} c ON c.txid = e.txid", sql.commits));
        }
        s.push(" WHERE e.txid < pg_snapshot_xmin(pg_current_snapshot())");
        sql.filters(&mut s, &self.query)?;
        sql.scope_conditions(&mut s, &self.audit.scope)?;
        if let Some(p) = &self.position {
            s.push(" AND (e.txid, e.id) > (")
                .bind("txid", p.txid.to_string())?
                .push("::text::xid8, ");
            let id = bind_id::<L>(&mut s, "id", p.id)?;
            s.push(&id).push(")");
        }
        s.push(" ORDER BY e.txid, e.id LIMIT ")
            .bind("limit", limit)?;
        s.push(") p");
        if !join_commits {
            s.push(&format!(" LEFT JOIN {} c ON c.txid = p.txid", sql.commits));
        }
        // `p.txid` qualified: the input's xid8, not the text column of the same name.
        s.push(&format!(
            " LEFT JOIN {} ch ON ch.event_id = p.id ORDER BY p.txid, p.id",
            sql.changes
        ));
        Ok(s)
    }
}
