//! What every body sees, single or bulk: the [`Scope`] both contexts
//! dereference to, with its hooks and the one function that drains them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use super::EventOptions;
use super::run::{AfterCommit, CallStore};
use crate::personal::{PersonalSchema, Protection};
use crate::{ActionInfo, ActorRef, BoxFuture, Error, Key};

/// A hook a body registered to run in its transaction after it succeeded.
type AfterActionHook =
    Box<dyn for<'a> FnOnce(&'a mut PgConnection) -> BoxFuture<'a, Result<(), Error>> + Send>;

/// The part of a body's context that single and bulk bodies share: the
/// transaction's connection, the timestamp, the actor, tenant and metadata,
/// and the hooks.
///
/// [`ActionCtx`](crate::ActionCtx) and [`BulkCtx`](crate::BulkCtx)
/// dereference to it, so its methods are called on either context:
/// `ctx.conn()`, `ctx.now()`, `ctx.after_commit(..)`. What differs (one record
/// id or many, replay) stays on the contexts.
pub struct Scope<'c> {
    conn: &'c mut PgConnection,
    resource: &'static str,
    action: ActionInfo,
    now: DateTime<Utc>,
    options: EventOptions,
    /// True while replaying stored events: hooks are not registered then.
    replay: bool,
    /// Where nested actions append and recorded changes go; `None` on replay.
    pub(crate) store: Option<CallStore<'c>>,
    after_action: Vec<AfterActionHook>,
    pub(crate) after_commit: AfterCommit,
    /// Set once the body recorded its changes (see [`crate::audit`]).
    pub(crate) changes_recorded: bool,
    /// The personal data declared by the input's type, which recorded changes
    /// follow too, and each event's protection (subject and seal), in event
    /// order: empty when nothing is encrypted.
    pub(crate) personal: Option<&'static PersonalSchema>,
    pub(crate) protections: Vec<Option<Protection>>,
}

impl<'c> Scope<'c> {
    /// The scope of a body on `conn`: live with the call's `store`, or a replay
    /// (no store, no hooks).
    pub(crate) fn new(
        conn: &'c mut PgConnection,
        resource: &'static str,
        action: ActionInfo,
        now: DateTime<Utc>,
        options: EventOptions,
        store: Option<CallStore<'c>>,
    ) -> Self {
        Scope {
            conn,
            resource,
            action,
            now,
            options,
            replay: store.is_none(),
            store,
            after_action: Vec::new(),
            after_commit: Vec::new(),
            changes_recorded: false,
            personal: None,
            protections: Vec::new(),
        }
    }

    /// The scope of a body whose input declares personal data `schema`, its
    /// events protected by `protections` (in event order; empty when the
    /// input encrypts nothing).
    pub(crate) fn with_personal(
        mut self,
        schema: Option<&'static PersonalSchema>,
        protections: Vec<Option<Protection>>,
    ) -> Self {
        self.personal = schema;
        self.protections = protections;
        self
    }

    /// True while replaying stored events.
    pub(crate) fn replay(&self) -> bool {
        self.replay
    }

    /// The connection of the call's transaction: write the state change here,
    /// so it commits or rolls back together with the events.
    pub fn conn(&mut self) -> &mut PgConnection {
        self.conn
    }

    /// The call's timestamp, stored as its events' `occurred_at`: the database
    /// clock right after every advisory lock of the call was granted
    /// (microsecond precision); on replay, the event's. Replay gives each input
    /// of a bulk call this same value. Use it instead of the system clock, so
    /// replay sees the same.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The actor that ran the call, if one was given.
    pub fn actor(&self) -> Option<&ActorRef> {
        self.options.actor.as_ref()
    }

    /// The tenant the call runs for, if one was given.
    pub fn tenant(&self) -> Option<&Key> {
        self.options.tenant.as_ref()
    }

    /// Caller-supplied metadata (a JSON object, empty unless given), stored on
    /// every event of the call.
    pub fn metadata(&self) -> &Value {
        &self.options.metadata
    }

    /// The resource's name as stored in events.
    pub fn resource(&self) -> &'static str {
        self.resource
    }

    /// The running action (for a bulk call, the action whose events it writes).
    pub fn action(&self) -> &ActionInfo {
        &self.action
    }

    /// Runs `hook` in the call's transaction after the body succeeds, before
    /// the commit; its error rolls the whole call back. Skipped on replay.
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

    /// Runs `hook` after the transaction committed (send the email here).
    /// Skipped on replay and when the call rolls back.
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

    /// After the body succeeded: runs its `after_action` hooks in order, in its
    /// transaction (the first error stops them and becomes [`Error::Hook`]),
    /// and returns its `after_commit` hooks.
    pub(crate) async fn drain(self) -> Result<AfterCommit, Error> {
        let (resource, action) = (self.resource, self.action.name);
        for hook in self.after_action {
            hook(&mut *self.conn).await.map_err(|e| Error::Hook {
                resource,
                action,
                source: Box::new(e),
            })?;
        }
        Ok(self.after_commit)
    }
}

impl std::fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("resource", &self.resource)
            .field("action", &self.action)
            .field("now", &self.now)
            .field("actor", &self.options.actor)
            .field("tenant", &self.options.tenant)
            .field("replay", &self.replay)
            .finish_non_exhaustive()
    }
}

/// Makes context `$ctx<'c, Id>`, a struct with a `scope` field, dereference to
/// its [`Scope`] and give it back once its body is done
/// ([`Ctx`](super::run::Ctx)): the same for [`ActionCtx`](crate::ActionCtx)
/// and [`BulkCtx`](crate::BulkCtx).
macro_rules! derefs_to_scope {
    ($ctx:ident) => {
        impl<'c, Id> ::std::ops::Deref for $ctx<'c, Id> {
            type Target = Scope<'c>;

            fn deref(&self) -> &Scope<'c> {
                &self.scope
            }
        }

        impl<Id> ::std::ops::DerefMut for $ctx<'_, Id> {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.scope
            }
        }

        impl<'c, Id> super::run::Ctx<'c> for $ctx<'c, Id> {
            fn into_scope(self) -> Scope<'c> {
                self.scope
            }
        }
    };
}
pub(crate) use derefs_to_scope;
