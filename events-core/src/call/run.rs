//! The transaction of a call, bounded by its deadline: one skeleton for single
//! actions, bulk calls and `each(..)`.
//!
//! A call checks its input first (record ids, event data, lock keys, the actor
//! rule), before it asks for a connection. Then, within its deadline:
//! connection, `BEGIN`, the work (lock and events, bodies, `after_action` hooks), `COMMIT`.
//! The `after_commit` hooks run after that, outside the deadline: the call has
//! committed by then. The database learns the deadline in the call's first
//! statement: its first append, or, for a call that does not append first (an
//! ignored action), its `BEGIN`, in the same round trip either way.
//!
//! **Why both sides enforce the deadline.** Over a network that stops
//! answering without a reset (a partition, a frozen proxy or NAT entry), a
//! client waits for a reply forever, and the server's session sits idle in its
//! transaction, holding the advisory lock every writer of the same records
//! waits for. The client side ([`tokio::time::timeout`]) gives the caller an
//! answer, [`Error::Timeout`], when the deadline passes, and closes the
//! connection instead of returning it to the pool (the pool would test it with
//! a round trip that never ends, one pool slot lost per partitioned call). The
//! server side (`statement_timeout` and `idle_in_transaction_session_timeout`,
//! set for the transaction only) frees the locks of a client that vanished: a
//! transaction idle for longer than the deadline is ended with its session,
//! and a statement that runs longer than the deadline is cancelled, which
//! aborts the transaction and frees its locks at once. So a vanished client's
//! lock is free about one deadline after its last statement finished, two if
//! the partition struck mid-statement (the database's timeouts are a little
//! longer than the client's, so that a client still listening hears its own
//! deadline first), without relying on TCP keepalives
//! (sqlx 0.9 sets none on its sockets). After a cancel PostgreSQL reverts the
//! transaction's `SET LOCAL` settings, so that session itself lingers, idle in
//! its aborted transaction and holding no lock, until TCP notices the peer is
//! gone (the server's `tcp_keepalives_*` settings).

use std::any::TypeId;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, Transaction};

use super::Scope;
use crate::store::{Appended, NewEvent};
use crate::{ActionOutput, BoxFuture, Error, EventId, EventLog, EventStore, LockKey};

/// The `after_commit` hooks a call's bodies registered.
pub(crate) type AfterCommit = Vec<BoxFuture<'static, ()>>;

/// The shortest deadline: shorter ones are raised to it (a zero would expire
/// before anything runs, and means "no timeout" to PostgreSQL).
pub(crate) const MIN_DEADLINE: Duration = Duration::from_millis(1);

/// The store of a running call, with the call's deadline, which every append
/// carries to the database: what the call, its bodies and the actions they
/// nest append through.
#[derive(Clone, Copy)]
pub(crate) struct CallStore<'s> {
    store: &'s dyn EventStore,
    /// The event log the store holds ([`Error::NestedOtherLog`] otherwise).
    log: TypeId,
    deadline: Duration,
}

impl<'s> CallStore<'s> {
    fn new<S: EventStore>(store: &'s S, deadline: Duration) -> Self {
        CallStore {
            store,
            log: TypeId::of::<S::Log>(),
            deadline,
        }
    }

    /// True when the store holds event log `L`.
    pub(crate) fn holds<L: EventLog>(&self) -> bool {
        self.log == TypeId::of::<L>()
    }

    /// The store itself.
    pub(crate) fn store(&self) -> &'s dyn EventStore {
        self.store
    }

    /// Appends one event under `lock` ([`EventStore::append`]).
    pub(crate) async fn append(
        &self,
        conn: &mut PgConnection,
        lock: Option<LockKey>,
        event: &NewEvent<'_>,
    ) -> Result<Appended, Error> {
        self.store
            .append(conn, lock, event, Some(self.deadline))
            .await
    }

    /// Appends `events` under every lock of `locks` (made ascending and
    /// distinct here) with one statement ([`EventStore::append_many`]);
    /// returns their ids in order and their shared timestamp. Without events,
    /// runs nothing: no ids, and the clock's time.
    pub(crate) async fn append_all(
        &self,
        conn: &mut PgConnection,
        mut locks: Vec<LockKey>,
        events: &[NewEvent<'_>],
    ) -> Result<(Vec<EventId>, DateTime<Utc>), Error> {
        if events.is_empty() {
            return Ok((Vec::new(), clock()));
        }
        locks.sort_unstable();
        locks.dedup();
        let appended = self
            .store
            .append_many(conn, &locks, events, Some(self.deadline))
            .await?;
        tracing::debug!(
            events = appended.ids.len(),
            locks = locks.len(),
            "events appended"
        );
        Ok((appended.ids, appended.occurred_at))
    }
}

/// The timestamp of a call that appends no event (an ignored action): the
/// system clock at the database's precision.
pub(crate) fn clock() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// What a call runs inside its transaction, its input already checked.
///
/// No `Send` bounds: a call's future is `Send` exactly when its input, output
/// and error are, as it was before this trait (auto traits leak through the
/// concrete futures).
pub(crate) trait Work {
    /// The value the call returns.
    type Ok;
    /// The call's error type (the body's), which framework errors convert into.
    type Err: From<Error>;

    /// True when the work's first statement is an append (a recorded action, a
    /// bulk call or `each(..)` with events): that statement then carries the
    /// deadline to the database, and the `BEGIN` stays plain.
    fn appends_first(&self) -> bool;

    /// Lock and events, bodies, `after_action` hooks, on `conn`, in the open
    /// transaction; returns the value and the `after_commit` hooks.
    async fn execute(
        self,
        conn: &mut PgConnection,
        store: CallStore<'_>,
    ) -> Result<(Self::Ok, AfterCommit), Self::Err>;
}

/// A body's context: a [`Scope`] and what its kind adds.
pub(crate) trait Ctx<'c> {
    /// The scope, once the body is done with the context.
    fn into_scope(self) -> Scope<'c>;
}

/// Runs `body` on `ctx` and `input`, then its `after_action` hooks
/// ([`Scope::drain`]); returns the body's value and its `after_commit` hooks.
/// The one place single and bulk bodies run.
pub(crate) async fn run_body<'c, C, In, Ret>(
    mut ctx: C,
    body: for<'a> fn(&'a mut C, In) -> BoxFuture<'a, Ret>,
    input: In,
) -> Result<(Ret::Ok, AfterCommit), Ret::Err>
where
    C: Ctx<'c>,
    Ret: ActionOutput,
    Ret::Err: From<Error>,
{
    let output = body(&mut ctx, input).await.into_result()?;
    let after_commit = ctx.into_scope().drain().await?;
    Ok((output, after_commit))
}

/// Runs `work` in a transaction of its own on `store`, within `deadline` (the
/// store's when `None`), then its `after_commit` hooks. `what` names the call
/// in a [`Error::Timeout`] (action `User.update`).
pub(crate) async fn run<S, W>(
    store: &S,
    deadline: Option<Duration>,
    what: impl FnOnce() -> String,
    work: W,
) -> Result<W::Ok, W::Err>
where
    S: EventStore,
    W: Work,
{
    let deadline = deadline
        .unwrap_or_else(|| store.deadline())
        .max(MIN_DEADLINE);
    let mut conn: Option<PoolConnection<Postgres>> = None;
    let mut committing = false;
    let attempt = tokio::time::timeout(deadline, async {
        let conn = conn.insert(store.acquire().await?);
        let in_begin = (!work.appends_first()).then_some(deadline);
        let mut tx = store.begin_action(conn, in_begin).await?;
        let result = work.execute(&mut tx, CallStore::new(store, deadline)).await;
        finish(tx, result, &mut committing).await
    })
    .await;
    match attempt {
        Ok(Ok((output, after_commit))) => {
            for hook in after_commit {
                hook.await;
            }
            Ok(output)
        }
        Ok(Err(e)) => Err(e),
        Err(_elapsed) => {
            // The connection may be mid-statement, or its peer gone: close it
            // here (no round trip) rather than let the pool test it with one
            // that may never end. Its transaction cannot commit without us; the
            // server rolls it back when the socket closes, or when its own
            // timeout ends the session.
            if let Some(conn) = conn.take() {
                drop(conn.detach());
            }
            let outcome = if committing {
                "its COMMIT was sent, so it may have been applied: look for its event before \
                 retrying"
            } else {
                "rolled back, nothing of it is stored"
            };
            tracing::warn!(
                after = ?deadline,
                committing,
                "call missed its deadline; its connection was closed"
            );
            Err(Error::Timeout {
                context: format!("{} ({outcome})", what()).into(),
                after: Some(deadline),
                source: None,
            }
            .into())
        }
    }
}

/// Commits `tx` when the work succeeded (setting `committing` first, so that a
/// deadline passing during the commit is reported as such); rolls back and
/// returns the work's error otherwise.
async fn finish<T, E: From<Error>>(
    tx: Transaction<'_, Postgres>,
    result: Result<(T, AfterCommit), E>,
    committing: &mut bool,
) -> Result<(T, AfterCommit), E> {
    match result {
        Ok(done) => {
            *committing = true;
            tx.commit()
                .await
                .map_err(|e| Error::from_sqlx("committing an action", e))?;
            Ok(done)
        }
        Err(e) => {
            // Dropping the transaction would roll back too; doing it here returns
            // the connection clean and surfaces nothing over the work's error.
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rollback after a failed action failed");
            }
            Err(e)
        }
    }
}
