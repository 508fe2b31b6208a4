//! One-line shortcuts named after the reference libraries' APIs, each a
//! preset [`AuditQuery`] run by [`query`](AuditLog::query),
//! [`list`](AuditLog::list) or [`list_all`](AuditLog::list_all). They add no
//! behaviour: anything they do, a query does with other filters too.
//!
//! | shortcut | the query it runs | mirrors |
//! | --- | --- | --- |
//! | [`recent(n)`](AuditLog::recent) | `after(None).limit(n)`, listed | PhoenixKit `recent/1` |
//! | [`recent_page(page, per_page, search)`](AuditLog::recent_page) | `page(page, per_page)` (+ `search`), with totals | HawkEx `recent/1` |
//! | [`history(resource, id)`](AuditLog::history) | `record(resource, id).order(OccurredAsc)`, every page | Contember `events(rows:)`, a record's audit trail |
//! | [`for_resource_id(id)`](AuditLog::for_resource_id) | `record_id(id)`, every page | HawkEx `for_account/1` |
//! | [`for_actor(key, query)`](AuditLog::for_actor) | `query.identity(key)`, one page | PhoenixKit `list_for_user/2` (as actor) |
//! | [`for_user(key)`](AuditLog::for_user) | `for_user(key)`, every page | audit log `list_logs_for_user/2` |
//! | [`by_action(name)`](AuditLog::by_action) | `action(name)`, every page | audit log `list_logs_by_action/2` |

use events_core::audit::{AuditEntry, AuditPage, AuditQuery, Order};
use events_core::{Error, EventLog, Key};

use super::AuditLog;

impl<L: EventLog> AuditLog<L> {
    /// The `n` most recent entries, newest first (PhoenixKit's `recent`, whose
    /// default is 20).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let latest = audit.recent(20).await?;
    /// # Ok(()) }
    /// ```
    pub async fn recent(&self, n: u64) -> Result<Vec<AuditEntry>, Error> {
        self.list(&AuditQuery::new().after(None).limit(n)).await
    }

    /// HawkEx's `recent(page:, per_page:, search:)`: a numbered page, newest
    /// first, optionally only actions starting with `search`, with
    /// `total_count` and `total_pages`.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let page = audit.recent_page(1, 50, Some("billing.")).await?;
    /// println!("page 1 of {:?}", page.total_pages());
    /// # Ok(()) }
    /// ```
    pub async fn recent_page(
        &self,
        page: u64,
        per_page: u64,
        search: Option<&str>,
    ) -> Result<AuditPage, Error> {
        let mut query = AuditQuery::new().page(page, per_page);
        if let Some(term) = search {
            query = query.search(term);
        }
        self.query(&query).await
    }

    /// Every entry of one record, oldest first (its audit trail).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>, id: uuid::Uuid) -> Result<(), events_core::Error> {
    /// let trail = audit.history("User", id).await?;
    /// # Ok(()) }
    /// ```
    pub async fn history(
        &self,
        resource: &str,
        record_id: impl Into<Key>,
    ) -> Result<Vec<AuditEntry>, Error> {
        self.list_all(
            AuditQuery::new()
                .record(resource, record_id)
                .order(Order::OccurredAsc),
        )
        .await
    }

    /// Every entry about record id `id` under any resource, newest first
    /// (HawkEx's `for_account`, which matches `resource_id`).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>, account: uuid::Uuid) -> Result<(), events_core::Error> {
    /// let entries = audit.for_resource_id(account).await?;
    /// # Ok(()) }
    /// ```
    pub async fn for_resource_id(&self, id: impl Into<Key>) -> Result<Vec<AuditEntry>, Error> {
        self.list_all(AuditQuery::new().record_id(id)).await
    }

    /// A page of the entries `actor` made, in any actor column its key fits,
    /// with `query`'s other filters and pagination (PhoenixKit's `list_for_user`,
    /// "as actor").
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>, user: uuid::Uuid) -> Result<(), events_core::Error> {
    /// use events_core::audit::AuditQuery;
    /// let page = audit.for_actor(user, AuditQuery::new().page(1, 20)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn for_actor(
        &self,
        actor: impl Into<Key>,
        query: AuditQuery<L>,
    ) -> Result<AuditPage, Error> {
        self.query(&query.identity(actor)).await
    }

    /// Every entry `user` took part in, as actor or as target, newest first (the
    /// audit log's `list_logs_for_user`).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>, user: uuid::Uuid) -> Result<(), events_core::Error> {
    /// let entries = audit.for_user(user).await?;
    /// # Ok(()) }
    /// ```
    pub async fn for_user(&self, user: impl Into<Key>) -> Result<Vec<AuditEntry>, Error> {
        self.list_all(AuditQuery::new().for_user(user)).await
    }

    /// Every entry with exactly this action, newest first (the audit log's
    /// `list_logs_by_action`).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let resets = audit.by_action("admin_password_reset").await?;
    /// # Ok(()) }
    /// ```
    pub async fn by_action(&self, action: &str) -> Result<Vec<AuditEntry>, Error> {
        self.list_all(AuditQuery::new().action(action)).await
    }
}
