//! The audit query: [`AuditQuery`] is [`Filters`] plus [`Order`], [`Pagination`]
//! and [`CountMode`], built here, checked once by [`AuditQuery::validate`]
//! (`valid.rs`) and run by a store (`events_postgres::AuditLog`). Owns the
//! query type, its order, paging and counting options and their builders; the
//! filters and their builders are in `filters.rs`, cursors in `cursor.rs`.

use std::fmt;
use std::marker::PhantomData;

use super::{Cursor, Filters};

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

    /// The order's code in a cursor's text form.
    pub(super) const fn code(self) -> &'static str {
        match self {
            Order::OccurredAsc => "oa",
            Order::OccurredDesc => "od",
            Order::CommittedAsc => "ca",
            Order::CommittedDesc => "cd",
        }
    }

    /// The order of a cursor code, if it is one.
    pub(super) fn from_code(code: &str) -> Option<Order> {
        [
            Order::OccurredAsc,
            Order::OccurredDesc,
            Order::CommittedAsc,
            Order::CommittedDesc,
        ]
        .into_iter()
        .find(|order| order.code() == code)
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

    /// The keyset cursor a page starts after, if any.
    pub const fn cursor(&self) -> Option<&Cursor> {
        match self {
            Pagination::After {
                cursor: Some(cursor),
                ..
            } => Some(cursor),
            _ => None,
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

/// An audit log query: [`Filters`], order, pagination and count mode.
///
/// `L` is the event log, so typed filters are checked at compile time:
/// [`actor`](Self::actor) takes only actor types the log persists. A store runs
/// it after [`validate`](Self::validate), once per call.
///
/// ```
/// use events_core::audit::{AuditQuery, EntryKind, Order, Pagination};
///
/// // Contember: the last 100 events creating an article, by commit time.
/// let q = AuditQuery::<()>::new()
///     .kind(EntryKind::Create)
///     .resource("article")
///     .order(Order::CommittedDesc)
///     .offset(0)
///     .limit(100);
/// assert_eq!(q.filters.kinds, [EntryKind::Create]);
/// assert_eq!(q.pagination, Pagination::Offset { offset: 0, limit: 100 });
/// // let page = audit.query(&q).await?;
/// ```
pub struct AuditQuery<L> {
    /// What the query matches (see [`Filters`]; set through the builder
    /// methods).
    pub filters: Filters,
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
        f.debug_struct("AuditQuery")
            .field("filters", &self.filters)
            .field("order", &self.order)
            .field("pagination", &self.pagination)
            .field("count", &self.count)
            .finish()
    }
}

// By hand: derives would require `L: Clone` / `L: Default` of the log type.
impl<L> Clone for AuditQuery<L> {
    fn clone(&self) -> Self {
        AuditQuery {
            filters: self.filters.clone(),
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
            filters: Filters::default(),
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
    ///
    /// ```
    /// use events_core::audit::AuditQuery;
    /// assert!(AuditQuery::<()>::new().page(2, 10).is_unfiltered());
    /// assert!(!AuditQuery::<()>::new().hide_unchanged().is_unfiltered());
    /// ```
    pub fn is_unfiltered(&self) -> bool {
        self.filters == Filters::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
