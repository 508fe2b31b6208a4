//! Introspection under AshEvents' names (`AshEvents.EventLog.Info`,
//! `AshEvents.Events.Info`), for readers who know those modules.
//!
//! Each function reads the associated items `#[event_log]` and `#[events]` compiled.
//!
//! ```ignore
//! use events_core::info;
//! assert_eq!(info::events_current_action_versions::<User>(), &[("create", 2)]);
//! ```

use crate::{
    ActionInfo, ActorColumn, EventLog, KeyType, LockKey, PrimaryKeyType, ReplayOverride, Resource,
};

/// Type of the event table's primary key (`primary_key_type`).
pub fn event_log_primary_key_type<L: EventLog>() -> PrimaryKeyType {
    L::PRIMARY_KEY_TYPE
}

/// Shape of record ids (`record_id_type`).
pub fn event_log_record_id_type<L: EventLog>() -> KeyType {
    L::RECORD_ID_TYPE
}

/// The clear-records type's name (`clear_records_for_replay`), if configured.
pub fn event_log_clear_records_for_replay<L: EventLog>() -> Option<&'static str> {
    L::CLEAR_RECORDS_FOR_REPLAY
}

/// The default advisory lock key (`advisory_lock_key_default`).
pub fn event_log_advisory_lock_key_default<L: EventLog>() -> LockKey {
    L::ADVISORY_LOCK_KEY_DEFAULT
}

/// The lock key generator's name (`advisory_lock_key_generator`).
pub fn event_log_advisory_lock_key_generator<L: EventLog>() -> &'static str {
    L::ADVISORY_LOCK_KEY_GENERATOR
}

/// Which actions wait for each other (`advisory_lock_scope`).
pub fn event_log_advisory_lock_scope<L: EventLog>() -> crate::LockScope {
    L::ADVISORY_LOCK_SCOPE
}

/// The lock scope of a resource's actions: its own, else its event log's.
pub fn events_advisory_lock_scope<R: Resource>() -> crate::LockScope {
    R::ADVISORY_LOCK_SCOPE
}

/// The actor columns with their options (`persist_actor_primary_key`).
pub fn event_log_persist_actor_primary_keys<L: EventLog>() -> &'static [ActorColumn] {
    L::ACTOR_COLUMNS
}

/// The replay overrides (`replay_override`).
pub fn replay_overrides<L: EventLog>() -> &'static [ReplayOverride] {
    L::REPLAY_OVERRIDES
}

/// The event log's type name (`event_log`).
pub fn events_event_log<R: Resource>() -> &'static str {
    std::any::type_name::<R::Log>()
}

/// Actions that run without an event (`ignore_actions`).
pub fn events_ignore_actions<R: Resource>() -> &'static [&'static str] {
    R::IGNORED_ACTIONS
}

/// Versions configured with `current_action_versions` (others are 1).
pub fn events_current_action_versions<R: Resource>() -> &'static [(&'static str, u32)] {
    R::CURRENT_ACTION_VERSIONS
}

/// Every action with its kind, version and whether it is recorded.
pub fn events_actions<R: Resource>() -> &'static [ActionInfo] {
    R::ACTIONS
}
