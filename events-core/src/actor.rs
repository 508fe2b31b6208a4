//! Actors: who ran an action, persisted as one nullable column per actor type.

use crate::{EventLog, Key, KeyValue};

/// A type whose values can run actions and be recorded on events
/// (AshEvents' `persist_actor_primary_key` destination).
///
/// ```
/// use events_core::Actor;
/// use uuid::Uuid;
///
/// pub struct User { pub id: Uuid }
/// impl Actor for User {
///     type PrimaryKey = Uuid;
///     fn primary_key(&self) -> Uuid { self.id }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an actor",
    label = "not an actor",
    note = "implement `events_core::Actor` for `{Self}`: `impl Actor for {Self} {{ type PrimaryKey = Uuid; fn primary_key(&self) -> Uuid {{ self.id }} }}`"
)]
pub trait Actor {
    /// The key stored in the actor's column: [`uuid::Uuid`], [`i64`] or [`String`],
    /// matching the column's `attribute_type`.
    type PrimaryKey: KeyValue;
    /// This actor's primary key.
    fn primary_key(&self) -> Self::PrimaryKey;
}

/// Implemented by `#[event_log]` for each `persist_actor_primary_key` destination:
/// the event log stores actors of type `A` in column [`Self::COLUMN`].
#[diagnostic::on_unimplemented(
    message = "event log `{Self}` does not persist actors of type `{A}`",
    label = "this actor type has no column on the event log",
    note = "add `persist_actor_primary_key(<column>, {A})` to `#[event_log(...)]` on `{Self}`"
)]
pub trait PersistsActor<A: Actor>: EventLog {
    /// The actor column's name, one of [`EventLog::ACTOR_COLUMNS`].
    const COLUMN: &'static str;
}

/// The actor recorded on an event: which actor column, and the key stored in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorRef {
    /// The actor column's name (`user_id`).
    pub column: &'static str,
    /// The actor's primary key.
    pub key: Key,
}

impl ActorRef {
    /// The recorded actor of an action called with `actor`.
    pub fn of<L: PersistsActor<A>, A: Actor>(actor: &A) -> Self {
        ActorRef {
            column: L::COLUMN,
            key: actor.primary_key().into_key(),
        }
    }
}
