//! A call made ready for its transaction: what it settles before taking a
//! connection (record id, event data, lock key, the actor rule), and what it
//! then runs in the transaction (lock and event, body, `after_action` hooks).
//! Single calls, bulk calls and `each(..)` share these rules.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::action::{BodyFn, CtxParts, DynStore, run_after_action};
use crate::txn::{AfterCommit, Work};
use crate::{
    ActionCall, ActionCtx, ActionInfo, ActionKind, ActionOutput, ActorRef, Error, EventId,
    EventLog, Key, KeyValue, LockKey, LockKeyInput, LockScope, NewEvent, RecordIdOf, Resource,
};

impl<R: Resource, I, Ret> ActionCall<R, I, Ret> {
    /// Settles what needs no database: the record id, and for a recorded action
    /// its event data, lock and actor (see [`event_data_and_lock`]).
    pub(crate) fn prepare(self) -> Result<Prepared<R, I, Ret>, Error>
    where
        I: Serialize,
    {
        let ActionCall {
            action,
            input,
            record_id,
            actor,
            metadata,
            tenant,
            body,
            deadline: _,
        } = self;
        let (record_id, generated) = resolve_record_id::<R>(record_id, &action)?;
        let event = if action.recorded {
            let key = record_id.clone().into_key();
            let (data, lock) = event_data_and_lock::<R, I>(
                &action,
                &key,
                &input,
                tenant.as_ref(),
                actor.as_ref(),
                generated,
            )?;
            Some(PreparedEvent { key, data, lock })
        } else {
            None
        };
        Ok(Prepared {
            action,
            input,
            record_id,
            actor,
            metadata,
            tenant,
            body,
            event,
        })
    }
}

/// A call whose record id, event data and lock are settled: what runs in the
/// transaction, alone ([`ActionCall::run`], [`ActionCall::run_in`]) or with
/// others ([`crate::each`]).
pub(crate) struct Prepared<R: Resource, I, Ret> {
    action: ActionInfo,
    input: I,
    record_id: RecordIdOf<R>,
    actor: Option<ActorRef>,
    metadata: serde_json::Value,
    tenant: Option<Key>,
    body: BodyFn<RecordIdOf<R>, I, Ret>,
    /// The event of a recorded action; `None` for an ignored one.
    event: Option<PreparedEvent>,
}

/// The event of a prepared call, before the store inserts it.
pub(crate) struct PreparedEvent {
    key: Key,
    data: serde_json::Value,
    lock: Option<LockKey>,
}

impl<R: Resource, I, Ret> Prepared<R, I, Ret> {
    /// The call's event as the store inserts it, with its lock; `None` for an
    /// ignored action.
    pub(crate) fn new_event(&self) -> Option<(NewEvent<'_>, Option<LockKey>)> {
        let event = self.event.as_ref()?;
        Some((
            NewEvent {
                resource: R::NAME,
                record_id: &event.key,
                action: self.action.name,
                action_type: self.action.kind,
                actor: self.actor.as_ref(),
                data: &event.data,
                metadata: &self.metadata,
                version: self.action.version,
                tenant: self.tenant.as_ref(),
            },
            event.lock,
        ))
    }

    /// The body and its `after_action` hooks, once the event is written
    /// (`event_id`, `now`); returns the body's value and its `after_commit`
    /// hooks. `in_each` refuses nested actions (see [`Error::NestedInEach`]).
    pub(crate) async fn run_body(
        self,
        conn: &mut PgConnection,
        store: &dyn DynStore,
        event_id: Option<EventId>,
        now: DateTime<Utc>,
        in_each: bool,
    ) -> Result<(Ret::Ok, AfterCommit), Ret::Err>
    where
        Ret: ActionOutput,
        Ret::Err: From<Error>,
    {
        let Prepared {
            action,
            input,
            record_id,
            actor,
            metadata,
            tenant,
            body,
            event: _,
        } = self;
        let parts = CtxParts {
            resource: R::NAME,
            action,
            record_id,
            now,
            actor,
            tenant,
            metadata,
            event_id,
            replay: false,
        };
        let mut ctx = ActionCtx::new(&mut *conn, parts);
        ctx.store = Some(store);
        ctx.in_each = in_each;
        let output = (body)(&mut ctx, input).await.into_result()?;
        let after_action = std::mem::take(&mut ctx.after_action);
        let after_commit = std::mem::take(&mut ctx.after_commit);
        drop(ctx);
        run_after_action(conn, after_action, R::NAME, action.name).await?;
        Ok((output, after_commit))
    }
}

/// A single call: its lock and event (one statement), then its body.
impl<R: Resource, I, Ret> Work for Prepared<R, I, Ret>
where
    Ret: ActionOutput,
    Ret::Err: From<Error>,
{
    type Ok = Ret::Ok;
    type Err = Ret::Err;

    fn appends_first(&self) -> bool {
        self.event.is_some()
    }

    async fn execute(
        self,
        conn: &mut PgConnection,
        store: &dyn DynStore,
    ) -> Result<(Ret::Ok, AfterCommit), Ret::Err> {
        let (event_id, now) = match self.new_event() {
            Some((event, lock)) => {
                let appended = store.append_dyn(&mut *conn, lock, &event).await?;
                (Some(appended.id), appended.occurred_at)
            }
            None => (None, Utc::now().trunc_subsecs(6)),
        };
        tracing::debug!(event_id = ?event_id, "running action body");
        self.run_body(conn, store, event_id, now, false).await
    }
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

/// The event data of one recorded call and the advisory lock it takes, after
/// checking its actor ([`require_actor`]). Under the record scope, a create of a
/// record id generated here takes none: no other action can name that record
/// before the call commits (see [`LockScope::Record`]). Shared by single, bulk
/// and `each` calls, which call it before they take a connection.
pub(crate) fn event_data_and_lock<R: Resource, I: Serialize>(
    action: &ActionInfo,
    key: &Key,
    input: &I,
    tenant: Option<&Key>,
    actor: Option<&ActorRef>,
    generated: bool,
) -> Result<(serde_json::Value, Option<LockKey>), Error> {
    require_actor::<R>(action, actor)?;
    let data = serde_json::to_value(input).map_err(|source| Error::SerializeInput {
        resource: R::NAME,
        action: action.name,
        source,
    })?;
    let fresh_record = generated
        && action.kind == ActionKind::Create
        && R::ADVISORY_LOCK_SCOPE == LockScope::Record;
    let lock = if fresh_record {
        None
    } else {
        Some(R::advisory_lock_key(&LockKeyInput {
            resource: R::NAME,
            action: action.name,
            record_id: key,
            tenant,
        })?)
    };
    Ok((data, lock))
}

/// Rule: an event on a log whose actor column has `allow_nil = false` names an
/// actor in that column. (`#[event_log]` allows `allow_nil = false` only on a
/// log's single actor column.) Checked before any SQL, so the call fails with
/// [`Error::MissingActor`] instead of the database's not-null violation;
/// replay needs no check, its actors come from stored events.
pub(crate) fn require_actor<R: Resource>(
    action: &ActionInfo,
    actor: Option<&ActorRef>,
) -> Result<(), Error> {
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
