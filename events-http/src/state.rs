//! What every handler shares: the unscoped audit log (reached only through a
//! [`Viewer`](crate::policy::Viewer)) and the policy.

use events_core::EventLog;
use events_postgres::AuditLog;

/// The router's state.
pub(crate) struct Shared<L: EventLog, P> {
    /// The whole log: handlers read it only scoped by `policy`.
    pub(crate) audit: AuditLog<L>,
    /// The application's read policy.
    pub(crate) policy: P,
}
