//! [`AuditLog`] itself: the handle over a store's event table, its constructor
//! and its clone. Its methods live with their concern in the sibling modules.
//! Public at the crate root, `events_postgres::AuditLog`.

use std::sync::Arc;

use events_core::EventLog;
use events_core::audit::Scope;

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
    /// What this handle may read; every read statement applies it.
    pub(super) scope: Arc<Scope>,
}

impl<L: EventLog> Clone for AuditLog<L> {
    fn clone(&self) -> Self {
        AuditLog {
            store: self.store.clone(),
            retention: self.retention,
            scope: Arc::clone(&self.scope),
        }
    }
}

impl<L: EventLog> std::fmt::Debug for AuditLog<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("table", &L::TABLE)
            .field("retention", &self.retention)
            .field("scope", &self.scope)
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
            scope: Arc::new(Scope::everything()),
        }
    }

    /// This audit log as one viewer may read it: every read through the
    /// returned handle (queries, counts, single entries, histories, facets,
    /// typeahead, followers) applies `scope` inside its statement, so counts
    /// and pages stay exact and hidden fields never leave the database.
    /// Scoping a scoped log keeps both scopes ([`Scope::and`]): a handle can
    /// be narrowed, never widened.
    ///
    /// A scope governs reading only: manual entries written and retention run
    /// through a scoped handle are not restricted by it.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// use events_core::audit::{AuditQuery, Scope};
    /// let support = audit.scoped(Scope::everything().only_tenants(["acme"]).hide_fields(["email"]));
    /// let page = support.query(&AuditQuery::new().action_pattern("user.*").page(1, 50)).await?;
    /// assert!(page.entries.iter().all(|e| e.tenant.as_deref() == Some("acme")));
    /// # Ok(()) }
    /// ```
    pub fn scoped(&self, scope: Scope) -> AuditLog<L> {
        AuditLog {
            store: self.store.clone(),
            retention: self.retention,
            scope: Arc::new(Scope::clone(&self.scope).and(scope)),
        }
    }

    /// What this handle may read ([`Scope::everything`] unless
    /// [`scoped`](Self::scoped)).
    pub fn scope(&self) -> &Scope {
        &self.scope
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
