//! What every handler shares: the unscoped audit log (reached only through a
//! [`Viewer`](crate::policy::Viewer)), the policy, and the wake-ups of live
//! readers.

use events_core::EventLog;
use events_postgres::AuditLog;

use crate::live::Wakeups;

/// The router's state.
pub(crate) struct Shared<L: EventLog, P> {
    /// The whole log: handlers read it only scoped by `policy`.
    pub(crate) audit: AuditLog<L>,
    /// The application's read policy.
    pub(crate) policy: P,
    /// The shared `LISTEN` connection of live readers (the audit log above
    /// only listens through it; entries are read through a viewer).
    pub(crate) wakeups: Wakeups,
}
