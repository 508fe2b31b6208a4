//! Facets and typeahead: distinct values of the filterable columns
//! ([`AuditLog::facets`], the `distinct_*` methods) and action names starting
//! with a term ([`AuditLog::search_actions`]), each a skip scan over the index
//! leading with the column: one index descent per value returned.

use events_core::audit::{AuditQuery, EntryActor, EntryKind, Facets};
use events_core::{Error, EventLog, Key};
use sqlx::postgres::PgRow;

use super::scope::ScanBounds;
use super::sql::{self, Sql};
use super::{AuditLog, FACET_LIMIT};
use crate::sql::get;

/// The distinct values a facet lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Facet {
    /// Action names (PhoenixKit's `list_action_types`).
    Actions,
    /// Entry kinds.
    Kinds,
    /// Resource names (PhoenixKit's `list_resource_types`).
    Resources,
    /// Modes (PhoenixKit's `list_modes`).
    Modes,
    /// Modules (PhoenixKit's `list_modules`).
    Modules,
    /// Keys of one actor column (its index in [`EventLog::ACTOR_COLUMNS`]).
    Actor(usize),
}

impl<L: EventLog> AuditLog<L> {
    /// Typeahead over action names (HawkEx's `search`, with its `:limit`
    /// option): up to `limit` (1 to 1,000; HawkEx's default is
    /// [`SEARCH_LIMIT`](super::SEARCH_LIMIT), 5) distinct names starting with `term`, bytewise
    /// ascending. Served by a skip scan of the action index: one index descent
    /// per name returned, whatever the log's size.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// use events_postgres::audit::SEARCH_LIMIT;
    /// let names = audit.search_actions("proj", SEARCH_LIMIT).await?; // ["project.created", "project.deleted", ..]
    /// let more = audit.search_actions("user.", 20).await?;
    /// # Ok(()) }
    /// ```
    pub async fn search_actions(&self, term: &str, limit: u64) -> Result<Vec<String>, Error> {
        let s = self.search_sql(term, limit)?;
        let rows = s
            .query()
            .fetch_all(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("searching action names", e))?;
        rows.iter().map(|r| get::<String>(r, "v")).collect()
    }

    /// The typeahead statement: `term` checked as a `search` filter, `limit` as a
    /// page size.
    pub(super) fn search_sql(&self, term: &str, limit: u64) -> Result<Sql, Error> {
        AuditQuery::<L>::new().search(term).check()?;
        let limit = page_size("limit", limit)?;
        if self.scope.constrains_rows() {
            self.scope.check()?;
            let mut s = Sql::default();
            let bounds = ScanBounds {
                lower: Some(s.arg("search", term.to_owned())?),
                upper: sql::prefix_upper_bound(term)
                    .map(|upper| s.arg("search", upper))
                    .transpose()?,
                limit: Some(s.arg("limit", limit)?),
            };
            self.sql()
                .scoped_skip_scan(&mut s, sql::ACTION, &bounds, &self.scope)?;
            return Ok(s);
        }
        let mut s = match sql::prefix_upper_bound(term) {
            Some(upper) => {
                let mut s = Sql::new(self.sql().search_bounded.as_ref());
                s.arg("search", term.to_owned())?;
                s.arg("search", upper)?;
                s
            }
            None => {
                let mut s = Sql::new(self.sql().search_open.as_ref());
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

    /// The listing statement of `facet`, `limit` checked as a page size.
    pub(super) fn facet_sql(&self, facet: Facet, limit: u64) -> Result<Sql, Error> {
        let hidden_key = match facet {
            Facet::Modes => Some("mode"),
            Facet::Modules => Some("module"),
            _ => None,
        };
        if hidden_key.is_some_and(|k| self.scope.hides_metadata_key(k)) {
            // The scope hides the key: no values to list.
            return Ok(Sql::new("SELECT NULL::text AS v WHERE FALSE"));
        }
        if self.scope.constrains_rows() {
            self.scope.check()?;
            let expr = self
                .sql()
                .facet_expr(facet)
                .ok_or_else(|| unknown_facet::<L>(facet))?;
            let mut s = Sql::default();
            let bounds = ScanBounds {
                lower: None,
                upper: None,
                limit: Some(s.arg("limit", page_size("limit", limit)?)?),
            };
            self.sql()
                .scoped_skip_scan(&mut s, &expr, &bounds, &self.scope)?;
            return Ok(s);
        }
        let Some(text) = self.sql().facet(facet) else {
            return Err(unknown_facet::<L>(facet));
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
}

/// The error for an actor column index out of range.
fn unknown_facet<L: EventLog>(facet: Facet) -> Error {
    Error::Audit(events_core::AuditError::InvalidFilter {
        field: "facet".into(),
        message: format!(
            "{facet:?}: the log has {} actor columns",
            L::ACTOR_COLUMNS.len()
        ),
    })
}

/// `n` as a page size of 1 to [`MAX_PAGE_SIZE`](events_core::audit::MAX_PAGE_SIZE),
/// or [`AuditError::InvalidFilter`](events_core::AuditError::InvalidFilter) naming `field`.
fn page_size(field: &str, n: u64) -> Result<i64, Error> {
    if n == 0 || n > events_core::audit::MAX_PAGE_SIZE {
        return Err(Error::Audit(events_core::AuditError::InvalidFilter {
            field: field.to_owned(),
            message: format!("{n} is outside 1..={}", events_core::audit::MAX_PAGE_SIZE),
        }));
    }
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}
