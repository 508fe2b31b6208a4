//! The steps of a replay that talk to the database: the replay lock and the
//! retention horizon, clearing, the selection's bounds and its batches in
//! `(txid, id)` order, the chunked replay's checkpoint, and applying one event.

use std::collections::BTreeMap;

use events_core::replay::{MissingRoute, Replay, ReplayProgress, Selection};
use events_core::store::RouteTable;
use events_core::{Error, Event, EventId, EventLog};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::{Checkpoint, Range, Saved, start};
use crate::PgEventStore;
use crate::follow::Position;
use crate::read::decode_event;
use crate::sql::{self, Sql, bind};

impl<L: EventLog> PgEventStore<L> {
    /// Takes the replay lock for the rest of the transaction (refusing with
    /// [`ReplayError::InProgress`](events_core::ReplayError::InProgress) when another replay holds it) and blocks
    /// appends until then; waits for in-flight ones. Through the owner's
    /// `<table>_begin_replay()`, so the application role can replay without the
    /// privileges `LOCK TABLE .. IN SHARE MODE` needs.
    pub(super) async fn begin_replay(&self, conn: &mut PgConnection) -> Result<(), Error> {
        let row = sql::query(&self.statements().begin_replay)
            .fetch_one(conn)
            .await
            .map_err(|e| Error::from_sqlx("locking the event table for replay", e))?;
        if sql::get::<bool>(&row, (0, "locked"))? {
            Ok(())
        } else {
            Err(Error::Replay(events_core::ReplayError::InProgress {
                table: L::TABLE,
            }))
        }
    }

    /// Refuses when retention gave up replay: the events replay would need are gone.
    pub(super) async fn check_horizon(&self, conn: &mut PgConnection) -> Result<(), Error> {
        let row = sql::query(&self.statements().horizon)
            .fetch_optional(conn)
            .await
            .map_err(|e| Error::from_sqlx("reading the replay horizon", e))?;
        match row {
            Some(row) => Err(Error::Replay(events_core::ReplayError::Horizon {
                table: L::TABLE,
                before: sql::get(&row, (0, "pruned_before"))?,
                pruned_at: sql::get(&row, (1, "pruned_at"))?,
            })),
            None => Ok(()),
        }
    }

    pub(super) async fn clear(&self, conn: &mut PgConnection) -> Result<(), Error> {
        match L::clear_records(conn) {
            Some(fut) => fut.await,
            None => Err(Error::Replay(events_core::ReplayError::NoClearRecords {
                log: std::any::type_name::<L>(),
            })),
        }
    }

    /// The selection's bounds. `fix_all` pins `Selection::All` to the current last
    /// event (for chunked replays, which let writers in between chunks).
    pub(super) async fn range(
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
                    None => Err(Error::Replay(events_core::ReplayError::UnknownEvent {
                        id: *id,
                    })),
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
    pub(super) fn select_range(s: &mut Sql, after: &Position, range: &Range) -> Result<(), Error> {
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
    pub(super) async fn triples(
        &self,
        conn: &mut PgConnection,
        after: &Position,
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
    pub(super) async fn remaining(
        &self,
        conn: &mut PgConnection,
        after: &Position,
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
    pub(super) async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        routes: &RouteTable,
        after: &mut Position,
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
        let mut events = rows
            .iter()
            .map(|row| refuse_too_deep(decode_event::<L>(row)?))
            .collect::<Result<Vec<_>, _>>()?;
        self.reveal_events(&mut events, true).await?;
        let mut n = 0;
        for (row, event) in rows.iter().zip(events) {
            apply_event(conn, routes, &event).await?;
            *after = Position {
                txid: sql::get_txid(row, (sqlx::Row::len(row) - 1, "txid"))?,
                id: event.id,
            };
            *last_event = Some(event.id);
            n += 1;
        }
        Ok(n)
    }

    pub(super) async fn load_checkpoint(
        &self,
        conn: &mut PgConnection,
    ) -> Result<Option<Saved>, Error> {
        let Some(row) = sql::query(&self.statements().load_checkpoint)
            .fetch_optional(conn)
            .await
            .map_err(|e| Error::from_sqlx("reading the replay checkpoint", e))?
        else {
            return Ok(None);
        };
        let selection: Selection = serde_json::from_value(sql::get(&row, (0, "selection"))?)
            .map_err(|e| sql::malformed("selection", e.to_string()))?;
        let last = sql::get_saved_position::<L>(&row, (1, "last_txid"), (2, "last_id"))?;
        let upto = sql::get_saved_position::<L>(&row, (3, "bound_txid"), (4, "bound_id"))?;
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

    pub(super) async fn save_checkpoint(
        &self,
        conn: &mut PgConnection,
        selection: &Selection,
        after: &Position,
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

    pub(super) async fn delete_checkpoint(&self, conn: &mut PgConnection) -> Result<(), Error> {
        sql::query(&self.statements().delete_checkpoint)
            .execute(conn)
            .await
            .map_err(|e| Error::from_sqlx("clearing the replay checkpoint", e))?;
        Ok(())
    }
}

/// Appends `(e.txid, e.id) <op> (<at>)`, comparing positions in replay order by
/// the `xid8` column itself.
pub(super) fn compare_position<L: EventLog>(
    s: &mut Sql,
    op: &str,
    at: &Position,
) -> Result<(), Error> {
    s.push("(e.txid, e.id) ").push(op).push(" (");
    s.bind("txid", at.txid.to_string())?.push("::text::xid8, ");
    s.bind("id", bind::event_id::<L>("id", at.id)?)?.push(")");
    Ok(())
}

/// A position selected as (`txid` as text, `id`).
pub(super) fn position<L: EventLog>(row: &PgRow) -> Result<Position, Error> {
    Ok(Position {
        txid: sql::get_txid(row, (0, "txid"))?,
        id: sql::get_id::<L>(row, (1, "id"))?,
    })
}
/// Refuses an event whose data or metadata nests deeper than the log ever
/// writes ([`MAX_JSON_DEPTH`](events_core::audit::MAX_JSON_DEPTH)): only raw SQL
/// can store one, and the bodies' recursive decoding and the replay context would
/// need more stack than a task has. Readers still return it; replay names it.
pub(super) fn refuse_too_deep(event: Event) -> Result<Event, Error> {
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
pub(super) async fn apply_event(
    conn: &mut PgConnection,
    routes: &RouteTable,
    event: &Event,
) -> Result<(), Error> {
    let targets = routes.targets(&event.resource, &event.action, event.version);
    if targets.is_empty() {
        // The route table covers every triple of the range; this is a bug if it happens.
        return Err(Error::Replay(events_core::ReplayError::MissingRoutes {
            missing: vec![MissingRoute {
                resource: event.resource.clone(),
                action: event.action.clone(),
                version: event.version,
                events: 1,
                reason: format!("event {} was not covered by the preflight", event.id),
            }],
        }));
    }
    for target in targets {
        (target.apply)(&mut *conn, event).await?;
    }
    Ok(())
}

pub(super) fn report_progress(replay: &Replay, applied: u64, total: u64) {
    tracing::debug!(applied, total, "replay progress");
    if let Some(f) = &replay.progress {
        f(ReplayProgress { applied, total });
    }
}
