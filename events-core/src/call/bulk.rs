//! Bulk actions: [`BulkCall`], one call over many inputs, one event per input,
//! one statement for all the events; the bulk body sees a [`BulkCtx`]. See the
//! [module docs](super#bulk-actions).

use serde::Serialize;
use sqlx::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use super::prepare::{PreparedEvent, prepare_event, resolve_record_id};
use super::run::{self, AfterCommit, CallStore, Work};
use super::scope::derefs_to_scope;
use super::{Call, EventOptions, Scope};
use crate::personal::PersonalSchema;
use crate::store::NewEvent;
use crate::{
    ActionInfo, ActionOutput, BoxFuture, Error, EventId, EventStore, RecordIdOf, Resource,
};

/// What a bulk body sees: the record id and event id of every input (in input
/// order), and through [`Scope`] (which it dereferences to) the transaction's
/// connection, the shared timestamp, actor, tenant and metadata, and the hooks.
///
/// A bulk body never runs on replay (its events replay one by one through the
/// single action), so it has no replay mode.
pub struct BulkCtx<'c, Id = Uuid> {
    scope: Scope<'c>,
    record_ids: Vec<Id>,
    event_ids: Vec<EventId>,
}

impl<'c, Id> BulkCtx<'c, Id> {
    /// The record of each input, in input order: generated (UUIDv7) or given for
    /// a create, the wrapper's record ids for an update or destroy.
    pub fn record_ids(&self) -> &[Id] {
        &self.record_ids
    }

    /// The event of each input, in input order; empty for an ignored action.
    pub fn event_ids(&self) -> &[EventId] {
        &self.event_ids
    }

    /// The scope and the event ids, for recording changes.
    pub(crate) fn scope_and_events(&mut self) -> (&mut Scope<'c>, &[EventId]) {
        (&mut self.scope, &self.event_ids)
    }
}

derefs_to_scope!(BulkCtx);

impl<Id> std::fmt::Debug for BulkCtx<'_, Id> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkCtx")
            .field("scope", &self.scope)
            .field("inputs", &self.record_ids.len())
            .finish_non_exhaustive()
    }
}

/// A generated bulk body adapter: the hidden bulk body, boxed.
pub type BulkBodyFn<Id, I, Ret> =
    for<'a, 'b> fn(&'a mut BulkCtx<'b, Id>, Vec<I>) -> BoxFuture<'a, Ret>;

/// A call of a generated bulk wrapper: configured with the builder methods of
/// [`Call`], executed by [`run`](Call::run). See the
/// [module docs](crate::call#bulk-actions).
pub type BulkCall<R, I, Ret> = Call<Bulk<R, I, Ret>>;

/// The kind of a [`BulkCall`]: a bulk action, its inputs and its bulk body.
pub struct Bulk<R: Resource, I, Ret> {
    action: ActionInfo,
    inputs: Vec<I>,
    record_ids: Option<Vec<RecordIdOf<R>>>,
    body: BulkBodyFn<RecordIdOf<R>, I, Ret>,
    /// The personal data `I` declares (`#[derive(PersonalData)]`), if any.
    personal: Option<&'static PersonalSchema>,
}

impl<R: Resource, I, Ret> Bulk<R, I, Ret> {
    /// The call of a bulk action's wrapper (`__private::bulk_call`).
    pub(crate) fn new(
        action: ActionInfo,
        inputs: Vec<I>,
        record_ids: Option<Vec<RecordIdOf<R>>>,
        body: BulkBodyFn<RecordIdOf<R>, I, Ret>,
        personal: Option<&'static PersonalSchema>,
    ) -> Self {
        Bulk {
            action,
            inputs,
            record_ids,
            body,
            personal,
        }
    }
}

impl<R: Resource, I, Ret> Call<Bulk<R, I, Ret>> {
    /// Sets the record ids of a bulk create, one per input in input order
    /// (required when the record id type is `integer` or `string`; UUIDv7s are
    /// generated otherwise). A count other than the number of inputs fails the
    /// call with [`Error::BulkRecordIds`] before anything runs.
    pub fn record_ids<T: Into<RecordIdOf<R>>>(mut self, ids: impl IntoIterator<Item = T>) -> Self {
        self.kind.record_ids = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// The number of inputs.
    pub fn len(&self) -> usize {
        self.kind.inputs.len()
    }

    /// True when the call has no input: it then runs the body on an empty `Vec`,
    /// writes no event and takes no lock.
    pub fn is_empty(&self) -> bool {
        self.kind.inputs.is_empty()
    }

    /// Runs the call in its own transaction and records one event per input
    /// (see the [steps of a call](crate::call#steps-of-a-call)).
    ///
    /// **Locks.** The call takes the advisory lock of every input (as the single
    /// action would), once per distinct key, in ascending key order, so that two
    /// bulk calls never wait on each other in a cycle. Each key is an entry in
    /// PostgreSQL's shared lock table, which holds about
    /// `max_locks_per_transaction × max_connections` entries (6,400 by default)
    /// for all sessions together: a call over many more distinct records than
    /// that fails with "out of shared memory"; split it, or raise the setting.
    /// One exception: under the `record` scope, a bulk create whose record ids
    /// the framework generates takes no lock at all, since no other action can
    /// name those records before the call commits; imports of any size fit.
    ///
    /// Returns the bulk body's value, or its error; framework errors
    /// ([`Error::Timeout`] past the [deadline](Call::deadline) among them) arrive
    /// in the body's error type through `From<events_core::Error>`.
    pub async fn run<S: EventStore<Log = R::Log>>(self, store: &S) -> Result<Ret::Ok, Ret::Err>
    where
        I: Serialize + Send,
        Ret: ActionOutput<Err: From<Error>> + Send,
    {
        let span = tracing::info_span!(
            "events.bulk",
            resource = R::NAME,
            action = self.kind.action.name,
            version = self.kind.action.version,
            recorded = self.kind.action.recorded,
            inputs = self.len(),
        );
        async move {
            let (name, inputs) = (self.kind.action.name, self.len());
            let what = move || format!("bulk call of `{}.{name}` ({inputs} inputs)", R::NAME);
            run::run(store, self.deadline, what, self.prepare()?).await
        }
        .instrument(span)
        .await
    }

    /// Settles what needs no database: the record ids, and for a recorded
    /// action every input's event data and lock, and the actor.
    fn prepare(self) -> Result<PreparedBulk<R, I, Ret>, Error>
    where
        I: Serialize,
    {
        let Bulk {
            action,
            inputs,
            record_ids,
            body,
            personal,
        } = self.kind;
        let generated = record_ids.is_none();
        let record_ids = match record_ids {
            Some(ids) if ids.len() != inputs.len() => {
                return Err(Error::BulkRecordIds {
                    resource: R::NAME,
                    action: action.name,
                    inputs: inputs.len(),
                    record_ids: ids.len(),
                });
            }
            Some(ids) => ids,
            None => inputs
                .iter()
                .map(|_| resolve_record_id::<R>(None, &action).map(|(id, _)| id))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let mut events = Vec::new();
        for (id, input) in record_ids.iter().zip(&inputs) {
            events.extend(prepare_event::<R, I>(
                &action,
                id,
                input,
                &self.options,
                generated,
                personal,
            )?);
        }
        Ok(PreparedBulk {
            action,
            inputs,
            record_ids,
            options: self.options,
            body,
            events,
            personal,
        })
    }
}

/// A bulk call whose record ids, event data and locks are settled.
struct PreparedBulk<R: Resource, I, Ret> {
    action: ActionInfo,
    inputs: Vec<I>,
    record_ids: Vec<RecordIdOf<R>>,
    options: EventOptions,
    body: BulkBodyFn<RecordIdOf<R>, I, Ret>,
    /// The event of each input; empty for an ignored action.
    events: Vec<PreparedEvent>,
    /// The personal data the input declares.
    personal: Option<&'static PersonalSchema>,
}

/// A bulk call: locks and events (one statement), the bulk body, its hooks.
impl<R: Resource, I, Ret: ActionOutput<Err: From<Error>>> Work for PreparedBulk<R, I, Ret> {
    type Ok = Ret::Ok;
    type Err = Ret::Err;

    fn appends_first(&self) -> bool {
        !self.events.is_empty()
    }

    async fn execute(
        self,
        conn: &mut PgConnection,
        store: CallStore<'_>,
    ) -> Result<(Ret::Ok, AfterCommit), Ret::Err> {
        let (action, options) = (&self.action, &self.options);
        let locks = self.events.iter().filter_map(PreparedEvent::lock).collect();
        let events: Vec<NewEvent<'_>> = self
            .events
            .iter()
            .map(|event| event.new_event(R::NAME, action, options))
            .collect();
        let (event_ids, now) = store.append_all(&mut *conn, locks, &events).await?;
        drop(events);
        // Only inputs that encrypt have protections (no allocation otherwise).
        let protections = match self.personal {
            Some(schema) if schema.encrypts() => {
                self.events.iter().map(PreparedEvent::protection).collect()
            }
            _ => Vec::new(),
        };
        let scope = Scope::new(conn, R::NAME, self.action, now, self.options, Some(store))
            .with_personal(self.personal, protections);
        let ctx = BulkCtx {
            scope,
            record_ids: self.record_ids,
            event_ids,
        };
        run::run_body(ctx, self.body, self.inputs).await
    }
}
