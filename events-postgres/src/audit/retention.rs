//! Retention: the configured period ([`AuditLog::with_retention`]) and the
//! prunes, through the owner's functions, the only path past the append-only
//! guard.
//!
//! | prune | function | transactions | progress |
//! | --- | --- | --- | --- |
//! | [`AuditLog::prune`], [`AuditLog::prune_giving_up_replay`], [`AuditLog::prune_expired`] | `<table>_prune` | one: all or nothing | none until it ends |
//! | [`AuditLog::prune_in_batches`], [`AuditLog::prune_in_batches_giving_up_replay`] ([`BatchedPrune`]) | `<table>_prune_batch` | one per batch | after each batch |
//!
//! Both delete by the same rule (entries that occurred before the cutoff,
//! manual entries only on a log that replays unless replay is given up) and
//! record each transaction as a manual entry `audit.pruned`: no entry is ever
//! deleted unrecorded. A batched prune fixes its cutoff once, by the database
//! clock, and deletes the oldest entries first, so a prune stopped between
//! batches has deleted a prefix of what it would have, and running it again
//! continues.

use chrono::{DateTime, Utc};
use events_core::audit::PruneReport;
use events_core::{AuditError, Error, EventId, EventLog, PrimaryKeyType};
use sqlx::postgres::PgRow;

use super::AuditLog;
use super::prune_batches::BatchedPrune;
use crate::sql::get;

impl<L: EventLog> AuditLog<L> {
    /// Sets the retention period that [`prune_expired`](Self::prune_expired) applies.
    ///
    /// ```no_run
    /// # fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) {
    /// let audit = store.audit().with_retention(chrono::Duration::days(90));
    /// assert_eq!(audit.retention(), Some(chrono::Duration::days(90)));
    /// # }
    /// ```
    pub fn with_retention(mut self, period: chrono::Duration) -> Self {
        self.retention = Some(period);
        self
    }

    /// The configured retention period.
    pub fn retention(&self) -> Option<chrono::Duration> {
        self.retention
    }

    /// Deletes the entries that occurred more than `older_than` ago (by the
    /// database clock), with their recorded changes, and records the prune as a
    /// manual entry `audit.pruned` (metadata `cutoff`, `deleted`,
    /// `deleted_actions`, `older_than_seconds`), all in one transaction.
    ///
    /// **What it keeps.** On an event log that can replay (it has
    /// `clear_records_for_replay`), only manual entries are deleted: the events of
    /// recorded actions are what replay rebuilds state from, and deleting them
    /// would make the next replay rebuild less than there is. To delete those too,
    /// give up replay explicitly with
    /// [`prune_giving_up_replay`](Self::prune_giving_up_replay). On a log without
    /// `clear_records_for_replay` (an audit trail), every entry older than the
    /// cutoff goes.
    ///
    /// Whenever action events are deleted, the cutoff is recorded as the log's
    /// replay horizon, and from then on [`replay`](crate::PgEventStore::replay)
    /// and [`verify_replayable`](crate::PgEventStore::verify_replayable) refuse
    /// with [`ReplayError::Horizon`](events_core::ReplayError::Horizon) naming it, instead of rebuilding a partial
    /// state.
    ///
    /// Runs through the owner's `<table>_prune` function (see
    /// [`grants_sql`](crate::schema::grants_sql)): the only path past the
    /// append-only guard. A period longer than the log's history deletes nothing
    /// and succeeds; a negative one is [`AuditError::InvalidFilter`](events_core::AuditError::InvalidFilter).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let report = audit.prune(chrono::Duration::days(365)).await?;
    /// println!("{} entries before {} deleted", report.deleted, report.cutoff);
    /// # Ok(()) }
    /// ```
    pub async fn prune(&self, older_than: chrono::Duration) -> Result<PruneReport, Error> {
        self.run_prune(older_than, L::CLEAR_RECORDS_FOR_REPLAY.is_none())
            .await
    }

    /// Like [`prune`](Self::prune), but also deletes the events of recorded
    /// actions on a log that can replay, giving up replay: the cutoff is recorded
    /// as the replay horizon and every later replay or preflight fails with
    /// [`ReplayError::Horizon`](events_core::ReplayError::Horizon). For logs whose state is kept elsewhere (backups,
    /// snapshots) and whose old events are no longer wanted.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let report = audit.prune_giving_up_replay(chrono::Duration::days(7 * 365)).await?;
    /// println!("{} action events deleted; replay is no longer possible", report.deleted_actions);
    /// # Ok(()) }
    /// ```
    pub async fn prune_giving_up_replay(
        &self,
        older_than: chrono::Duration,
    ) -> Result<PruneReport, Error> {
        self.run_prune(older_than, true).await
    }

    async fn run_prune(
        &self,
        older_than: chrono::Duration,
        give_up_replay: bool,
    ) -> Result<PruneReport, Error> {
        check_period(older_than)?;
        // Milliseconds always fit an i64 for a chrono::Duration; the function
        // treats periods beyond any representable time as "before everything".
        let mut q = crate::sql::query(&self.store.statements().prune)
            .bind(older_than.num_milliseconds())
            .bind(give_up_replay);
        if L::PRIMARY_KEY_TYPE == PrimaryKeyType::UuidV7 {
            q = q.bind(uuid::Uuid::now_v7());
        }
        let row = q
            .fetch_one(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("pruning the audit log", e))?;
        let deleted: i64 = get(&row, "out_deleted")?;
        let deleted_actions: i64 = get(&row, "out_deleted_actions")?;
        let cutoff: Option<DateTime<Utc>> = get(&row, "out_cutoff")?;
        let cutoff = cutoff.unwrap_or(DateTime::<Utc>::MIN_UTC);
        let entry = entry_id::<L>(&row)?;
        let (deleted, deleted_actions) = (deleted.unsigned_abs(), deleted_actions.unsigned_abs());
        tracing::info!(deleted, deleted_actions, %cutoff, table = L::TABLE, "audit log pruned");
        Ok(PruneReport {
            deleted,
            deleted_actions,
            cutoff,
            entry,
        })
    }

    /// Prunes by the configured retention period; `None` when none is configured.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// audit.with_retention(chrono::Duration::days(365)).prune_expired().await?;
    /// # Ok(()) }
    /// ```
    pub async fn prune_expired(&self) -> Result<Option<PruneReport>, Error> {
        match self.retention {
            Some(period) => self.prune(period).await.map(Some),
            None => Ok(None),
        }
    }
}

impl<L: EventLog> AuditLog<L> {
    /// Starts a prune of what [`prune`](Self::prune) would delete, in batches of
    /// at most `batch_size` entries (the oldest first), each deleted in its own
    /// transaction and recorded as its own manual entry `audit.pruned`
    /// (metadata `cutoff`, `deleted`, `deleted_actions`, `batch_size`, `more`),
    /// so that long prunes can report progress and stop between batches. Run it
    /// with [`BatchedPrune::next_batch`] or [`BatchedPrune::run`].
    ///
    /// The cutoff is fixed now, by the database clock, for every batch: now
    /// minus `older_than`. What it keeps is what [`prune`](Self::prune) keeps:
    /// on a log that can replay, the events of recorded actions (see
    /// [`prune_in_batches_giving_up_replay`](Self::prune_in_batches_giving_up_replay)).
    /// [`PRUNE_BATCH_SIZE`](crate::audit::PRUNE_BATCH_SIZE) is a fair batch
    /// size. Each batch reads its entries from an index, in order, and stops
    /// there: it costs the same at the start and at the end of a large prune.
    ///
    /// Runs through the owner's `<table>_prune_batch` function, granted to the
    /// retention role with `<table>_prune` (see
    /// [`grants_sql`](crate::schema::grants_sql)). A negative period is
    /// [`AuditError::InvalidFilter`] on `older_than`, a batch size of 0 on
    /// `batch_size`; nothing is deleted then.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let mut prune = audit.prune_in_batches(chrono::Duration::days(365), 10_000).await?;
    /// while let Some(batch) = prune.next_batch().await? {
    ///     println!("batch {}: {} entries deleted", batch.number, batch.deleted);
    ///     // Stopping here keeps what is deleted; pruning again continues.
    /// }
    /// if let Some(report) = prune.report() {
    ///     println!("{} entries before {} deleted", report.deleted, report.cutoff);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn prune_in_batches(
        &self,
        older_than: chrono::Duration,
        batch_size: u32,
    ) -> Result<BatchedPrune<L>, Error> {
        self.start_batched_prune(
            older_than,
            batch_size,
            L::CLEAR_RECORDS_FOR_REPLAY.is_none(),
        )
        .await
    }

    /// Like [`prune_in_batches`](Self::prune_in_batches), but also deletes the
    /// events of recorded actions on a log that can replay, giving up replay as
    /// [`prune_giving_up_replay`](Self::prune_giving_up_replay) does: every
    /// batch that deletes action events records the cutoff as the replay
    /// horizon, and from the first one on, replay and its preflight refuse with
    /// [`ReplayError::Horizon`](events_core::ReplayError::Horizon), even if the
    /// prune is stopped before its end.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let prune = audit
    ///     .prune_in_batches_giving_up_replay(chrono::Duration::days(7 * 365), 10_000)
    ///     .await?;
    /// let report = prune.run(|batch| println!("{} deleted", batch.deleted)).await?;
    /// println!("{} action events deleted; replay is no longer possible", report.deleted_actions);
    /// # Ok(()) }
    /// ```
    pub async fn prune_in_batches_giving_up_replay(
        &self,
        older_than: chrono::Duration,
        batch_size: u32,
    ) -> Result<BatchedPrune<L>, Error> {
        self.start_batched_prune(older_than, batch_size, true).await
    }

    async fn start_batched_prune(
        &self,
        older_than: chrono::Duration,
        batch_size: u32,
        give_up_replay: bool,
    ) -> Result<BatchedPrune<L>, Error> {
        check_period(older_than)?;
        if batch_size == 0 {
            return Err(Error::Audit(AuditError::InvalidFilter {
                field: "batch_size".into(),
                message: "a prune batch deletes at least 1 entry: pass 1 or more, \
                          such as PRUNE_BATCH_SIZE (10,000)"
                    .into(),
            }));
        }
        let row = crate::sql::query(&self.store.statements().prune_cutoff)
            .bind(older_than.num_milliseconds())
            .fetch_one(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("reading the cutoff of a batched prune", e))?;
        Ok(BatchedPrune::new(
            self.clone(),
            get(&row, "cutoff")?,
            give_up_replay,
            batch_size,
        ))
    }
}

/// Refuses a negative retention period.
fn check_period(older_than: chrono::Duration) -> Result<(), Error> {
    if older_than < chrono::Duration::zero() {
        return Err(Error::Audit(AuditError::InvalidFilter {
            field: "older_than".into(),
            message: "a retention period cannot be negative".into(),
        }));
    }
    Ok(())
}

/// The `audit.pruned` entry's id in a prune function's row.
pub(super) fn entry_id<L: EventLog>(row: &PgRow) -> Result<EventId, Error> {
    Ok(match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => EventId::Integer(get(row, "out_entry")?),
        PrimaryKeyType::UuidV7 => EventId::Uuid(get(row, "out_entry")?),
    })
}
