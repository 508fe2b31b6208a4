//! The event log: the configuration `#[event_log(...)]` compiles into.

use std::fmt;

use crate::action::ActionCtx;
use crate::{BoxFuture, Error, KeyType, KeyValue, LockKey, LockKeyInput, PrimaryKeyType};

/// The central event log, implemented by `#[event_log(...)]` on a struct.
///
/// Its associated items are the compiled configuration; they double as
/// introspection (AshEvents' `AshEvents.EventLog.Info`, see also [`crate::info`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event log",
    label = "not an event log",
    note = "declare the event log with `#[event_log(...)]` on a struct and name that struct here"
)]
pub trait EventLog: Send + Sync + Sized + 'static {
    /// Rust type of record ids (`record_id_type`): [`uuid::Uuid`], [`i64`] or [`String`].
    type RecordId: KeyValue;

    /// Name of the event table (`table`, default `events`).
    const TABLE: &'static str;
    /// Type of the event table's primary key (`primary_key_type`).
    const PRIMARY_KEY_TYPE: PrimaryKeyType;
    /// Shape of record ids (`record_id_type`).
    const RECORD_ID_TYPE: KeyType = <Self::RecordId as KeyValue>::TYPE;
    /// The key locked when the generator has nothing more specific
    /// (`advisory_lock_key_default`, default `2147483647`).
    const ADVISORY_LOCK_KEY_DEFAULT: LockKey;
    /// Name of the lock key generator type (`advisory_lock_key_generator`).
    const ADVISORY_LOCK_KEY_GENERATOR: &'static str;
    /// Name of the clear-records type (`clear_records_for_replay`), if configured.
    const CLEAR_RECORDS_FOR_REPLAY: Option<&'static str>;
    /// One nullable column per actor type (`persist_actor_primary_key`).
    const ACTOR_COLUMNS: &'static [ActorColumn];
    /// Routes for old event versions (`replay_override`).
    const REPLAY_OVERRIDES: &'static [ReplayOverride<Self::RecordId>];

    /// The advisory lock key for an action, from the configured generator.
    fn advisory_lock_key(input: &LockKeyInput<'_>) -> Result<LockKey, Error>;

    /// Runs the configured `clear_records_for_replay`; `None` when none is configured.
    fn clear_records(conn: &mut sqlx::PgConnection) -> Option<BoxFuture<'_, Result<(), Error>>>;
}

/// One actor column on the event table (`persist_actor_primary_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorColumn {
    /// Column name (`user_id`).
    pub name: &'static str,
    /// Name of the actor type stored in it, as written in the config.
    pub destination: &'static str,
    /// Whether the column is nullable (`allow_nil`, default true).
    pub allow_nil: bool,
    /// Shape of the key (`attribute_type`, default `uuid`).
    pub attribute_type: KeyType,
    /// Whether the column is part of public interfaces (`public`, default false).
    pub public: bool,
}

/// Applies stored event data to an action body in replay mode.
pub type ReplayFn<Id> = for<'a, 'b> fn(
    &'a mut ActionCtx<'b, Id>,
    serde_json::Value,
) -> BoxFuture<'a, Result<(), Error>>;

/// Routes some versions of one stored (resource, action) to other actions on replay.
pub struct ReplayOverride<Id: 'static> {
    /// Resource name stored in the events to match.
    pub resource: &'static str,
    /// Action name stored in the events to match.
    pub action: &'static str,
    /// Versions to match; never empty.
    pub versions: &'static [u32],
    /// Targets, applied in order; never empty.
    pub routes: &'static [Route<Id>],
}

/// One `route_to(Resource, action)` of a [`ReplayOverride`].
pub struct Route<Id: 'static> {
    /// Target resource name.
    pub resource: &'static str,
    /// Target action name.
    pub action: &'static str,
    /// The target action's body, in replay mode.
    pub apply: ReplayFn<Id>,
}

impl<Id> ReplayOverride<Id> {
    /// True when this override applies to an event of this resource, action and version.
    pub fn matches(&self, resource: &str, action: &str, version: u32) -> bool {
        self.resource == resource && self.action == action && self.versions.contains(&version)
    }
}

impl<Id> fmt::Debug for ReplayOverride<Id> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayOverride")
            .field("resource", &self.resource)
            .field("action", &self.action)
            .field("versions", &self.versions)
            .field("routes", &self.routes)
            .finish()
    }
}

impl<Id> fmt::Debug for Route<Id> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("resource", &self.resource)
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

/// Clears every record that replay rebuilds (`clear_records_for_replay`).
///
/// Runs on the replay's connection, so clearing and re-applying commit together.
///
/// ```
/// use events_core::{ClearRecords, Error};
///
/// pub struct ClearAll;
/// impl ClearRecords for ClearAll {
///     async fn clear_records(conn: &mut sqlx::PgConnection) -> Result<(), Error> {
///         sqlx::query("TRUNCATE users, posts").execute(conn).await?;
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `ClearRecords`",
    label = "used as `clear_records_for_replay` here",
    note = "implement `events_core::ClearRecords` for `{Self}`: `async fn clear_records(conn: &mut sqlx::PgConnection) -> Result<(), events_core::Error>`"
)]
pub trait ClearRecords {
    /// Deletes the state that replay rebuilds.
    fn clear_records(
        conn: &mut sqlx::PgConnection,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}
