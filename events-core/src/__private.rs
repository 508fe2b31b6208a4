//! Items that generated code refers to. Not a public API.

pub use serde_json::Value;
pub use sqlx::PgConnection;
pub use uuid::Uuid;

pub use crate::action::BodyFn;
pub use crate::{
    ActionCall, ActionCtx, ActionInfo, ActionKind, ActionOutput, ActorColumn,
    AdvisoryLockKeyGenerator, BoxFuture, ClearRecords, DefaultLockKeyGenerator, Error, EventLog,
    KeyType, LockKey, LockKeyInput, PersistsActor, PrimaryKeyType, RecordIdOf, ReplayFn,
    ReplayOverride, Resource, Route,
};

use crate::{Actor, BoxError};

/// Decodes stored event data into the input type of the action about to replay it.
pub fn decode_input<I, Id>(ctx: &ActionCtx<'_, Id>, data: Value) -> Result<I, Error>
where
    I: serde::de::DeserializeOwned,
    Id: Clone,
{
    serde_json::from_value(data).map_err(|source| Error::DecodeEvent {
        event_id: ctx.event_id().map(|id| id.to_string()).unwrap_or_default(),
        resource: ctx.resource().to_owned(),
        action: ctx.action().name.to_owned(),
        version: ctx.action().version,
        target: format!("{}.{}", ctx.resource(), ctx.action().name),
        source,
    })
}

/// Turns a replayed body's result into the framework's, naming the event.
pub fn replay_result<Ret, Id>(ctx: &ActionCtx<'_, Id>, ret: Ret) -> Result<(), Error>
where
    Ret: ActionOutput,
    Ret::Err: Into<BoxError>,
    Id: Clone,
{
    ret.into_result().map(drop).map_err(|e| Error::Replay {
        event_id: ctx.event_id().map(|id| id.to_string()).unwrap_or_default(),
        resource: ctx.resource().to_owned(),
        action: ctx.action().name.to_owned(),
        version: ctx.action().version,
        source: e.into(),
    })
}

/// Compile-time check: `L` is an event log.
pub const fn event_log<L: EventLog>() {}

/// Compile-time check: `R` is a resource.
pub const fn resource<R: Resource>() {}

/// Compile-time check: `R` is a resource recorded by event log `L`.
pub const fn route_target<L: EventLog, R: Resource<Log = L>>() {}

/// Compile-time check: `A` is an actor whose primary key is `K`.
pub const fn actor_column<A: Actor<PrimaryKey = K>, K>() {}

/// Compile-time check: `C` implements `ClearRecords`.
pub const fn clear_records<C: ClearRecords>() {}

/// Compile-time check: `G` is an advisory lock key generator.
pub const fn lock_key_generator<G: AdvisoryLockKeyGenerator>() {}

/// Compile-time check: an action's input can be stored and replayed.
pub const fn action_input<I: serde::Serialize + serde::de::DeserializeOwned>() {}
