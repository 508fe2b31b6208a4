//! Items that generated code refers to. Not a public API.

pub use sqlx::PgConnection;
pub use uuid::Uuid;

pub use inventory;

pub use crate::routes::{ResourceEntry, type_id_of};
pub use crate::{
    ActionCall, ActionCtx, ActionInfo, ActionKind, Actor, ActorColumn, AdvisoryLockKeyGenerator,
    BoxFuture, BulkCall, BulkCtx, ClearRecords, DefaultLockKeyGenerator, Error, Event, EventLog,
    GlobalLockKeyGenerator, KeyType, LockKey, LockKeyInput, LockScope, PersistsActor,
    PrimaryKeyType, RecordIdOf, RecordLockKeyGenerator, ReplayFn, ReplayOverride, Resource, Route,
};

use crate::call::Call;
use crate::call::bulk::{Bulk, BulkBodyFn};
use crate::call::single::{BodyFn, Single};

/// The call an action's wrapper returns.
pub fn action_call<R: Resource, I, Ret>(
    action: ActionInfo,
    input: I,
    record_id: Option<RecordIdOf<R>>,
    body: BodyFn<RecordIdOf<R>, I, Ret>,
    personal: Option<&'static PersonalSchema>,
) -> ActionCall<R, I, Ret> {
    Call::of(Single::new(action, input, record_id, body, personal))
}

/// The call a bulk action's wrapper returns.
pub fn bulk_call<R: Resource, I, Ret>(
    action: ActionInfo,
    inputs: Vec<I>,
    record_ids: Option<Vec<RecordIdOf<R>>>,
    body: BulkBodyFn<RecordIdOf<R>, I, Ret>,
    personal: Option<&'static PersonalSchema>,
) -> BulkCall<R, I, Ret> {
    Call::of(Bulk::new(action, inputs, record_ids, body, personal))
}

/// Finds whether an action's input type declares personal data, by autoref
/// specialization: `(&&PersonalProbe::<I>::NEW).personal_schema()` with both
/// [`DeclaresPersonal`] and [`DeclaresNothing`] in scope is `Some(I::SCHEMA)`
/// when `I: PersonalData`, `None` otherwise. The generated wrappers and replay
/// adapters ask with a concrete `I`.
pub struct PersonalProbe<T: ?Sized>(std::marker::PhantomData<T>);

impl<T: ?Sized> PersonalProbe<T> {
    /// The probe of `T`.
    pub const NEW: Self = PersonalProbe(std::marker::PhantomData);
}

/// The answer for a type with personal data.
pub trait DeclaresPersonal {
    /// `Some(T::SCHEMA)`.
    fn personal_schema(&self) -> Option<&'static PersonalSchema>;
}

impl<T: crate::personal::PersonalData + ?Sized> DeclaresPersonal for &PersonalProbe<T> {
    fn personal_schema(&self) -> Option<&'static PersonalSchema> {
        Some(T::SCHEMA)
    }
}

/// The answer for any other type.
pub trait DeclaresNothing {
    /// `None`.
    fn personal_schema(&self) -> Option<&'static PersonalSchema>;
}

impl<T: ?Sized> DeclaresNothing for PersonalProbe<T> {
    fn personal_schema(&self) -> Option<&'static PersonalSchema> {
        None
    }
}

use crate::call::{EventOptions, Scope};
use crate::{ActionOutput, ActorRef, BoxError, EventRef, KeyValue};

/// The context an action body sees while its event is replayed: record id,
/// timestamp, actor, tenant and metadata from the event; replay mode (hooks off).
pub fn replay_ctx<'a, R: Resource>(
    conn: &'a mut PgConnection,
    event: &Event,
    action: ActionInfo,
) -> Result<ActionCtx<'a, RecordIdOf<R>>, Error> {
    let malformed = |column: &str, message: String| Error::MalformedRow {
        column: column.to_owned(),
        message: format!("event {}: {message}", event.id),
    };
    let record_id =
        <RecordIdOf<R> as KeyValue>::from_key(event.record_id.clone()).ok_or_else(|| {
            malformed(
                "record_id",
                format!(
                    "`{}` is not a {} record id",
                    event.record_id,
                    <RecordIdOf<R> as KeyValue>::TYPE
                ),
            )
        })?;
    let actor = match &event.actor {
        None => None,
        Some((column, key)) => {
            let known = <R::Log as EventLog>::ACTOR_COLUMNS
                .iter()
                .find(|c| c.name == column);
            let Some(known) = known else {
                return Err(malformed(
                    column,
                    "not an actor column of this event log".to_owned(),
                ));
            };
            Some(ActorRef {
                column: known.name,
                key: key.clone(),
            })
        }
    };
    let options = EventOptions {
        actor,
        // A row written with raw SQL may nest deeper than the stack allows.
        metadata: crate::json::with_stack(crate::json::depth(&event.metadata), || {
            event.metadata.clone()
        }),
        tenant: event.tenant.as_deref().map(crate::key::parse_tenant),
    };
    // No store: a replay.
    let scope = Scope::new(conn, R::NAME, action, event.occurred_at, options, None);
    Ok(ActionCtx::new(scope, record_id, Some(event.id), false))
}

/// Decodes an event's data into the input type of the action replaying it, naming
/// the event and the offending field on failure. The stack grows as deeply
/// nested data needs it.
///
/// Fields that are gone (a redacted field, stored as `null`, or an encrypted
/// one whose subject was erased, read as `{"$erased": true}`) get the
/// placeholder the input type declares (`personal`), `None` for an `Option`;
/// see [`PersonalSchema::fill_gone`].
pub fn decode_input<I: serde::de::DeserializeOwned>(
    event: &Event,
    target_resource: &str,
    target_action: &str,
    personal: Option<&'static PersonalSchema>,
) -> Result<I, Error> {
    let filled;
    let data = if personal.is_some() || crate::personal::has_erased(&event.data) {
        // A row written with raw SQL may nest deeper than the stack allows.
        let mut data =
            crate::json::with_stack(crate::json::depth(&event.data), || event.data.clone());
        match personal {
            Some(schema) => schema.fill_gone(&mut data),
            None => crate::personal::fill_erased_with_null(&mut data),
        }
        filled = data;
        &filled
    } else {
        &event.data
    };
    serde_path_to_error::deserialize(serde_stacker::Deserializer::new(data)).map_err(|e| {
        Error::Replay(crate::ReplayError::Decode {
            event: EventRef::of(event),
            target: format!("{target_resource}.{target_action}"),
            field: match e.path().to_string() {
                root if root == "." => "(top level)".to_owned(),
                path => path,
            },
            source: e.into_inner(),
        })
    })
}

/// Turns a replayed body's result into the framework's, naming the event.
pub fn replay_result<Ret>(
    event: &Event,
    target_resource: &str,
    target_action: &str,
    ret: Ret,
) -> Result<(), Error>
where
    Ret: ActionOutput,
    Ret::Err: Into<BoxError>,
{
    ret.into_result().map(drop).map_err(|e| {
        Error::Replay(crate::ReplayError::Body {
            event: EventRef::of(event),
            target: format!("{target_resource}.{target_action}"),
            source: e.into(),
        })
    })
}

pub use crate::personal::{PersonalData, PersonalField, PersonalSchema, SubjectSource, Treatment};
pub use serde_json::Value as JsonValue;

/// A `#[derive(PersonalData)]` placeholder as JSON (`null` if it does not
/// serialize).
pub fn erased_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Compile-time check: `T` names a data subject.
pub const fn subject_key<T: crate::personal::SubjectKey + ?Sized>() {}

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

/// Compile-time check: the element type of a bulk action's inputs is its action's
/// input type (the events it writes replay through that action).
#[diagnostic::on_unimplemented(
    message = "the inputs of a bulk action are a `Vec` of its action's input `{T}`, not of `{Self}`",
    label = "not the input type of the action this is the bulk form of",
    note = "a bulk action writes its action's events, and replay decodes them as `{T}`: write `inputs: Vec<{T}>`"
)]
pub trait SameInput<T> {}

impl<T> SameInput<T> for T {}

/// Compile-time check: `A` and `B` are the same type (see [`SameInput`]).
pub const fn same_input<A: SameInput<B>, B>() {}

/// One character of an action name at the type level: `#[events]` keys each
/// action's [`ReplayAction`] impl by its name spelled as a tuple of these,
/// `(NameChar<'c'>, NameChar<'r'>, ..)`.
pub struct NameChar<const C: char>;

/// The replay function of the action named `Name` (a tuple of [`NameChar`]):
/// implemented by `#[events]` for every action, looked up by
/// `route_to(Resource, action)` in `#[event_log]`, whose expansion turns a missing
/// impl into an error naming the resource and the action.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no action of this name to route replayed events to",
    note = "`route_to(Resource, action)` names a method marked #[create], #[update] or #[destroy] in the resource's #[events] impl block"
)]
pub trait ReplayAction<Name> {
    /// The action's replay function.
    const REPLAY: ReplayFn;
}
