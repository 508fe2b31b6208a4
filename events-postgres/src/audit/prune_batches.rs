//! [`BatchedPrune`]: a prune in batches, started by
//! [`AuditLog::prune_in_batches`] or
//! [`AuditLog::prune_in_batches_giving_up_replay`] (in `retention.rs`, with
//! the other prunes): the cutoff it fixed, the batches it ran, their sum, and
//! the call of `<table>_prune_batch` that runs one, in its own transaction.

use chrono::{DateTime, Utc};
use events_core::audit::PruneReport;
use events_core::{Error, EventId, EventLog, PrimaryKeyType};

use super::AuditLog;
use super::retention::entry_id;
use crate::sql::get;

/// A prune in batches, from [`AuditLog::prune_in_batches`] or
/// [`AuditLog::prune_in_batches_giving_up_replay`]: its cutoff fixed when it
/// started, the oldest entries before it deleted at most `batch_size` at a
/// time by [`next_batch`](Self::next_batch), each batch in its own transaction
/// and recorded as its own `audit.pruned` entry.
///
/// **Stopping.** Between batches, stopping costs nothing: what is deleted
/// stays deleted and recorded, the rest stays, and a new prune with the same
/// period continues where this one stopped (with a cutoff a little later). A
/// batch is all or nothing: dropping the future of `next_batch` before it
/// returns rolls its batch back, unless its commit had already been sent (then
/// the batch is deleted and recorded all the same, but not counted here).
///
/// ```no_run
/// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
/// let mut prune = audit.prune_in_batches(chrono::Duration::days(90), 1_000).await?;
/// let started = std::time::Instant::now();
/// while let Some(batch) = prune.next_batch().await? {
///     if batch.more && started.elapsed() > std::time::Duration::from_secs(60) {
///         break; // a minute per run; the next run continues
///     }
/// }
/// println!("{:?}", prune.report());
/// # Ok(()) }
/// ```
pub struct BatchedPrune<L: EventLog> {
    audit: AuditLog<L>,
    /// `None`: before all time (a period beyond any representable time).
    cutoff: Option<DateTime<Utc>>,
    give_up_replay: bool,
    batch_size: i32,
    batches: u64,
    deleted: u64,
    deleted_actions: u64,
    state: State,
}

/// Where a batched prune is.
#[derive(Debug, Clone, Copy)]
enum State {
    /// No batch has run.
    Fresh,
    /// A batch has run (its entry), and entries before the cutoff remained.
    Running(EventId),
    /// The last batch has run (its entry): none remained.
    Done(EventId),
}

/// What one batch of a [`BatchedPrune`] did, recorded as its `audit.pruned`
/// entry.
///
/// ```
/// use events_core::EventId;
/// use events_postgres::audit::PruneBatch;
///
/// let batch = PruneBatch {
///     number: 2,
///     deleted: 10_000,
///     deleted_actions: 0,
///     total_deleted: 20_000,
///     more: true,
///     entry: EventId::Integer(7),
/// };
/// assert!(batch.more, "another batch follows");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PruneBatch {
    /// Which batch of the prune this is: 1, 2, ...
    pub number: u64,
    /// Entries this batch deleted, manual entries and action events.
    pub deleted: u64,
    /// Of those, events of recorded actions (non-zero only when replay is
    /// given up, or the log cannot replay).
    pub deleted_actions: u64,
    /// Entries the prune's batches deleted so far, this one included: where a
    /// progress bar stands.
    pub total_deleted: u64,
    /// Whether entries before the cutoff remained after this batch: the next
    /// [`next_batch`](BatchedPrune::next_batch) deletes them. False for the last
    /// batch.
    pub more: bool,
    /// The manual entry (`audit.pruned`) recording this batch.
    pub entry: EventId,
}

impl<L: EventLog> std::fmt::Debug for BatchedPrune<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchedPrune")
            .field("table", &L::TABLE)
            .field("cutoff", &self.cutoff)
            .field("give_up_replay", &self.give_up_replay)
            .field("batch_size", &self.batch_size)
            .field("batches", &self.batches)
            .field("deleted", &self.deleted)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<L: EventLog> BatchedPrune<L> {
    /// A prune of `audit` by `cutoff` (`None`: before all time), no batch run.
    pub(super) fn new(
        audit: AuditLog<L>,
        cutoff: Option<DateTime<Utc>>,
        give_up_replay: bool,
        batch_size: u32,
    ) -> Self {
        BatchedPrune {
            audit,
            cutoff,
            give_up_replay,
            // A batch of over 2^31 entries is as good as unbounded.
            batch_size: i32::try_from(batch_size).unwrap_or(i32::MAX),
            batches: 0,
            deleted: 0,
            deleted_actions: 0,
            state: State::Fresh,
        }
    }

    /// Entries that occurred before this instant are deleted, in every batch
    /// ([`DateTime::<Utc>::MIN_UTC`] for a period longer than any history).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let prune = audit.prune_in_batches(chrono::Duration::days(30), 10_000).await?;
    /// println!("deleting entries before {}", prune.cutoff());
    /// # Ok(()) }
    /// ```
    pub fn cutoff(&self) -> DateTime<Utc> {
        self.cutoff.unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Whether this prune deletes the events of recorded actions too, giving
    /// up replay.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let prune = audit.prune_in_batches_giving_up_replay(chrono::Duration::days(30), 10_000).await?;
    /// assert!(prune.gives_up_replay());
    /// # Ok(()) }
    /// ```
    pub fn gives_up_replay(&self) -> bool {
        self.give_up_replay
    }

    /// The batches run so far (committed).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let mut prune = audit.prune_in_batches(chrono::Duration::days(30), 10_000).await?;
    /// prune.next_batch().await?;
    /// assert_eq!(prune.batches(), 1);
    /// # Ok(()) }
    /// ```
    pub fn batches(&self) -> u64 {
        self.batches
    }

    /// Whether the last batch has run: no entry before the cutoff remained
    /// after it, and [`next_batch`](Self::next_batch) returns `None`.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let mut prune = audit.prune_in_batches(chrono::Duration::days(30), 10_000).await?;
    /// while prune.next_batch().await?.is_some() {}
    /// assert!(prune.is_done());
    /// # Ok(()) }
    /// ```
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done(_))
    }

    /// The batches so far, summed: entries and action events deleted, the
    /// cutoff, and the `audit.pruned` entry of the last batch. `None` before
    /// the first batch has committed.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let mut prune = audit.prune_in_batches(chrono::Duration::days(30), 10_000).await?;
    /// assert!(prune.report().is_none());
    /// prune.next_batch().await?;
    /// assert!(prune.report().is_some());
    /// # Ok(()) }
    /// ```
    pub fn report(&self) -> Option<PruneReport> {
        match self.state {
            State::Fresh => None,
            State::Running(entry) | State::Done(entry) => Some(self.total(entry)),
        }
    }

    /// Deletes the next batch, in its own transaction, and records it as a
    /// manual entry `audit.pruned`; `None` once the last batch has run. The
    /// first call always runs a batch (which may delete nothing, and is
    /// recorded all the same, as [`AuditLog::prune`] is).
    ///
    /// Cancel-safe between batches; a call whose future is dropped before it
    /// returns rolls its batch back unless its commit had already been sent
    /// (see [`BatchedPrune`]). A failed batch deletes nothing; calling again
    /// retries it.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let mut prune = audit.prune_in_batches(chrono::Duration::days(30), 10_000).await?;
    /// while let Some(batch) = prune.next_batch().await? {
    ///     println!("{} deleted, recorded as entry {}", batch.deleted, batch.entry);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next_batch(&mut self) -> Result<Option<PruneBatch>, Error> {
        if self.is_done() {
            return Ok(None);
        }
        self.batch().await.map(Some)
    }

    /// Runs the remaining batches to the end, calling `on_batch` after each
    /// has committed; returns their sum, as [`report`](Self::report). The
    /// future may be dropped between batches (see [`BatchedPrune`]); what its
    /// batches deleted so far stays deleted.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let prune = audit.prune_in_batches(chrono::Duration::days(30), 10_000).await?;
    /// let report = prune.run(|batch| eprintln!("batch {}: {}", batch.number, batch.deleted)).await?;
    /// println!("{} deleted in all", report.deleted);
    /// # Ok(()) }
    /// ```
    pub async fn run(
        mut self,
        mut on_batch: impl FnMut(&PruneBatch) + Send,
    ) -> Result<PruneReport, Error> {
        if let State::Done(entry) = self.state {
            return Ok(self.total(entry));
        }
        loop {
            let batch = self.batch().await?;
            on_batch(&batch);
            if !batch.more {
                return Ok(self.total(batch.entry));
            }
        }
    }

    /// One batch, whatever the state: deleted, recorded and committed, then
    /// counted.
    async fn batch(&mut self) -> Result<PruneBatch, Error> {
        let store = &self.audit.store;
        let mut q = crate::sql::query(&store.statements().prune_batch)
            .bind(self.cutoff)
            .bind(self.give_up_replay)
            .bind(self.batch_size);
        if L::PRIMARY_KEY_TYPE == PrimaryKeyType::UuidV7 {
            q = q.bind(uuid::Uuid::now_v7());
        }
        let mut tx = store.pool().begin().await.map_err(batch_error::<L>)?;
        let row = q.fetch_one(&mut *tx).await.map_err(batch_error::<L>)?;
        // Read before the commit: a row that does not decode rolls its batch back.
        let deleted = get::<i64>(&row, "out_deleted")?.unsigned_abs();
        let deleted_actions = get::<i64>(&row, "out_deleted_actions")?.unsigned_abs();
        let more: bool = get(&row, "out_more")?;
        let entry = entry_id::<L>(&row)?;
        tx.commit().await.map_err(batch_error::<L>)?;

        self.batches += 1;
        self.deleted += deleted;
        self.deleted_actions += deleted_actions;
        self.state = if more {
            State::Running(entry)
        } else {
            State::Done(entry)
        };
        tracing::info!(
            batch = self.batches,
            deleted,
            deleted_actions,
            more,
            cutoff = %self.cutoff(),
            table = L::TABLE,
            "audit log batch pruned"
        );
        Ok(PruneBatch {
            number: self.batches,
            deleted,
            deleted_actions,
            total_deleted: self.deleted,
            more,
            entry,
        })
    }

    /// The sum of the batches so far, the last recorded as `entry`.
    fn total(&self, entry: EventId) -> PruneReport {
        PruneReport {
            deleted: self.deleted,
            deleted_actions: self.deleted_actions,
            cutoff: self.cutoff(),
            entry,
        }
    }
}

/// A batch's failure, saying what to do when the cause is a deployment older
/// than `<table>_prune_batch` (no function, or no grant on it).
fn batch_error<L: EventLog>(e: sqlx::Error) -> Error {
    let context = match e.as_database_error().and_then(|d| d.code()).as_deref() {
        Some("42883") => format!(
            "pruning a batch of `{table}` (`{table}_prune_batch` is missing: run this release's \
             migration, `migrate()` or `events migrate`, then the retention role's grants from \
             `grants_sql`)",
            table = L::TABLE
        ),
        Some("42501") => format!(
            "pruning a batch of `{table}` (this role may not run `{table}_prune_batch`: as the \
             table's owner, run the retention role's grants from `grants_sql`, or `events grants \
             --apply`)",
            table = L::TABLE
        ),
        _ => format!("pruning a batch of `{}`", L::TABLE),
    };
    Error::from_sqlx(context, e)
}
