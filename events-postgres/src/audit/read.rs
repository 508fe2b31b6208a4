//! Reading: a page of a query with its count ([`AuditLog::query`]), its entries
//! alone ([`AuditLog::list`]), every match ([`AuditLog::list_all`]), counts in
//! each [`CountMode`] ([`AuditLog::count`]) and single entries
//! ([`AuditLog::find`], [`AuditLog::get`]). Each call validates its query once
//! ([`AuditQuery::validate`]) and builds every statement it runs from the
//! [`ValidQuery`].

use events_core::audit::{AuditEntry, AuditPage, AuditQuery, Count, CountMode, Cursor, ValidQuery};
use events_core::{Error, EventId, EventLog};
use serde_json::Value;

use super::decode::decode_entry;
use super::select::CountPlan;
use super::{ALL_BATCH, AuditLog};
use crate::sql::get;

impl<L: EventLog> AuditLog<L> {
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
        let query = self.checked(query)?;
        let mode = query.effective_count_mode();
        let (entries, total) =
            try_join(self.entries(&query), self.count_with(&query, mode)).await?;
        let (entries, next_cursor) = entries;
        Ok(AuditPage {
            entries,
            page: query.page_number(),
            per_page: query.limit(),
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
        Ok(self.entries(&self.checked(query)?).await?.0)
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
        let mut query = self.checked(&query.after(None).limit(ALL_BATCH))?;
        let mut all = Vec::new();
        loop {
            let (entries, next) = self.entries(&query).await?;
            all.extend(entries);
            match next {
                Some(cursor) => query.continue_after(cursor)?,
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
        let query = self.checked(query)?;
        let mode = match query.count() {
            None | Some(CountMode::None) => CountMode::Exact,
            Some(mode) => mode,
        };
        self.count_with(&query, mode).await?.ok_or_else(|| {
            Error::Audit(events_core::AuditError::InvalidFilter {
                field: "count".into(),
                message: "no count mode".into(),
            })
        })
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
            .sql()
            .entry::<L>(id, &self.scope)?
            .query()
            .fetch_optional(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx(format!("reading audit entry {id}"), e))?;
        let Some(row) = row else { return Ok(None) };
        let mut entry = [decode_entry::<L>(&row)?];
        self.store.reveal_entries(&mut entry).await?;
        let [entry] = entry;
        Ok(Some(entry))
    }

    /// One entry by id, or [`AuditError::EntryNotFound`](events_core::AuditError::EntryNotFound) (PhoenixKit's `get_entry!`,
    /// the audit log's `get_log!`).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// let entry = audit.get(42_i64).await?;
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, id: impl Into<EventId>) -> Result<AuditEntry, Error> {
        let id = id.into();
        self.find(id)
            .await?
            .ok_or(Error::Audit(events_core::AuditError::EntryNotFound { id }))
    }

    /// `query` validated, and allowed by this handle's scope: the scope's own
    /// values are sendable and no filter reads a metadata key it hides.
    pub(super) fn checked(&self, query: &AuditQuery<L>) -> Result<ValidQuery<L>, Error> {
        self.scope.check()?;
        self.scope.check_filters(&query.filters)?;
        query.validate()
    }

    /// The page's entries and the cursor after it (when more follow).
    async fn entries(
        &self,
        query: &ValidQuery<L>,
    ) -> Result<(Vec<AuditEntry>, Option<Cursor>), Error> {
        let s = self.sql().entries(query, &self.scope)?;
        let rows = s
            .query()
            .fetch_all(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("reading audit entries", e))?;
        let size = usize::try_from(query.limit()).unwrap_or(usize::MAX);
        let mut entries = rows
            .iter()
            .map(decode_entry::<L>)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if entries.len() > size {
            entries.truncate(size);
            self.store.reveal_entries(&mut entries).await?;
            entries.last().and_then(|e| e.cursor(query.order()))
        } else {
            self.store.reveal_entries(&mut entries).await?;
            None
        };
        Ok((entries, next))
    }

    /// The count of `query` in `mode`; `None` for [`CountMode::None`].
    async fn count_with(
        &self,
        query: &ValidQuery<L>,
        mode: CountMode,
    ) -> Result<Option<Count>, Error> {
        if mode == CountMode::None {
            return Ok(None);
        }
        if mode == CountMode::Estimated && query.is_unfiltered() && !self.scope.constrains_rows() {
            let tuples: Option<f64> = sqlx::query_scalar(
                "SELECT reltuples::float8 FROM pg_class WHERE oid = to_regclass($1)",
            )
            .bind(&self.sql().regclass)
            .fetch_optional(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("reading the event table's size estimate", e))?
            .flatten();
            // -1 until the table was first analyzed: fall through to the planner.
            if let Some(tuples) = tuples.filter(|t| *t >= 0.0) {
                return Ok(Some(Count::Estimated(estimate(tuples))));
            }
        }
        let (s, plan) = self.sql().count(query, mode, &self.scope)?;
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

/// A row estimate as a count.
fn estimate(rows: f64) -> u64 {
    if rows.is_finite() && rows > 0.0 {
        // Saturating float-to-int conversion.
        rows.round() as u64
    } else {
        0
    }
}
