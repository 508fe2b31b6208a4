//! What a call settles before it takes a connection: the record id, and for a
//! recorded action its event data, its lock key and the actor rule. Single
//! calls, bulk calls and `each(..)` share these rules.

use serde::Serialize;

use super::EventOptions;
use crate::personal::{PersonalEvent, PersonalSchema, Protection, SubjectId, SubjectSource};
use crate::store::NewEvent;
use crate::{
    ActionInfo, ActionKind, ActorRef, Error, EventLog, Key, KeyValue, LockKey, LockKeyInput,
    LockScope, RecordIdOf, Resource,
};

/// The event of one input of a call, before the store inserts it.
pub(crate) struct PreparedEvent {
    /// The record id as a key.
    key: Key,
    /// The input, serialized.
    data: serde_json::Value,
    /// The lock the event is appended under; `None` for a fresh record under
    /// the record scope.
    lock: Option<LockKey>,
    /// Its encrypted fields, taken out of `data`, with their subject and seal;
    /// `None` when the input's type encrypts nothing.
    personal: Option<PersonalEvent>,
}

impl PreparedEvent {
    /// The event as the store inserts it, with the call's options.
    pub(crate) fn new_event<'a>(
        &'a self,
        resource: &'static str,
        action: &ActionInfo,
        options: &'a EventOptions,
    ) -> NewEvent<'a> {
        let mut event = options.event(resource, action, &self.key, &self.data);
        event.personal = self.personal.as_ref();
        event
    }

    /// What the store seals the event's recorded changes with: the same
    /// subject and seal as its data.
    pub(crate) fn protection(&self) -> Option<Protection> {
        self.personal.as_ref().map(|p| p.protection.clone())
    }

    /// The lock it is appended under.
    pub(crate) fn lock(&self) -> Option<LockKey> {
        self.lock
    }
}

/// The event of one input of a call to `action` on `record_id`, or `None` for
/// an ignored action. Checks the actor rule ([`require_actor`]) and serializes
/// the input. Under the record scope, a create of a record id generated here
/// (`generated`) takes no lock: no other action can name that record before
/// the call commits (see [`LockScope::Record`]).
///
/// When the input's type declares personal data (`personal`), its redacted
/// fields are nulled and its encrypted ones taken out of the data here, before
/// anything reaches the store (which encrypts them with the subject's key):
/// the plaintext is never in the event's data.
pub(crate) fn prepare_event<R: Resource, I: Serialize>(
    action: &ActionInfo,
    record_id: &RecordIdOf<R>,
    input: &I,
    options: &EventOptions,
    generated: bool,
    personal: Option<&'static PersonalSchema>,
) -> Result<Option<PreparedEvent>, Error> {
    if !action.recorded {
        return Ok(None);
    }
    require_actor::<R>(action, options.actor.as_ref())?;
    let key = record_id.clone().into_key();
    let mut data = serde_json::to_value(input).map_err(|source| Error::SerializeInput {
        resource: R::NAME,
        action: action.name,
        source,
    })?;
    let personal = match personal {
        None => None,
        Some(schema) => PersonalEvent::prepare(schema, &mut data, |source| {
            let subject = match source {
                SubjectSource::RecordId => Some(&key),
                SubjectSource::Actor => options.actor.as_ref().map(|a| &a.key),
                SubjectSource::Field(_) => None,
            };
            subject.and_then(|k| SubjectId::new(k.to_string()).ok())
        })?,
    };
    let fresh_record = generated
        && action.kind == ActionKind::Create
        && R::ADVISORY_LOCK_SCOPE == LockScope::Record;
    let lock = if fresh_record {
        None
    } else {
        Some(R::advisory_lock_key(&LockKeyInput {
            resource: R::NAME,
            action: action.name,
            record_id: &key,
            tenant: options.tenant.as_ref(),
        })?)
    };
    Ok(Some(PreparedEvent {
        key,
        data,
        lock,
        personal,
    }))
}

/// The record id of a call: the given one, else one generated here (a UUIDv7 for
/// `uuid` record ids); and whether it was generated.
pub(crate) fn resolve_record_id<R: Resource>(
    given: Option<RecordIdOf<R>>,
    action: &ActionInfo,
) -> Result<(RecordIdOf<R>, bool), Error> {
    match given {
        Some(id) => Ok((id, false)),
        None => RecordIdOf::<R>::generate()
            .map(|id| (id, true))
            .ok_or(Error::MissingRecordId {
                resource: R::NAME,
                action: action.name,
                record_id_type: <R::Log as EventLog>::RECORD_ID_TYPE,
            }),
    }
}

/// Rule: an event on a log whose actor column has `allow_nil = false` names an
/// actor in that column. (`#[event_log]` allows `allow_nil = false` only on a
/// log's single actor column.) Checked before any SQL, so the call fails with
/// [`Error::MissingActor`] instead of the database's not-null violation;
/// replay needs no check, its actors come from stored events.
fn require_actor<R: Resource>(action: &ActionInfo, actor: Option<&ActorRef>) -> Result<(), Error> {
    let required = <R::Log as EventLog>::ACTOR_COLUMNS
        .iter()
        .find(|column| !column.allow_nil && actor.map(|a| a.column) != Some(column.name));
    match required {
        Some(column) => Err(Error::MissingActor {
            resource: R::NAME,
            action: action.name,
            column: column.name,
        }),
        None => Ok(()),
    }
}
