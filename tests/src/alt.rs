//! UUIDv7 event ids, integer record ids and a pair advisory lock key default.

use events_core::{ActionCtx, BulkCtx, Error, event_log, events};
use serde::{Deserialize, Serialize};

/// Event log with `primary_key_type = uuid_v7` and `record_id_type = integer`.
#[event_log(
    primary_key_type = uuid_v7,
    record_id_type = integer,
    advisory_lock_key_default = [1337, 31337],
    table = "alt_events",
)]
pub struct AltLog;

/// A counter keyed by an integer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    /// Record id.
    pub id: i64,
    /// Current value.
    pub value: i64,
}

/// Input of `Counter::open`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Open {
    /// Starting value.
    pub start: i64,
}

/// Input of `Counter::add`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Add {
    /// Amount added.
    pub by: i64,
}

#[events(event_log = AltLog)]
impl Counter {
    /// Opens a counter; the caller gives the id with `.record_id(..)`.
    #[create]
    pub async fn open(ctx: &mut ActionCtx<'_, i64>, input: Open) -> Result<Counter, Error> {
        let id = ctx.record_id();
        sqlx::query("INSERT INTO counters (id, value) VALUES ($1, $2)")
            .bind(id)
            .bind(input.start)
            .execute(ctx.conn())
            .await?;
        Ok(Counter {
            id,
            value: input.start,
        })
    }

    /// Opens every counter with one statement (ids given with `.record_ids(..)`);
    /// returns the event ids and the advisory locks held.
    #[bulk(open)]
    pub async fn open_many(
        ctx: &mut BulkCtx<'_, i64>,
        inputs: Vec<Open>,
    ) -> Result<(Vec<events_core::EventId>, Vec<(i64, i64, i16)>), Error> {
        let starts: Vec<i64> = inputs.iter().map(|i| i.start).collect();
        sqlx::query(
            "INSERT INTO counters (id, value) SELECT * FROM unnest($1::int8[], $2::int8[])",
        )
        .bind(ctx.record_ids())
        .bind(&starts)
        .execute(ctx.conn())
        .await?;
        let held = crate::held_advisory_locks(ctx.conn()).await?;
        Ok((ctx.event_ids().to_vec(), held))
    }

    /// Adds to a counter.
    #[update]
    pub async fn add(ctx: &mut ActionCtx<'_, i64>, input: Add) -> Result<Counter, Error> {
        let id = ctx.record_id();
        let (value,): (i64,) =
            sqlx::query_as("UPDATE counters SET value = value + $2 WHERE id = $1 RETURNING value")
                .bind(id)
                .bind(input.by)
                .fetch_one(ctx.conn())
                .await?;
        Ok(Counter { id, value })
    }
}

/// Reports the advisory locks its own transaction holds.
pub struct AltProbe;

#[events(event_log = AltLog)]
impl AltProbe {
    /// Returns `(classid, objid, objsubid)` of each advisory lock held.
    #[create]
    pub async fn probe(
        ctx: &mut ActionCtx<'_, i64>,
        _input: (),
    ) -> Result<Vec<(i64, i64, i16)>, Error> {
        crate::held_advisory_locks(ctx.conn()).await
    }
}

/// Creates the `counters` table.
pub async fn create_tables(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("CREATE TABLE counters (id bigint PRIMARY KEY, value bigint NOT NULL)")
        .execute(conn)
        .await?;
    Ok(())
}
