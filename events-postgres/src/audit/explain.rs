//! Plans: [`AuditLog::explain`] shows the plan PostgreSQL picks for one of the
//! audit statements ([`Explain`]), with its values bound.

use events_core::audit::{AuditQuery, CountMode};
use events_core::{Error, EventId, EventLog};
use sqlx::Row;

use super::facets::Facet;
use super::{AuditLog, FACET_LIMIT, SEARCH_LIMIT};

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
            Explain::Query(q) => self.sql().entries(&self.checked(q)?, &self.scope)?,
            // An estimate is itself an EXPLAIN: show the plan it reads the rows from.
            Explain::Count(q, CountMode::Estimated) => {
                self.sql().count_body("", &self.checked(q)?, &self.scope)?
            }
            Explain::Count(q, mode) => self.sql().count(&self.checked(q)?, mode, &self.scope)?.0,
            Explain::SearchActions(term) => self.search_sql(term, SEARCH_LIMIT)?,
            Explain::Facet(facet) => self.facet_sql(facet, FACET_LIMIT)?,
            Explain::Get(id) => self.sql().entry::<L>(id, &self.scope)?,
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
}
