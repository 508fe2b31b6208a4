//! A single action: [`ActionCall`], the context its body sees ([`ActionCtx`]),
//! and the body's result type ([`ActionOutput`]).

use chrono::{DateTime, Utc};
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
use crate::{ActionInfo, BoxFuture, Error, EventId, EventStore, LockKey, RecordIdOf, Resource};

/// What an action body sees: the record id, its event id and whether this is a
/// replay, and through [`Scope`] (which it dereferences to) the transaction's
/// connection, the timestamp, the actor, tenant and metadata, and the hooks.
///
/// `Id` is the event log's record id type ([`uuid::Uuid`] unless `record_id_type`
/// says otherwise).
pub struct ActionCtx<'c, Id = Uuid> {
    scope: Scope<'c>,
    record_id: Id,
    event_id: Option<EventId>,
    /// Set for bodies run by [`crate::each`]: nested actions are refused there.
    in_each: bool,
}

impl<'c, Id> ActionCtx<'c, Id> {
    /// The context of a body: live, or a replay (see [`Scope::new`]).
    pub(crate) fn new(
        scope: Scope<'c>,
        record_id: Id,
        event_id: Option<EventId>,
        in_each: bool,
    ) -> Self {
        ActionCtx {
            scope,
            record_id,
            event_id,
            in_each,
        }
    }

    /// The record this action writes: generated (UUIDv7) or given for a create,
    /// the wrapper's argument for an update or destroy, the event's on replay.
    pub fn record_id(&self) -> Id
    where
        Id: Clone,
    {
        self.record_id.clone()
    }

    /// The id of this action's event; `None` for an ignored action.
    pub fn event_id(&self) -> Option<EventId> {
        self.event_id
    }

    /// True while replaying stored events; hooks are not run then.
    pub fn is_replay(&self) -> bool {
        self.scope.replay()
    }
}

derefs_to_scope!(ActionCtx);

impl<Id: std::fmt::Debug> std::fmt::Debug for ActionCtx<'_, Id> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionCtx")
            .field("scope", &self.scope)
            .field("record_id", &self.record_id)
            .field("event_id", &self.event_id)
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

/// A call of a generated action wrapper: configured with the builder methods
/// of [`Call`], executed by [`run`](Call::run), or by [`run_in`](Call::run_in)
/// from another action's body.
///
/// ```ignore
/// let user = User::create(input).actor(&admin).metadata(json!({"source": "api"})).run(&store).await?;
/// ```
pub type ActionCall<R, I, Ret> = Call<Single<R, I, Ret>>;

/// The kind of an [`ActionCall`]: one action, its input and its body.
pub struct Single<R: Resource, I, Ret> {
    action: ActionInfo,
    input: I,
    record_id: Option<RecordIdOf<R>>,
    body: BodyFn<RecordIdOf<R>, I, Ret>,
    /// The personal data `I` declares (`#[derive(PersonalData)]`), if any.
    personal: Option<&'static PersonalSchema>,
}

impl<R: Resource, I, Ret> Single<R, I, Ret> {
    /// The call of an action's wrapper (`__private::action_call`).
    pub(crate) fn new(
        action: ActionInfo,
        input: I,
        record_id: Option<RecordIdOf<R>>,
        body: BodyFn<RecordIdOf<R>, I, Ret>,
        personal: Option<&'static PersonalSchema>,
    ) -> Self {
        Single {
            action,
            input,
            record_id,
            body,
            personal,
        }
    }
}

impl<R: Resource, I, Ret> Call<Single<R, I, Ret>> {
    /// Sets the record id of a create (required when the record id type is
    /// `integer` or `string`; a UUIDv7 is generated otherwise).
    pub fn record_id(mut self, record_id: impl Into<RecordIdOf<R>>) -> Self {
        self.kind.record_id = Some(record_id.into());
        self
    }

    /// Runs the action in its own transaction and records its event (see the
    /// [steps of a call](crate::call#steps-of-a-call)).
    ///
    /// Returns the body's value, or its error; framework errors (database, lock key,
    /// serialization, [`Error::Timeout`] past the [deadline](Call::deadline),
    /// [`Error::MissingActor`] on a log that requires an actor) arrive in the
    /// body's error type through `From<events_core::Error>`.
    pub async fn run<S: EventStore<Log = R::Log>>(self, store: &S) -> Result<Ret::Ok, Ret::Err>
    where
        I: Serialize + Send,
        Ret: ActionOutput<Err: From<Error>> + Send,
    {
        let span = self.span();
        async move {
            let deadline = self.deadline;
            let name = self.kind.action.name;
            let call = self.prepare()?;
            let what = move || format!("action `{}.{name}`", R::NAME);
            run::run(store, deadline, what, call).await
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
        Ret: ActionOutput<Err: From<Error>> + Send,
    {
        let (resource, action) = (R::NAME, self.kind.action.name);
        if ctx.is_replay() {
            tracing::debug!(resource, action, "nested action skipped on replay");
            return Ok(None);
        }
        if ctx.in_each {
            return Err(Error::NestedInEach { resource, action }.into());
        }
        let Some(store) = ctx.store.filter(CallStore::holds::<R::Log>) else {
            return Err(Error::NestedOtherLog { resource, action }.into());
        };
        let span = self.span();
        async move {
            let call = self.prepare()?;
            let mut savepoint = sqlx::Connection::begin(ctx.conn())
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
        let action = &self.kind.action;
        tracing::info_span!(
            "events.action",
            resource = R::NAME,
            action = action.name,
            version = action.version,
            recorded = action.recorded,
        )
    }

    /// Settles what needs no database: the record id, and for a recorded action
    /// its event data, lock and actor.
    pub(crate) fn prepare(self) -> Result<Prepared<R, I, Ret>, Error>
    where
        I: Serialize,
    {
        let Single {
            action,
            input,
            record_id,
            body,
            personal,
        } = self.kind;
        let (record_id, generated) = resolve_record_id::<R>(record_id, &action)?;
        let event = prepare_event::<R, I>(
            &action,
            &record_id,
            &input,
            &self.options,
            generated,
            personal,
        )?;
        Ok(Prepared {
            action,
            input,
            record_id,
            options: self.options,
            body,
            event,
            personal,
        })
    }
}

/// A single call whose record id, event data and lock are settled: what runs in
/// the transaction, alone ([`Call::run`], [`Call::run_in`]) or with others
/// ([`crate::each`]).
pub(crate) struct Prepared<R: Resource, I, Ret> {
    action: ActionInfo,
    input: I,
    record_id: RecordIdOf<R>,
    options: EventOptions,
    body: BodyFn<RecordIdOf<R>, I, Ret>,
    /// The event of a recorded action; `None` for an ignored one.
    event: Option<PreparedEvent>,
    /// The personal data the input declares.
    personal: Option<&'static PersonalSchema>,
}

impl<R: Resource, I, Ret> Prepared<R, I, Ret> {
    /// The call's event as the store inserts it, with its lock; `None` for an
    /// ignored action.
    pub(crate) fn new_event(&self) -> Option<(NewEvent<'_>, Option<LockKey>)> {
        let event = self.event.as_ref()?;
        let new = event.new_event(R::NAME, &self.action, &self.options);
        Some((new, event.lock()))
    }

    /// The body and its `after_action` hooks, once the event is written
    /// (`event_id`, `now`); returns the body's value and its `after_commit`
    /// hooks. `in_each` refuses nested actions (see [`Error::NestedInEach`]).
    pub(crate) async fn run_body(
        self,
        conn: &mut PgConnection,
        store: CallStore<'_>,
        event_id: Option<EventId>,
        now: DateTime<Utc>,
        in_each: bool,
    ) -> Result<(Ret::Ok, AfterCommit), Ret::Err>
    where
        Ret: ActionOutput,
        Ret::Err: From<Error>,
    {
        let protection = self.event.as_ref().and_then(PreparedEvent::protection);
        let scope = Scope::new(conn, R::NAME, self.action, now, self.options, Some(store))
            .with_personal(
                self.personal,
                protection.map(|p| vec![Some(p)]).unwrap_or_default(),
            );
        let ctx = ActionCtx::new(scope, self.record_id, event_id, in_each);
        run::run_body(ctx, self.body, self.input).await
    }
}

/// A single call: its lock and event (one statement), then its body.
impl<R: Resource, I, Ret: ActionOutput<Err: From<Error>>> Work for Prepared<R, I, Ret> {
    type Ok = Ret::Ok;
    type Err = Ret::Err;

    fn appends_first(&self) -> bool {
        self.event.is_some()
    }

    async fn execute(
        self,
        conn: &mut PgConnection,
        store: CallStore<'_>,
    ) -> Result<(Ret::Ok, AfterCommit), Ret::Err> {
        let (event_id, now) = match self.new_event() {
            Some((event, lock)) => {
                let appended = store.append(&mut *conn, lock, &event).await?;
                (Some(appended.id), appended.occurred_at)
            }
            None => (None, run::clock()),
        };
        tracing::debug!(event_id = ?event_id, "running action body");
        self.run_body(conn, store, event_id, now, false).await
    }
}
