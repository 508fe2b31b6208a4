//! The storage interface the action runner writes through.
//!
//! `events-postgres` provides the implementation; the trait keeps generated code
//! independent of it.

use sqlx::{PgConnection, Postgres, Transaction};

use crate::{Appended, AppendedMany, Error, EventLog, LockKey, NewEvent};

/// Where events of one event log are stored.
pub trait EventStore: Send + Sync {
    /// The event log whose events this store holds.
    type Log: EventLog;

    /// Opens the transaction an action runs in.
    fn begin(&self) -> impl Future<Output = Result<Transaction<'static, Postgres>, Error>> + Send;

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
}
