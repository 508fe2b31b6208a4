//! The audit log's part of the SQL toolkit: bind helpers over the store's
//! statement builder ([`Sql`], from `crate::sql`) that report refused values as
//! audit filter errors, the prefix and skip-scan fragments, and the fixed texts
//! built once per store, with its [`Statements`](crate::sql::Statements), from
//! the event log's configuration ([`AuditSql`]). The statements of a query are
//! put together in `select.rs` and `filters.rs`.
//!
//! Every value a caller gives is a bound parameter. The builder only concatenates
//! fixed fragments (and identifiers from the event log's compile-time
//! configuration, quoted), so the statement text depends on which filters are set,
//! never on their values; sqlx prepares each shape once per connection.

use std::sync::Arc;

use events_core::{Error, EventId, EventLog, Key, KeyType};

use super::facets::Facet;
use crate::sql::bind;
use crate::sql::columns::{Column, manual_values};
use crate::sql::names::{Names, quote_ident};

pub(crate) use crate::sql::Sql;

/// Binds a key (already in its column's shape) and returns its placeholder.
pub(crate) fn arg_key(s: &mut Sql, field: &str, key: &Key) -> Result<String, Error> {
    s.arg(
        field,
        bind::key(field, key.key_type(), key).map_err(|e| filter_error(field, e))?,
    )
}

/// Binds keys (already in shape `ty`) as one array.
pub(crate) fn bind_keys(
    s: &mut Sql,
    field: &str,
    ty: KeyType,
    keys: Vec<Key>,
) -> Result<(), Error> {
    let keys = bind::keys(field, ty, keys.iter().map(Some)).map_err(|e| filter_error(field, e))?;
    s.bind(field, keys)?;
    Ok(())
}

/// Binds an event id of this log's primary key type.
pub(crate) fn bind_id<L: EventLog>(s: &mut Sql, field: &str, id: EventId) -> Result<String, Error> {
    s.arg(
        field,
        bind::event_id::<L>(field, id).map_err(|e| filter_error(field, e))?,
    )
}

/// A value the toolkit refused, as the audit filter `field` it came from.
fn filter_error(field: &str, error: Error) -> Error {
    match error {
        Error::InvalidValue { message, .. } => {
            Error::Audit(events_core::AuditError::InvalidFilter {
                field: field.to_owned(),
                message,
            })
        }
        other => other,
    }
}

/// The smallest string greater than every string starting with `prefix`, in
/// byte (code point) order; `None` when there is none (empty prefix, or only
/// `char::MAX`). `[prefix, upper)` is then exactly the strings with that prefix.
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if next == 0xD800 {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A loose index scan ("skip scan") over `expr`: its distinct non-null values in
/// order, one index descent each, with optional bounds `$lower` (inclusive) and
/// `$upper` (exclusive) and a `LIMIT $limit`.
pub(crate) fn skip_scan(
    table: &str,
    expr: &str,
    lower: Option<&str>,
    upper: Option<&str>,
    limit: Option<&str>,
) -> String {
    skip_scan_where(table, expr, lower, upper, limit, "")
}

/// [`skip_scan`] over the rows meeting `conditions` (`AND ...` fragments on
/// rows aliased `e`), which both of its steps apply.
pub(crate) fn skip_scan_where(
    table: &str,
    expr: &str,
    lower: Option<&str>,
    upper: Option<&str>,
    limit: Option<&str>,
    conditions: &str,
) -> String {
    let lo = lower.map_or(String::new(), |p| format!(" AND {expr} >= {p}"));
    let hi = upper.map_or(String::new(), |p| format!(" AND {expr} < {p}"));
    let limit = limit.map_or(String::new(), |p| format!(" LIMIT {p}"));
    format!(
        "WITH RECURSIVE s(v) AS (\
         (SELECT {expr} FROM {table} e WHERE {expr} IS NOT NULL{lo}{hi}{conditions} ORDER BY {expr} LIMIT 1) \
         UNION ALL \
         SELECT (SELECT {expr} FROM {table} e WHERE {expr} > s.v{hi}{conditions} ORDER BY {expr} LIMIT 1) \
         FROM s WHERE s.v IS NOT NULL) \
         SELECT v FROM s WHERE v IS NOT NULL{limit}"
    )
}

/// `e.action` compared bytewise, as the action index stores it.
pub(crate) const ACTION: &str = r#"(e.action COLLATE "C")"#;

/// The fixed texts of one event log's audit queries.
#[derive(Debug)]
pub(crate) struct AuditSql {
    /// Quoted event table.
    pub(crate) table: String,
    /// Quoted changes table.
    pub(crate) changes: String,
    /// Quoted commits table.
    pub(crate) commits: String,
    /// The event table's name as a `regclass` input (`"events"`).
    pub(crate) regclass: String,
    /// Inner select list (alias `e`).
    pub(super) inner_columns: String,
    /// Outer select list (alias `p`), before `committed_at` and the changes;
    /// [`AuditSql::entry_select`] puts the statement's head together.
    pub(super) outer_list: Vec<String>,
    /// Quoted actor columns, in config order.
    pub(super) actor_columns: Vec<String>,
    /// Insert of a manual entry (and its changes), see [`AuditSql::new`].
    pub(crate) manual_insert: Arc<str>,
    /// Typeahead with an upper bound: `$1` prefix, `$2` upper bound, `$3` limit.
    pub(crate) search_bounded: Arc<str>,
    /// Typeahead without one: `$1` prefix, `$2` limit.
    pub(crate) search_open: Arc<str>,
    /// Distinct actions, kinds, resources, modes, modules: `$1` limit.
    pub(super) facets: [Arc<str>; 5],
    /// Distinct keys per actor column: `$1` limit.
    pub(super) actor_facets: Vec<Arc<str>>,
    /// The distinct resources, as a subquery without parameters.
    pub(super) resources_subquery: String,
}

impl AuditSql {
    pub(crate) fn new<L: EventLog>(names: &Names, columns: &[Column], notify: bool) -> Self {
        let table = names.table.clone();
        let changes = names.changes.clone();
        let commits = names.commits.clone();
        let actor_columns: Vec<String> = L::ACTOR_COLUMNS
            .iter()
            .map(|c| quote_ident(c.name))
            .collect();
        let base = crate::sql::EVENT_COLUMNS;
        let mut inner: Vec<String> = base.iter().map(|c| format!("e.{c}")).collect();
        inner.push("e.txid".to_owned());
        inner.extend(actor_columns.iter().map(|c| format!("e.{c}")));
        let mut outer: Vec<String> = base.iter().map(|c| format!("p.{c}")).collect();
        outer.push("p.txid::text AS txid".to_owned());
        outer.extend(actor_columns.iter().map(|c| format!("p.{c}")));

        // Manual entry insert: the append's columns (kind and version fixed),
        // then the changes: has_changes, old_values, new_values, diff_values,
        // unchanged; then the data subjects' keys the entry holds (or stores)
        // through `<table>_use_keys` (none: empty arrays, the function is not
        // called). A key that is not the stored one inserts nothing.
        let (insert_columns, values, n) = manual_values(columns, 1);
        let [
            has,
            old,
            new,
            diff,
            unchanged,
            subjects,
            wrapped,
            master_ids,
            fresh,
        ] = [n, n + 1, n + 2, n + 3, n + 4, n + 5, n + 6, n + 7, n + 8].map(|i| format!("${i}"));
        // With notifications on, `cfg` turns them on before the row (and its
        // trigger) is inserted.
        let cfg = if notify {
            format!("cfg AS (SELECT 1 AS one{}), ", crate::sql::NOTIFY_ON)
        } else {
            String::new()
        };
        let from_cfg = if notify { ", cfg" } else { "" };
        let manual_insert = format!(
            "WITH {cfg}keys AS (SELECT CASE WHEN cardinality({subjects}::text[]) = 0 THEN true \
             ELSE {}({subjects}::text[], {wrapped}::bytea[], {master_ids}::text[], {fresh}::boolean[]) END AS held), \
             entry AS (INSERT INTO {table} ({insert_columns}) SELECT {values} FROM keys{from_cfg} \
             WHERE keys.held RETURNING id, occurred_at, txid), \
             changes AS (INSERT INTO {changes} (event_id, old_values, new_values, diff_values, unchanged) \
             SELECT id, {old}, {new}, {diff}, {unchanged} FROM entry WHERE {has}::boolean) \
             SELECT id, occurred_at, txid::text FROM entry",
            names.use_keys_fn,
        );

        let facets = [
            Facet::Actions,
            Facet::Kinds,
            Facet::Resources,
            Facet::Modes,
            Facet::Modules,
        ]
        .map(|f| {
            skip_scan(
                &table,
                &facet_expr(f, &actor_columns).unwrap_or_default(),
                None,
                None,
                Some("$1"),
            )
            .into()
        });
        let actor_facets = (0..actor_columns.len())
            .map(|i| {
                let expr = facet_expr(Facet::Actor(i), &actor_columns).unwrap_or_default();
                skip_scan(&table, &expr, None, None, Some("$1")).into()
            })
            .collect();
        AuditSql {
            search_bounded: skip_scan(&table, ACTION, Some("$1"), Some("$2"), Some("$3")).into(),
            search_open: skip_scan(&table, ACTION, Some("$1"), None, Some("$2")).into(),
            resources_subquery: skip_scan(&table, "e.resource", None, None, None),
            regclass: table.clone(),
            manual_insert: manual_insert.into(),
            facets,
            actor_facets,
            inner_columns: inner.join(", "),
            outer_list: outer,
            actor_columns,
            table,
            changes,
            commits,
        }
    }

    /// The expression `facet` lists the distinct values of; `None` for an
    /// actor column index out of range.
    pub(crate) fn facet_expr(&self, facet: Facet) -> Option<String> {
        facet_expr(facet, &self.actor_columns)
    }

    /// The distinct-values text of `facet` (`$1` limit); `None` for an actor
    /// column index out of range.
    pub(crate) fn facet(&self, facet: Facet) -> Option<&Arc<str>> {
        match facet {
            Facet::Actions => Some(&self.facets[0]),
            Facet::Kinds => Some(&self.facets[1]),
            Facet::Resources => Some(&self.facets[2]),
            Facet::Modes => Some(&self.facets[3]),
            Facet::Modules => Some(&self.facets[4]),
            Facet::Actor(i) => self.actor_facets.get(i),
        }
    }
}

/// The expression of `facet` over rows aliased `e`, given the quoted actor
/// columns; `None` for an actor column index out of range.
fn facet_expr(facet: Facet, actor_columns: &[String]) -> Option<String> {
    Some(match facet {
        Facet::Actions => ACTION.to_owned(),
        Facet::Kinds => "e.action_type".to_owned(),
        Facet::Resources => "e.resource".to_owned(),
        Facet::Modes => "(e.metadata ->> 'mode')".to_owned(),
        Facet::Modules => "(e.metadata ->> 'module')".to_owned(),
        Facet::Actor(i) => format!("e.{}", actor_columns.get(i)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_upper_bounds_are_exact_successors() {
        assert_eq!(prefix_upper_bound("post."), Some("post/".to_owned()));
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("a%"), Some("a&".to_owned()));
        assert_eq!(
            prefix_upper_bound("a\u{10FFFF}"),
            Some("b".to_owned()),
            "a maximal last character carries into the one before"
        );
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        assert_eq!(prefix_upper_bound("\u{D7FF}"), Some("\u{E000}".to_owned()));
    }
}
