//! Checkpointed consumers: projections that handle each committed event
//! exactly once, across crashes and restarts.
//!
//! A [`Consumer`] handles one event at a time in a transaction on the
//! application's database; the runner saves the consumer's position in that
//! same transaction (in `<table>_consumers`), so the projection's writes and
//! "this event is done" commit together or not at all. After a crash the
//! consumer resumes after the last event whose transaction committed: nothing
//! is lost, nothing is applied twice.
//!
//! - **Names.** Each consumer has a name and its own position; several run
//!   side by side on one log.
//! - **Groups.** [`ConsumerRunner::member`] splits the log between `members`
//!   runners (threads, tasks or processes) by a stable hash of (resource,
//!   record id): every event of a record goes to the same member, in order,
//!   while members work in parallel. Each member keeps its own position. The
//!   number of members of a consumer must not change while it has positions
//!   ([`PgEventStore::reset_consumer`] first).
//! - **Batches.** [`ConsumerRunner::batch_size`] lets one transaction cover
//!   up to that many events already read ([`Consumer::handle_batch`]): much
//!   faster catch-up, same guarantees.
//! - **One runner per member.** The position moves by compare-and-set: a
//!   second runner of the same consumer member (a duplicated deployment)
//!   stops with [`ConsumerError::Moved`] instead of applying events twice.
//! - **Failures.** A handler error rolls its transaction back, then the event
//!   is retried per the [`RetryPolicy`] (3 attempts, 100 ms doubling, by
//!   default); when they are spent the runner stops with
//!   [`ConsumerError::Handler`] naming the consumer and the event, its
//!   position just before it, and other consumers go on. Reading the log retries database errors
//!   as subscriptions do.
//! - **Status.** [`PgEventStore::consumer_status`] gives every consumer's
//!   position and lag in events and seconds, in one call.
//! - **Rebuild.** [`ConsumerRunner::rebuild`] forgets a consumer's position and
//!   handles the log again from the start, reporting its progress;
//!   [`PgEventStore::reset_consumer`] only forgets it.
//!
//! ```no_run
//! # #[events_core::event_log] pub struct AppLog;
//! # async fn run(store: events_postgres::PgEventStore<AppLog>) -> Result<(), Box<dyn std::error::Error>> {
//! use events_core::BoxFuture;
//! use events_postgres::consume::Consumer;
//! use events_postgres::subscribe::Delivery;
//!
//! /// Counts events per resource into `event_counts`.
//! struct Counts;
//!
//! impl Consumer for Counts {
//!     fn name(&self) -> &str {
//!         "counts"
//!     }
//!
//!     fn handle<'a>(
//!         &'a self,
//!         tx: &'a mut sqlx::PgConnection,
//!         delivery: &'a Delivery,
//!     ) -> BoxFuture<'a, Result<(), events_core::BoxError>> {
//!         Box::pin(async move {
//!             sqlx::query(
//!                 "INSERT INTO event_counts (resource, n) VALUES ($1, 1) \
//!                  ON CONFLICT (resource) DO UPDATE SET n = event_counts.n + 1",
//!             )
//!             .bind(&delivery.event.resource)
//!             .execute(tx)
//!             .await?;
//!             Ok(())
//!         })
//!     }
//! }
//!
//! // Runs until the handler fails for good (or the task is dropped).
//! store.consume(Counts).run().await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use chrono::{DateTime, Utc};
use events_core::{BoxError, BoxFuture, Error, EventId, EventLog};
use futures_util::{Stream, StreamExt};
use sqlx::PgConnection;

use crate::PgEventStore;
use crate::follow::Position;
use crate::sql;
use crate::sql::names::fnv1a;
use crate::subscribe::{AbortOnDrop, Delivery, StartAt, Subscription};

/// A projection fed by the log: handles each committed event once, in
/// commit-safe order, in a transaction its position is saved in.
pub trait Consumer: Send + Sync {
    /// The consumer's name, under which its position is kept: stable across
    /// deploys, unique per log.
    fn name(&self) -> &str;

    /// Handles one event in `tx`, the transaction the consumer's new position
    /// is saved in: write the projection on `tx`. An error rolls both back.
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), BoxError>>;

    /// Handles consecutive events in `tx`, one transaction for them all
    /// ([`ConsumerRunner::batch_size`]); by default, [`handle`](Self::handle)
    /// on each in order. Override it to write a batch at once (one multi-row
    /// insert, one pipelined publish). An error rolls the whole batch back;
    /// the runner then handles its events one at a time, so the event at
    /// fault is the one named.
    fn handle_batch<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        batch: &'a [Delivery],
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            for delivery in batch {
                self.handle(tx, delivery).await?;
            }
            Ok(())
        })
    }
}

/// How often a failing event is tried before its consumer stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each failure.
    pub first_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts, waiting 100 ms then 200 ms.
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Why a consumer stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// The handler failed on an event as many times as the retry policy allows;
    /// the consumer's position is just before that event.
    #[error(
        "consumer `{consumer}` (member {member}) stopped at event {event} ({resource}.{action}) \
         after {attempts} attempts: {source}; fix the handler or the data and run it again, it \
         resumes at this event"
    )]
    Handler {
        /// The consumer's name.
        consumer: String,
        /// Its group member.
        member: u32,
        /// The event it could not handle.
        event: EventId,
        /// The event's resource.
        resource: String,
        /// The event's action.
        action: String,
        /// Attempts made.
        attempts: u32,
        /// The handler's last error.
        source: BoxError,
    },
    /// The consumer member's saved position moved under this runner: another
    /// runner of the same consumer member is running, or it was reset. The
    /// transaction in flight was rolled back, so nothing was applied twice.
    #[error(
        "consumer `{consumer}` (member {member}) was moved by someone else: another runner of \
         the same consumer and member is running, or the consumer was reset; run one runner \
         per consumer member, then start this one again"
    )]
    Moved {
        /// The consumer's name.
        consumer: String,
        /// Its group member.
        member: u32,
    },
    /// The log could not be read or the position could not be saved.
    #[error(transparent)]
    Log(#[from] Error),
}

/// The position and lag of one consumer member ([`PgEventStore::consumer_status`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerStatus {
    /// The consumer's name.
    pub name: String,
    /// The group member (0 without a group).
    pub member: u32,
    /// Members in its group (1 without a group).
    pub members: u32,
    /// The last event it handled; `None` before the first.
    pub position: Option<Position>,
    /// Events it handled.
    pub handled: u64,
    /// Committed events after its position, of every member: how far behind
    /// the log it is (an upper bound for a group member).
    pub lag_events: u64,
    /// Age of the oldest committed event after its position; zero when caught up.
    pub lag: Duration,
    /// When its position last moved.
    pub updated_at: DateTime<Utc>,
}

/// How far a [`ConsumerRunner::rebuild`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildProgress {
    /// Events of the log read so far.
    pub read: u64,
    /// Events the rebuild reads in all (those committed when it started).
    pub total: u64,
    /// Events this consumer (member) handled so far.
    pub handled: u64,
}

/// Runs a [`Consumer`] (see the [module docs](self)); from
/// [`PgEventStore::consume`].
#[must_use = "a consumer does nothing until `.run()` is awaited"]
pub struct ConsumerRunner<L: EventLog, C> {
    store: PgEventStore<L>,
    consumer: C,
    member: u32,
    members: u32,
    retry: RetryPolicy,
    poll: Duration,
    batch: usize,
}

impl<L: EventLog> PgEventStore<L> {
    /// A runner for `consumer` on this log; [`run`](ConsumerRunner::run) it.
    pub fn consume<C: Consumer>(&self, consumer: C) -> ConsumerRunner<L, C> {
        ConsumerRunner {
            store: self.clone(),
            consumer,
            member: 0,
            members: 1,
            retry: RetryPolicy::default(),
            poll: Duration::from_secs(1),
            batch: 1,
        }
    }

    /// Every consumer's position and lag, in one call.
    pub async fn consumer_status(&self) -> Result<Vec<ConsumerStatus>, Error> {
        let rows = sql::query(&self.statements().consumers.status)
            .fetch_all(self.pool())
            .await
            .map_err(|e| Error::from_sqlx("reading the consumers' status", e))?;
        let now = Utc::now();
        rows.iter()
            .map(|row| {
                let position = sql::get_saved_position::<L>(row, "last_txid", "last_id")?;
                let oldest: Option<DateTime<Utc>> = sql::get(row, "oldest")?;
                Ok(ConsumerStatus {
                    name: sql::get(row, "name")?,
                    member: sql::get::<i32>(row, "member")?.unsigned_abs(),
                    members: sql::get::<i32>(row, "members")?.unsigned_abs(),
                    position,
                    handled: sql::get::<i64>(row, "handled")?.unsigned_abs(),
                    lag_events: sql::get::<i64>(row, "n")?.unsigned_abs(),
                    lag: oldest
                        .and_then(|t| (now - t).to_std().ok())
                        .unwrap_or_default(),
                    updated_at: sql::get(row, "updated_at")?,
                })
            })
            .collect()
    }

    /// Forgets consumer `name`'s positions (every member): its next run starts
    /// from the beginning of the log. Clear its projection in the same
    /// breath, then run it to rebuild. Returns how many positions were removed.
    pub async fn reset_consumer(&self, name: &str) -> Result<u64, Error> {
        let done = sql::query(&self.statements().consumers.reset)
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(|e| Error::from_sqlx(format!("resetting consumer `{name}`"), e))?;
        Ok(done.rows_affected())
    }
}

/// The saved position of a consumer that keeps it itself, for effects outside
/// the application's database (a broker, a search index): read the log after
/// [`position`](Self::position), apply the effect, and
/// [`save`](Self::save) the position once the effect is acknowledged. A crash
/// in between repeats the effect for the unsaved events (at least once): make
/// it idempotent, by event id for example. [`Consumer`]s, whose effect commits
/// with the position, do not need it.
///
/// Saves compare and set, like the runner's: a second holder of the same
/// checkpoint gets [`ConsumerError::Moved`]. Positions are shown by
/// [`PgEventStore::consumer_status`] with the others.
///
/// ```no_run
/// # #[events_core::event_log] pub struct AppLog;
/// # async fn run(store: events_postgres::PgEventStore<AppLog>) -> Result<(), Box<dyn std::error::Error>> {
/// use futures_util::StreamExt;
/// use events_postgres::subscribe::StartAt;
///
/// let mut checkpoint = store.consumer_checkpoint("search-index").await?;
/// let mut events = store.subscribe(StartAt::from(checkpoint.position())).ready_chunks(500);
/// while let Some(batch) = events.next().await {
///     let batch = batch.into_iter().collect::<Result<Vec<_>, _>>()?;
///     // index the batch, wait for the index to acknowledge it, then:
///     if let Some(last) = batch.last() {
///         checkpoint.save(last.position, batch.len() as u64).await?;
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ConsumerCheckpoint<L: EventLog> {
    store: PgEventStore<L>,
    name: String,
    at: Option<Position>,
}

impl<L: EventLog> PgEventStore<L> {
    /// The checkpoint of consumer `name`, with its saved position.
    pub async fn consumer_checkpoint(&self, name: &str) -> Result<ConsumerCheckpoint<L>, Error> {
        let at = load_position(self, name, 0).await?;
        Ok(ConsumerCheckpoint {
            store: self.clone(),
            name: name.to_owned(),
            at,
        })
    }
}

impl<L: EventLog> ConsumerCheckpoint<L> {
    /// The saved position: start reading after it. `None` before the first save.
    pub fn position(&self) -> Option<Position> {
        self.at
    }

    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Saves `position`, counting `handled` more events, if the saved position
    /// is still the one this checkpoint last read or saved.
    pub async fn save(&mut self, position: Position, handled: u64) -> Result<(), ConsumerError> {
        let row = save_position(&self.store, &self.name, 0, 1, self.at, position, handled)
            .fetch_one(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx(format!("saving the position of `{}`", self.name), e))?;
        if sql::get::<i64>(&row, "saved")? == 0 {
            return Err(ConsumerError::Moved {
                consumer: self.name.clone(),
                member: 0,
            });
        }
        self.at = Some(position);
        Ok(())
    }
}

/// The saved position of consumer `name`'s `member`.
async fn load_position<L: EventLog>(
    store: &PgEventStore<L>,
    name: &str,
    member: i32,
) -> Result<Option<Position>, Error> {
    let row = sql::query(&store.statements().consumers.position)
        .bind(name)
        .bind(member)
        .fetch_optional(store.pool())
        .await
        .map_err(|e| Error::from_sqlx("reading a consumer's position", e))?;
    match row {
        Some(row) => sql::get_saved_position::<L>(&row, "last_txid", "last_id"),
        None => Ok(None),
    }
}

/// The statement that moves consumer `name`'s `member` position from `from`
/// to `to`, counting `handled` events, if it is still at `from` (compare and
/// set); its `saved` column is 0 when it was not.
fn save_position<L: EventLog>(
    store: &PgEventStore<L>,
    name: &str,
    member: i32,
    members: i32,
    from: Option<Position>,
    to: Position,
    handled: u64,
) -> sql::PgQuery {
    sql::query(&store.statements().consumers.save)
        .bind(name.to_owned())
        .bind(member)
        .bind(members)
        .bind(to.txid.to_string())
        .bind(to.id.to_string())
        .bind(from.map(|p| p.txid.to_string()))
        .bind(from.map(|p| p.id.to_string()))
        .bind(i64::try_from(handled).unwrap_or(i64::MAX))
}

impl<L: EventLog, C: Consumer> ConsumerRunner<L, C> {
    /// Runs as member `member` of a group of `members` (0-based): handles only
    /// the events whose (resource, record id) hash to it.
    pub fn member(mut self, member: u32, members: u32) -> Self {
        self.members = members.max(1);
        self.member = member.min(self.members - 1);
        self
    }

    /// How a failing event is retried (see [`RetryPolicy`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = RetryPolicy {
            attempts: policy.attempts.max(1),
            ..policy
        };
        self
    }

    /// How often a caught-up consumer looks for new events when no
    /// notification wakes it (1 s by default).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    /// Handles up to `events` events per transaction (1 by default): those
    /// already read from the log go to [`Consumer::handle_batch`] together,
    /// and their position is saved once. Nothing waits to fill a batch, so
    /// latency does not grow; catching up is several times faster. A batch
    /// that fails is handled again one event at a time.
    pub fn batch_size(mut self, events: usize) -> Self {
        self.batch = events.max(1);
        self
    }

    /// Handles events as they commit, until a handler fails for good (or the
    /// future is dropped: a transaction in flight then rolls back, and the
    /// event is handled again on the next run).
    pub async fn run(self) -> Result<(), ConsumerError> {
        self.run_until(|_| false).await
    }

    /// Like [`run`](Self::run), and returns `Ok` once `done(handled so far)`
    /// is true after an event, or after a batch with
    /// [`batch_size`](Self::batch_size) (for tests, rebuilds and batch jobs).
    pub async fn run_until(
        self,
        mut done: impl FnMut(u64) -> bool + Send,
    ) -> Result<(), ConsumerError> {
        let mut at = self.load_position().await?;
        let deliveries = self
            .store
            .subscribe(StartAt::from(at))
            .poll_interval(self.poll);
        let mut chunks = read_ahead(deliveries, self.batch);
        let mut handled = 0_u64;
        while let Some(chunk) = chunks.next().await {
            let mut batch = Vec::with_capacity(chunk.len());
            for delivery in chunk {
                let delivery = delivery?;
                if self.mine(&delivery) {
                    batch.push(delivery);
                }
            }
            if batch.is_empty() {
                continue;
            }
            handled += self.handle(&batch, &mut at).await?;
            if done(handled) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Rebuilds the projection: forgets this member's position, then handles
    /// every event committed up to now from the beginning of the log, calling
    /// `progress` about every percent and once at the end, and returns how
    /// many events it handled. Clear the projection first (in the same
    /// deploy step): the handler sees every event again. Events committing
    /// meanwhile are left for the next [`run`](Self::run), which continues
    /// where the rebuild stopped.
    ///
    /// ```no_run
    /// # #[events_core::event_log] pub struct AppLog;
    /// # async fn run<C: events_postgres::consume::Consumer>(store: events_postgres::PgEventStore<AppLog>, consumer: C) -> Result<(), events_postgres::consume::ConsumerError> {
    /// store
    ///     .consume(consumer)
    ///     .rebuild(|p| eprintln!("{}/{} events ({} handled)", p.read, p.total, p.handled))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn rebuild(
        self,
        mut progress: impl FnMut(RebuildProgress) + Send,
    ) -> Result<u64, ConsumerError> {
        let statements = &self.store.statements().consumers;
        sql::query(&statements.reset_member)
            .bind(self.consumer.name())
            .bind(self.member_column())
            .execute(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("resetting a consumer for its rebuild", e))?;
        // The end: the last event every reader can see now, and how many come
        // before it.
        let row = sql::query(&statements.log_end)
            .fetch_optional(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("finding where a rebuild ends", e))?;
        let Some(row) = row else {
            progress(RebuildProgress {
                read: 0,
                total: 0,
                handled: 0,
            });
            return Ok(0);
        };
        let end = Position {
            txid: sql::get_txid(&row, "txid")?,
            id: sql::get_id::<L>(&row, "id")?,
        };
        let total = sql::get::<i64>(&row, "total")?.unsigned_abs();
        let step = (total / 100).max(1);
        let deliveries = self
            .store
            .subscribe(StartAt::Beginning)
            .batch_size(5_000)
            .poll_interval(self.poll);
        let mut chunks = read_ahead(deliveries, self.batch);
        let (mut read, mut handled, mut at) = (0_u64, 0_u64, None);
        let mut reported = 0_u64;
        while let Some(chunk) = chunks.next().await {
            let mut batch = Vec::with_capacity(chunk.len());
            let mut finished = false;
            for delivery in chunk {
                let delivery = delivery?;
                if delivery.position > end {
                    finished = true;
                    break;
                }
                read += 1;
                finished = delivery.position == end;
                if self.mine(&delivery) {
                    batch.push(delivery);
                }
                if finished {
                    break;
                }
            }
            if !batch.is_empty() {
                handled += self.handle(&batch, &mut at).await?;
            }
            if finished || read / step > reported / step {
                reported = read;
                progress(RebuildProgress {
                    read,
                    total,
                    handled,
                });
            }
            if finished {
                break;
            }
        }
        Ok(handled)
    }

    /// True when the event belongs to this member of the group.
    fn mine(&self, delivery: &Delivery) -> bool {
        self.members <= 1
            || member_of(
                &delivery.event.resource,
                &delivery.event.record_id.to_string(),
                self.members,
            ) == self.member
    }

    /// The saved position of this consumer member.
    async fn load_position(&self) -> Result<Option<Position>, Error> {
        load_position(&self.store, self.consumer.name(), self.member_column()).await
    }

    /// The `member` column's value of this runner.
    fn member_column(&self) -> i32 {
        i32::try_from(self.member).unwrap_or(i32::MAX)
    }

    /// Handles a batch in one transaction, or, when it fails (or holds one
    /// event), each event in its own with the retry policy; moves `at` to the
    /// last event handled. Returns how many events were handled.
    async fn handle(
        &self,
        batch: &[Delivery],
        at: &mut Option<Position>,
    ) -> Result<u64, ConsumerError> {
        if let [.., last] = batch
            && batch.len() > 1
        {
            match self.attempt(batch, *at, last.position).await {
                Ok(position) => {
                    *at = Some(position);
                    return Ok(batch.len() as u64);
                }
                Err(Attempt::Handler(error)) => tracing::debug!(
                    consumer = self.consumer.name(),
                    events = batch.len(),
                    %error,
                    "a batch failed; handling its events one at a time"
                ),
                Err(Attempt::Stop(stop)) => return Err(self.stopped(stop)),
            }
        }
        for delivery in batch {
            self.handle_one(delivery, at).await?;
        }
        Ok(batch.len() as u64)
    }

    /// Handles one event, with its retries.
    async fn handle_one(
        &self,
        delivery: &Delivery,
        at: &mut Option<Position>,
    ) -> Result<(), ConsumerError> {
        let mut backoff = self.retry.first_backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .attempt(std::slice::from_ref(delivery), *at, delivery.position)
                .await
            {
                Ok(position) => {
                    *at = Some(position);
                    return Ok(());
                }
                Err(Attempt::Handler(source)) if attempt >= self.retry.attempts => {
                    return Err(ConsumerError::Handler {
                        consumer: self.consumer.name().to_owned(),
                        member: self.member,
                        event: delivery.event.id,
                        resource: delivery.event.resource.clone(),
                        action: delivery.event.action.clone(),
                        attempts: attempt,
                        source,
                    });
                }
                Err(Attempt::Handler(source)) => {
                    tracing::warn!(
                        consumer = self.consumer.name(),
                        event = %delivery.event.id,
                        attempt,
                        error = %source,
                        "consumer handler failed; retrying"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.retry.max_backoff);
                }
                Err(Attempt::Stop(stop)) => return Err(self.stopped(stop)),
            }
        }
    }

    /// The error that ends a run.
    fn stopped(&self, stop: Stop) -> ConsumerError {
        match stop {
            Stop::Log(e) => ConsumerError::Log(e),
            Stop::Moved => ConsumerError::Moved {
                consumer: self.consumer.name().to_owned(),
                member: self.member,
            },
        }
    }

    /// One attempt: BEGIN, the handler, the position moved from `from` to the
    /// batch's last event (compare and set), COMMIT. Returns the new position.
    async fn attempt(
        &self,
        batch: &[Delivery],
        from: Option<Position>,
        to: Position,
    ) -> Result<Position, Attempt> {
        let log = |context: &'static str| {
            move |e: sqlx::Error| Attempt::Stop(Stop::Log(Error::from_sqlx(context, e)))
        };
        let mut tx = self
            .store
            .pool()
            .begin()
            .await
            .map_err(log("beginning a consumer's transaction"))?;
        self.consumer
            .handle_batch(&mut tx, batch)
            .await
            .map_err(Attempt::Handler)?;
        let members = i32::try_from(self.members).unwrap_or(i32::MAX);
        let row = save_position(
            &self.store,
            self.consumer.name(),
            self.member_column(),
            members,
            from,
            to,
            batch.len() as u64,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(log("saving a consumer's position"))?;
        if sql::get::<i64>(&row, "saved").map_err(|e| Attempt::Stop(Stop::Log(e)))? == 0 {
            return Err(Attempt::Stop(Stop::Moved));
        }
        tx.commit()
            .await
            .map_err(log("committing a consumer's transaction"))?;
        Ok(to)
    }
}

/// Reads the log ahead of its consumer, in batches: `deliveries` runs in a
/// task of its own, up to four batches of at most `batch` deliveries ahead
/// (whatever is ready, never waiting to fill one), so reading the log overlaps
/// handling it. Dropping the returned stream stops the task. The runners use
/// it.
pub fn read_ahead<L: EventLog>(
    deliveries: Subscription<L>,
    batch: usize,
) -> impl Stream<Item = Vec<Result<Delivery, Error>>> + Send {
    let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
    let reader = AbortOnDrop(tokio::spawn(async move {
        let mut chunks = deliveries.ready_chunks(batch.max(1));
        while let Some(chunk) = chunks.next().await {
            let failed = chunk.iter().any(Result::is_err);
            if sender.send(chunk).await.is_err() || failed {
                break;
            }
        }
    }));
    futures_util::stream::poll_fn(move |cx| {
        let _reader = &reader;
        receiver.poll_recv(cx)
    })
}

/// What an attempt failed on.
enum Attempt {
    /// The handler: retried.
    Handler(BoxError),
    /// Something that ends the run.
    Stop(Stop),
}

/// What ends a run other than a handler out of retries.
enum Stop {
    /// The database under the runner.
    Log(Error),
    /// The position had moved.
    Moved,
}

/// The member of a group of `members` that handles the events of
/// (`resource`, `record_id`): a stable hash (FNV-1a), the same in every
/// process and release.
pub fn member_of(resource: &str, record_id: &str, members: u32) -> u32 {
    let hash = fnv1a(resource.bytes().chain([0]).chain(record_id.bytes()));
    u32::try_from(hash % u64::from(members.max(1))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_stable_and_spread() {
        assert_eq!(member_of("User", "42", 3), member_of("User", "42", 3));
        assert_eq!(member_of("User", "42", 1), 0);
        let mut counts = [0_u32; 3];
        for i in 0..3_000 {
            counts[member_of("User", &i.to_string(), 3) as usize] += 1;
        }
        assert!(counts.iter().all(|&n| n > 800), "{counts:?}");
    }
}
