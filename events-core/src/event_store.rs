//! The storage interface a call writes through.
//!
//! `events-postgres` provides the implementation; the trait keeps generated code
//! independent of it. It is object safe: a call's bodies and the actions they
//! nest append through a `&dyn EventStore`, with the call's deadline passed to
//! each append.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, Transaction};

use crate::audit::Changes;
use crate::store::{Appended, AppendedMany, NewEvent};
use crate::{BoxFuture, Error, EventId, EventLog, LockKey};

/// How long a call (an action, a bulk call, `each(..)`) may take when neither
/// its store nor the call sets a deadline: 30 seconds.
///
/// Long enough for any action that should hold an advisory lock at all (the
/// usual action takes milliseconds; a 10,000-row bulk call well under a second),
/// and short enough that a partitioned or frozen client holds its lock, and
/// keeps every writer of the same records waiting, for at most half a minute
/// instead of until TCP gives up (minutes to hours). It also matches sqlx's
/// default pool `acquire_timeout`.
///
/// ```
/// assert_eq!(events_core::DEFAULT_DEADLINE, std::time::Duration::from_secs(30));
/// ```
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// Where events of one event log are stored.
///
/// The call runner ([`ActionCall::run`](crate::ActionCall::run),
/// [`BulkCall::run`](crate::BulkCall::run), [`EachCall::run`](crate::EachCall::run))
/// takes a connection with [`acquire`](Self::acquire), opens the call's
/// transaction on it with [`begin_action`](Self::begin_action), appends through
/// [`append`](Self::append) or [`append_many`](Self::append_many), and commits,
/// all within the call's deadline (see [`crate::call`]). It owns the connection
/// so that, when the deadline passes, it can close it rather than hand a
/// connection stuck mid-transaction back to the pool.
///
/// The trait is object safe: [`Log`](Self::Log) is only named on sized stores,
/// so a `&dyn EventStore` (what a call's bodies append through) needs no log
/// type. Bound users' code with `S: EventStore<Log = AppLog>`.
pub trait EventStore: Send + Sync {
    /// The event log whose events this store holds.
    type Log: EventLog
    where
        Self: Sized;

    /// How long a call on this store may take, from asking for a connection to
    /// its commit, when the call sets no deadline of its own. The default is
    /// [`DEFAULT_DEADLINE`].
    fn deadline(&self) -> Duration {
        DEFAULT_DEADLINE
    }

    /// Takes a connection for one call's transaction.
    fn acquire(&self) -> BoxFuture<'_, Result<PoolConnection<Postgres>, Error>>;

    /// Opens a call's transaction on `conn`. With `Some(deadline)`, also tells
    /// the database to end the transaction when one statement runs, or the
    /// transaction sits idle, longer than `deadline` (cancelling the statement
    /// aborts the transaction): a client that vanished mid-call then holds its
    /// advisory locks for at most about one deadline after its last statement
    /// finished, two if it vanished mid-statement. With `None`, a plain `BEGIN`:
    /// the call's first statement is an append that carries the deadline itself
    /// (the `deadline` argument of [`append`](Self::append)), which costs no
    /// extra statement. One round trip either way. The database should get a
    /// little more than `deadline`, so that a client still listening hears its
    /// own timeout first (`PgEventStore` adds `min(deadline, 1 s)`), and a
    /// shorter timeout the session already has should stay.
    fn begin_action<'c>(
        &'c self,
        conn: &'c mut PgConnection,
        deadline: Option<Duration>,
    ) -> BoxFuture<'c, Result<Transaction<'c, Postgres>, Error>>;

    /// Takes the transaction-scoped advisory lock `lock`, then inserts `event`
    /// with `occurred_at` read from the database clock after the lock was
    /// granted, in one statement. With no lock, inserts without one (a create of
    /// a record nobody else can name yet).
    ///
    /// In a call of its own the append is the transaction's first statement, so
    /// the lock is held from the start and the event orders before anything its
    /// body causes; an action nested with
    /// [`run_in`](crate::ActionCall::run_in) appends under a savepoint, after
    /// the statements its caller ran. With `Some(deadline)` the same statement
    /// also tells the database the call's deadline, as
    /// [`begin_action`](Self::begin_action) does: a call passes it to every
    /// append (its transaction began plainly); appends by hand pass `None`.
    fn append<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        lock: Option<LockKey>,
        event: &'a NewEvent<'a>,
        deadline: Option<Duration>,
    ) -> BoxFuture<'a, Result<Appended, Error>>;

    /// Takes every advisory lock in `locks` in one statement, in ascending key
    /// order whatever their order in the slice (so two bulk calls never wait on
    /// each other in a cycle), then inserts `events`, in order, with one shared
    /// `occurred_at` read after the last lock was granted. Where it runs and
    /// what `deadline` does are as for [`append`](Self::append).
    fn append_many<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        locks: &'a [LockKey],
        events: &'a [NewEvent<'a>],
        deadline: Option<Duration>,
    ) -> BoxFuture<'a, Result<AppendedMany, Error>>;

    /// Stores the changes an action body recorded (see [`crate::audit`]), one
    /// row per event, `changes[i]` with `event_ids[i]`, in the changes side
    /// table, with one statement on `conn` (the call's transaction). `resource`
    /// and `action` name the call in a database error. The caller has checked
    /// the changes ([`Changes::check`]) and that there is one per event, and
    /// nulled the redacted fields of the action's input type.
    ///
    /// `protections[i]` (when not empty: one per event) is how event `i`'s
    /// personal data was sealed: the store encrypts the same fields of its
    /// changes with the same subject's key, bound to the same seal (see
    /// [`crate::personal`]).
    fn insert_changes<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        resource: &'static str,
        action: &'static str,
        event_ids: &'a [EventId],
        changes: Vec<Changes>,
        protections: Vec<Option<crate::personal::Protection>>,
    ) -> BoxFuture<'a, Result<(), Error>>;
}
