//! [`AuditLog`] itself: the handle over a store's event table, its constructor
//! and its clone. Its methods live with their concern in the sibling modules.
//! Public at the crate root, `events_postgres::AuditLog`.

use events_core::EventLog;

use super::AuditSql;
use crate::PgEventStore;

/// The audit log of event log `L`: queries, manual entries, facets, typeahead,
/// retention. Cheap to clone.
///
/// ```no_run
/// # async fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) -> Result<(), events_core::Error> {
/// use events_core::audit::{AuditQuery, ManualEntry};
///
/// let audit = store.audit().with_retention(chrono::Duration::days(365));
/// audit.track(ManualEntry::new("project.deleted").resource("project", "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b")).await?;
/// let page = audit.query(&AuditQuery::new().action_pattern("project.*").page(1, 50)).await?;
/// println!("{} of {:?}", page.entries.len(), page.total_count());
/// # Ok(()) }
/// ```
pub struct AuditLog<L: EventLog> {
    pub(super) store: PgEventStore<L>,
    pub(super) retention: Option<chrono::Duration>,
}

impl<L: EventLog> Clone for AuditLog<L> {
    fn clone(&self) -> Self {
        AuditLog {
            store: self.store.clone(),
            retention: self.retention,
        }
    }
}

impl<L: EventLog> std::fmt::Debug for AuditLog<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("table", &L::TABLE)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl<L: EventLog> PgEventStore<L> {
    /// The audit log over this store's event table.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) -> Result<(), events_core::Error> {
    /// let latest = store.audit().recent(20).await?;
    /// # Ok(()) }
    /// ```
    pub fn audit(&self) -> AuditLog<L> {
        AuditLog::new(self.clone())
    }
}

impl<L: EventLog> AuditLog<L> {
    /// The audit log over `store`'s event table, with no retention period.
    ///
    /// ```no_run
    /// # fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) {
    /// let audit = events_postgres::AuditLog::new(store);
    /// # }
    /// ```
    pub fn new(store: PgEventStore<L>) -> Self {
        AuditLog {
            store,
            retention: None,
        }
    }

    /// The audit statements, built once with the store's.
    pub(crate) fn sql(&self) -> &AuditSql {
        &self.store.statements().audit
    }

    /// The store.
    pub fn store(&self) -> &PgEventStore<L> {
        &self.store
    }
}
