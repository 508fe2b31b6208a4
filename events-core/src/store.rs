//! The storage interface the action runner writes through.
//!
//! `events-postgres` provides the implementation; the trait keeps generated code
//! independent of it.

use sqlx::{PgConnection, Postgres, Transaction};

use crate::{Appended, Error, EventLog, LockKey, NewEvent};

/// Where events of one event log are stored.
pub trait EventStore: Send + Sync {
    /// The event log whose events this store holds.
    type Log: EventLog;

    /// Opens the transaction an action runs in.
    fn begin(&self) -> impl Future<Output = Result<Transaction<'static, Postgres>, Error>> + Send;

    /// Takes the transaction-scoped advisory lock `lock`, then inserts `event` with
    /// `occurred_at` read from the database clock after the lock was granted; the
    /// lock must be the transaction's first statement.
    fn append(
        &self,
        conn: &mut PgConnection,
        lock: LockKey,
        event: &NewEvent<'_>,
    ) -> impl Future<Output = Result<Appended, Error>> + Send;
}
