//! The one query model of the audit log: filters, order, pagination and count
//! mode, built here and run by a store (`events_postgres::AuditLog`).
//!
//! Filters of different kinds combine with AND; values within one list filter
//! (several resources, several actors, ...) combine with OR. Builder methods never
//! fail: values are checked when the store runs the query, and a value that cannot
//! match or cannot be sent is [`Error::InvalidFilter`] naming the filter.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{EntryKind, check};
use crate::{Actor, Error, EventId, Key, PersistsActor};

/// Entry order. Every order ends with the event id, so it is total and keyset
/// cursors are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Oldest first by `occurred_at` (Contember's `CREATED_AT_ASC`).
    OccurredAsc,
    /// Newest first by `occurred_at` (Contember's `CREATED_AT_DESC`); the default.
    #[default]
    OccurredDesc,
    /// First committed first (Contember's `APPLIED_AT_ASC`). Needs
    /// [`EventLog::TRACK_COMMIT_TIME`](crate::EventLog::TRACK_COMMIT_TIME).
    CommittedAsc,
    /// Last committed first (Contember's `APPLIED_AT_DESC`). Needs
    /// [`EventLog::TRACK_COMMIT_TIME`](crate::EventLog::TRACK_COMMIT_TIME).
    CommittedDesc,
}

impl Order {
    /// True for the two orders by commit time.
    pub const fn by_commit(self) -> bool {
        matches!(self, Order::CommittedAsc | Order::CommittedDesc)
    }

    /// True for the two descending orders.
    pub const fn descending(self) -> bool {
        matches!(self, Order::OccurredDesc | Order::CommittedDesc)
    }

    const fn code(self) -> &'static str {
        match self {
            Order::OccurredAsc => "oa",
            Order::OccurredDesc => "od",
            Order::CommittedAsc => "ca",
            Order::CommittedDesc => "cd",
        }
    }
}

/// How a query pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pagination {
    /// Page number and size (HawkEx's and PhoenixKit's `page` / `per_page`).
    /// Page `n` skips `(n - 1) * per_page` entries: cost grows with depth.
    Page {
        /// 1-based page number.
        page: u64,
        /// Entries per page, 1 to [`MAX_PAGE_SIZE`](super::MAX_PAGE_SIZE).
        per_page: u64,
    },
    /// Offset and limit (PhoenixKit's `list_logs`, Contember's `offset` / `limit`);
    /// cost grows with the offset.
    Offset {
        /// Entries to skip.
        offset: u64,
        /// Entries to return, 1 to [`MAX_PAGE_SIZE`](super::MAX_PAGE_SIZE).
        limit: u64,
    },
    /// Keyset paging: the entries after `cursor` (from the start with `None`).
    /// Every page costs the same, however deep. For browsing: a transaction that
    /// commits after a page was read can add entries before its cursor; to follow
    /// the log without missing late commits, use the store's commit-safe reader
    /// (`PgEventStore::read_committed`).
    After {
        /// Where the previous page ended.
        cursor: Option<Cursor>,
        /// Entries to return, 1 to [`MAX_PAGE_SIZE`](super::MAX_PAGE_SIZE).
        limit: u64,
    },
}

impl Pagination {
    /// The page size.
    pub const fn size(&self) -> u64 {
        match self {
            Pagination::Page { per_page, .. } => *per_page,
            Pagination::Offset { limit, .. } | Pagination::After { limit, .. } => *limit,
        }
    }
}

impl Default for Pagination {
    fn default() -> Self {
        Pagination::Page {
            page: 1,
            per_page: AuditQuery::<()>::DEFAULT_PER_PAGE,
        }
    }
}

/// How a page's total is counted. Counting is the expensive part of a page on a
/// large log, so it is chosen per query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountMode {
    /// No count ([`AuditPage::total`](super::AuditPage::total) is `None`); the
    /// default for offset and keyset pages.
    None,
    /// `count(*)` over every matching entry: exact, and as costly as reading
    /// every match's index entry (tens of milliseconds per million). The default
    /// of the store's `count`.
    Exact,
    /// Counts up to the cap and stops: [`Count::Exact`](super::Count::Exact)
    /// below it, [`Count::AtLeast`](super::Count::AtLeast)`(cap)` above. Costs at
    /// most `cap` index entries. `Capped(10_000)` is the default for numbered pages.
    Capped(u64),
    /// The planner's row estimate for the filters ([`Count::Estimated`](super::Count::Estimated)),
    /// or the table's `reltuples` without filters: no rows read, accurate to the
    /// last `ANALYZE` for the whole log, rougher for selective filters.
    Estimated,
}

/// The default cap of [`CountMode::Capped`] for numbered pages.
pub const DEFAULT_COUNT_CAP: u64 = 10_000;

/// A position in one order, for keyset paging: the entry's sort time and id.
///
/// Its text form (`Display` / `FromStr`) is opaque and safe to put in a URL;
/// parsing a malformed or foreign one is [`Error::InvalidFilter`] for `cursor`.
/// Times are kept to the microsecond, PostgreSQL's precision, which is what
/// stored entries carry.
///
/// ```
/// use events_core::{EventId, audit::{Cursor, Order}};
/// let at = chrono::DateTime::from_timestamp_micros(1_718_000_000_123_456).unwrap();
/// let c = Cursor { order: Order::OccurredDesc, at, id: EventId::Integer(42) };
/// let text = c.to_string();
/// assert_eq!(text.parse::<Cursor>()?, c);
/// assert!("c1.od.x.i42".parse::<Cursor>().is_err());
/// # Ok::<(), events_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Cursor {
    /// The order the cursor belongs to.
    pub order: Order,
    /// The entry's `occurred_at` or `committed_at`, per the order.
    pub at: DateTime<Utc>,
    /// The entry's id.
    pub id: EventId,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.at.timestamp_micros();
        match self.id {
            EventId::Integer(i) => write!(f, "c1.{}.{micros}.i{i}", self.order.code()),
            EventId::Uuid(u) => write!(f, "c1.{}.{micros}.u{}", self.order.code(), u.simple()),
        }
    }
}

impl From<Cursor> for String {
    fn from(cursor: Cursor) -> String {
        cursor.to_string()
    }
}

impl TryFrom<String> for Cursor {
    type Error = Error;
    fn try_from(text: String) -> Result<Self, Error> {
        text.parse()
    }
}

impl FromStr for Cursor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            check::filter(
                "cursor",
                "not a cursor of this audit log; pass `next_cursor` of a page back unchanged",
            )
        };
        if s.len() > 80 {
            return Err(bad());
        }
        let mut parts = s.split('.');
        let (Some("c1"), Some(order), Some(micros), Some(id), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let order = match order {
            "oa" => Order::OccurredAsc,
            "od" => Order::OccurredDesc,
            "ca" => Order::CommittedAsc,
            "cd" => Order::CommittedDesc,
            _ => return Err(bad()),
        };
        let at = micros
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_micros)
            .filter(|at| check::time_problem(*at).is_none())
            .ok_or_else(bad)?;
        let id = match id.split_at_checked(1) {
            Some(("i", n)) => EventId::Integer(n.parse().map_err(|_| bad())?),
            Some(("u", u)) if u.len() == 32 => {
                EventId::Uuid(uuid::Uuid::parse_str(u).map_err(|_| bad())?)
            }
            _ => return Err(bad()),
        };
        Ok(Cursor { order, at, id })
    }
}

/// A half-open time range, `from <= t < to`; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    /// Inclusive lower bound.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub to: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// True when neither end is set.
    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

/// How an action name matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionMatch {
    /// The whole name.
    Exact(String),
    /// Names starting with these characters, compared bytewise: `%`, `_` and `\`
    /// are plain characters, not patterns.
    Prefix(String),
}

impl ActionMatch {
    /// PhoenixKit's action filter: `"post.*"` matches names starting with `post.`,
    /// anything else matches exactly.
    ///
    /// ```
    /// use events_core::audit::ActionMatch;
    /// assert_eq!(ActionMatch::pattern("post.*"), ActionMatch::Prefix("post.".into()));
    /// assert_eq!(ActionMatch::pattern("post.created"), ActionMatch::Exact("post.created".into()));
    /// ```
    pub fn pattern(pattern: &str) -> ActionMatch {
        match pattern.strip_suffix('*') {
            Some(prefix) => ActionMatch::Prefix(prefix.to_owned()),
            None => ActionMatch::Exact(pattern.to_owned()),
        }
    }
}

/// An actor filter: a key in one actor column, or in any actor column whose key
/// type fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorMatch {
    /// The actor column (`user_id`); `None` for every column the key fits.
    pub column: Option<String>,
    /// The actor's key; strings are parsed to the column's key type.
    pub key: Key,
}

/// An audit log query: filters, order, pagination and count mode.
///
/// `L` is the event log, so typed filters are checked at compile time:
/// [`actor`](Self::actor) takes only actor types the log persists.
///
/// ```ignore
/// use events_core::audit::{AuditQuery, EntryKind, Order};
///
/// // Contember: the last 100 events creating an article, by commit time.
/// let q = AuditQuery::<AppLog>::new()
///     .kind(EntryKind::Create)
///     .resource("article")
///     .order(Order::CommittedDesc)
///     .offset(0)
///     .limit(100);
/// let page = audit.query(&q).await?;
/// ```
pub struct AuditQuery<L> {
    /// Resource names (Contember's `tables`, PhoenixKit's `resource_type`).
    pub resources: Vec<String>,
    /// Records: (resource, record id) (Contember's `rows`; composite keys via
    /// [`composite_key`](super::composite_key)).
    pub rows: Vec<(String, Key)>,
    /// Record ids under any resource (HawkEx's `for_account`, which matches
    /// `resource_id`).
    pub record_ids: Vec<Key>,
    /// Action names, exact or prefix (PhoenixKit's `action`, the audit log's
    /// `action`).
    pub actions: Vec<ActionMatch>,
    /// HawkEx's `search`: action names starting with this text.
    pub search: Option<String>,
    /// Entry kinds (Contember's `types`).
    pub kinds: Vec<EntryKind>,
    /// Actors (PhoenixKit's `actor_uuid`, the audit log's `admin_user_uuid`,
    /// Contember's `identities`).
    pub actors: Vec<ActorMatch>,
    /// Target ids (PhoenixKit's `target_uuid`, the audit log's `target_user_uuid`).
    pub targets: Vec<Key>,
    /// Target kind.
    pub target_kind: Option<String>,
    /// Entries a user took part in, as actor or as target (the audit log's
    /// `list_logs_for_user`).
    pub for_user: Option<Key>,
    /// Tenant (Contember's `stage` is the closest counterpart).
    pub tenant: Option<Key>,
    /// Transaction ids (Contember's `transactions`).
    pub transactions: Vec<u64>,
    /// `occurred_at` range (PhoenixKit's `since` / `until`, the audit log's
    /// `from_date` / `to_date`, Contember's `createdAt`).
    pub occurred: TimeRange,
    /// Commit time range (Contember's `appliedAt`).
    pub committed: TimeRange,
    /// Entries whose metadata contains this JSON object (`@>`).
    pub metadata: Option<Value>,
    /// Request id.
    pub request_id: Option<String>,
    /// PhoenixKit's mode.
    pub mode: Option<String>,
    /// PhoenixKit's module.
    pub module: Option<String>,
    /// Hide updates whose recorded changes are empty (see
    /// [`hide_unchanged`](Self::hide_unchanged)).
    pub hide_unchanged: bool,
    /// Order.
    pub order: Order,
    /// Pagination.
    pub pagination: Pagination,
    /// Count mode; `None` picks the default of the pagination (capped for
    /// numbered pages, none otherwise, exact for `count`).
    pub count: Option<CountMode>,
    _log: PhantomData<fn() -> L>,
}

impl<L> fmt::Debug for AuditQuery<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AuditQuery");
        macro_rules! set {
            ($($field:ident),*) => {$(
                d.field(stringify!($field), &self.$field);
            )*};
        }
        set!(
            resources,
            rows,
            record_ids,
            actions,
            search,
            kinds,
            actors,
            targets,
            target_kind,
            for_user,
            tenant,
            transactions,
            occurred,
            committed,
            metadata,
            request_id,
            mode,
            module,
            hide_unchanged,
            order,
            pagination,
            count
        );
        d.finish()
    }
}

impl<L> Clone for AuditQuery<L> {
    fn clone(&self) -> Self {
        AuditQuery {
            resources: self.resources.clone(),
            rows: self.rows.clone(),
            record_ids: self.record_ids.clone(),
            actions: self.actions.clone(),
            search: self.search.clone(),
            kinds: self.kinds.clone(),
            actors: self.actors.clone(),
            targets: self.targets.clone(),
            target_kind: self.target_kind.clone(),
            for_user: self.for_user.clone(),
            tenant: self.tenant.clone(),
            transactions: self.transactions.clone(),
            occurred: self.occurred,
            committed: self.committed,
            metadata: self.metadata.clone(),
            request_id: self.request_id.clone(),
            mode: self.mode.clone(),
            module: self.module.clone(),
            hide_unchanged: self.hide_unchanged,
            order: self.order,
            pagination: self.pagination.clone(),
            count: self.count,
            _log: PhantomData,
        }
    }
}

impl<L> Default for AuditQuery<L> {
    fn default() -> Self {
        AuditQuery {
            resources: Vec::new(),
            rows: Vec::new(),
            record_ids: Vec::new(),
            actions: Vec::new(),
            search: None,
            kinds: Vec::new(),
            actors: Vec::new(),
            targets: Vec::new(),
            target_kind: None,
            for_user: None,
            tenant: None,
            transactions: Vec::new(),
            occurred: TimeRange::default(),
            committed: TimeRange::default(),
            metadata: None,
            request_id: None,
            mode: None,
            module: None,
            hide_unchanged: false,
            order: Order::default(),
            pagination: Pagination::default(),
            count: None,
            _log: PhantomData,
        }
    }
}

impl<L> AuditQuery<L> {
    /// Default page size (HawkEx's and PhoenixKit's `per_page`).
    pub const DEFAULT_PER_PAGE: u64 = 50;

    /// Every entry, newest first, first page of 50.
    ///
    /// ```
    /// use events_core::audit::{AuditQuery, Order, Pagination};
    /// let q = AuditQuery::<()>::new();
    /// assert_eq!(q.order, Order::OccurredDesc);
    /// assert_eq!(q.pagination, Pagination::Page { page: 1, per_page: 50 });
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries of this resource (repeatable: any of them).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// Entries of any of these resources (Contember's `tables`).
    pub fn resources<I, S>(mut self, resources: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resources.extend(resources.into_iter().map(Into::into));
        self
    }

    /// Entries of one record (repeatable: any of them). The id may be a string
    /// to be parsed to the log's record id type.
    pub fn record(mut self, resource: impl Into<String>, record_id: impl Into<Key>) -> Self {
        self.rows.push((resource.into(), record_id.into()));
        self
    }

    /// Entries about this record id, whatever the resource (HawkEx's
    /// `for_account`, which matches `resource_id`).
    pub fn record_id(mut self, record_id: impl Into<Key>) -> Self {
        self.record_ids.push(record_id.into());
        self
    }

    /// Entries whose action is exactly `action` (repeatable: any of them).
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.actions.push(ActionMatch::Exact(action.into()));
        self
    }

    /// Entries whose action starts with `prefix` (`"post."`), compared bytewise.
    pub fn action_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.actions.push(ActionMatch::Prefix(prefix.into()));
        self
    }

    /// PhoenixKit's action filter: exact, or a prefix with a trailing `*`
    /// (`"post.*"`); see [`ActionMatch::pattern`].
    pub fn action_pattern(mut self, pattern: &str) -> Self {
        self.actions.push(ActionMatch::pattern(pattern));
        self
    }

    /// HawkEx's `search` option: entries whose action starts with `term`.
    pub fn search(mut self, term: impl Into<String>) -> Self {
        self.search = Some(term.into());
        self
    }

    /// Entries of this kind (repeatable: any of them).
    pub fn kind(mut self, kind: EntryKind) -> Self {
        self.kinds.push(kind);
        self
    }

    /// Entries of any of these kinds (Contember's `types`).
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = EntryKind>) -> Self {
        self.kinds.extend(kinds);
        self
    }

    /// Entries whose actor is `actor` (repeatable: any of them). Only actor types
    /// the log persists compile.
    pub fn actor<A: Actor>(mut self, actor: &A) -> Self
    where
        L: PersistsActor<A>,
    {
        self.actors.push(ActorMatch {
            column: Some(<L as PersistsActor<A>>::COLUMN.to_owned()),
            key: crate::KeyValue::into_key(actor.primary_key()),
        });
        self
    }

    /// Entries whose actor column `column` holds `key` (for keys from requests;
    /// strings are parsed to the column's type).
    pub fn actor_key(mut self, column: impl Into<String>, key: impl Into<Key>) -> Self {
        self.actors.push(ActorMatch {
            column: Some(column.into()),
            key: key.into(),
        });
        self
    }

    /// Entries whose actor is `key` in any actor column it fits (Contember's
    /// `identities`; repeatable).
    pub fn identity(mut self, key: impl Into<Key>) -> Self {
        self.actors.push(ActorMatch {
            column: None,
            key: key.into(),
        });
        self
    }

    /// Entries affecting this target id (repeatable: any of them).
    pub fn target(mut self, id: impl Into<Key>) -> Self {
        self.targets.push(id.into());
        self
    }

    /// Entries whose target is of this kind.
    pub fn target_kind(mut self, kind: impl Into<String>) -> Self {
        self.target_kind = Some(kind.into());
        self
    }

    /// Entries `user` took part in: as the actor (any actor column the key fits)
    /// or as the target.
    pub fn for_user(mut self, user: impl Into<Key>) -> Self {
        self.for_user = Some(user.into());
        self
    }

    /// Entries of this tenant.
    pub fn tenant(mut self, tenant: impl Into<Key>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Entries written by this transaction (repeatable: any of them).
    pub fn transaction(mut self, id: u64) -> Self {
        self.transactions.push(id);
        self
    }

    /// Entries that occurred at or after `from` (PhoenixKit's `since`).
    pub fn since(mut self, from: DateTime<Utc>) -> Self {
        self.occurred.from = Some(from);
        self
    }

    /// Entries that occurred before `to` (PhoenixKit's `until`).
    pub fn until(mut self, to: DateTime<Utc>) -> Self {
        self.occurred.to = Some(to);
        self
    }

    /// Entries whose transaction committed at or after `from`. Needs
    /// [`EventLog::TRACK_COMMIT_TIME`](crate::EventLog::TRACK_COMMIT_TIME).
    pub fn committed_since(mut self, from: DateTime<Utc>) -> Self {
        self.committed.from = Some(from);
        self
    }

    /// Entries whose transaction committed before `to`. Needs
    /// [`EventLog::TRACK_COMMIT_TIME`](crate::EventLog::TRACK_COMMIT_TIME).
    pub fn committed_until(mut self, to: DateTime<Utc>) -> Self {
        self.committed.to = Some(to);
        self
    }

    /// Entries whose metadata contains `object` (`metadata @> object`).
    pub fn metadata_contains(mut self, object: Value) -> Self {
        self.metadata = Some(object);
        self
    }

    /// Entries of this request.
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Entries logged in this mode.
    pub fn mode(mut self, mode: impl Into<String>) -> Self {
        self.mode = Some(mode.into());
        self
    }

    /// Entries logged by this module.
    pub fn module(mut self, module: impl Into<String>) -> Self {
        self.module = Some(module.into());
        self
    }

    /// Hides updates whose recorded changes are empty (an update that changed
    /// nothing still has its event, written before the body ran; its changes row
    /// marks it). PhoenixKit's `log_user_change` skip, applied when reading.
    pub fn hide_unchanged(mut self) -> Self {
        self.hide_unchanged = true;
        self
    }

    /// Sets the order (default newest first by `occurred_at`).
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Numbered page `page` (from 1) of `per_page` entries.
    pub fn page(mut self, page: u64, per_page: u64) -> Self {
        self.pagination = Pagination::Page { page, per_page };
        self
    }

    /// Skips `offset` entries (keeps the page size).
    pub fn offset(mut self, offset: u64) -> Self {
        self.pagination = Pagination::Offset {
            offset,
            limit: self.pagination.size(),
        };
        self
    }

    /// Sets the page size in whatever pagination is set.
    pub fn limit(mut self, limit: u64) -> Self {
        match &mut self.pagination {
            Pagination::Page { per_page, .. } => *per_page = limit,
            Pagination::Offset { limit: l, .. } | Pagination::After { limit: l, .. } => *l = limit,
        }
        self
    }

    /// Keyset paging: the entries after `cursor` (`None`: from the start), keeping
    /// the page size.
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.pagination = Pagination::After {
            cursor,
            limit: self.pagination.size(),
        };
        self
    }

    /// Sets how the total is counted.
    pub fn count_mode(mut self, mode: CountMode) -> Self {
        self.count = Some(mode);
        self
    }

    /// The count mode in effect: the one set, else capped at
    /// [`DEFAULT_COUNT_CAP`] for numbered pages and none otherwise.
    pub fn effective_count_mode(&self) -> CountMode {
        match (self.count, &self.pagination) {
            (Some(mode), _) => mode,
            (None, Pagination::Page { .. }) => CountMode::Capped(DEFAULT_COUNT_CAP),
            (None, _) => CountMode::None,
        }
    }

    /// True when no filter is set (order, pagination and count mode aside).
    pub fn is_unfiltered(&self) -> bool {
        self.resources.is_empty()
            && self.rows.is_empty()
            && self.record_ids.is_empty()
            && self.actions.is_empty()
            && self.search.is_none()
            && self.kinds.is_empty()
            && self.actors.is_empty()
            && self.targets.is_empty()
            && self.target_kind.is_none()
            && self.for_user.is_none()
            && self.tenant.is_none()
            && self.transactions.is_empty()
            && self.occurred.is_open()
            && self.committed.is_open()
            && self.metadata.is_none()
            && self.request_id.is_none()
            && self.mode.is_none()
            && self.module.is_none()
            && !self.hide_unchanged
    }

    /// Checks what can be checked without the event log's types: lengths, NUL
    /// characters, list sizes, page bounds, the metadata filter's shape, times
    /// PostgreSQL can hold (from [`EARLIEST_TIME`](super::EARLIEST_TIME); fields
    /// `since`, `until`, `committed_since`, `committed_until`, `cursor`) and the
    /// cursor's order. Stores call it before building SQL.
    ///
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use events_core::{Error, audit::AuditQuery};
    /// let err = AuditQuery::<()>::new().action("x".repeat(10_000)).check().unwrap_err();
    /// assert!(matches!(err, Error::InvalidFilter { ref field, .. } if field == "action"));
    /// assert!(AuditQuery::<()>::new().page(0, 50).check().is_err());
    /// let err = AuditQuery::<()>::new().since(DateTime::<Utc>::MIN_UTC).check().unwrap_err();
    /// assert!(matches!(err, Error::InvalidFilter { ref field, .. } if field == "since"));
    /// ```
    pub fn check(&self) -> Result<(), Error> {
        use check::{MAX_KEY_LEN, MAX_LIST_LEN, MAX_NAME_LEN, filter, filter_text};
        let list = |field: &str, len: usize| {
            if len > MAX_LIST_LEN {
                Err(filter(
                    field,
                    format!("{len} values; at most {MAX_LIST_LEN} are accepted"),
                ))
            } else {
                Ok(())
            }
        };
        list("resources", self.resources.len())?;
        list("rows", self.rows.len())?;
        list("record_ids", self.record_ids.len())?;
        list("action", self.actions.len())?;
        list("actors", self.actors.len())?;
        list("targets", self.targets.len())?;
        list("transactions", self.transactions.len())?;
        for r in &self.resources {
            filter_text("resources", r, MAX_NAME_LEN)?;
        }
        for (r, _) in &self.rows {
            filter_text("rows", r, MAX_NAME_LEN)?;
        }
        for a in &self.actions {
            let (ActionMatch::Exact(s) | ActionMatch::Prefix(s)) = a;
            filter_text("action", s, MAX_NAME_LEN)?;
        }
        for (field, value) in [
            ("search", &self.search),
            ("target_kind", &self.target_kind),
            ("request_id", &self.request_id),
            ("mode", &self.mode),
            ("module", &self.module),
        ] {
            if let Some(v) = value {
                filter_text(field, v, MAX_NAME_LEN)?;
            }
        }
        for key in self
            .rows
            .iter()
            .map(|(_, k)| ("rows", k))
            .chain(self.record_ids.iter().map(|k| ("record_ids", k)))
            .chain(self.actors.iter().map(|a| ("actors", &a.key)))
            .chain(self.targets.iter().map(|k| ("targets", k)))
            .chain(self.for_user.iter().map(|k| ("for_user", k)))
            .chain(self.tenant.iter().map(|k| ("tenant", k)))
        {
            if let (field, Key::String(s)) = key {
                filter_text(field, s, MAX_KEY_LEN)?;
            }
        }
        for a in &self.actors {
            if let Some(column) = &a.column {
                filter_text("actors", column, MAX_NAME_LEN)?;
            }
        }
        for id in &self.transactions {
            if i64::try_from(*id).is_err() {
                return Err(filter(
                    "transactions",
                    format!("{id} is beyond any transaction id"),
                ));
            }
        }
        let times = [
            ("since", self.occurred.from),
            ("until", self.occurred.to),
            ("committed_since", self.committed.from),
            ("committed_until", self.committed.to),
        ];
        let cursor = match &self.pagination {
            Pagination::After {
                cursor: Some(cursor),
                ..
            } => Some(cursor.at),
            _ => None,
        };
        for (field, at) in times.into_iter().chain([("cursor", cursor)]) {
            if let Some(problem) = at.and_then(check::time_problem) {
                return Err(filter(field, problem));
            }
        }
        if let Some(metadata) = &self.metadata {
            if !metadata.is_object() {
                return Err(filter(
                    "metadata",
                    "must be a JSON object, matched with @> (contains)",
                ));
            }
            if let Some(problem) = check::json_problem(metadata) {
                return Err(filter("metadata", problem));
            }
        }
        let size = self.pagination.size();
        if size == 0 || size > super::MAX_PAGE_SIZE {
            let field = match self.pagination {
                Pagination::Page { .. } => "per_page",
                _ => "limit",
            };
            return Err(filter(
                field,
                format!("{size} is outside 1..={}", super::MAX_PAGE_SIZE),
            ));
        }
        match &self.pagination {
            Pagination::Page { page: 0, .. } => {
                return Err(filter("page", "pages are numbered from 1"));
            }
            Pagination::Page { page, per_page }
                if page
                    .checked_sub(1)
                    .and_then(|p| p.checked_mul(*per_page))
                    .and_then(|o| i64::try_from(o).ok())
                    .is_none() =>
            {
                return Err(filter("page", format!("page {page} is beyond any log")));
            }
            Pagination::Offset { offset, .. } if i64::try_from(*offset).is_err() => {
                return Err(filter("offset", format!("{offset} is beyond any log")));
            }
            Pagination::After {
                cursor: Some(cursor),
                ..
            } if cursor.order != self.order => {
                return Err(filter(
                    "cursor",
                    format!(
                        "the cursor belongs to order {:?}, this query is ordered {:?}",
                        cursor.order, self.order
                    ),
                ));
            }
            _ => {}
        }
        if let Some(CountMode::Capped(0)) = self.count {
            return Err(filter("count", "a capped count needs a cap of at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() -> Result<(), Error> {
        let at =
            DateTime::from_timestamp_micros(1_718_000_000_123_456).ok_or(Error::EntryNotFound {
                id: EventId::Integer(0),
            })?;
        for id in [EventId::Integer(-5), EventId::Uuid(uuid::Uuid::now_v7())] {
            for order in [
                Order::OccurredAsc,
                Order::OccurredDesc,
                Order::CommittedAsc,
                Order::CommittedDesc,
            ] {
                let c = Cursor { order, at, id };
                assert_eq!(c.to_string().parse::<Cursor>()?, c);
            }
        }
        for bad in [
            "",
            "c1",
            "c1.od.1.i1.extra",
            "c2.od.1.i1",
            "c1.zz.1.i1",
            "c1.od.99999999999999999999.i1",
            "c1.od.1.x1",
            "c1.od.1.u123",
            "c1.od.1.i' OR 1=1",
            "c1.od.1.é",
        ] {
            let err = bad.parse::<Cursor>().expect_err(bad);
            assert!(
                matches!(&err, Error::InvalidFilter { field, .. } if field == "cursor"),
                "{bad}: {err}"
            );
        }
        Ok(())
    }

    #[test]
    fn limit_keeps_the_mode_and_offset_keeps_the_size() {
        let q = AuditQuery::<()>::new().limit(20).offset(40);
        assert_eq!(
            q.pagination,
            Pagination::Offset {
                offset: 40,
                limit: 20
            }
        );
        let q = AuditQuery::<()>::new().after(None).limit(7);
        assert_eq!(
            q.pagination,
            Pagination::After {
                cursor: None,
                limit: 7
            }
        );
        assert_eq!(q.effective_count_mode(), CountMode::None);
        assert_eq!(
            AuditQuery::<()>::new().effective_count_mode(),
            CountMode::Capped(DEFAULT_COUNT_CAP)
        );
    }

    #[test]
    fn check_names_the_field() {
        let field = |q: AuditQuery<()>| match q.check() {
            Err(Error::InvalidFilter { field, .. }) => field,
            other => format!("{other:?}"),
        };
        assert_eq!(field(AuditQuery::new().resource("a\0b")), "resources");
        assert_eq!(field(AuditQuery::new().limit(0)), "per_page");
        assert_eq!(field(AuditQuery::new().offset(1).limit(5000)), "limit");
        assert_eq!(
            field(AuditQuery::new().metadata_contains(serde_json::json!([1]))),
            "metadata"
        );
        assert_eq!(
            field(AuditQuery::new().transaction(u64::MAX)),
            "transactions"
        );
        assert_eq!(field(AuditQuery::new().page(u64::MAX, 1000)), "page");
        assert_eq!(
            field(AuditQuery::new().resources((0..101).map(|i| i.to_string()))),
            "resources"
        );
        assert!(
            AuditQuery::<()>::new()
                .action("%_\\'\"")
                .search("%")
                .check()
                .is_ok()
        );
    }
}
