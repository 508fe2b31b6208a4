//! The audit log on PostgreSQL: [`AuditLog`] runs the query model of
//! [`events_core::audit`] against an event table, writes manual entries, lists
//! facets, serves typeahead and prunes by age.
//!
//! # How each query shape is served
//!
//! Every shape is served by an index at millions of entries (the indexes are
//! listed in [`crate::schema`]; `cargo run --release -p events-bench --bin
//! audit_queries` prints each shape's plan and latency at a million):
//!
//! - **Pages in time order**: `(occurred_at, id)` and, per filter, an index
//!   whose leading column is the filter and whose tail is `(occurred_at, id)`, so
//!   the first page of "this actor's entries, newest first" reads 51 index
//!   entries. Keyset cursors continue from `(occurred_at, id)` at the same cost
//!   however deep; numbered pages and offsets pay for the rows they skip.
//! - **Commit order**: the commit side table's `(committed_at, txid)` index,
//!   joined to the events by `txid`.
//! - **Facets and typeahead**: a skip scan (a recursive query that jumps from one
//!   distinct value to the next with one index descent each) over the index
//!   leading with the column. Nothing is maintained on insert, the answer is
//!   always exact (also after pruning), and the cost is one descent per value
//!   returned: typeahead's 5 names cost 5 descents, whatever the log's size. A
//!   side table of names maintained on insert would cost every write and go stale
//!   on pruning.
//! - **Prefix matches** are byte ranges (`action >= 'post.' AND action < 'post/'`
//!   under `COLLATE "C"`), which the action index serves in custom and generic
//!   plans alike; `%`, `_` and `\` are ordinary characters.
//! - **Counts**: see [`CountMode`].
//!
//! # Manual entries
//!
//! Stored in the event table with `action_type = 'manual'` and `version = 1`,
//! their audit context merged into the metadata (see
//! [`ValidEntry`](events_core::audit::ValidEntry)). [`AuditLog::track`] returns
//! errors; [`AuditLog::log`] never fails its caller (it logs the error with
//! `tracing` and returns `None`), for logging calls that must not break the
//! request they describe. Replay never applies them; the event readers
//! ([`PgEventStore::list_events`], [`PgEventStore::events_for_record`]) skip
//! them: they are not events of an action.
//!
//! # Retention
//!
//! [`AuditLog::prune`] deletes entries that occurred before a cutoff, with their
//! changes, through the owner's `<table>_prune` function (the only path past the
//! append-only guard), and records the prune as a manual entry (`audit.pruned`,
//! metadata `cutoff`, `deleted`, `deleted_actions`). On a log that can replay it
//! keeps the events of recorded actions, which replay needs;
//! [`AuditLog::prune_giving_up_replay`] deletes them too and records the cutoff
//! as the replay horizon, after which replay refuses with
//! [`Error::ReplayHorizon`].

mod decode;
mod sql;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use events_core::audit::{
    AuditEntry, AuditPage, AuditQuery, Count, CountMode, EntryActor, EntryKind, Facets,
    ManualEntry, Order, Pagination, PruneReport, Target,
};
use events_core::{Error, EventId, EventLog, Key, PrimaryKeyType};
use serde_json::Value;
use sqlx::postgres::{PgListener, PgRow};
use sqlx::{AssertSqlSafe, PgConnection, Row};

pub use sql::Facet;

use crate::PgEventStore;
use decode::{decode_entry, get, get_id, parse_txid};
use sql::{AuditSql, Sql};

/// Most distinct values a facet listing returns ([`AuditLog::facets`] and the
/// `distinct_*` methods).
pub const FACET_LIMIT: u64 = 1000;

/// Default number of names [`AuditLog::search_actions`] returns (HawkEx's
/// `search` default).
pub const SEARCH_LIMIT: u64 = 5;

/// Page size used when a method returns every match.
const ALL_BATCH: u64 = 1000;

/// The audit log of event log `L`: queries, manual entries, facets, typeahead,
/// retention. Cheap to clone.
///
/// ```no_run
/// # async fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) -> Result<(), events_core::Error> {
/// use events_core::audit::{AuditQuery, ManualEntry};
///
/// let audit = store.audit().with_retention_days(365);
/// audit.track(ManualEntry::new("project.deleted").resource("project", "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b")).await?;
/// let page = audit.query(&AuditQuery::new().action_pattern("project.*").page(1, 50)).await?;
/// println!("{} of {:?}", page.entries.len(), page.total_count());
/// # Ok(()) }
/// ```
pub struct AuditLog<L: EventLog> {
    store: PgEventStore<L>,
    sql: Arc<AuditSql>,
    retention: Option<chrono::Duration>,
}

impl<L: EventLog> Clone for AuditLog<L> {
    fn clone(&self) -> Self {
        AuditLog {
            store: self.store.clone(),
            sql: Arc::clone(&self.sql),
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

/// What [`AuditLog::explain`] shows the plan of.
pub enum Explain<'a, L> {
    /// The entries statement of a query.
    Query(&'a AuditQuery<L>),
    /// The count statement of a query in a count mode.
    Count(&'a AuditQuery<L>, CountMode),
    /// Typeahead over action names.
    SearchActions(&'a str),
    /// A facet listing.
    Facet(Facet),
    /// One entry by id.
    Get(EventId),
}

impl<L> Clone for Explain<'_, L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L> Copy for Explain<'_, L> {}

impl<L> std::fmt::Debug for Explain<'_, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Explain::Query(q) => f.debug_tuple("Query").field(q).finish(),
            Explain::Count(q, mode) => f.debug_tuple("Count").field(q).field(mode).finish(),
            Explain::SearchActions(term) => f.debug_tuple("SearchActions").field(term).finish(),
            Explain::Facet(facet) => f.debug_tuple("Facet").field(facet).finish(),
            Explain::Get(id) => f.debug_tuple("Get").field(id).finish(),
        }
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
            sql: Arc::new(AuditSql::new::<L>()),
            retention: None,
        }
    }

    /// The store.
    pub fn store(&self) -> &PgEventStore<L> {
        &self.store
    }

    /// Sets the retention period that [`prune_expired`](Self::prune_expired) applies.
    ///
    /// ```no_run
    /// # fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) {
    /// let audit = store.audit().with_retention(chrono::Duration::days(90));
    /// assert_eq!(audit.retention_days(), Some(90));
    /// # }
    /// ```
    pub fn with_retention(mut self, period: chrono::Duration) -> Self {
        self.retention = Some(period);
        self
    }

    /// Sets the retention period in days.
    ///
    /// ```no_run
    /// # fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) {
    /// let audit = store.audit().with_retention_days(365);
    /// # }
    /// ```
    pub fn with_retention_days(self, days: u32) -> Self {
        self.with_retention(chrono::Duration::days(i64::from(days)))
    }

    /// The configured retention period.
    pub fn retention(&self) -> Option<chrono::Duration> {
        self.retention
    }

    /// The configured retention period in whole days (PhoenixKit's `retention_days`).
    pub fn retention_days(&self) -> Option<i64> {
        self.retention.map(|p| p.num_days())
    }

    // ---- writing -------------------------------------------------------------

    /// Stores a manual entry and returns it (`committed_at` unset: it is known
    /// once the insert commits). `Ok(None)` when the entry is skipped: it is
    /// marked [`skip_if_unchanged`](ManualEntry::skip_if_unchanged) and its
    /// changes changed nothing. Invalid fields are [`Error::InvalidEntry`].
    ///
    /// HawkEx's `track`, PhoenixKit's `create_log_entry` and `log_password_change`.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// use events_core::audit::ManualEntry;
    /// let entry = audit.track(ManualEntry::new("settings.updated").resource_type("settings")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn track(&self, entry: ManualEntry<L>) -> Result<Option<AuditEntry>, Error> {
        let mut conn = self
            .store
            .pool()
            .acquire()
            .await
            .map_err(|e| Error::from_sqlx("connecting to record an audit entry", e))?;
        self.track_in(&mut conn, entry).await
    }

    /// [`track`](Self::track) on a connection of the caller's, e.g. inside an
    /// action body (`ctx.conn()`), so the entry commits or rolls back with it.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>, conn: &mut sqlx::PgConnection) -> Result<(), events_core::Error> {
    /// use events_core::audit::ManualEntry;
    /// audit.track_in(conn, ManualEntry::new("invoice.sent")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn track_in(
        &self,
        conn: &mut PgConnection,
        entry: ManualEntry<L>,
    ) -> Result<Option<AuditEntry>, Error> {
        if entry.is_skipped() {
            tracing::debug!(action = %entry.action, "audit entry skipped: nothing changed");
            return Ok(None);
        }
        let valid = entry.validate()?;
        let mut q = sqlx::query(AssertSqlSafe(Arc::clone(&self.sql.manual_insert)));
        if L::PRIMARY_KEY_TYPE == PrimaryKeyType::UuidV7 {
            q = q.bind(uuid::Uuid::now_v7());
        }
        q = q.bind(valid.resource.clone());
        q = q.bind(crate::sql::bind::opt_key(
            "record_id",
            L::RECORD_ID_TYPE,
            valid.record_id.as_ref(),
        )?);
        q = q
            .bind(valid.action.clone())
            .bind(valid.data.clone())
            .bind(valid.metadata.clone())
            .bind(valid.tenant.clone());
        for column in L::ACTOR_COLUMNS {
            let key = valid
                .actor
                .as_ref()
                .filter(|(name, _)| *name == column.name)
                .map(|(_, key)| key);
            q = q.bind(crate::sql::bind::opt_key(
                column.name,
                column.attribute_type,
                key,
            )?);
        }
        let changes = valid.changes.clone();
        let object = |fields: Option<events_core::audit::Fields>| fields.map(Value::Object);
        q = q
            .bind(changes.is_some())
            .bind(changes.as_ref().and_then(|c| object(c.old_values.clone())))
            .bind(changes.as_ref().and_then(|c| object(c.new_values.clone())))
            .bind(changes.as_ref().and_then(|c| object(c.diff_values.clone())))
            .bind(changes.as_ref().is_some_and(|c| c.unchanged));
        let row = q.fetch_one(&mut *conn).await.map_err(|e| {
            Error::from_sqlx(format!("recording audit entry `{}`", valid.action), e)
        })?;
        let id = get_id::<L>(&row, "id")?;
        let occurred_at: DateTime<Utc> = get(&row, "occurred_at")?;
        let txid: String = get(&row, "txid")?;
        tracing::debug!(entry_id = %id, action = %valid.action, "audit entry recorded");
        let text = |key: &str| match valid.metadata.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        Ok(Some(AuditEntry {
            id,
            kind: EntryKind::Manual,
            resource: valid.resource.clone(),
            record_id: valid.record_id.clone(),
            action: valid.action.clone(),
            actor: valid.actor.as_ref().and_then(|(column, key)| {
                L::ACTOR_COLUMNS
                    .iter()
                    .find(|c| c.name == *column)
                    .map(|c| EntryActor {
                        column: c.name.to_owned(),
                        actor_type: c.destination.to_owned(),
                        key: key.clone(),
                    })
            }),
            target: text("target_id").map(|id| Target {
                kind: text("target_type"),
                id,
            }),
            data: valid.data.clone(),
            version: 1,
            tenant: valid.tenant.clone(),
            ip_address: text("ip_address"),
            user_agent: text("user_agent"),
            request_id: text("request_id"),
            mode: text("mode"),
            module: text("module"),
            metadata: valid.metadata,
            occurred_at,
            committed_at: None,
            transaction_id: parse_txid(&txid)?,
            changes,
        }))
    }

    /// [`track`](Self::track) that never fails its caller (PhoenixKit's `log`:
    /// "failures are logged but never crash"): an error is reported with
    /// `tracing::warn!` and gives `None`.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) {
    /// use events_core::audit::ManualEntry;
    /// audit.log(ManualEntry::new("post.created").metadata(serde_json::json!({"title": "Hello"}))).await;
    /// # }
    /// ```
    pub async fn log(&self, entry: ManualEntry<L>) -> Option<AuditEntry> {
        let action = entry.action.clone();
        match self.track(entry).await {
            Ok(entry) => entry,
            Err(error) => {
                tracing::warn!(%error, action = %action.chars().take(255).collect::<String>(), "audit entry not recorded");
                None
            }
        }
    }

    // ---- reading -------------------------------------------------------------

    /// Runs `query`: its page of entries, with the total counted per its count
    /// mode (concurrently, on a second connection) and the cursor of the next page.
    ///
    /// PhoenixKit's `list`, the audit log's `list_logs`, Contember's `events`,
    /// HawkEx's paged `recent`.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// use events_core::audit::AuditQuery;
    /// let first = audit.query(&AuditQuery::new().resource("User").after(None).limit(100)).await?;
    /// if let Some(cursor) = first.next_cursor {
    ///     let second = audit.query(&AuditQuery::new().resource("User").after(Some(cursor)).limit(100)).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn query(&self, query: &AuditQuery<L>) -> Result<AuditPage, Error> {
        query.check()?;
        let mode = query.effective_count_mode();
        let (entries, total) = try_join(self.entries(query), self.count_with(query, mode)).await?;
        let (entries, next_cursor) = entries;
        let per_page = query.pagination.size();
        let page = match &query.pagination {
            Pagination::Page { page, .. } => Some(*page),
            Pagination::Offset { offset, limit } => Some(offset / (*limit).max(1) + 1),
            Pagination::After { .. } => None,
        };
        Ok(AuditPage {
            entries,
            page,
            per_page,
            total,
            next_cursor,
        })
    }

    /// The entries of `query`'s page, without counting.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// use events_core::audit::AuditQuery;
    /// let entries = audit.list(&AuditQuery::new().action("admin_password_reset").offset(0).limit(100)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn list(&self, query: &AuditQuery<L>) -> Result<Vec<AuditEntry>, Error> {
        Ok(self.entries(query).await?.0)
    }

    /// Every entry matching `query`'s filters, in its order, read in keyset pages
    /// of 1,000 (its pagination is ignored). Memory grows with the matches: use
    /// [`query`](Self::query) with cursors for unbounded sets.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// use events_core::audit::AuditQuery;
    /// let all = audit.list_all(AuditQuery::new().tenant("acme")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn list_all(&self, query: AuditQuery<L>) -> Result<Vec<AuditEntry>, Error> {
        let mut query = query.after(None).limit(ALL_BATCH);
        let mut all = Vec::new();
        loop {
            let (entries, next) = self.entries(&query).await?;
            all.extend(entries);
            match next {
                Some(cursor) => query = query.after(Some(cursor)),
                None => return Ok(all),
            }
        }
    }

    /// Counts the entries matching `query`'s filters, in its count mode (exact
    /// unless set): PhoenixKit's `count`, the audit log's `count_logs`.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// use events_core::audit::{AuditQuery, CountMode};
    /// let n = audit.count(&AuditQuery::new().action("admin_password_reset")).await?.value();
    /// let rough = audit.count(&AuditQuery::new().count_mode(CountMode::Estimated)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn count(&self, query: &AuditQuery<L>) -> Result<Count, Error> {
        query.check()?;
        let mode = match query.count {
            None | Some(CountMode::None) => CountMode::Exact,
            Some(mode) => mode,
        };
        self.count_with(query, mode)
            .await?
            .ok_or_else(|| Error::InvalidFilter {
                field: "count".into(),
                message: "no count mode".into(),
            })
    }

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

    /// One entry by id, or `None` (PhoenixKit's `get_entry`).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// if let Some(entry) = audit.find(42_i64).await? { println!("{}", entry.action); }
    /// # Ok(()) }
    /// ```
    pub async fn find(&self, id: impl Into<EventId>) -> Result<Option<AuditEntry>, Error> {
        let id = id.into();
        let row = self
            .sql
            .entry::<L>(id)?
            .query()
            .fetch_optional(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx(format!("reading audit entry {id}"), e))?;
        row.as_ref().map(decode_entry::<L>).transpose()
    }

    /// One entry by id, or [`Error::EntryNotFound`] (PhoenixKit's `get_entry!`,
    /// the audit log's `get_log!`).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let entry = audit.get(42_i64).await?;
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, id: impl Into<EventId>) -> Result<AuditEntry, Error> {
        let id = id.into();
        self.find(id).await?.ok_or(Error::EntryNotFound { id })
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

    // ---- typeahead and facets ------------------------------------------------

    /// Typeahead over action names (HawkEx's `search`): up to
    /// [`SEARCH_LIMIT`] (5) distinct names starting with `term`, bytewise
    /// ascending. Served by a skip scan of the action index: one index descent
    /// per name returned, whatever the log's size.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let names = audit.search_actions("proj").await?; // ["project.created", "project.deleted", ..]
    /// # Ok(()) }
    /// ```
    pub async fn search_actions(&self, term: &str) -> Result<Vec<String>, Error> {
        self.search_actions_limit(term, SEARCH_LIMIT).await
    }

    /// [`search_actions`](Self::search_actions) with HawkEx's `:limit` option
    /// (1 to 1,000).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let names = audit.search_actions_limit("user.", 20).await?;
    /// # Ok(()) }
    /// ```
    pub async fn search_actions_limit(&self, term: &str, limit: u64) -> Result<Vec<String>, Error> {
        let s = self.search_sql(term, limit)?;
        let rows = s
            .query()
            .fetch_all(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("searching action names", e))?;
        rows.iter().map(|r| get::<String>(r, "v")).collect()
    }

    fn search_sql(&self, term: &str, limit: u64) -> Result<Sql, Error> {
        AuditQuery::<L>::new().search(term).check()?;
        let limit = page_size("limit", limit)?;
        let mut s = match sql::prefix_upper_bound(term) {
            Some(upper) => {
                let mut s = Sql::new(self.sql.search_bounded.as_ref());
                s.arg("search", term.to_owned())?;
                s.arg("search", upper)?;
                s
            }
            None => {
                let mut s = Sql::new(self.sql.search_open.as_ref());
                s.arg("search", term.to_owned())?;
                s
            }
        };
        s.arg("limit", limit)?;
        Ok(s)
    }

    async fn distinct_rows(&self, facet: Facet, limit: u64) -> Result<Vec<PgRow>, Error> {
        let s = self.facet_sql(facet, limit)?;
        s.query()
            .fetch_all(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx(format!("listing distinct {facet:?}"), e))
    }

    fn facet_sql(&self, facet: Facet, limit: u64) -> Result<Sql, Error> {
        let Some(text) = self.sql.facet(facet) else {
            return Err(Error::InvalidFilter {
                field: "facet".into(),
                message: format!(
                    "{facet:?}: the log has {} actor columns",
                    L::ACTOR_COLUMNS.len()
                ),
            });
        };
        let mut s = Sql::new(text.as_ref());
        s.arg("limit", page_size("limit", limit)?)?;
        Ok(s)
    }

    async fn distinct_texts(&self, facet: Facet) -> Result<Vec<String>, Error> {
        self.distinct_rows(facet, FACET_LIMIT)
            .await?
            .iter()
            .map(|r| get::<String>(r, "v"))
            .collect()
    }

    /// Distinct action names (PhoenixKit's `list_action_types`), bytewise
    /// ascending, at most [`FACET_LIMIT`].
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let actions = audit.distinct_actions().await?;
    /// # Ok(()) }
    /// ```
    pub async fn distinct_actions(&self) -> Result<Vec<String>, Error> {
        self.distinct_texts(Facet::Actions).await
    }

    /// Distinct entry kinds present.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let kinds = audit.distinct_kinds().await?;
    /// # Ok(()) }
    /// ```
    pub async fn distinct_kinds(&self) -> Result<Vec<EntryKind>, Error> {
        self.distinct_texts(Facet::Kinds)
            .await?
            .iter()
            .map(|k| {
                k.parse().map_err(|_| Error::MalformedRow {
                    column: "action_type".into(),
                    message: format!("`{k}` is not an entry kind"),
                })
            })
            .collect()
    }

    /// Distinct resource names (PhoenixKit's `list_resource_types`).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let resources = audit.distinct_resources().await?;
    /// # Ok(()) }
    /// ```
    pub async fn distinct_resources(&self) -> Result<Vec<String>, Error> {
        self.distinct_texts(Facet::Resources).await
    }

    /// Distinct modes (PhoenixKit's `list_modes`).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let modes = audit.distinct_modes().await?;
    /// # Ok(()) }
    /// ```
    pub async fn distinct_modes(&self) -> Result<Vec<String>, Error> {
        self.distinct_texts(Facet::Modes).await
    }

    /// Distinct modules (PhoenixKit's `list_modules`).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let modules = audit.distinct_modules().await?;
    /// # Ok(()) }
    /// ```
    pub async fn distinct_modules(&self) -> Result<Vec<String>, Error> {
        self.distinct_texts(Facet::Modules).await
    }

    /// Distinct actors seen, per actor column in config order, up to `limit`
    /// per column (1 to 1,000), keys ascending.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// for actor in audit.distinct_actors(100).await? { println!("{}", actor.description()); }
    /// # Ok(()) }
    /// ```
    pub async fn distinct_actors(&self, limit: u64) -> Result<Vec<EntryActor>, Error> {
        let mut out = Vec::new();
        for (i, column) in L::ACTOR_COLUMNS.iter().enumerate() {
            for row in self.distinct_rows(Facet::Actor(i), limit).await? {
                let key = match column.attribute_type {
                    events_core::KeyType::Uuid => Key::Uuid(get(&row, "v")?),
                    events_core::KeyType::Integer => Key::Integer(get(&row, "v")?),
                    events_core::KeyType::String => Key::String(get(&row, "v")?),
                };
                out.push(EntryActor {
                    column: column.name.to_owned(),
                    actor_type: column.destination.to_owned(),
                    key,
                });
            }
        }
        Ok(out)
    }

    /// Every facet but the actors, for a filter sidebar.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let facets = audit.facets().await?;
    /// # Ok(()) }
    /// ```
    pub async fn facets(&self) -> Result<Facets, Error> {
        Ok(Facets {
            actions: self.distinct_actions().await?,
            kinds: self.distinct_kinds().await?,
            resources: self.distinct_resources().await?,
            modes: self.distinct_modes().await?,
            modules: self.distinct_modules().await?,
        })
    }

    // ---- retention -----------------------------------------------------------

    /// Deletes the entries that occurred more than `older_than` ago (by the
    /// database clock), with their recorded changes, and records the prune as a
    /// manual entry `audit.pruned` (metadata `cutoff`, `deleted`,
    /// `deleted_actions`, `older_than_seconds`), all in one transaction.
    ///
    /// **What it keeps.** On an event log that can replay (it has
    /// `clear_records_for_replay`), only manual entries are deleted: the events of
    /// recorded actions are what replay rebuilds state from, and deleting them
    /// would make the next replay rebuild less than there is. To delete those too,
    /// give up replay explicitly with
    /// [`prune_giving_up_replay`](Self::prune_giving_up_replay). On a log without
    /// `clear_records_for_replay` (an audit trail), every entry older than the
    /// cutoff goes.
    ///
    /// Whenever action events are deleted, the cutoff is recorded as the log's
    /// replay horizon, and from then on [`replay`](crate::PgEventStore::replay)
    /// and [`verify_replayable`](crate::PgEventStore::verify_replayable) refuse
    /// with [`Error::ReplayHorizon`] naming it, instead of rebuilding a partial
    /// state.
    ///
    /// Runs through the owner's `<table>_prune` function (see
    /// [`grants_sql`](crate::schema::grants_sql)): the only path past the
    /// append-only guard. A period longer than the log's history deletes nothing
    /// and succeeds; a negative one is [`Error::InvalidFilter`].
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let report = audit.prune(chrono::Duration::days(365)).await?;
    /// println!("{} entries before {} deleted", report.deleted, report.cutoff);
    /// # Ok(()) }
    /// ```
    pub async fn prune(&self, older_than: chrono::Duration) -> Result<PruneReport, Error> {
        self.run_prune(older_than, L::CLEAR_RECORDS_FOR_REPLAY.is_none())
            .await
    }

    /// Like [`prune`](Self::prune), but also deletes the events of recorded
    /// actions on a log that can replay, giving up replay: the cutoff is recorded
    /// as the replay horizon and every later replay or preflight fails with
    /// [`Error::ReplayHorizon`]. For logs whose state is kept elsewhere (backups,
    /// snapshots) and whose old events are no longer wanted.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let report = audit.prune_giving_up_replay(chrono::Duration::days(7 * 365)).await?;
    /// println!("{} action events deleted; replay is no longer possible", report.deleted_actions);
    /// # Ok(()) }
    /// ```
    pub async fn prune_giving_up_replay(
        &self,
        older_than: chrono::Duration,
    ) -> Result<PruneReport, Error> {
        self.run_prune(older_than, true).await
    }

    async fn run_prune(
        &self,
        older_than: chrono::Duration,
        give_up_replay: bool,
    ) -> Result<PruneReport, Error> {
        if older_than < chrono::Duration::zero() {
            return Err(Error::InvalidFilter {
                field: "older_than".into(),
                message: "a retention period cannot be negative".into(),
            });
        }
        // Milliseconds always fit an i64 for a chrono::Duration; the function
        // treats periods beyond any representable time as "before everything".
        let mut q = sqlx::query(AssertSqlSafe(Arc::clone(&self.store.statements().prune)))
            .bind(older_than.num_milliseconds())
            .bind(give_up_replay);
        if L::PRIMARY_KEY_TYPE == PrimaryKeyType::UuidV7 {
            q = q.bind(uuid::Uuid::now_v7());
        }
        let row = q
            .fetch_one(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("pruning the audit log", e))?;
        let deleted: i64 = get(&row, "out_deleted")?;
        let deleted_actions: i64 = get(&row, "out_deleted_actions")?;
        let cutoff: Option<DateTime<Utc>> = get(&row, "out_cutoff")?;
        let cutoff = cutoff.unwrap_or(DateTime::<Utc>::MIN_UTC);
        let entry = match L::PRIMARY_KEY_TYPE {
            PrimaryKeyType::Integer => EventId::Integer(get(&row, "out_entry")?),
            PrimaryKeyType::UuidV7 => EventId::Uuid(get(&row, "out_entry")?),
        };
        let (deleted, deleted_actions) = (deleted.unsigned_abs(), deleted_actions.unsigned_abs());
        tracing::info!(deleted, deleted_actions, %cutoff, table = L::TABLE, "audit log pruned");
        Ok(PruneReport {
            deleted,
            deleted_actions,
            cutoff,
            entry,
        })
    }

    /// [`prune`](Self::prune) by days (PhoenixKit's `prune(days)`).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// audit.prune_days(90).await?;
    /// # Ok(()) }
    /// ```
    pub async fn prune_days(&self, days: u32) -> Result<PruneReport, Error> {
        self.prune(chrono::Duration::days(i64::from(days))).await
    }

    /// Prunes by the configured retention period; `None` when none is configured.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// audit.with_retention_days(365).prune_expired().await?;
    /// # Ok(()) }
    /// ```
    pub async fn prune_expired(&self) -> Result<Option<PruneReport>, Error> {
        match self.retention {
            Some(period) => self.prune(period).await.map(Some),
            None => Ok(None),
        }
    }

    // ---- notifications -------------------------------------------------------

    /// The `LISTEN` channel announcing committed transactions that wrote entries
    /// (PhoenixKit's `pubsub_topic`). The payload is the transaction id: read its
    /// entries with [`AuditQuery::transaction`]. Sent only by sessions with
    /// `events.notify = 'on'` (e.g. `ALTER DATABASE app SET events.notify = 'on'`):
    /// off by default, because a transaction that notifies takes a global lock at
    /// commit, which serializes commits.
    ///
    /// ```no_run
    /// # fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) {
    /// assert_eq!(audit.topic(), format!("{}_audit", L::TABLE));
    /// # }
    /// ```
    pub fn topic(&self) -> String {
        events_core::audit::notify_channel(L::TABLE)
    }

    /// A listener subscribed to [`topic`](Self::topic), on its own connection.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut listener = audit.listen().await?;
    /// let txid: u64 = listener.recv().await?.payload().parse()?;
    /// # Ok(()) }
    /// ```
    pub async fn listen(&self) -> Result<PgListener, Error> {
        let mut listener = PgListener::connect_with(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("connecting an audit listener", e))?;
        listener
            .listen(&self.topic())
            .await
            .map_err(|e| Error::from_sqlx("listening to the audit channel", e))?;
        Ok(listener)
    }

    // ---- plans ---------------------------------------------------------------

    /// The plan PostgreSQL picks for one of the audit statements, with its
    /// values bound (`EXPLAIN` text, one line per node), to check that an index
    /// serves it on your data.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// use events_core::audit::AuditQuery;
    /// use events_postgres::audit::Explain;
    /// let q = AuditQuery::new().resource("User");
    /// let plan = audit.explain(Explain::Query(&q)).await?;
    /// assert!(!plan.contains("Seq Scan on events"));
    /// # Ok(()) }
    /// ```
    pub async fn explain(&self, what: Explain<'_, L>) -> Result<String, Error> {
        let s = match what {
            Explain::Query(q) => self.sql.entries(q)?,
            // An estimate is itself an EXPLAIN: show the plan it reads the rows from.
            Explain::Count(q, CountMode::Estimated) => self.sql.count_body("", q)?,
            Explain::Count(q, mode) => self.count_sql(q, mode)?.0,
            Explain::SearchActions(term) => self.search_sql(term, SEARCH_LIMIT)?,
            Explain::Facet(facet) => self.facet_sql(facet, FACET_LIMIT)?,
            Explain::Get(id) => self.sql.entry::<L>(id)?,
        };
        let rows = s
            .query_prefixed("EXPLAIN ")
            .fetch_all(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("explaining an audit statement", e))?;
        let lines = rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::MalformedRow {
                column: "QUERY PLAN".into(),
                message: e.to_string(),
            })?;
        Ok(lines.join("\n"))
    }

    // ---- internals -----------------------------------------------------------

    /// The page's entries and the cursor after it (when more follow).
    async fn entries(
        &self,
        query: &AuditQuery<L>,
    ) -> Result<(Vec<AuditEntry>, Option<events_core::audit::Cursor>), Error> {
        let s = self.sql.entries(query)?;
        let rows = s
            .query()
            .fetch_all(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("reading audit entries", e))?;
        let size = usize::try_from(query.pagination.size()).unwrap_or(usize::MAX);
        let mut entries = rows
            .iter()
            .map(decode_entry::<L>)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if entries.len() > size {
            entries.truncate(size);
            entries.last().and_then(|e| e.cursor(query.order))
        } else {
            None
        };
        Ok((entries, next))
    }

    /// The count statement of `mode`, and whether it is an `EXPLAIN` (estimate)
    /// or a cap (with the cap).
    fn count_sql(&self, query: &AuditQuery<L>, mode: CountMode) -> Result<(Sql, CountPlan), Error> {
        Ok(match mode {
            CountMode::None | CountMode::Exact => {
                let mut s = self.sql.count_body("SELECT count(*) FROM (", query)?;
                s.push(") s");
                (s, CountPlan::Exact)
            }
            CountMode::Capped(cap) => {
                let mut s = self.sql.count_body("SELECT count(*) FROM (", query)?;
                s.push(" LIMIT ");
                let limit = i64::try_from(cap.saturating_add(1)).unwrap_or(i64::MAX);
                s.bind("count", limit)?;
                s.push(") s");
                (s, CountPlan::Capped(cap))
            }
            CountMode::Estimated => (
                self.sql.count_body("EXPLAIN (FORMAT JSON) ", query)?,
                CountPlan::Estimate,
            ),
        })
    }

    async fn count_with(
        &self,
        query: &AuditQuery<L>,
        mode: CountMode,
    ) -> Result<Option<Count>, Error> {
        if mode == CountMode::None {
            return Ok(None);
        }
        if mode == CountMode::Estimated && query.is_unfiltered() {
            let tuples: Option<f64> = sqlx::query_scalar(
                "SELECT reltuples::float8 FROM pg_class WHERE oid = to_regclass($1)",
            )
            .bind(&self.sql.regclass)
            .fetch_optional(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("reading the event table's size estimate", e))?
            .flatten();
            // -1 until the table was first analyzed: fall through to the planner.
            if let Some(tuples) = tuples.filter(|t| *t >= 0.0) {
                return Ok(Some(Count::Estimated(estimate(tuples))));
            }
        }
        let (s, plan) = self.count_sql(query, mode)?;
        let row = s
            .query()
            .fetch_one(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("counting audit entries", e))?;
        Ok(Some(match plan {
            CountPlan::Exact => Count::Exact(get::<i64>(&row, "count")?.unsigned_abs()),
            CountPlan::Capped(cap) => {
                let n = get::<i64>(&row, "count")?.unsigned_abs();
                if n > cap {
                    Count::AtLeast(cap)
                } else {
                    Count::Exact(n)
                }
            }
            CountPlan::Estimate => {
                let plan = crate::sql::get_json(&row, (0, "QUERY PLAN"))?;
                let rows = plan
                    .pointer("/0/Plan/Plan Rows")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| Error::MalformedRow {
                        column: "QUERY PLAN".into(),
                        message: "no `Plan Rows` in the plan".into(),
                    })?;
                Count::Estimated(estimate(rows))
            }
        }))
    }
}

/// Runs two fallible futures concurrently; the first error wins.
async fn try_join<A, B, E>(
    a: impl Future<Output = Result<A, E>>,
    b: impl Future<Output = Result<B, E>>,
) -> Result<(A, B), E> {
    use std::task::Poll;
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let Poll::Ready(r) = a.as_mut().poll(cx)
        {
            match r {
                Ok(v) => ra = Some(v),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        if rb.is_none()
            && let Poll::Ready(r) = b.as_mut().poll(cx)
        {
            match r {
                Ok(v) => rb = Some(v),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => Poll::Ready(Ok((x, y))),
            (x, y) => {
                ra = x;
                rb = y;
                Poll::Pending
            }
        }
    })
    .await
}

/// How a count statement's result is read.
enum CountPlan {
    Exact,
    Capped(u64),
    Estimate,
}

fn estimate(rows: f64) -> u64 {
    if rows.is_finite() && rows > 0.0 {
        // Saturating float-to-int conversion.
        rows.round() as u64
    } else {
        0
    }
}

fn page_size(field: &str, n: u64) -> Result<i64, Error> {
    if n == 0 || n > events_core::audit::MAX_PAGE_SIZE {
        return Err(Error::InvalidFilter {
            field: field.to_owned(),
            message: format!("{n} is outside 1..={}", events_core::audit::MAX_PAGE_SIZE),
        });
    }
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}
