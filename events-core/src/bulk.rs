//! Bulk actions: one call over many inputs, one event per input, one statement
//! for all the events.
//!
//! A method marked `#[bulk(action)]` in an `#[events]` impl block is the bulk form
//! of `action`: it takes a [`BulkCtx`] and a `Vec` of `action`'s input, and
//! writes the state of every input at once (a multi-row `INSERT`, an
//! `UPDATE .. FROM unnest(..)`). Its generated wrapper returns a [`BulkCall`]
//! whose [`run`](BulkCall::run) does, in one transaction:
//!
//! 1. `BEGIN`;
//! 2. for a recorded action: every input's advisory lock, taken in ascending key
//!    order by one statement, and one event per input, inserted by the same
//!    statement: the events are those `action` itself writes (same name, kind and
//!    version), with one shared `occurred_at`, ids ascending in input order;
//! 3. the bulk body, once, with every input;
//! 4. the `after_action` hooks; `COMMIT`; the `after_commit` hooks.
//!
//! Either every event and the whole state change commit, or nothing does. Like a
//! single call, it checks its inputs before it takes a connection, and steps 1
//! to 4 run within its deadline ([`BulkCall::deadline`], else the store's).
//!
//! **Replay** applies those events one at a time through `action` (or its
//! `replay_override` route), like any other event: the bulk body must leave the
//! same state as running `action` over the inputs in order. Keep both on the same
//! helper functions, and test it the way this crate's tests do (live state after a
//! bulk call equals the state after replay).
//!
//! ```no_run
//! use events_core::{ActionCtx, BulkCtx, Error, EventStore, event_log, events};
//! use serde::{Deserialize, Serialize};
//!
//! #[event_log(advisory_lock_scope = record)]
//! pub struct AppLog;
//!
//! #[derive(Serialize, Deserialize)]
//! pub struct NewItem { value: i64 }
//!
//! pub struct Item;
//!
//! #[events(event_log = AppLog)]
//! impl Item {
//!     /// One item.
//!     #[create]
//!     async fn create(ctx: &mut ActionCtx<'_>, input: NewItem) -> Result<(), Error> {
//!         sqlx::query("INSERT INTO items (id, value) VALUES ($1, $2)")
//!             .bind(ctx.record_id())
//!             .bind(input.value)
//!             .execute(ctx.conn())
//!             .await?;
//!         Ok(())
//!     }
//!
//!     /// Many items, one statement; replayed one by one through `create`.
//!     #[bulk(create)]
//!     async fn create_many(ctx: &mut BulkCtx<'_>, inputs: Vec<NewItem>) -> Result<(), Error> {
//!         let values: Vec<i64> = inputs.iter().map(|i| i.value).collect();
//!         sqlx::query("INSERT INTO items (id, value) SELECT * FROM unnest($1::uuid[], $2::int8[])")
//!             .bind(ctx.record_ids())
//!             .bind(&values)
//!             .execute(ctx.conn())
//!             .await?;
//!         Ok(())
//!     }
//! }
//!
//! # async fn run<S: EventStore<Log = AppLog>>(store: &S) -> Result<(), Error> {
//! let inputs = (0..10_000).map(|value| NewItem { value });
//! Item::create_many(inputs).run(store).await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use crate::action::{AfterActionHook, DynStore, run_after_action};
use crate::prepare::{Prepared, event_data_and_lock, resolve_record_id};
use crate::txn::{self, AfterCommit, Work};
use crate::{
    ActionInfo, ActionOutput, Actor, ActorRef, BoxFuture, Error, EventId, EventLog, EventStore,
    Key, KeyValue, LockKey, NewEvent, PersistsActor, RecordIdOf, Resource,
};

/// What a bulk body sees: the transaction's connection, the record id and event
/// id of every input (in input order), the shared timestamp, actor, tenant and
/// metadata.
///
/// A bulk body never runs on replay (its events replay one by one through the
/// single action), so it has no replay mode.
pub struct BulkCtx<'c, Id = Uuid> {
    conn: &'c mut PgConnection,
    resource: &'static str,
    action: ActionInfo,
    record_ids: Vec<Id>,
    event_ids: Vec<EventId>,
    now: DateTime<Utc>,
    actor: Option<ActorRef>,
    tenant: Option<Key>,
    metadata: serde_json::Value,
    after_action: Vec<AfterActionHook>,
    after_commit: Vec<BoxFuture<'static, ()>>,
    /// The event log's table (for the changes side table).
    table: &'static str,
    /// Set once the body recorded its changes.
    changes_recorded: bool,
}

impl<Id> BulkCtx<'_, Id> {
    /// The connection of the call's transaction: write the state change here, so
    /// it commits or rolls back together with the events.
    pub fn conn(&mut self) -> &mut PgConnection {
        self.conn
    }

    /// The record of each input, in input order: generated (UUIDv7) or given for
    /// a create, the wrapper's record ids for an update or destroy.
    pub fn record_ids(&self) -> &[Id] {
        &self.record_ids
    }

    /// The event of each input, in input order; empty for an ignored action.
    pub fn event_ids(&self) -> &[EventId] {
        &self.event_ids
    }

    /// The events' shared timestamp: the database clock once every lock of the
    /// call was granted (microsecond precision). Replay gives each input's single
    /// action this same value as its `ctx.now()`.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The actor that ran the call, if one was given.
    pub fn actor(&self) -> Option<&ActorRef> {
        self.actor.as_ref()
    }

    /// The tenant the call runs for, if one was given.
    pub fn tenant(&self) -> Option<&Key> {
        self.tenant.as_ref()
    }

    /// Caller-supplied metadata (a JSON object, empty unless given), stored on
    /// every event of the call.
    pub fn metadata(&self) -> &serde_json::Value {
        &self.metadata
    }

    /// The resource's name as stored in events.
    pub fn resource(&self) -> &'static str {
        self.resource
    }

    /// The action whose events the call writes.
    pub fn action(&self) -> &ActionInfo {
        &self.action
    }

    /// Runs `hook` in the call's transaction after the body succeeds, before the
    /// commit; its error rolls the whole call back. See
    /// [`ActionCtx::after_action`](crate::ActionCtx::after_action).
    pub fn after_action<F>(&mut self, hook: F)
    where
        F: for<'a> FnOnce(&'a mut PgConnection) -> BoxFuture<'a, Result<(), Error>>
            + Send
            + 'static,
    {
        self.after_action.push(Box::new(hook));
    }

    /// Runs `hook` after the transaction committed; skipped when it rolls back.
    pub fn after_commit<F>(&mut self, hook: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.after_commit.push(Box::pin(hook));
    }

    /// Stores the changes of every input with its event, in input order, with one
    /// statement: the bulk form of
    /// [`ActionCtx::record`](crate::ActionCtx::record) (build each with
    /// [`Changes::created`](crate::audit::Changes::created),
    /// [`updated`](crate::audit::Changes::updated) or
    /// [`destroyed`](crate::audit::Changes::destroyed)).
    ///
    /// Once per call ([`Error::ChangesAlreadyRecorded`] the second time); one
    /// `Changes` per input ([`Error::InvalidValue`] otherwise). Does nothing for
    /// an ignored action.
    ///
    /// ```no_run
    /// # async fn body(ctx: &mut events_core::BulkCtx<'_>, old: Vec<serde_json::Value>, new: Vec<serde_json::Value>) -> Result<(), events_core::Error> {
    /// use events_core::audit::Changes;
    /// let changes = old
    ///     .iter()
    ///     .zip(&new)
    ///     .map(|(o, n)| Changes::updated(o, n))
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// ctx.record_changes(changes).await?;
    /// # Ok(()) }
    /// ```
    pub async fn record_changes(
        &mut self,
        changes: Vec<crate::audit::Changes>,
    ) -> Result<(), Error> {
        let (resource, action) = (self.resource, self.action.name);
        let Some(first) = self.event_ids.first().copied() else {
            return Ok(());
        };
        if self.changes_recorded {
            return Err(Error::ChangesAlreadyRecorded {
                resource,
                action,
                event: first,
            });
        }
        if changes.len() != self.event_ids.len() {
            return Err(Error::InvalidValue {
                column: "changes".to_owned(),
                message: format!(
                    "bulk call of `{resource}.{action}` has {} events but {} changes: give one `Changes` per input, in input order",
                    self.event_ids.len(),
                    changes.len()
                ),
            });
        }
        let events = self.event_ids.len();
        crate::audit::insert_changes(
            &mut *self.conn,
            self.table,
            &self.event_ids,
            changes,
            || format!("recording the changes of {events} events of {resource}.{action}"),
        )
        .await?;
        self.changes_recorded = true;
        Ok(())
    }
}

impl<Id: std::fmt::Debug> std::fmt::Debug for BulkCtx<'_, Id> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkCtx")
            .field("resource", &self.resource)
            .field("action", &self.action)
            .field("inputs", &self.record_ids.len())
            .field("now", &self.now)
            .field("actor", &self.actor)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// A generated bulk body adapter: the hidden bulk body, boxed.
pub type BulkBodyFn<Id, I, Ret> =
    for<'a, 'b> fn(&'a mut BulkCtx<'b, Id>, Vec<I>) -> BoxFuture<'a, Ret>;

/// A call of a generated bulk wrapper, configured with builder methods and
/// executed by [`run`](BulkCall::run). See the [module docs](self).
#[must_use = "a bulk call does nothing until `.run(&store)` is awaited"]
pub struct BulkCall<R: Resource, I, Ret> {
    action: ActionInfo,
    inputs: Vec<I>,
    record_ids: Option<Vec<RecordIdOf<R>>>,
    actor: Option<ActorRef>,
    metadata: serde_json::Value,
    tenant: Option<Key>,
    body: BulkBodyFn<RecordIdOf<R>, I, Ret>,
    deadline: Option<Duration>,
}

impl<R: Resource, I, Ret> BulkCall<R, I, Ret> {
    #[doc(hidden)]
    pub fn __new(
        action: ActionInfo,
        inputs: Vec<I>,
        record_ids: Option<Vec<RecordIdOf<R>>>,
        body: BulkBodyFn<RecordIdOf<R>, I, Ret>,
    ) -> Self {
        BulkCall {
            action,
            inputs,
            record_ids,
            actor: None,
            metadata: serde_json::Value::Object(serde_json::Map::new()),
            tenant: None,
            body,
            deadline: None,
        }
    }

    /// Records `actor` on every event of the call. An actor type the event log
    /// does not persist does not compile.
    pub fn actor<A: Actor>(mut self, actor: &A) -> Self
    where
        R::Log: PersistsActor<A>,
    {
        self.actor = Some(ActorRef::of::<R::Log, A>(actor));
        self
    }

    /// Attaches metadata stored with every event of the call.
    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// The metadata so far, for [`request`](Self::request) in [`crate::audit`].
    pub(crate) fn metadata_mut(&mut self) -> &mut serde_json::Value {
        &mut self.metadata
    }

    /// Runs the call for `tenant`; stored on every event and passed to the lock
    /// key generator for each input.
    pub fn tenant(mut self, tenant: impl Into<Key>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sets the record ids of a bulk create, one per input in input order
    /// (required when the record id type is `integer` or `string`; UUIDv7s are
    /// generated otherwise). A count other than the number of inputs fails the
    /// call with [`Error::BulkRecordIds`] before anything runs.
    pub fn record_ids<T: Into<RecordIdOf<R>>>(mut self, ids: impl IntoIterator<Item = T>) -> Self {
        self.record_ids = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Bounds this call by `deadline` instead of the store's, as
    /// [`ActionCall::deadline`](crate::ActionCall::deadline) does for a single
    /// action: give a large import the time it needs without raising every
    /// action's deadline.
    ///
    /// ```no_run
    /// # use events_core::{ActionCtx, BulkCtx, Error, EventStore, event_log, events};
    /// # #[event_log] pub struct AppLog;
    /// # pub struct Item;
    /// # #[events(event_log = AppLog)]
    /// # impl Item {
    /// #     #[create]
    /// #     async fn create(ctx: &mut ActionCtx<'_>, value: i64) -> Result<(), Error> { Ok(()) }
    /// #     #[bulk(create)]
    /// #     async fn create_many(ctx: &mut BulkCtx<'_>, values: Vec<i64>) -> Result<(), Error> { Ok(()) }
    /// # }
    /// # async fn run<S: EventStore<Log = AppLog>>(store: &S) -> Result<(), Error> {
    /// use std::time::Duration;
    ///
    /// Item::create_many(0..1_000_000).deadline(Duration::from_secs(300)).run(store).await?;
    /// # Ok(()) }
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The number of inputs.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// True when the call has no input: it then runs the body on an empty `Vec`,
    /// writes no event and takes no lock.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// Runs the call in its own transaction and records one event per input.
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
    /// ([`Error::Timeout`] past the [deadline](Self::deadline) among them) arrive
    /// in the body's error type through `From<events_core::Error>`.
    pub async fn run<S>(self, store: &S) -> Result<Ret::Ok, Ret::Err>
    where
        S: EventStore<Log = R::Log>,
        I: Serialize + Send,
        Ret: ActionOutput + Send,
        Ret::Err: From<Error>,
    {
        let span = tracing::info_span!(
            "events.bulk",
            resource = R::NAME,
            action = self.action.name,
            version = self.action.version,
            recorded = self.action.recorded,
            inputs = self.inputs.len(),
        );
        async move {
            let deadline = self.deadline;
            let (name, inputs) = (self.action.name, self.inputs.len());
            let call = self.prepare()?;
            let what = move || format!("bulk call of `{}.{name}` ({inputs} inputs)", R::NAME);
            txn::run(store, deadline, what, call).await
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
        let BulkCall {
            action,
            inputs,
            record_ids,
            actor,
            metadata,
            tenant,
            body,
            deadline: _,
        } = self;
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
        let mut rows = Vec::new();
        let mut locks = Vec::new();
        if action.recorded {
            rows.reserve(inputs.len());
            for (id, input) in record_ids.iter().zip(&inputs) {
                let key = id.clone().into_key();
                let (data, lock) = event_data_and_lock::<R, I>(
                    &action,
                    &key,
                    input,
                    tenant.as_ref(),
                    actor.as_ref(),
                    generated,
                )?;
                locks.extend(lock);
                rows.push((key, data));
            }
            locks.sort_unstable();
            locks.dedup();
        }
        Ok(PreparedBulk {
            action,
            inputs,
            record_ids,
            actor,
            metadata,
            tenant,
            body,
            rows,
            locks,
        })
    }
}

/// A bulk call whose record ids, event data and locks are settled.
struct PreparedBulk<R: Resource, I, Ret> {
    action: ActionInfo,
    inputs: Vec<I>,
    record_ids: Vec<RecordIdOf<R>>,
    actor: Option<ActorRef>,
    metadata: serde_json::Value,
    tenant: Option<Key>,
    body: BulkBodyFn<RecordIdOf<R>, I, Ret>,
    /// Record key and event data of each input; empty for an ignored action.
    rows: Vec<(Key, serde_json::Value)>,
    /// Every distinct lock, ascending.
    locks: Vec<LockKey>,
}

/// A bulk call: locks and events (one statement), the bulk body, its hooks.
impl<R: Resource, I, Ret> Work for PreparedBulk<R, I, Ret>
where
    Ret: ActionOutput,
    Ret::Err: From<Error>,
{
    type Ok = Ret::Ok;
    type Err = Ret::Err;

    fn appends_first(&self) -> bool {
        !self.rows.is_empty()
    }

    async fn execute(
        self,
        conn: &mut PgConnection,
        store: &dyn DynStore,
    ) -> Result<(Ret::Ok, AfterCommit), Ret::Err> {
        let PreparedBulk {
            action,
            inputs,
            record_ids,
            actor,
            metadata,
            tenant,
            body,
            rows,
            locks,
        } = self;
        let (event_ids, now) = if rows.is_empty() {
            (Vec::new(), Utc::now().trunc_subsecs(6))
        } else {
            let events: Vec<NewEvent<'_>> = rows
                .iter()
                .map(|(key, data)| NewEvent {
                    resource: R::NAME,
                    record_id: key,
                    action: action.name,
                    action_type: action.kind,
                    actor: actor.as_ref(),
                    data,
                    metadata: &metadata,
                    version: action.version,
                    tenant: tenant.as_ref(),
                })
                .collect();
            let appended = store.append_many_dyn(&mut *conn, &locks, &events).await?;
            tracing::debug!(
                events = appended.ids.len(),
                locks = locks.len(),
                "bulk events appended"
            );
            (appended.ids, appended.occurred_at)
        };

        let mut ctx = BulkCtx {
            conn: &mut *conn,
            resource: R::NAME,
            action,
            record_ids,
            event_ids,
            now,
            actor,
            tenant,
            metadata,
            after_action: Vec::new(),
            after_commit: Vec::new(),
            table: <R::Log as EventLog>::TABLE,
            changes_recorded: false,
        };
        let output = (body)(&mut ctx, inputs).await.into_result()?;
        let after_action = std::mem::take(&mut ctx.after_action);
        let after_commit = std::mem::take(&mut ctx.after_commit);
        drop(ctx);
        run_after_action(conn, after_action, R::NAME, action.name).await?;
        Ok((output, after_commit))
    }
}

/// Runs many calls of an action, each with its own body, in one transaction,
/// writing all their events with one statement.
///
/// For actions without a `#[bulk(..)]` form: every call keeps its own record id,
/// actor, metadata and tenant, and its body runs as it would under
/// [`ActionCall::run`](crate::ActionCall::run), one after the other in the given
/// order, each with its own event id and `after_action` hooks. The events are
/// inserted first, all at once, under every call's lock (ascending key order);
/// they share one `occurred_at`. Either every call commits or none does. Compared
/// with running the calls one by one, this saves a transaction per call (its
/// `BEGIN`, lock and event round trips and its commit), but still runs each
/// body's statements; a `#[bulk]` body writes the state of all calls at once.
///
/// Replay applies the events one by one in the same order, so the state is the
/// one the calls produced. A body run this way cannot run nested actions
/// ([`Error::NestedInEach`]): their events would follow all of this call's.
///
/// ```no_run
/// # use events_core::{ActionCtx, Error, EventStore, event_log, events};
/// # #[event_log] pub struct AppLog;
/// # pub struct Tag;
/// # #[events(event_log = AppLog)]
/// # impl Tag {
/// #     #[update]
/// #     async fn rename(ctx: &mut ActionCtx<'_>, name: String) -> Result<(), Error> { Ok(()) }
/// # }
/// # async fn run<S: EventStore<Log = AppLog>>(store: &S, renames: Vec<(uuid::Uuid, String)>) -> Result<(), Error> {
/// let calls = renames.into_iter().map(|(id, name)| Tag::rename(id, name));
/// let outputs: Vec<()> = events_core::each(calls).run(store).await?;
/// # Ok(()) }
/// ```
pub fn each<R: Resource, I, Ret>(
    calls: impl IntoIterator<Item = crate::ActionCall<R, I, Ret>>,
) -> EachCall<R, I, Ret> {
    EachCall {
        calls: calls.into_iter().collect(),
        deadline: None,
    }
}

/// Calls of one action gathered by [`each`], executed by [`run`](EachCall::run).
#[must_use = "`each(..)` does nothing until `.run(&store)` is awaited"]
pub struct EachCall<R: Resource, I, Ret> {
    calls: Vec<crate::ActionCall<R, I, Ret>>,
    deadline: Option<Duration>,
}

impl<R: Resource, I, Ret> EachCall<R, I, Ret> {
    /// Bounds the whole transaction by `deadline` instead of the store's, as
    /// [`ActionCall::deadline`](crate::ActionCall::deadline) does for one call;
    /// the deadlines of the gathered calls are ignored.
    ///
    /// ```no_run
    /// # use events_core::{ActionCtx, Error, EventStore, event_log, events};
    /// # #[event_log] pub struct AppLog;
    /// # pub struct Tag;
    /// # #[events(event_log = AppLog)]
    /// # impl Tag {
    /// #     #[update]
    /// #     async fn rename(ctx: &mut ActionCtx<'_>, name: String) -> Result<(), Error> { Ok(()) }
    /// # }
    /// # async fn run<S: EventStore<Log = AppLog>>(store: &S, renames: Vec<(uuid::Uuid, String)>) -> Result<(), Error> {
    /// use std::time::Duration;
    ///
    /// let calls = renames.into_iter().map(|(id, name)| Tag::rename(id, name));
    /// events_core::each(calls).deadline(Duration::from_secs(120)).run(store).await?;
    /// # Ok(()) }
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The number of calls.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// True without calls: `run` then returns an empty `Vec` and writes nothing.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Runs every call in one transaction; returns their values in call order, or
    /// the first error (and nothing is stored).
    pub async fn run<S>(self, store: &S) -> Result<Vec<Ret::Ok>, Ret::Err>
    where
        S: EventStore<Log = R::Log>,
        I: Serialize + Send,
        Ret: ActionOutput + Send,
        Ret::Err: From<Error>,
    {
        if self.calls.is_empty() {
            return Ok(Vec::new());
        }
        let span = tracing::info_span!("events.each", resource = R::NAME, calls = self.calls.len());
        async move {
            let calls = self.calls.len();
            let prepared = self
                .calls
                .into_iter()
                .map(crate::ActionCall::prepare)
                .collect::<Result<Vec<_>, _>>()?;
            let what = move || format!("each(..) over {calls} calls of `{}`", R::NAME);
            txn::run(store, self.deadline, what, PreparedEach(prepared)).await
        }
        .instrument(span)
        .await
    }
}

/// The calls of an [`EachCall`], their record ids, event data and locks settled.
struct PreparedEach<R: Resource, I, Ret>(Vec<Prepared<R, I, Ret>>);

/// `each(..)`: every call's lock and event (one statement), then each body in
/// order.
impl<R: Resource, I, Ret> Work for PreparedEach<R, I, Ret>
where
    Ret: ActionOutput,
    Ret::Err: From<Error>,
{
    type Ok = Vec<Ret::Ok>;
    type Err = Ret::Err;

    fn appends_first(&self) -> bool {
        self.0.iter().any(|call| call.new_event().is_some())
    }

    async fn execute(
        self,
        conn: &mut PgConnection,
        store: &dyn DynStore,
    ) -> Result<(Vec<Ret::Ok>, AfterCommit), Ret::Err> {
        let prepared = self.0;
        let mut event_ids: Vec<Option<EventId>> = vec![None; prepared.len()];
        let mut now = Utc::now().trunc_subsecs(6);
        {
            let mut recorded = Vec::new();
            let mut events = Vec::new();
            let mut locks = Vec::new();
            for (index, call) in prepared.iter().enumerate() {
                if let Some((event, lock)) = call.new_event() {
                    recorded.push(index);
                    events.push(event);
                    locks.extend(lock);
                }
            }
            if !events.is_empty() {
                locks.sort_unstable();
                locks.dedup();
                let appended = store.append_many_dyn(&mut *conn, &locks, &events).await?;
                for (index, id) in recorded.into_iter().zip(&appended.ids) {
                    event_ids[index] = Some(*id);
                }
                tracing::debug!(
                    events = appended.ids.len(),
                    locks = locks.len(),
                    "events of each(..) appended"
                );
                now = appended.occurred_at;
            }
        }

        let mut outputs = Vec::with_capacity(prepared.len());
        let mut after_commit = Vec::new();
        for (call, event_id) in prepared.into_iter().zip(event_ids) {
            let (output, mut hooks) = call.run_body(conn, store, event_id, now, true).await?;
            outputs.push(output);
            after_commit.append(&mut hooks);
        }
        Ok((outputs, after_commit))
    }
}
