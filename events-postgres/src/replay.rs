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

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use events_core::replay::{
    MissingRoute, Replay, ReplayProgress, ReplayReport, RouteTable, Selection,
};
use events_core::{Error, Event, EventId, EventLog, PrimaryKeyType};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::PgEventStore;
use crate::follow::Cursor;
use crate::read::decode_event;
use crate::sql::{self, Sql, bind};

/// Before every event (replay positions are the follower's cursors: both walk
/// `(txid, id)` order).
fn start<L: EventLog>() -> Cursor {
    let id = match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => EventId::Integer(i64::MIN),
        PrimaryKeyType::UuidV7 => EventId::Uuid(Uuid::nil()),
    };
    Cursor { txid: 0, id }
}

/// The selection as SQL conditions: strictly after `after`, up to `upto`, and no
/// later than `time`.
#[derive(Debug, Clone)]
struct Range {
    upto: Option<Cursor>,
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
    after: Cursor,
    range: Range,
}

impl<L: EventLog> PgEventStore<L> {
    /// Checks, without changing anything, that every event of `selection` has a
    /// route: a matching `replay_override`, or its own action on a registered
    /// resource. Returns how many events the selection holds; run it at start-up to
    /// learn early that a deploy dropped an action old events still need.
    ///
    /// ```no_run
    /// # async fn f<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) -> Result<(), events_core::Error> {
    /// use events_core::replay::Selection;
    /// let events = store.verify_replayable(&Selection::All).await?;
    /// # Ok(()) }
    /// ```
    pub async fn verify_replayable(&self, selection: &Selection) -> Result<u64, Error> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(|e| Error::from_sqlx("connecting for the replay preflight", e))?;
        self.check_horizon(&mut conn).await?;
        let range = self.range(&mut conn, selection, false).await?;
        let triples = self.triples(&mut conn, &start::<L>(), &range).await?;
        RouteTable::resolve::<L>(&triples).map_err(|missing| Error::MissingRoutes { missing })?;
        Ok(triples.values().sum())
    }

    /// Rebuilds state from the log: clears it with `clear_records_for_replay`, then
    /// applies the selected events in order with their bodies in replay mode (record
    /// ids, timestamps and actors from the events, hooks not run, no new events).
    ///
    /// All-or-nothing unless [`Replay::in_chunks`] is set; see the
    /// [module docs](self) for the steps. Refuses before changing anything when the
    /// event log has no `clear_records_for_replay` ([`Error::NoClearRecords`]) or
    /// an event has no route ([`Error::MissingRoutes`], listing every one).
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
            return Err(Error::NoClearRecords {
                log: std::any::type_name::<L>(),
            });
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
        let routes = RouteTable::resolve::<L>(&triples)
            .map_err(|missing| Error::MissingRoutes { missing })?;
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
            return Err(Error::ReplayInProgress { table: L::TABLE });
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
                return Err(Error::NoReplayToResume {
                    message: "there is no unfinished chunked replay to resume".into(),
                });
            };
            if saved.public.selection != replay.selection {
                return Err(Error::NoReplayToResume {
                    message: format!(
                        "the unfinished replay selected {:?}, not {:?}; resume it with the same selection, or start a new replay",
                        saved.public.selection, replay.selection
                    ),
                });
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
                        let table = RouteTable::resolve::<L>(&triples)
                            .map_err(|missing| Error::MissingRoutes { missing })?;
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
                    return Err(Error::PartialReplay {
                        applied,
                        last_event: last_event
                            .map_or_else(|| "none".to_owned(), |id| id.to_string()),
                        source: Box::new(e),
                    });
                }
            }
        }
    }

    /// Takes the replay lock for the rest of the transaction (refusing with
    /// [`Error::ReplayInProgress`] when another replay holds it) and blocks
    /// appends until then; waits for in-flight ones. Through the owner's
    /// `<table>_begin_replay()`, so the application role can replay without the
    /// privileges `LOCK TABLE .. IN SHARE MODE` needs.
    async fn begin_replay(&self, conn: &mut PgConnection) -> Result<(), Error> {
        let row = sql::query(&self.statements().begin_replay)
            .fetch_one(conn)
            .await
            .map_err(|e| Error::from_sqlx("locking the event table for replay", e))?;
        if sql::get::<bool>(&row, (0, "locked"))? {
            Ok(())
        } else {
            Err(Error::ReplayInProgress { table: L::TABLE })
        }
    }

    /// Refuses when retention gave up replay: the events replay would need are gone.
    async fn check_horizon(&self, conn: &mut PgConnection) -> Result<(), Error> {
        let row = sql::query(&self.statements().horizon)
            .fetch_optional(conn)
            .await
            .map_err(|e| Error::from_sqlx("reading the replay horizon", e))?;
        match row {
            Some(row) => Err(Error::ReplayHorizon {
                table: L::TABLE,
                before: sql::get(&row, (0, "pruned_before"))?,
                pruned_at: sql::get(&row, (1, "pruned_at"))?,
            }),
            None => Ok(()),
        }
    }

    async fn clear(&self, conn: &mut PgConnection) -> Result<(), Error> {
        match L::clear_records(conn) {
            Some(fut) => fut.await,
            None => Err(Error::NoClearRecords {
                log: std::any::type_name::<L>(),
            }),
        }
    }

    /// The selection's bounds. `fix_all` pins `Selection::All` to the current last
    /// event (for chunked replays, which let writers in between chunks).
    async fn range(
        &self,
        conn: &mut PgConnection,
        selection: &Selection,
        fix_all: bool,
    ) -> Result<Range, Error> {
        match selection {
            Selection::All if !fix_all => Ok(Range {
                upto: None,
                time: None,
            }),
            Selection::All => {
                let row = sql::query(&self.statements().last_position)
                    .fetch_optional(conn)
                    .await
                    .map_err(|e| Error::from_sqlx("finding the last event", e))?;
                Ok(Range {
                    upto: row.map(|r| position::<L>(&r)).transpose()?,
                    time: None,
                })
            }
            Selection::UpToEvent(id) => {
                let row = sql::query(&self.statements().position_of)
                    .bind(bind::event_id::<L>("up_to_event", *id)?)
                    .fetch_optional(conn)
                    .await
                    .map_err(|e| Error::from_sqlx(format!("finding event {id}"), e))?;
                match row {
                    Some(r) => Ok(Range {
                        upto: Some(position::<L>(&r)?),
                        time: None,
                    }),
                    None => Err(Error::UnknownEvent { id: *id }),
                }
            }
            // Nothing occurred before PostgreSQL's earliest time: a cut before it
            // selects what a cut at it does (no event), without an out-of-range value.
            Selection::UpToTime(t) => Ok(Range {
                upto: None,
                time: Some((*t).max(events_core::audit::EARLIEST_TIME)),
            }),
        }
    }

    /// Appends the `WHERE` conditions of the events of `range` strictly after
    /// `after`, in replay order. Manual audit entries (`action_type = 'manual'`)
    /// are never replayed: they record what application code said happened, not
    /// an action with a body to run.
    fn select_range(s: &mut Sql, after: &Cursor, range: &Range) -> Result<(), Error> {
        s.push(" WHERE e.action_type <> 'manual' AND ");
        compare_position::<L>(s, ">", after)?;
        if let Some(upto) = &range.upto {
            s.push(" AND ");
            compare_position::<L>(s, "<=", upto)?;
        }
        if let Some(t) = range.time {
            s.push(" AND e.occurred_at <= ").bind("up_to_time", t)?;
        }
        Ok(())
    }

    /// The distinct (resource, action, version) of the range, with event counts.
    async fn triples(
        &self,
        conn: &mut PgConnection,
        after: &Cursor,
        range: &Range,
    ) -> Result<BTreeMap<(String, String, u32), u64>, Error> {
        let mut s = Sql::new("SELECT e.resource, e.action, e.version, count(*) FROM ");
        s.push(&self.statements().names.table).push(" e");
        Self::select_range(&mut s, after, range)?;
        s.push(" GROUP BY 1, 2, 3");
        let rows = s
            .query()
            .fetch_all(conn)
            .await
            .map_err(|e| Error::from_sqlx("listing the replayed actions", e))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let version: i32 = sql::get(&row, (2, "version"))?;
            let count: i64 = sql::get(&row, (3, "count"))?;
            out.insert(
                (
                    sql::get(&row, (0, "resource"))?,
                    sql::get(&row, (1, "action"))?,
                    version.unsigned_abs(),
                ),
                count.unsigned_abs(),
            );
        }
        Ok(out)
    }

    /// Whether any event of the range is left after `after` (0 or 1).
    async fn remaining(
        &self,
        conn: &mut PgConnection,
        after: &Cursor,
        range: &Range,
    ) -> Result<u64, Error> {
        let mut s = Sql::new("SELECT count(*) FROM (SELECT 1 FROM ");
        s.push(&self.statements().names.table).push(" e");
        Self::select_range(&mut s, after, range)?;
        s.push(" LIMIT 1) AS next");
        let row = s
            .query()
            .fetch_one(conn)
            .await
            .map_err(|e| Error::from_sqlx("looking for events left to replay", e))?;
        let n: i64 = sql::get(&row, (0, "count"))?;
        Ok(n.unsigned_abs())
    }

    /// Reads up to `limit` events after `after` and applies each; returns how many.
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        routes: &RouteTable,
        after: &mut Cursor,
        range: &Range,
        limit: usize,
        last_event: &mut Option<EventId>,
    ) -> Result<u64, Error> {
        let statements = self.statements();
        let mut s = Sql::new(statements.select_list.as_str());
        s.push(", e.txid::text FROM ")
            .push(&statements.names.table)
            .push(" e");
        Self::select_range(&mut s, after, range)?;
        s.push(" ORDER BY e.txid, e.id LIMIT ")
            .bind("limit", i64::try_from(limit).unwrap_or(i64::MAX))?;
        let rows = s
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| Error::from_sqlx("reading events to replay", e))?;
        let mut n = 0;
        for row in &rows {
            let event = refuse_too_deep(decode_event::<L>(row)?)?;
            apply_event(conn, routes, &event).await?;
            *after = Cursor {
                txid: sql::get_txid(row, (sqlx::Row::len(row) - 1, "txid"))?,
                id: event.id,
            };
            *last_event = Some(event.id);
            n += 1;
        }
        Ok(n)
    }

    async fn load_checkpoint(&self, conn: &mut PgConnection) -> Result<Option<Saved>, Error> {
        let Some(row) = sql::query(&self.statements().load_checkpoint)
            .fetch_optional(conn)
            .await
            .map_err(|e| Error::from_sqlx("reading the replay checkpoint", e))?
        else {
            return Ok(None);
        };
        let selection: Selection = serde_json::from_value(sql::get(&row, (0, "selection"))?)
            .map_err(|e| sql::malformed("selection", e.to_string()))?;
        let stored_position = |txid: (usize, &'static str), id: (usize, &'static str)| match (
            sql::get::<Option<String>>(&row, txid)?,
            sql::get::<Option<String>>(&row, id)?,
        ) {
            (Some(t), Some(i)) => Ok(Some(Cursor {
                txid: sql::parse_txid(txid.1, &t)?,
                id: sql::parse_id::<L>(id.1, &i)?,
            })),
            _ => Ok::<_, Error>(None),
        };
        let last = stored_position((1, "last_txid"), (2, "last_id"))?;
        let upto = stored_position((3, "bound_txid"), (4, "bound_id"))?;
        let time = match &selection {
            Selection::UpToTime(t) => Some(*t),
            _ => None,
        };
        let applied: i64 = sql::get(&row, (5, "applied"))?;
        let total: i64 = sql::get(&row, (6, "total"))?;
        Ok(Some(Saved {
            public: Checkpoint {
                selection,
                applied: applied.unsigned_abs(),
                total: total.unsigned_abs(),
                last_event: last.as_ref().map(|p| p.id),
                started_at: sql::get(&row, (7, "started_at"))?,
            },
            after: last.unwrap_or_else(start::<L>),
            range: Range { upto, time },
        }))
    }

    async fn save_checkpoint(
        &self,
        conn: &mut PgConnection,
        selection: &Selection,
        after: &Cursor,
        range: &Range,
        applied: u64,
        total: u64,
    ) -> Result<(), Error> {
        let selection = serde_json::to_value(selection)
            .map_err(|e| sql::malformed("selection", e.to_string()))?;
        sql::query(&self.statements().save_checkpoint)
            .bind(selection)
            .bind(after.txid.to_string())
            .bind(after.id.to_string())
            .bind(range.upto.as_ref().map(|p| p.txid.to_string()))
            .bind(range.upto.as_ref().map(|p| p.id.to_string()))
            .bind(i64::try_from(applied).unwrap_or(i64::MAX))
            .bind(i64::try_from(total).unwrap_or(i64::MAX))
            .execute(conn)
            .await
            .map_err(|e| Error::from_sqlx("saving the replay checkpoint", e))?;
        Ok(())
    }

    async fn delete_checkpoint(&self, conn: &mut PgConnection) -> Result<(), Error> {
        sql::query(&self.statements().delete_checkpoint)
            .execute(conn)
            .await
            .map_err(|e| Error::from_sqlx("clearing the replay checkpoint", e))?;
        Ok(())
    }
}

/// Appends `(e.txid, e.id) <op> (<at>)`, comparing positions in replay order by
/// the `xid8` column itself.
fn compare_position<L: EventLog>(s: &mut Sql, op: &str, at: &Cursor) -> Result<(), Error> {
    s.push("(e.txid, e.id) ").push(op).push(" (");
    s.bind("txid", at.txid.to_string())?.push("::text::xid8, ");
    s.bind("id", bind::event_id::<L>("id", at.id)?)?.push(")");
    Ok(())
}

/// A position selected as (`txid` as text, `id`).
fn position<L: EventLog>(row: &PgRow) -> Result<Cursor, Error> {
    Ok(Cursor {
        txid: sql::get_txid(row, (0, "txid"))?,
        id: sql::get_id::<L>(row, (1, "id"))?,
    })
}
/// Refuses an event whose data or metadata nests deeper than the log ever
/// writes ([`MAX_JSON_DEPTH`](events_core::audit::MAX_JSON_DEPTH)): only raw SQL
/// can store one, and the bodies' recursive decoding and the replay context would
/// need more stack than a task has. Readers still return it; replay names it.
fn refuse_too_deep(event: Event) -> Result<Event, Error> {
    let deepest =
        events_core::json::depth(&event.data).max(events_core::json::depth(&event.metadata));
    if deepest <= events_core::audit::MAX_JSON_DEPTH {
        return Ok(event);
    }
    let error = Error::MalformedRow {
        column: "data".to_owned(),
        message: format!(
            "{} nests {deepest} levels deep, beyond the {} the log writes: it was written \
             outside the framework, and replay cannot apply it; route or remove it",
            events_core::EventRef::of(&event),
            events_core::audit::MAX_JSON_DEPTH
        ),
    };
    // Dropping the value recurses once per level.
    events_core::json::with_stack(deepest, move || drop(event));
    Err(error)
}

/// Applies one event with each of its targets, in order.
async fn apply_event(
    conn: &mut PgConnection,
    routes: &RouteTable,
    event: &Event,
) -> Result<(), Error> {
    let targets = routes.targets(&event.resource, &event.action, event.version);
    if targets.is_empty() {
        // The route table covers every triple of the range; this is a bug if it happens.
        return Err(Error::MissingRoutes {
            missing: vec![MissingRoute {
                resource: event.resource.clone(),
                action: event.action.clone(),
                version: event.version,
                events: 1,
                reason: format!("event {} was not covered by the preflight", event.id),
            }],
        });
    }
    for target in targets {
        (target.apply)(&mut *conn, event).await?;
    }
    Ok(())
}

fn report_progress(replay: &Replay, applied: u64, total: u64) {
    tracing::debug!(applied, total, "replay progress");
    if let Some(f) = &replay.progress {
        f(ReplayProgress { applied, total });
    }
}
