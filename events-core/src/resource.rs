//! Resources: types whose actions are recorded, implemented by `#[events(...)]`.

use crate::{ActionKind, Error, EventLog, LockKey, LockKeyInput, LockScope, ReplayFn};

/// The record id type of a resource's event log.
pub type RecordIdOf<R> = <<R as Resource>::Log as EventLog>::RecordId;

/// One action of a resource: a method marked `#[create]`, `#[update]` or `#[destroy]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionInfo {
    /// The action's name (the method name).
    pub name: &'static str,
    /// Create, update or destroy.
    pub kind: ActionKind,
    /// Version written to its events (`current_action_versions`, default 1).
    pub version: u32,
    /// False for actions in `ignore_actions` (or outside `only_actions`): they run
    /// without an event and without the advisory lock.
    pub recorded: bool,
}

/// A resource whose actions are recorded as events, implemented by `#[events(...)]`
/// on its inherent `impl` block.
///
/// The associated items double as introspection (AshEvents' `AshEvents.Events.Info`,
/// see also [`crate::info`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event-tracked resource",
    label = "not a resource",
    note = "put `#[events(event_log = ...)]` on `impl {Self} {{ .. }}` and mark its actions `#[create]`, `#[update]` or `#[destroy]`"
)]
pub trait Resource: 'static {
    /// The event log that records this resource's actions (`event_log`).
    type Log: EventLog;
    /// Name stored in events (`name`, default the type's name).
    const NAME: &'static str;
    /// Every action, in declaration order.
    const ACTIONS: &'static [ActionInfo];
    /// Actions that run without an event (`ignore_actions`, or all not in `only_actions`).
    const IGNORED_ACTIONS: &'static [&'static str];
    /// Versions configured with `current_action_versions`; others are 1.
    const CURRENT_ACTION_VERSIONS: &'static [(&'static str, u32)];

    /// The replay entry point of action `name`, `None` for an unknown name.
    fn replay_fn(name: &str) -> Option<ReplayFn>;

    /// Which actions of this resource wait for each other: the event log's scope
    /// unless `#[events(advisory_lock_scope = ..)]` overrides it.
    const ADVISORY_LOCK_SCOPE: LockScope = <Self::Log as EventLog>::ADVISORY_LOCK_SCOPE;

    /// The advisory lock key of one of this resource's actions: the event log's
    /// generator unless `#[events(advisory_lock_scope = ..)]` overrides it.
    fn advisory_lock_key(input: &LockKeyInput<'_>) -> Result<LockKey, Error> {
        <Self::Log as EventLog>::advisory_lock_key(input)
    }

    /// The action named `name`.
    fn action(name: &str) -> Option<&'static ActionInfo> {
        Self::ACTIONS.iter().find(|a| a.name == name)
    }
}
