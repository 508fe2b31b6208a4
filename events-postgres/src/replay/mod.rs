//! Replay: rebuilding state from the log.
//!
//! By default a replay is one transaction:
//!
//! 1. `LOCK TABLE <events> IN SHARE MODE`: no event can be appended until the
//!    replay ends (writers wait at their insert), and every event committed before
//!    is visible;
//! 2. the preflight: the distinct (resource, action, version) of the selection,
//!    each resolved to its bodies ([`RouteTable`]); any missing → refuse, listing all;
//! 3. `clear_records_for_replay`;
//! 4. the selected events, read in keyset batches in `(txid, id)` order (see
//!    [`events_core::replay`] for why that order and how cuts stay consistent), each
//!    applied by its bodies in replay mode;
//! 5. `COMMIT`. Any error rolls all of it back: the state is exactly as before, and
//!    the error names the event.
//!
//! [`Replay::in_chunks`] instead commits every `n` events with a checkpoint row,
//! for logs too large for one transaction; [`PgEventStore::resume_replay`]
//! continues an interrupted one.
//!
//! This module holds the replay's public API and its two drivers (one
//! transaction, chunks); `steps` holds each step's statements.

mod erased;
mod steps;

use chrono::{DateTime, Utc};
use events_core::replay::{Replay, ReplayReport, Replayable, Selection};
use events_core::store::RouteTable;
use events_core::{Error, EventId, EventLog, PrimaryKeyType};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::PgEventStore;
use crate::follow::Position;
use steps::report_progress;

/// Before every event (replay positions are the follower's cursors: both walk
/// `(txid, id)` order).
fn start<L: EventLog>() -> Position {
    let id = match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => EventId::Integer(i64::MIN),
        PrimaryKeyType::UuidV7 => EventId::Uuid(Uuid::nil()),
    };
    Position { txid: 0, id }
}

/// The selection as SQL conditions: strictly after `after`, up to `upto`, and no
/// later than `time`.
#[derive(Debug, Clone)]
struct Range {
    upto: Option<Position>,
    time: Option<DateTime<Utc>>,
}

/// An unfinished chunked replay, as its checkpoint row records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// What the replay selected.
    pub selection: Selection,
    /// Events applied and committed so far.
    pub applied: u64,
    /// Events the replay applies in all.
    pub total: u64,
    /// The last committed event.
    pub last_event: Option<EventId>,
    /// When the replay started.
    pub started_at: DateTime<Utc>,
}

/// The internal state of a checkpoint: the cursor and the fixed upper bound.
struct Saved {
    public: Checkpoint,
    after: Position,
    range: Range,
}

impl<L: EventLog> PgEventStore<L> {
    /// Checks, without changing anything, that every event of `selection` has a
    /// route: a matching `replay_override`, or its own action on a registered
    /// resource. Returns how many events the selection holds, and how many of
    /// them carry personal data whose subject was erased (replayed with the
    /// fields' placeholders); run it at start-up to learn early that a deploy
    /// dropped an action old events still need.
    ///
    /// ```no_run
    /// # async fn f<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) -> Result<(), events_core::Error> {
    /// use events_core::replay::Selection;
    /// let found = store.verify_replayable(&Selection::All).await?;
    /// println!("{} events, {} with erased personal data", found.events, found.with_erased_fields);
    /// # Ok(()) }
    /// ```
    pub async fn verify_replayable(&self, selection: &Selection) -> Result<Replayable, Error> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(|e| Error::from_sqlx("connecting for the replay preflight", e))?;
        self.check_horizon(&mut conn).await?;
        let range = self.range(&mut conn, selection, false).await?;
        let triples = self.triples(&mut conn, &start::<L>(), &range).await?;
        RouteTable::resolve::<L>(&triples).map_err(|missing| {
            Error::Replay(events_core::ReplayError::MissingRoutes { missing })
        })?;
        let with_erased_fields = self.count_erased(&mut conn, &start::<L>(), &range).await?;
        Ok(Replayable {
            events: triples.values().sum(),
            with_erased_fields,
        })
    }

    /// Rebuilds state from the log: clears it with `clear_records_for_replay`, then
    /// applies the selected events in order with their bodies in replay mode (record
    /// ids, timestamps and actors from the events, hooks not run, no new events).
    ///
    /// All-or-nothing unless [`Replay::in_chunks`] is set; see the
    /// [module docs](self) for the steps. Refuses before changing anything when the
    /// event log has no `clear_records_for_replay` ([`ReplayError::NoClearRecords`](events_core::ReplayError::NoClearRecords)) or
    /// an event has no route ([`ReplayError::MissingRoutes`](events_core::ReplayError::MissingRoutes), listing every one).
    ///
    /// ```no_run
    /// # async fn f<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) -> Result<(), events_core::Error> {
    /// use events_core::replay::Replay;
    /// let report = store.replay(Replay::all()).await?;
    /// println!("{} events applied", report.applied);
    /// # Ok(()) }
    /// ```
    pub async fn replay(&self, replay: Replay) -> Result<ReplayReport, Error> {
        if L::CLEAR_RECORDS_FOR_REPLAY.is_none() {
            return Err(Error::Replay(events_core::ReplayError::NoClearRecords {
                log: std::any::type_name::<L>(),
            }));
        }
        let span = tracing::info_span!("events.replay", log = std::any::type_name::<L>(), selection = ?replay.selection);
        let _enter = span.enter();
        match replay.chunk_size {
            None => self.replay_atomic(&replay).await,
            Some(chunk) => self.replay_chunked(&replay, chunk, false).await,
        }
    }

    /// Continues an unfinished chunked replay from its checkpoint. `replay` must
    /// select what the interrupted replay selected; its batch size, chunk size
    /// (default: the batch size) and progress callback apply to the rest.
    pub async fn resume_replay(&self, replay: Replay) -> Result<ReplayReport, Error> {
        let chunk = replay.chunk_size.unwrap_or(replay.batch_size as u64);
        self.replay_chunked(&replay, chunk, true).await
    }

    /// The unfinished chunked replay, if any.
    pub async fn replay_checkpoint(&self) -> Result<Option<Checkpoint>, Error> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(|e| Error::from_sqlx("connecting to read the replay checkpoint", e))?;
        Ok(self.load_checkpoint(&mut conn).await?.map(|s| s.public))
    }

    async fn replay_atomic(&self, replay: &Replay) -> Result<ReplayReport, Error> {
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|e| Error::from_sqlx("beginning a replay", e))?;
        match self.replay_in(&mut tx, replay).await {
            Ok(report) => {
                tx.commit()
                    .await
                    .map_err(|e| Error::from_sqlx("committing a replay", e))?;
                tracing::info!(applied = report.applied, "replay committed");
                Ok(report)
            }
            Err(e) => {
                // Now, not when the connection is next used: the replay's locks
                // (the replay lock, the table lock blocking appends) go with it.
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %rollback, "rolling back a failed replay failed");
                }
                Err(e)
            }
        }
    }

    /// The steps of an atomic replay inside its transaction.
    async fn replay_in(
        &self,
        tx: &mut PgConnection,
        replay: &Replay,
    ) -> Result<ReplayReport, Error> {
        self.begin_replay(tx).await?;
        self.check_horizon(tx).await?;
        let range = self.range(&mut *tx, &replay.selection, false).await?;
        let start = start::<L>();
        let triples = self.triples(&mut *tx, &start, &range).await?;
        let routes = RouteTable::resolve::<L>(&triples).map_err(|missing| {
            Error::Replay(events_core::ReplayError::MissingRoutes { missing })
        })?;
        let total: u64 = triples.values().sum();
        self.clear(tx).await?;
        // A fresh replay supersedes an unfinished chunked one.
        self.delete_checkpoint(tx).await?;
        let mut after = start;
        let mut applied = 0;
        let mut last_event = None;
        loop {
            let n = self
                .apply_batch(
                    &mut *tx,
                    &routes,
                    &mut after,
                    &range,
                    replay.batch_size,
                    &mut last_event,
                )
                .await?;
            if n == 0 {
                break;
            }
            applied += n;
            report_progress(replay, applied, total);
        }
        Ok(ReplayReport {
            applied,
            last_event,
            commits: 1,
        })
    }

    /// A chunked replay, new or resumed (`resume`), on one connection that holds
    /// the log's replay lock (session-level) from start to end: no other replay
    /// can start in between chunks, and a resumed one reads its checkpoint only
    /// once it holds the lock.
    async fn replay_chunked(
        &self,
        replay: &Replay,
        chunk: u64,
        resume: bool,
    ) -> Result<ReplayReport, Error> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(|e| Error::from_sqlx("connecting for a chunked replay", e))?;
        // A cancelled replay must not hand a connection holding the lock back to
        // the pool: the connection is closed when dropped, which releases it.
        conn.close_on_drop();
        let locked: bool = sqlx::query_scalar(crate::sql::LOCK_REPLAY)
            .bind(L::TABLE)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| Error::from_sqlx("taking the replay lock", e))?;
        if !locked {
            return Err(Error::Replay(events_core::ReplayError::InProgress {
                table: L::TABLE,
            }));
        }
        let result = self.replay_chunks(&mut conn, replay, chunk, resume).await;
        if let Err(e) = sqlx::query(crate::sql::UNLOCK_REPLAY)
            .bind(L::TABLE)
            .execute(&mut *conn)
            .await
        {
            tracing::warn!(error = %e, "releasing the replay lock failed; closing its connection");
        }
        result
    }

    async fn replay_chunks(
        &self,
        conn: &mut PgConnection,
        replay: &Replay,
        chunk: u64,
        resume: bool,
    ) -> Result<ReplayReport, Error> {
        self.check_horizon(conn).await?;
        let resume = if resume {
            let Some(saved) = self.load_checkpoint(conn).await? else {
                return Err(Error::Replay(events_core::ReplayError::NothingToResume {
                    message: "there is no unfinished chunked replay to resume".into(),
                }));
            };
            if saved.public.selection != replay.selection {
                return Err(Error::Replay(events_core::ReplayError::NothingToResume {
                    message: format!(
                        "the unfinished replay selected {:?}, not {:?}; resume it with the same selection, or start a new replay",
                        saved.public.selection, replay.selection
                    ),
                }));
            }
            Some(saved)
        } else {
            None
        };
        let (after, range, applied, total, last_event, started) = match resume {
            Some(saved) => (
                saved.after,
                saved.range,
                saved.public.applied,
                saved.public.total,
                saved.public.last_event,
                false,
            ),
            None => (
                start::<L>(),
                Range {
                    upto: None,
                    time: None,
                },
                0,
                0,
                None,
                true,
            ),
        };
        let (mut after, mut applied, mut last_event) = (after, applied, last_event);
        let mut range = range;
        let mut total = total;
        let mut commits = 0;
        let mut first = started;
        let mut routes: Option<RouteTable> = None;
        loop {
            let step = async {
                let mut tx = sqlx::Connection::begin(&mut *conn)
                    .await
                    .map_err(|e| Error::from_sqlx("beginning a replay chunk", e))?;
                self.begin_replay(&mut tx).await?;
                if first {
                    // Fix the upper bound now: events appended between chunks are not part of this replay.
                    range = self.range(&mut tx, &replay.selection, true).await?;
                }
                // The preflight runs once per call, over the whole remaining range:
                // the bound is fixed, so later chunks need no new routes.
                let table = match routes.take() {
                    Some(table) => table,
                    None => {
                        let triples = self.triples(&mut tx, &after, &range).await?;
                        let table = RouteTable::resolve::<L>(&triples).map_err(|missing| {
                            Error::Replay(events_core::ReplayError::MissingRoutes { missing })
                        })?;
                        if first {
                            total = triples.values().sum();
                            self.clear(&mut tx).await?;
                        }
                        table
                    }
                };
                let routes_now = &table;
                let mut in_chunk = 0;
                let mut local_after = after;
                let mut local_last = last_event;
                while in_chunk < chunk {
                    let want = usize::try_from((chunk - in_chunk).min(replay.batch_size as u64))
                        .unwrap_or(replay.batch_size);
                    let n = self
                        .apply_batch(
                            &mut tx,
                            routes_now,
                            &mut local_after,
                            &range,
                            want,
                            &mut local_last,
                        )
                        .await?;
                    if n == 0 {
                        break;
                    }
                    in_chunk += n;
                    report_progress(replay, applied + in_chunk, total);
                }
                let done =
                    in_chunk < chunk || self.remaining(&mut tx, &local_after, &range).await? == 0;
                if done {
                    self.delete_checkpoint(&mut tx).await?;
                } else {
                    self.save_checkpoint(
                        &mut tx,
                        &replay.selection,
                        &local_after,
                        &range,
                        applied + in_chunk,
                        total,
                    )
                    .await?;
                }
                tx.commit()
                    .await
                    .map_err(|e| Error::from_sqlx("committing a replay chunk", e))?;
                Ok::<_, Error>((in_chunk, local_after, local_last, done, table))
            };
            match step.await {
                Ok((n, next, last, done, table)) => {
                    routes = Some(table);
                    applied += n;
                    after = next;
                    last_event = last;
                    commits += 1;
                    first = false;
                    tracing::info!(applied, total, "replay chunk committed");
                    if done {
                        return Ok(ReplayReport {
                            applied,
                            last_event,
                            commits,
                        });
                    }
                }
                // Nothing of the first chunk committed: the state is as before.
                Err(e) if first => return Err(e),
                Err(e) => {
                    return Err(Error::Replay(events_core::ReplayError::Partial {
                        applied,
                        last_event,
                        source: Box::new(e),
                    }));
                }
            }
        }
    }
}
