//! Running actions: the context a body sees and the builder a wrapper returns.
//!
//! `#[events]` keeps each action body as a hidden function and generates a wrapper
//! under the action's name that returns an [`ActionCall`]. Its [`run`](ActionCall::run)
//! does, in one transaction:
//!
//! 1. `BEGIN`;
//! 2. for a recorded action: `pg_advisory_xact_lock(key)` as the first statement, then
//!    the event insert (so the event's id orders before any event the body causes),
//!    both in one statement; under the `record` scope a create of a generated record
//!    id skips the lock (see [`LockScope::Record`](crate::LockScope::Record));
//! 3. the body, with an [`ActionCtx`] on the same connection;
//! 4. the `after_action` hooks the body registered;
//! 5. `COMMIT`, then the `after_commit` hooks.
//!
//! Any error before the commit rolls everything back: an event is stored if and only
//! if its action's state change committed. Ignored actions skip step 2.
//!
//! Before step 1 the call checks what it can without the database (record id,
//! event data, lock key, an actor where the log requires one) and fails without
//! taking a connection. Steps 1 to 5 run within the call's **deadline**
//! ([`ActionCall::deadline`], else the store's, [`crate::DEFAULT_DEADLINE`] unless
//! configured): past it, `run` returns [`Error::Timeout`] and closes the
//! connection, and the database, told the deadline in the `BEGIN` round trip,
//! ends the transaction on its side too, which frees its advisory lock even when
//! the client is cut off (see [`EventStore::deadline`]).
//!
//! A body can call another action with [`run_in`](ActionCall::run_in): it runs in
//! the same transaction under a savepoint and records its own event after the
//! caller's; on replay it is skipped (its own event replays it).

use std::any::TypeId;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use crate::txn::{self, Work};
use crate::{
    ActionInfo, Actor, ActorRef, BoxFuture, Error, EventId, EventLog, EventStore, Key, NewEvent,
    PersistsActor, RecordIdOf, Resource,
};

pub(crate) type AfterActionHook =
    Box<dyn for<'a> FnOnce(&'a mut PgConnection) -> BoxFuture<'a, Result<(), Error>> + Send>;

/// What an action body sees: the transaction's connection, the record id, the
/// timestamp, the actor, tenant and metadata, and whether this is a replay.
///
/// `Id` is the event log's record id type ([`uuid::Uuid`] unless `record_id_type`
/// says otherwise).
pub struct ActionCtx<'c, Id = Uuid> {
    conn: &'c mut PgConnection,
    resource: &'static str,
    action: ActionInfo,
    record_id: Id,
    now: DateTime<Utc>,
    actor: Option<ActorRef>,
    tenant: Option<Key>,
    metadata: serde_json::Value,
    event_id: Option<EventId>,
    replay: bool,
    pub(crate) after_action: Vec<AfterActionHook>,
    pub(crate) after_commit: Vec<BoxFuture<'static, ()>>,
    /// Where nested actions append their events; `None` on replay.
    pub(crate) store: Option<&'c dyn DynStore>,
    /// Set once the body recorded its changes (see [`crate::audit`]).
    changes_recorded: bool,
    /// Set for bodies run by [`crate::each`]: nested actions are refused there.
    pub(crate) in_each: bool,
}

/// Everything but the connection that an [`ActionCtx`] is made from.
#[derive(Debug, Clone)]
pub(crate) struct CtxParts<Id> {
    pub(crate) resource: &'static str,
    pub(crate) action: ActionInfo,
    pub(crate) record_id: Id,
    pub(crate) now: DateTime<Utc>,
    pub(crate) actor: Option<ActorRef>,
    pub(crate) tenant: Option<Key>,
    pub(crate) metadata: serde_json::Value,
    pub(crate) event_id: Option<EventId>,
    pub(crate) replay: bool,
}

impl<'c, Id: Clone> ActionCtx<'c, Id> {
    pub(crate) fn new(conn: &'c mut PgConnection, p: CtxParts<Id>) -> Self {
        ActionCtx {
            conn,
            resource: p.resource,
            action: p.action,
            record_id: p.record_id,
            now: p.now,
            actor: p.actor,
            tenant: p.tenant,
            metadata: p.metadata,
            event_id: p.event_id,
            replay: p.replay,
            after_action: Vec::new(),
            after_commit: Vec::new(),
            store: None,
            changes_recorded: false,
            in_each: false,
        }
    }

    /// Where the audit module writes this action's changes: the connection, the
    /// event log's table and the event id, with the once-per-action flag. `None` on
    /// replay (the changes are stored already) and for ignored actions (no event).
    pub(crate) fn changes_sink(
        &mut self,
    ) -> Option<(&mut PgConnection, &'static str, EventId, &mut bool)> {
        if self.replay {
            return None;
        }
        let (Some(event_id), Some(store)) = (self.event_id, self.store) else {
            return None;
        };
        Some((
            &mut *self.conn,
            store.table(),
            event_id,
            &mut self.changes_recorded,
        ))
    }

    /// The connection of the action's transaction: write the state change here, so
    /// it commits or rolls back together with the event.
    pub fn conn(&mut self) -> &mut PgConnection {
        self.conn
    }

    /// The record this action writes: generated (UUIDv7) or given for a create,
    /// the wrapper's argument for an update or destroy, the event's on replay.
    pub fn record_id(&self) -> Id {
        self.record_id.clone()
    }

    /// The action's timestamp, stored as the event's `occurred_at`: the database
    /// clock right after the advisory lock was granted (microsecond precision); on
    /// replay, the event's. Use it instead of the system clock, so replay sees the same.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The actor that ran the action, if one was given.
    pub fn actor(&self) -> Option<&ActorRef> {
        self.actor.as_ref()
    }

    /// The tenant the action runs for, if one was given.
    pub fn tenant(&self) -> Option<&Key> {
        self.tenant.as_ref()
    }

    /// Caller-supplied metadata (a JSON object, empty unless given).
    pub fn metadata(&self) -> &serde_json::Value {
        &self.metadata
    }

    /// The resource's name as stored in events.
    pub fn resource(&self) -> &'static str {
        self.resource
    }

    /// The running action.
    pub fn action(&self) -> &ActionInfo {
        &self.action
    }

    /// The id of this action's event; `None` for an ignored action.
    pub fn event_id(&self) -> Option<EventId> {
        self.event_id
    }

    /// True while replaying stored events; hooks are not run then.
    pub fn is_replay(&self) -> bool {
        self.replay
    }

    /// Runs `hook` in the action's transaction after the body succeeds, before the
    /// commit; its error rolls the action back. Skipped on replay.
    ///
    /// ```no_run
    /// # async fn body(ctx: &mut events_core::ActionCtx<'_>) {
    /// let id = ctx.record_id();
    /// ctx.after_action(move |conn| Box::pin(async move {
    ///     sqlx::query("INSERT INTO outbox (record_id) VALUES ($1)").bind(id).execute(conn).await?;
    ///     Ok(())
    /// }));
    /// # }
    /// ```
    pub fn after_action<F>(&mut self, hook: F)
    where
        F: for<'a> FnOnce(&'a mut PgConnection) -> BoxFuture<'a, Result<(), Error>>
            + Send
            + 'static,
    {
        if !self.replay {
            self.after_action.push(Box::new(hook));
        }
    }

    /// Runs `hook` after the transaction committed (send the email here). Skipped on
    /// replay and when the action rolls back.
    ///
    /// ```no_run
    /// # async fn body(ctx: &mut events_core::ActionCtx<'_>) {
    /// ctx.after_commit(async { tracing::info!("user created") });
    /// # }
    /// ```
    pub fn after_commit<F>(&mut self, hook: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if !self.replay {
            self.after_commit.push(Box::pin(hook));
        }
    }
}

impl<Id: std::fmt::Debug> std::fmt::Debug for ActionCtx<'_, Id> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionCtx")
            .field("resource", &self.resource)
            .field("action", &self.action)
            .field("record_id", &self.record_id)
            .field("now", &self.now)
            .field("actor", &self.actor)
            .field("tenant", &self.tenant)
            .field("event_id", &self.event_id)
            .field("replay", &self.replay)
            .finish_non_exhaustive()
    }
}

/// The result type of an action body, `Result<T, E>` (under any alias).
pub trait ActionOutput {
    /// The success value.
    type Ok;
    /// The error; `.run()` also returns framework errors in it, through `From<Error>`.
    type Err;
    /// Converts into a plain `Result`.
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
}

impl<T, E> ActionOutput for Result<T, E> {
    type Ok = T;
    type Err = E;
    fn into_result(self) -> Result<T, E> {
        self
    }
}

/// A generated body adapter: the hidden action body, boxed.
pub type BodyFn<Id, I, Ret> = for<'a, 'b> fn(&'a mut ActionCtx<'b, Id>, I) -> BoxFuture<'a, Ret>;

/// A call of a generated action wrapper, configured with builder methods and
/// executed by [`run`](ActionCall::run).
///
/// ```ignore
/// let user = User::create(input).actor(&admin).metadata(json!({"source": "api"})).run(&store).await?;
/// ```
#[must_use = "an action does nothing until `.run(&store)` is awaited"]
pub struct ActionCall<R: Resource, I, Ret> {
    pub(crate) action: ActionInfo,
    pub(crate) input: I,
    pub(crate) record_id: Option<RecordIdOf<R>>,
    pub(crate) actor: Option<ActorRef>,
    pub(crate) metadata: serde_json::Value,
    pub(crate) tenant: Option<Key>,
    pub(crate) body: BodyFn<RecordIdOf<R>, I, Ret>,
    pub(crate) deadline: Option<Duration>,
}

impl<R: Resource, I, Ret> ActionCall<R, I, Ret> {
    #[doc(hidden)]
    pub fn __new(
        action: ActionInfo,
        input: I,
        record_id: Option<RecordIdOf<R>>,
        body: BodyFn<RecordIdOf<R>, I, Ret>,
    ) -> Self {
        ActionCall {
            action,
            input,
            record_id,
            actor: None,
            metadata: serde_json::Value::Object(serde_json::Map::new()),
            tenant: None,
            body,
            deadline: None,
        }
    }

    /// Records `actor` as the one running the action, in its actor column.
    ///
    /// Passing an actor type that the event log has no `persist_actor_primary_key`
    /// for does not compile.
    pub fn actor<A: Actor>(mut self, actor: &A) -> Self
    where
        R::Log: PersistsActor<A>,
    {
        self.actor = Some(ActorRef::of::<R::Log, A>(actor));
        self
    }

    /// Attaches metadata stored with the event (AshEvents' `ash_events_metadata`).
    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// The metadata so far, for builder methods defined elsewhere in the crate
    /// (`request`, in [`crate::audit`]).
    pub(crate) fn metadata_mut(&mut self) -> &mut serde_json::Value {
        &mut self.metadata
    }

    /// Runs the action for `tenant`; stored on the event and passed to the lock key
    /// generator.
    pub fn tenant(mut self, tenant: impl Into<Key>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sets the record id of a create (required when the record id type is
    /// `integer` or `string`; a UUIDv7 is generated otherwise).
    pub fn record_id(mut self, record_id: impl Into<RecordIdOf<R>>) -> Self {
        self.record_id = Some(record_id.into());
        self
    }

    /// Bounds this call by `deadline` instead of the store's
    /// ([`EventStore::deadline`], [`crate::DEFAULT_DEADLINE`] unless the store
    /// sets another): from asking the pool for a connection to the commit,
    /// waiting for the advisory lock included. Past it, [`run`](Self::run)
    /// returns [`Error::Timeout`], and the database ends the transaction on its
    /// side too (a statement running, or the transaction idle, longer than
    /// `deadline`), which frees the lock when the client is cut off. Deadlines
    /// under a millisecond count as one.
    ///
    /// Ignored by [`run_in`](Self::run_in) (the caller's deadline bounds a
    /// nested action) and by [`each`](crate::each) (set it on the
    /// [`EachCall`](crate::EachCall)).
    ///
    /// ```no_run
    /// # use events_core::{ActionCtx, Error, EventStore, event_log, events};
    /// # #[event_log] pub struct AppLog;
    /// # pub struct Report;
    /// # #[events(event_log = AppLog)]
    /// # impl Report {
    /// #     #[update]
    /// #     async fn rebuild(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> { Ok(()) }
    /// # }
    /// # async fn run<S: EventStore<Log = AppLog>>(store: &S, id: uuid::Uuid) -> Result<(), Error> {
    /// use std::time::Duration;
    ///
    /// // A rebuild that legitimately takes minutes, on a store with the default 30 s.
    /// Report::rebuild(id, ()).deadline(Duration::from_secs(600)).run(store).await?;
    /// # Ok(()) }
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Runs the action in its own transaction and records its event.
    ///
    /// Returns the body's value, or its error; framework errors (database, lock key,
    /// serialization, [`Error::Timeout`] past the [deadline](Self::deadline),
    /// [`Error::MissingActor`] on a log that requires an actor) arrive in the
    /// body's error type through `From<events_core::Error>`.
    pub async fn run<S>(self, store: &S) -> Result<Ret::Ok, Ret::Err>
    where
        S: EventStore<Log = R::Log>,
        I: Serialize + Send,
        Ret: ActionOutput + Send,
        Ret::Err: From<Error>,
    {
        let span = self.span();
        async move {
            let deadline = self.deadline;
            let name = self.action.name;
            let call = self.prepare()?;
            let what = move || format!("action `{}.{name}`", R::NAME);
            txn::run(store, deadline, what, call).await
        }
        .instrument(span)
        .await
    }

    /// Runs the action from inside another action's body, in that action's
    /// transaction.
    ///
    /// Live, it runs under a savepoint: it takes its own advisory lock, records its
    /// own event (after the caller's, so replay applies them in the same order) and
    /// returns `Some(value)`; if it fails, its writes and its event roll back to the
    /// savepoint and the caller decides what to do with the error. Its
    /// `after_commit` hooks run when the caller's transaction commits.
    ///
    /// **On replay it is not run and returns `Ok(None)`**: it has its own event,
    /// which replay applies right after the caller's, so running it from the
    /// caller's body too would apply it twice.
    ///
    /// Both actions must be recorded by the same event log
    /// ([`Error::NestedOtherLog`] otherwise).
    ///
    /// ```ignore
    /// #[create]
    /// async fn signup(ctx: &mut ActionCtx<'_>, input: Signup) -> Result<User, Error> {
    ///     let user = insert_user(ctx, &input).await?;
    ///     Post::publish(PublishPost { author_id: user.id, title: "Hello".into() }).run_in(ctx).await?;
    ///     Ok(user)
    /// }
    /// ```
    pub async fn run_in<Id: Clone + Send>(
        self,
        ctx: &mut ActionCtx<'_, Id>,
    ) -> Result<Option<Ret::Ok>, Ret::Err>
    where
        I: Serialize + Send,
        Ret: ActionOutput + Send,
        Ret::Err: From<Error>,
    {
        if ctx.replay {
            tracing::debug!(
                resource = R::NAME,
                action = self.action.name,
                "nested action skipped on replay"
            );
            return Ok(None);
        }
        if ctx.in_each {
            return Err(Error::NestedInEach {
                resource: R::NAME,
                action: self.action.name,
            }
            .into());
        }
        let Some(store) = ctx.store else {
            return Err(Error::NestedOtherLog {
                resource: R::NAME,
                action: self.action.name,
            }
            .into());
        };
        if store.log_type() != TypeId::of::<R::Log>() {
            return Err(Error::NestedOtherLog {
                resource: R::NAME,
                action: self.action.name,
            }
            .into());
        }
        let span = self.span();
        async move {
            let call = self.prepare()?;
            let mut savepoint = sqlx::Connection::begin(&mut *ctx.conn)
                .await
                .map_err(|e| Error::from_sqlx("opening a savepoint for a nested action", e))?;
            match call.execute(&mut savepoint, store).await {
                Ok((output, after_commit)) => {
                    savepoint
                        .commit()
                        .await
                        .map_err(|e| Error::from_sqlx("releasing a nested action's savepoint", e))?;
                    ctx.after_commit.extend(after_commit);
                    Ok(Some(output))
                }
                Err(e) => {
                    if let Err(rollback) = savepoint.rollback().await {
                        tracing::warn!(error = %rollback, "rollback to a nested action's savepoint failed");
                    }
                    Err(e)
                }
            }
        }
        .instrument(span)
        .await
    }

    fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "events.action",
            resource = R::NAME,
            action = self.action.name,
            version = self.action.version,
            recorded = self.action.recorded,
        )
    }
}

/// Runs a body's `after_action` hooks in order, in its transaction; the first
/// error stops them and becomes [`Error::Hook`].
pub(crate) async fn run_after_action(
    conn: &mut PgConnection,
    hooks: Vec<AfterActionHook>,
    resource: &'static str,
    action: &'static str,
) -> Result<(), Error> {
    for hook in hooks {
        hook(&mut *conn).await.map_err(|e| Error::Hook {
            resource,
            action,
            source: Box::new(e),
        })?;
    }
    Ok(())
}

/// The object-safe part of [`EventStore`] that nested actions append through.
pub(crate) trait DynStore: Send + Sync {
    /// The event log the store holds.
    fn log_type(&self) -> TypeId;
    /// The event log's table name ([`EventLog::TABLE`]).
    fn table(&self) -> &'static str;
    /// [`EventStore::append_within`], boxed.
    fn append_dyn<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        lock: Option<crate::LockKey>,
        event: &'a NewEvent<'a>,
    ) -> BoxFuture<'a, Result<crate::Appended, Error>>;
    /// [`EventStore::append_many_within`], boxed.
    fn append_many_dyn<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        locks: &'a [crate::LockKey],
        events: &'a [NewEvent<'a>],
    ) -> BoxFuture<'a, Result<crate::AppendedMany, Error>>;
}

/// A store with a call's deadline, which its appends carry to the database
/// ([`EventStore::append_within`]): what a call's bodies, and the actions they
/// nest, append through.
pub(crate) struct WithDeadline<'s, S> {
    pub(crate) store: &'s S,
    pub(crate) deadline: std::time::Duration,
}

impl<S: EventStore> DynStore for WithDeadline<'_, S> {
    fn log_type(&self) -> TypeId {
        TypeId::of::<S::Log>()
    }

    fn table(&self) -> &'static str {
        <S::Log as EventLog>::TABLE
    }

    fn append_dyn<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        lock: Option<crate::LockKey>,
        event: &'a NewEvent<'a>,
    ) -> BoxFuture<'a, Result<crate::Appended, Error>> {
        Box::pin(self.store.append_within(conn, lock, event, self.deadline))
    }

    fn append_many_dyn<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        locks: &'a [crate::LockKey],
        events: &'a [NewEvent<'a>],
    ) -> BoxFuture<'a, Result<crate::AppendedMany, Error>> {
        Box::pin(
            self.store
                .append_many_within(conn, locks, events, self.deadline),
        )
    }
}
