//! The storage interface the action runner writes through.
//!
//! `events-postgres` provides the implementation; the trait keeps generated code
//! independent of it.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, Transaction};

use crate::{Appended, AppendedMany, Error, EventLog, LockKey, NewEvent};

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
/// The action runner ([`ActionCall::run`](crate::ActionCall::run),
/// [`BulkCall::run`](crate::BulkCall::run), [`EachCall::run`](crate::EachCall::run))
/// takes a connection with [`acquire`](Self::acquire), opens the call's
/// transaction on it with [`begin_action`](Self::begin_action), appends through
/// [`append`](Self::append) or [`append_many`](Self::append_many), and commits,
/// all within the call's deadline. It owns the connection so that, when the
/// deadline passes, it can close it rather than hand a connection stuck
/// mid-transaction back to the pool.
pub trait EventStore: Send + Sync {
    /// The event log whose events this store holds.
    type Log: EventLog;

    /// How long a call on this store may take, from asking for a connection to
    /// its commit, when the call sets no deadline of its own. The default is
    /// [`DEFAULT_DEADLINE`].
    fn deadline(&self) -> Duration {
        DEFAULT_DEADLINE
    }

    /// Takes a connection for one call's transaction.
    fn acquire(&self) -> impl Future<Output = Result<PoolConnection<Postgres>, Error>> + Send;

    /// Opens a call's transaction on `conn`. With `Some(deadline)`, also tells
    /// the database to end the transaction when one statement runs, or the
    /// transaction sits idle, longer than `deadline` (cancelling the statement
    /// aborts the transaction): a client that vanished mid-call then holds its
    /// advisory locks for at most about one deadline after its last statement
    /// finished, two if it vanished mid-statement. With `None`, a plain `BEGIN`:
    /// the call's first statement is an append that carries the deadline itself
    /// ([`append_within`](Self::append_within)), which costs no extra statement.
    /// One round trip either way. The database should get a little more than
    /// `deadline`, so that a client still listening hears its own timeout first
    /// (`PgEventStore` adds `min(deadline, 1 s)`), and a shorter timeout the
    /// session already has should stay.
    fn begin_action<'c>(
        &'c self,
        conn: &'c mut PgConnection,
        deadline: Option<Duration>,
    ) -> impl Future<Output = Result<Transaction<'c, Postgres>, Error>> + Send + 'c;

    /// Takes the transaction-scoped advisory lock `lock`, then inserts `event` with
    /// `occurred_at` read from the database clock after the lock was granted; the
    /// lock must be the transaction's first statement. With `None`, inserts
    /// without a lock (a create of a record nobody else can name yet).
    fn append(
        &self,
        conn: &mut PgConnection,
        lock: impl Into<Option<LockKey>> + Send,
        event: &NewEvent<'_>,
    ) -> impl Future<Output = Result<Appended, Error>> + Send;

    /// Takes every advisory lock in `locks` in one statement, in ascending key
    /// order whatever their order in the slice (so two bulk calls never wait on
    /// each other in a cycle), then inserts `events`, in order, with one shared
    /// `occurred_at` read after the last lock was granted. Must be the
    /// transaction's first statement, like [`append`](Self::append).
    fn append_many(
        &self,
        conn: &mut PgConnection,
        locks: &[LockKey],
        events: &[NewEvent<'_>],
    ) -> impl Future<Output = Result<AppendedMany, Error>> + Send;

    /// [`append`](Self::append) as the first statement of a call whose
    /// transaction was opened with `begin_action(conn, None)`: the same
    /// statement also tells the database the call's `deadline` (see
    /// [`begin_action`](Self::begin_action)). The default ignores the deadline.
    fn append_within(
        &self,
        conn: &mut PgConnection,
        lock: Option<LockKey>,
        event: &NewEvent<'_>,
        deadline: Duration,
    ) -> impl Future<Output = Result<Appended, Error>> + Send {
        let _ = deadline;
        self.append(conn, lock, event)
    }

    /// [`append_many`](Self::append_many) carrying the call's `deadline`, as
    /// [`append_within`](Self::append_within) does. The default ignores it.
    fn append_many_within(
        &self,
        conn: &mut PgConnection,
        locks: &[LockKey],
        events: &[NewEvent<'_>],
        deadline: Duration,
    ) -> impl Future<Output = Result<AppendedMany, Error>> + Send {
        let _ = deadline;
        self.append_many(conn, locks, events)
    }
}
