//! [`Call`], the one builder type of every kind of call: the options every
//! call takes (actor, metadata, tenant, request context, deadline), their
//! builder methods, written once, and the one constructor of the [`NewEvent`]
//! a call appends.

use std::time::Duration;

use serde_json::{Map, Value};

use super::Configurable;
use crate::audit::RequestContext;
use crate::store::NewEvent;
use crate::{ActionInfo, Actor, ActorRef, Key, PersistsActor};

/// The actor, metadata and tenant of a call's events, which its bodies see
/// again through [`Scope`](super::Scope).
#[derive(Debug, Clone)]
pub(crate) struct EventOptions {
    pub(crate) actor: Option<ActorRef>,
    /// A JSON object, empty unless given.
    pub(crate) metadata: Value,
    pub(crate) tenant: Option<Key>,
}

impl Default for EventOptions {
    fn default() -> Self {
        EventOptions {
            actor: None,
            metadata: Value::Object(Map::new()),
            tenant: None,
        }
    }
}

impl EventOptions {
    /// The event of `action` on the record `record_id` of `resource`, with
    /// input `data` and these options: how single calls, bulk calls and
    /// `each(..)` build every event they append.
    pub(crate) fn event<'a>(
        &'a self,
        resource: &'static str,
        action: &ActionInfo,
        record_id: &'a Key,
        data: &'a Value,
    ) -> NewEvent<'a> {
        NewEvent {
            resource,
            record_id,
            action: action.name,
            action_type: action.kind,
            actor: self.actor.as_ref(),
            data,
            metadata: &self.metadata,
            version: action.version,
            tenant: self.tenant.as_ref(),
            personal: None,
        }
    }
}

/// A call of a generated wrapper, configured with builder methods and executed
/// by its kind's `run`: [`ActionCall`](crate::ActionCall) (kind
/// [`Single`](super::Single)), [`BulkCall`](crate::BulkCall)
/// ([`Bulk`](super::Bulk)) or [`EachCall`](crate::EachCall)
/// ([`Each`](super::Each)). See the [module docs](crate::call) for what a call
/// does.
///
/// ```ignore
/// let user = User::create(input).actor(&admin).metadata(json!({"source": "api"})).run(&store).await?;
/// ```
#[must_use = "a call does nothing until `.run(&store)` is awaited"]
pub struct Call<K> {
    /// What the call runs.
    pub(crate) kind: K,
    /// Actor, metadata and tenant of its events.
    pub(crate) options: EventOptions,
    /// Its own deadline, instead of the store's.
    pub(crate) deadline: Option<Duration>,
}

impl<K> Call<K> {
    /// A call of `kind` with no options set.
    pub(crate) fn of(kind: K) -> Self {
        Call {
            kind,
            options: EventOptions::default(),
            deadline: None,
        }
    }

    /// Bounds this call by `deadline` instead of the store's
    /// ([`EventStore::deadline`](crate::EventStore::deadline),
    /// [`crate::DEFAULT_DEADLINE`] unless the store sets another): from asking
    /// the pool for a connection to the commit, waiting for the advisory locks
    /// included. Past it, `run` returns [`Error::Timeout`](crate::Error::Timeout),
    /// and the database ends the transaction on its side too (a statement
    /// running, or the transaction idle, longer than `deadline`), which frees
    /// the locks when the client is cut off. Deadlines under a millisecond
    /// count as one. Give a rebuild or a large import the time it needs without
    /// raising every action's deadline.
    ///
    /// Ignored by [`run_in`](crate::ActionCall::run_in) (the caller's deadline
    /// bounds a nested action) and on the calls gathered by
    /// [`each`](crate::each) (set it on the [`EachCall`](crate::EachCall),
    /// which bounds the whole transaction).
    ///
    /// ```no_run
    /// # use events_core::{ActionCtx, BulkCtx, Error, EventStore, event_log, events};
    /// # #[event_log] pub struct AppLog;
    /// # pub struct Report;
    /// # #[events(event_log = AppLog)]
    /// # impl Report {
    /// #     #[update]
    /// #     async fn rebuild(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> { Ok(()) }
    /// #     #[create]
    /// #     async fn create(ctx: &mut ActionCtx<'_>, value: i64) -> Result<(), Error> { Ok(()) }
    /// #     #[bulk(create)]
    /// #     async fn create_many(ctx: &mut BulkCtx<'_>, values: Vec<i64>) -> Result<(), Error> { Ok(()) }
    /// # }
    /// # async fn run<S: EventStore<Log = AppLog>>(store: &S, id: uuid::Uuid) -> Result<(), Error> {
    /// use std::time::Duration;
    ///
    /// // A rebuild that legitimately takes minutes, on a store with the default 30 s.
    /// Report::rebuild(id, ()).deadline(Duration::from_secs(600)).run(store).await?;
    /// Report::create_many(0..1_000_000).deadline(Duration::from_secs(300)).run(store).await?;
    /// let calls = (0..100).map(|value| Report::create(value));
    /// events_core::each(calls).deadline(Duration::from_secs(120)).run(store).await?;
    /// # Ok(()) }
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

impl<K: Configurable> Call<K> {
    /// Records `actor` as the one running the call, in its actor column, on
    /// every event of the call.
    ///
    /// Passing an actor type that the event log has no
    /// `persist_actor_primary_key` for does not compile.
    pub fn actor<A: Actor>(mut self, actor: &A) -> Self
    where
        K::Log: PersistsActor<A>,
    {
        self.options.actor = Some(ActorRef::of::<K::Log, A>(actor));
        self
    }

    /// Attaches metadata stored with every event of the call (AshEvents'
    /// `ash_events_metadata`).
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.options.metadata = metadata;
        self
    }

    /// Runs the call for `tenant`; stored on every event and passed to the lock
    /// key generator for each record.
    pub fn tenant(mut self, tenant: impl Into<Key>) -> Self {
        self.options.tenant = Some(tenant.into());
        self
    }

    /// Adds the request context to the metadata of every event of the call
    /// (keys `ip_address`, `user_agent`, `request_id`), from where the store
    /// also copies it into the event table's audit columns, so queries by
    /// request id find recorded actions and manual entries alike. Call it after
    /// [`metadata`](Self::metadata), which replaces the metadata.
    ///
    /// The context is cleaned as [`RequestContext::stored_fields`] says, the
    /// same as for manual entries: a request context never fails the call.
    ///
    /// ```ignore
    /// let request = RequestContext::new().request_id("req-7f3a").ip_address(ip);
    /// User::create(input).actor(&admin).request(&request).run(&store).await?;
    /// ```
    pub fn request(mut self, request: &RequestContext) -> Self {
        let metadata = &mut self.options.metadata;
        if !metadata.is_object() {
            *metadata = Value::Object(Map::new());
        }
        if let Value::Object(map) = metadata {
            for (key, value) in request.stored_fields() {
                map.insert(key.to_owned(), Value::String(value));
            }
        }
        self
    }
}
