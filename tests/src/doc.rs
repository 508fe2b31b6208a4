//! A log whose actions take any JSON as input, for round trips of data, metadata
//! and changes through every write path (single calls, `#[bulk]`, `each`, changes)
//! and back through every reader, replay included.

use std::collections::HashMap;
use std::sync::Mutex;

use events_core::{ActionCtx, BulkCtx, ClearRecords, Error, event_log, events};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

/// Replay clears nothing: the documents live only in the log.
pub struct KeepAll;

impl ClearRecords for KeepAll {
    async fn clear_records(_conn: &mut PgConnection) -> Result<(), Error> {
        Ok(())
    }
}

/// The log, with commit times for the commit-time filters.
#[event_log(clear_records_for_replay = KeepAll, track_commit_time = true)]
pub struct DocLog;

/// A document: nothing but its events.
pub struct Doc;

/// What replay handed each record's body: the input and the metadata, by record
/// id (tests run in parallel; record ids keep them apart). Never dropped.
pub static REPLAYED: Mutex<Option<HashMap<Uuid, (Value, Value)>>> = Mutex::new(None);

/// What replay handed the body for `id`, taken out of [`REPLAYED`].
pub fn replayed(id: Uuid) -> Option<(Value, Value)> {
    REPLAYED
        .lock()
        .ok()
        .and_then(|mut seen| seen.as_mut().and_then(|seen| seen.remove(&id)))
}

fn remember(ctx: &ActionCtx<'_>, input: Value) {
    if let Ok(mut seen) = REPLAYED.lock() {
        // The metadata clone grows the stack as deep values need.
        let metadata =
            events_core::json::with_stack(events_core::json::depth(ctx.metadata()), || {
                ctx.metadata().clone()
            });
        seen.get_or_insert_with(HashMap::new)
            .insert(ctx.record_id(), (input, metadata));
    }
}

#[events(event_log = DocLog)]
impl Doc {
    /// Writes `input` as the event's data; on replay, remembers what it was given.
    #[create]
    pub async fn write(ctx: &mut ActionCtx<'_>, input: Value) -> Result<Uuid, Error> {
        if ctx.is_replay() {
            remember(ctx, input);
        } else {
            // Deep inputs are dropped where the stack allows.
            events_core::json::with_stack(events_core::json::depth(&input), move || drop(input));
        }
        Ok(ctx.record_id())
    }

    /// The bulk form of `write`.
    #[bulk(write)]
    pub async fn write_many(ctx: &mut BulkCtx<'_>, inputs: Vec<Value>) -> Result<Vec<Uuid>, Error> {
        let depth = inputs
            .iter()
            .map(events_core::json::depth)
            .max()
            .unwrap_or(0);
        events_core::json::with_stack(depth, move || drop(inputs));
        Ok(ctx.record_ids().to_vec())
    }

    /// Records `input` as the changes of an update: `{"doc": null}` to
    /// `{"doc": input}`.
    #[update]
    pub async fn revise(ctx: &mut ActionCtx<'_>, input: Value) -> Result<Uuid, Error> {
        if ctx.is_replay() {
            remember(ctx, input);
        } else {
            ctx.record_updated(&json!({"doc": null}), &json!({"doc": input}))
                .await?;
        }
        Ok(ctx.record_id())
    }
}

/// A migrated store of [`DocLog`] on `pool`.
pub async fn store(
    pool: &sqlx::PgPool,
) -> Result<events_postgres::PgEventStore<DocLog>, Box<dyn std::error::Error>> {
    let store = events_postgres::PgEventStore::<DocLog>::new(pool.clone());
    store.migrate().await?;
    Ok(store)
}
