//! What an operator asks of a log before acting on it: is it set up
//! ([`PgEventStore::is_migrated`]), how large is it and what does it hold
//! ([`PgEventStore::stats`]), and what would a prune delete
//! ([`AuditLog::prune_preview`](crate::AuditLog::prune_preview)). The
//! `events status` and `events prune --dry-run` commands of `events-cli` print
//! these.
//!
//! Counts are exact (`count(*)`, index-only where an index serves it): these
//! are for an operator's terminal, not for a request path.

use chrono::{DateTime, Utc};
use events_core::audit::EntryKind;
use events_core::{Error, EventLog};
use serde::{Deserialize, Serialize};

use crate::sql::names::Names;
use crate::sql::{Sql, get, prune_cutoff_sql};
use crate::{AuditLog, PgEventStore};

/// One table of an event log, its rows and its size on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableStats {
    /// The table's name as the log names it (`events_changes`).
    pub name: String,
    /// What it holds.
    pub role: String,
    /// Rows, counted; `None` when the table does not exist (a migration of an
    /// older version).
    pub rows: Option<u64>,
    /// Bytes on disk with its indexes and TOAST (`pg_total_relation_size`);
    /// `None` when the table does not exist.
    pub bytes: Option<u64>,
}

/// What an event log holds: [`PgEventStore::stats`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogStats {
    /// The event table ([`EventLog::TABLE`]).
    pub table: String,
    /// Entries by kind, every kind listed (zero when absent), in
    /// [`EntryKind::ALL`] order.
    pub kinds: Vec<(EntryKind, u64)>,
    /// When the oldest entry occurred; `None` for an empty log.
    pub oldest: Option<DateTime<Utc>>,
    /// When the newest entry occurred; `None` for an empty log.
    pub newest: Option<DateTime<Utc>>,
    /// The event table and its side tables.
    pub tables: Vec<TableStats>,
    /// Where retention gave up replay (entries before it were deleted), if it
    /// ever did: replay refuses from then on.
    pub replay_horizon: Option<DateTime<Utc>>,
}

impl LogStats {
    /// Every entry, of every kind.
    ///
    /// ```
    /// use events_core::audit::EntryKind;
    /// let stats = events_postgres::stats::LogStats {
    ///     table: "events".into(),
    ///     kinds: vec![(EntryKind::Create, 3), (EntryKind::Manual, 1)],
    ///     oldest: None, newest: None, tables: vec![], replay_horizon: None,
    /// };
    /// assert_eq!(stats.entries(), 4);
    /// ```
    pub fn entries(&self) -> u64 {
        self.kinds.iter().map(|(_, n)| n).sum()
    }
}

/// What a prune would delete now: [`AuditLog::prune_preview`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrunePreview {
    /// Entries that occurred before this instant would be deleted; `None` for a
    /// period longer than any history (nothing is).
    pub cutoff: Option<DateTime<Utc>>,
    /// Entries it would delete, manual entries and action events.
    pub entries: u64,
    /// Of those, events of recorded actions (non-zero only when replay is given
    /// up, or the log cannot replay).
    pub actions: u64,
    /// Whether the prune would give up replay (delete action events and record
    /// the cutoff as the replay horizon).
    pub gives_up_replay: bool,
}

/// The log's tables: quoted name, name as shown, role.
fn tables(table: &str) -> Vec<(String, String, &'static str)> {
    let names = Names::of(table);
    [
        (names.table, table.to_owned(), "events and manual entries"),
        (
            names.changes,
            events_core::audit::changes_table(table),
            "recorded changes",
        ),
        (
            names.commits,
            events_core::audit::commits_table(table),
            "commit times",
        ),
        (
            names.consumers,
            format!("{table}_consumers"),
            "consumer positions",
        ),
        (
            names.checkpoint,
            crate::sql::names::checkpoint_table_name(table),
            "chunked replay checkpoint",
        ),
        (
            names.horizon,
            crate::sql::names::horizon_table_name(table),
            "replay horizon",
        ),
    ]
    .into()
}

impl<L: EventLog> PgEventStore<L> {
    /// Whether the log's event table exists in the database: `false` until
    /// [`migrate`](Self::migrate) (or the [migration](crate::schema::migration_sql)
    /// run by another tool) created it.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) -> Result<(), events_core::Error> {
    /// if !store.is_migrated().await? {
    ///     store.migrate().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn is_migrated(&self) -> Result<bool, Error> {
        let row = sqlx::query("SELECT to_regclass($1) IS NOT NULL")
            .bind(&self.statements().names.table)
            .fetch_one(self.pool())
            .await
            .map_err(|e| Error::from_sqlx("looking for the event table", e))?;
        get(&row, (0, "exists"))
    }

    /// Entries by kind, the oldest and newest, the log's tables with their rows
    /// and sizes, and the replay horizon. Counts every row: a few hundred
    /// milliseconds per million entries.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) -> Result<(), events_core::Error> {
    /// let stats = store.stats().await?;
    /// println!("{} entries, the oldest from {:?}", stats.entries(), stats.oldest);
    /// # Ok(()) }
    /// ```
    pub async fn stats(&self) -> Result<LogStats, Error> {
        let names = &self.statements().names;
        let pool = self.pool();
        let kinds_sql = Sql::new(format!(
            "SELECT action_type, count(*) AS n, min(occurred_at) AS oldest, \
             max(occurred_at) AS newest FROM {} GROUP BY action_type",
            names.table
        ));
        let rows = kinds_sql
            .query()
            .fetch_all(pool)
            .await
            .map_err(|e| Error::from_sqlx("counting entries by kind", e))?;
        let mut kinds: Vec<(EntryKind, u64)> = EntryKind::ALL.iter().map(|k| (*k, 0)).collect();
        let (mut oldest, mut newest) = (None::<DateTime<Utc>>, None::<DateTime<Utc>>);
        for row in &rows {
            let kind: String = get(row, (0, "action_type"))?;
            let kind: EntryKind = kind.parse()?;
            let n = get::<i64>(row, (1, "n"))?.unsigned_abs();
            if let Some(slot) = kinds.iter_mut().find(|(k, _)| *k == kind) {
                slot.1 += n;
            }
            let (first, last): (DateTime<Utc>, DateTime<Utc>) =
                (get(row, (2, "oldest"))?, get(row, (3, "newest"))?);
            oldest = Some(oldest.map_or(first, |o| o.min(first)));
            newest = Some(newest.map_or(last, |n| n.max(last)));
        }

        let mut tables_out = Vec::new();
        for (quoted, shown, role) in tables(L::TABLE) {
            let row = sqlx::query("SELECT pg_total_relation_size(to_regclass($1))")
                .bind(&quoted)
                .fetch_one(pool)
                .await
                .map_err(|e| Error::from_sqlx(format!("measuring table {shown}"), e))?;
            let bytes: Option<i64> = get(&row, (0, "size"))?;
            let rows = match bytes {
                None => None,
                Some(_) if quoted == names.table => Some(kinds.iter().map(|(_, n)| n).sum()),
                Some(_) => {
                    let row = Sql::new(format!("SELECT count(*) FROM {quoted}"))
                        .query()
                        .fetch_one(pool)
                        .await
                        .map_err(|e| Error::from_sqlx(format!("counting table {shown}"), e))?;
                    Some(get::<i64>(&row, (0, "count"))?.unsigned_abs())
                }
            };
            tables_out.push(TableStats {
                name: shown,
                role: role.to_owned(),
                rows,
                bytes: bytes.map(i64::unsigned_abs),
            });
        }
        let horizon_exists = tables_out
            .iter()
            .find(|t| t.role == "replay horizon")
            .is_some_and(|t| t.bytes.is_some());
        let replay_horizon = if horizon_exists {
            let row = crate::sql::query(&self.statements().horizon)
                .fetch_optional(pool)
                .await
                .map_err(|e| Error::from_sqlx("reading the replay horizon", e))?;
            row.map(|row| get(&row, (0, "pruned_before"))).transpose()?
        } else {
            None
        };
        Ok(LogStats {
            table: L::TABLE.to_owned(),
            kinds,
            oldest,
            newest,
            tables: tables_out,
            replay_horizon,
        })
    }
}

impl<L: EventLog> AuditLog<L> {
    /// What [`prune`](Self::prune) (`give_up_replay` false) or
    /// [`prune_giving_up_replay`](Self::prune_giving_up_replay) (true) with
    /// `older_than` would delete if run now, by the same rule and the same
    /// database clock; deletes nothing. A negative period is
    /// [`AuditError::InvalidFilter`](events_core::AuditError::InvalidFilter),
    /// as for the prunes.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let preview = audit.prune_preview(chrono::Duration::days(365), false).await?;
    /// println!("a prune would delete {} entries", preview.entries);
    /// # Ok(()) }
    /// ```
    pub async fn prune_preview(
        &self,
        older_than: chrono::Duration,
        give_up_replay: bool,
    ) -> Result<PrunePreview, Error> {
        if older_than < chrono::Duration::zero() {
            return Err(Error::Audit(events_core::AuditError::InvalidFilter {
                field: "older_than".into(),
                message: "a retention period cannot be negative".into(),
            }));
        }
        // The prune's own rule (schema/retention.rs): only manual entries unless
        // replay is given up or the log cannot replay; the cutoff from `now()`.
        let give_up = give_up_replay || L::CLEAR_RECORDS_FOR_REPLAY.is_none();
        let table = &self.store().statements().names.table;
        let mut s = Sql::new("WITH c AS (SELECT ");
        let ms = s.arg("older_than", older_than.num_milliseconds())?;
        s.push(&format!(
            "{} AS cut) \
             SELECT count(e.id) AS n, count(e.id) FILTER (WHERE e.action_type <> 'manual') AS n_actions, \
             CASE WHEN isfinite(max(c.cut)) THEN max(c.cut) END AS cutoff \
             FROM c LEFT JOIN {table} e ON e.occurred_at < c.cut AND (",
            prune_cutoff_sql(&ms)
        ));
        s.bind("give_up_replay", give_up)?;
        s.push(" OR e.action_type = 'manual')");
        let row = s
            .query()
            .fetch_one(self.store().pool())
            .await
            .map_err(|e| Error::from_sqlx("counting what a prune would delete", e))?;
        Ok(PrunePreview {
            cutoff: get(&row, (2, "cutoff"))?,
            entries: get::<i64>(&row, (0, "n"))?.unsigned_abs(),
            actions: get::<i64>(&row, (1, "n_actions"))?.unsigned_abs(),
            gives_up_replay: give_up,
        })
    }
}
