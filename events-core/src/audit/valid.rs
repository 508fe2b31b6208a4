//! An audit query checked once: [`AuditQuery::check`] runs the rules that need
//! no log types, [`AuditQuery::validate`] runs them and the rules that need the
//! event log's key types, actor columns and commit-time setting, and returns a
//! [`ValidQuery`]: keys in their columns' shapes, actor filters resolved to
//! columns, the cursor typed. A store runs only `ValidQuery`s, so nothing is
//! checked or coerced again while SQL is built, however many statements (page,
//! count, further pages) one call runs.
//!
//! Each rule is a function in `rules.rs` with a one-line comment stating it.
//! They run in a fixed order and the first failure is returned, as
//! [`AuditError::InvalidFilter`](crate::AuditError::InvalidFilter) naming the filter (or
//! [`AuditError::CommitTimeNotTracked`](crate::AuditError::CommitTimeNotTracked)).

use std::fmt;
use std::marker::PhantomData;

use super::rules::{
    actors_resolve, commit_time_tracked, count_cap_is_positive, cursor_id_fits,
    cursor_order_matches, keys_fit, lists_are_short, metadata_is_an_object, names_fit,
    page_size_fits, position_fits, record_keys_fit, times_fit, transactions_fit, user_columns,
};
use super::{AuditQuery, CountMode, Cursor, Filters, Order, Pagination};
use crate::{Error, EventLog, Key};

impl<L> AuditQuery<L> {
    /// Checks what can be checked without the event log's types: lengths, NUL
    /// characters, list sizes, page bounds, the metadata filter's shape, times
    /// PostgreSQL can hold (from [`EARLIEST_TIME`](super::EARLIEST_TIME); fields
    /// `since`, `until`, `committed_since`, `committed_until`, `cursor`) and the
    /// cursor's order. [`validate`](Self::validate) runs it first.
    ///
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use events_core::{Error, audit::AuditQuery};
    /// let err = AuditQuery::<()>::new().action("x".repeat(10_000)).check().unwrap_err();
    /// assert!(matches!(err, Error::Audit(events_core::AuditError::InvalidFilter { ref field, .. }) if field == "action"));
    /// assert!(AuditQuery::<()>::new().page(0, 50).check().is_err());
    /// let err = AuditQuery::<()>::new().since(DateTime::<Utc>::MIN_UTC).check().unwrap_err();
    /// assert!(matches!(err, Error::Audit(events_core::AuditError::InvalidFilter { ref field, .. }) if field == "since"));
    /// ```
    pub fn check(&self) -> Result<(), Error> {
        let f = &self.filters;
        lists_are_short(f)?;
        names_fit(f)?;
        keys_fit(f)?;
        transactions_fit(f)?;
        times_fit(f, self.pagination.cursor())?;
        metadata_is_an_object(f)?;
        page_size_fits(&self.pagination)?;
        position_fits(&self.pagination)?;
        if let Some(cursor) = self.pagination.cursor() {
            cursor_order_matches(cursor, self.order)?;
        }
        count_cap_is_positive(self.count)
    }
}

impl<L: EventLog> AuditQuery<L> {
    /// Checks the query once for event log `L` and puts it in the shape the
    /// store runs: [`check`](Self::check), then the commit-time rule (orders
    /// and filters by commit time need
    /// [`EventLog::TRACK_COMMIT_TIME`]), the cursor's id type, the record keys
    /// coerced to the log's record id type, and the actor filters resolved to
    /// actor columns. Each failure is the error the store reports for the query.
    ///
    /// ```
    /// use events_core::{Error, event_log, audit::{AuditQuery, Order}};
    /// #[event_log(record_id_type = integer)]
    /// pub struct AppLog;
    ///
    /// let valid = AuditQuery::<AppLog>::new().record("invoice", "42").page(3, 20).validate()?;
    /// assert_eq!(valid.filters().rows[0].1, events_core::Key::Integer(42));
    /// assert_eq!((valid.limit(), valid.offset()), (20, 40));
    ///
    /// let err = AuditQuery::<AppLog>::new().record_id("not a number").validate().unwrap_err();
    /// assert!(matches!(err, Error::Audit(events_core::AuditError::InvalidFilter { ref field, .. }) if field == "record_ids"));
    /// let err = AuditQuery::<AppLog>::new().order(Order::CommittedDesc).validate().unwrap_err();
    /// assert!(matches!(err, Error::Audit(events_core::AuditError::CommitTimeNotTracked { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn validate(&self) -> Result<ValidQuery<L>, Error> {
        self.check()?;
        commit_time_tracked::<L>(&self.filters, self.order)?;
        if let Some(cursor) = self.pagination.cursor() {
            cursor_id_fits::<L>(cursor)?;
        }
        let mut filters = self.filters.clone();
        record_keys_fit::<L>(&mut filters)?;
        let actors = actors_resolve::<L>(&filters.actors)?;
        let for_user = filters
            .for_user
            .as_ref()
            .map_or_else(Vec::new, user_columns::<L>);
        Ok(ValidQuery {
            filters,
            actors,
            for_user,
            order: self.order,
            pagination: self.pagination.clone(),
            count: self.count,
            _log: PhantomData,
        })
    }
}

/// An [`AuditQuery`] that passed [`AuditQuery::validate`] for event log `L`:
/// every value fits its column, record keys are in the log's record id shape,
/// actor filters name actor columns, the cursor fits the order and the log's id
/// type, and commit time is used only where it is tracked. Built only by
/// `validate`; a store reads it and builds SQL without checking again.
pub struct ValidQuery<L> {
    filters: Filters,
    actors: Vec<ActorKey>,
    for_user: Vec<ActorKey>,
    order: Order,
    pagination: Pagination,
    count: Option<CountMode>,
    _log: PhantomData<fn() -> L>,
}

/// One actor condition of a [`ValidQuery`]: an actor column, and a key in its
/// shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorKey {
    /// The column's position in [`EventLog::ACTOR_COLUMNS`].
    pub column: usize,
    /// The key, in the column's key type.
    pub key: Key,
}

impl<L> ValidQuery<L> {
    /// The filters, checked. The keys of `rows` and `record_ids` are in the
    /// log's record id shape; `actors` and `for_user` are resolved in
    /// [`actors`](Self::actors) and [`for_user_actors`](Self::for_user_actors).
    pub fn filters(&self) -> &Filters {
        &self.filters
    }

    /// The actor filters resolved: any of these column and key pairs matches
    /// (a key without a column stands for every actor column it fits). Empty
    /// when no actor filter is set.
    pub fn actors(&self) -> &[ActorKey] {
        &self.actors
    }

    /// The actor columns the `for_user` key fits, with the key in each one's
    /// shape; an entry matches as actor through any of them, or as target.
    pub fn for_user_actors(&self) -> &[ActorKey] {
        &self.for_user
    }

    /// The order.
    pub fn order(&self) -> Order {
        self.order
    }

    /// The pagination, as given.
    pub fn pagination(&self) -> &Pagination {
        &self.pagination
    }

    /// Entries per page, 1 to [`MAX_PAGE_SIZE`](super::MAX_PAGE_SIZE).
    pub fn limit(&self) -> u64 {
        self.pagination.size()
    }

    /// Entries skipped before the page: `(page - 1) * per_page`, the offset,
    /// or 0 for keyset pages. Fits an `i64`.
    pub fn offset(&self) -> u64 {
        match &self.pagination {
            Pagination::Page { page, per_page } => page.saturating_sub(1).saturating_mul(*per_page),
            Pagination::Offset { offset, .. } => *offset,
            Pagination::After { .. } => 0,
        }
    }

    /// The keyset cursor the page starts after, if any: of the query's order
    /// and the log's id type.
    pub fn cursor(&self) -> Option<&Cursor> {
        self.pagination.cursor()
    }

    /// The page number a page of this query reports: the page, or the page the
    /// offset falls in; `None` for keyset pages.
    pub fn page_number(&self) -> Option<u64> {
        match &self.pagination {
            Pagination::Page { page, .. } => Some(*page),
            Pagination::Offset { offset, limit } => Some(offset / (*limit).max(1) + 1),
            Pagination::After { .. } => None,
        }
    }

    /// The count mode as set; `None` when left to the call.
    pub fn count(&self) -> Option<CountMode> {
        self.count
    }

    /// The count mode in effect for a page (see
    /// [`AuditQuery::effective_count_mode`]).
    pub fn effective_count_mode(&self) -> CountMode {
        match (self.count, &self.pagination) {
            (Some(mode), _) => mode,
            (None, Pagination::Page { .. }) => CountMode::Capped(super::DEFAULT_COUNT_CAP),
            (None, _) => CountMode::None,
        }
    }

    /// True when no filter is set.
    pub fn is_unfiltered(&self) -> bool {
        self.filters == Filters::default()
    }

    /// True when the query filters or orders by commit time, so the store joins
    /// the commit times before filtering.
    pub fn uses_commit_time(&self) -> bool {
        self.order.by_commit() || !self.filters.committed.is_open()
    }
}

impl<L: EventLog> ValidQuery<L> {
    /// Moves to the keyset page after `cursor`, keeping the page size (a store
    /// reading every page). The cursor is checked as [`validate`](AuditQuery::validate)
    /// checks one: its time, order and id type.
    pub fn continue_after(&mut self, cursor: Cursor) -> Result<(), Error> {
        times_fit(&Filters::default(), Some(&cursor))?;
        cursor_order_matches(&cursor, self.order)?;
        cursor_id_fits::<L>(&cursor)?;
        self.pagination = Pagination::After {
            cursor: Some(cursor),
            limit: self.pagination.size(),
        };
        Ok(())
    }
}

impl<L> fmt::Debug for ValidQuery<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidQuery")
            .field("filters", &self.filters)
            .field("actors", &self.actors)
            .field("for_user", &self.for_user)
            .field("order", &self.order)
            .field("pagination", &self.pagination)
            .field("count", &self.count)
            .finish()
    }
}

// By hand: a derive would require `L: Clone` of the log type.
impl<L> Clone for ValidQuery<L> {
    fn clone(&self) -> Self {
        ValidQuery {
            filters: self.filters.clone(),
            actors: self.actors.clone(),
            for_user: self.for_user.clone(),
            order: self.order,
            pagination: self.pagination.clone(),
            count: self.count,
            _log: PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_the_field() {
        let field = |q: AuditQuery<()>| match q.check() {
            Err(Error::Audit(crate::AuditError::InvalidFilter { field, .. })) => field,
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
