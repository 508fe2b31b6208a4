//! The audit log's SQL toolkit: the statement builder ([`Sql`]), its bind
//! helpers, and the fixed texts built once per [`AuditLog`](super::AuditLog)
//! from the event log's configuration ([`AuditSql`]). The statements of a query
//! are put together in `select.rs` and `filters.rs`.
//!
//! Every value a caller gives is a bound parameter. The builder only concatenates
//! fixed fragments (and identifiers from the event log's compile-time
//! configuration, quoted), so the statement text depends on which filters are set,
//! never on their values; sqlx prepares each shape once per connection.

use std::sync::Arc;

use events_core::{Error, EventId, EventLog, Key, KeyType, PrimaryKeyType};
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, AssertSqlSafe, Encode, Postgres, Type};

use super::facets::Facet;
use crate::schema::{quote_ident, quote_qualified};

/// A query with its arguments bound eagerly.
pub(crate) type PgQuery = sqlx::query::Query<'static, Postgres, PgArguments>;

/// A statement under construction: its text and its arguments, numbered as they
/// are bound.
pub(crate) struct Sql {
    text: String,
    args: PgArguments,
}

impl Sql {
    pub(crate) fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: PgArguments::default(),
        }
    }

    /// Appends a fixed fragment.
    pub(crate) fn push(&mut self, fragment: &str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }

    /// Binds `value` and returns its placeholder (`$n`), without appending it.
    pub(crate) fn arg<'q, T>(&mut self, field: &str, value: T) -> Result<String, Error>
    where
        T: Encode<'q, Postgres> + Type<Postgres>,
    {
        self.args.add(value).map_err(|e| Error::InvalidFilter {
            field: field.to_owned(),
            message: format!("cannot be sent to PostgreSQL: {e}"),
        })?;
        Ok(format!("${}", self.args.len()))
    }

    /// Binds `value` and appends its placeholder.
    pub(crate) fn bind<'q, T>(&mut self, field: &str, value: T) -> Result<&mut Self, Error>
    where
        T: Encode<'q, Postgres> + Type<Postgres>,
    {
        let placeholder = self.arg(field, value)?;
        self.text.push_str(&placeholder);
        Ok(self)
    }

    /// The executable query.
    pub(crate) fn query(self) -> PgQuery {
        // Fixed fragments and quoted configuration identifiers only; see the module docs.
        sqlx::query_with(AssertSqlSafe(self.text), self.args)
    }

    /// The query prefixed with `prefix` (`EXPLAIN ...`).
    pub(crate) fn query_prefixed(self, prefix: &str) -> PgQuery {
        sqlx::query_with(AssertSqlSafe(format!("{prefix}{}", self.text)), self.args)
    }
}

/// Binds a key (already in its column's shape) and returns its placeholder.
pub(crate) fn arg_key(s: &mut Sql, field: &str, key: &Key) -> Result<String, Error> {
    match key {
        Key::Uuid(u) => s.arg(field, *u),
        Key::Integer(i) => s.arg(field, *i),
        Key::String(v) => s.arg(field, v.clone()),
    }
}

/// Binds keys (already in shape `ty`) as one array.
pub(crate) fn bind_keys(
    s: &mut Sql,
    field: &str,
    ty: KeyType,
    keys: Vec<Key>,
) -> Result<(), Error> {
    match ty {
        KeyType::Uuid => {
            let v: Vec<uuid::Uuid> = keys
                .into_iter()
                .filter_map(|k| match k {
                    Key::Uuid(u) => Some(u),
                    _ => None,
                })
                .collect();
            s.bind(field, v)?;
        }
        KeyType::Integer => {
            let v: Vec<i64> = keys
                .into_iter()
                .filter_map(|k| match k {
                    Key::Integer(i) => Some(i),
                    _ => None,
                })
                .collect();
            s.bind(field, v)?;
        }
        KeyType::String => {
            let v: Vec<String> = keys
                .into_iter()
                .filter_map(|k| match k {
                    Key::String(v) => Some(v),
                    _ => None,
                })
                .collect();
            s.bind(field, v)?;
        }
    }
    Ok(())
}

/// Binds an event id of this log's primary key type.
pub(crate) fn bind_id<L: EventLog>(s: &mut Sql, field: &str, id: EventId) -> Result<String, Error> {
    match (L::PRIMARY_KEY_TYPE, id) {
        (PrimaryKeyType::Integer, EventId::Integer(i)) => s.arg(field, i),
        (PrimaryKeyType::UuidV7, EventId::Uuid(u)) => s.arg(field, u),
        (expected, other) => Err(Error::InvalidFilter {
            field: field.to_owned(),
            message: format!(
                "`{other}` is not an id of this log, whose primary_key_type is {}",
                expected.as_str()
            ),
        }),
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
    let lo = lower.map_or(String::new(), |p| format!(" AND {expr} >= {p}"));
    let hi = upper.map_or(String::new(), |p| format!(" AND {expr} < {p}"));
    let limit = limit.map_or(String::new(), |p| format!(" LIMIT {p}"));
    format!(
        "WITH RECURSIVE s(v) AS (\
         (SELECT {expr} FROM {table} e WHERE {expr} IS NOT NULL{lo}{hi} ORDER BY {expr} LIMIT 1) \
         UNION ALL \
         SELECT (SELECT {expr} FROM {table} e WHERE {expr} > s.v{hi} ORDER BY {expr} LIMIT 1) \
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
    /// Outer select list (alias `p`), before `committed_at` and the changes.
    pub(super) outer_columns: String,
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
    pub(crate) fn new<L: EventLog>() -> Self {
        let table = quote_qualified(L::TABLE);
        let changes = quote_qualified(&events_core::audit::changes_table(L::TABLE));
        let commits = quote_qualified(&events_core::audit::commits_table(L::TABLE));
        let actor_columns: Vec<String> = L::ACTOR_COLUMNS
            .iter()
            .map(|c| quote_ident(c.name))
            .collect();
        let base = [
            "id",
            "resource",
            "record_id",
            "action",
            "action_type",
            "data",
            "metadata",
            "version",
            "tenant",
            "occurred_at",
        ];
        let mut inner: Vec<String> = base.iter().map(|c| format!("e.{c}")).collect();
        inner.push("e.txid".to_owned());
        inner.extend(actor_columns.iter().map(|c| format!("e.{c}")));
        let mut outer: Vec<String> = base.iter().map(|c| format!("p.{c}")).collect();
        outer.push("p.txid::text AS txid".to_owned());
        outer.extend(actor_columns.iter().map(|c| format!("p.{c}")));

        // Manual entry insert. Parameters, in order: [id for uuid_v7,] resource,
        // record_id, action, data, metadata, tenant, each actor column, then the
        // changes: has_changes, old_values, new_values, diff_values, unchanged.
        let mut columns: Vec<String> = Vec::new();
        let mut values: Vec<String> = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if L::PRIMARY_KEY_TYPE == PrimaryKeyType::UuidV7 {
            columns.push("id".into());
            values.push(next());
        }
        for c in ["resource", "record_id", "action"] {
            columns.push(c.into());
            values.push(next());
        }
        columns.push("action_type".into());
        values.push("'manual'".into());
        for c in ["data", "metadata"] {
            columns.push(c.into());
            values.push(next());
        }
        columns.push("version".into());
        values.push("1".into());
        columns.push("tenant".into());
        values.push(next());
        for c in &actor_columns {
            columns.push(c.clone());
            values.push(next());
        }
        columns.push("occurred_at".into());
        values.push("clock_timestamp()".into());
        let (has, old, new, diff, unchanged) = (next(), next(), next(), next(), next());
        let manual_insert = format!(
            "WITH entry AS (INSERT INTO {table} ({}) VALUES ({}) RETURNING id, occurred_at, txid), \
             changes AS (INSERT INTO {changes} (event_id, old_values, new_values, diff_values, unchanged) \
             SELECT id, {old}, {new}, {diff}, {unchanged} FROM entry WHERE {has}::boolean) \
             SELECT id, occurred_at, txid::text FROM entry",
            columns.join(", "),
            values.join(", "),
        );

        let metadata_key = |key: &str| format!("(e.metadata ->> '{key}')");
        let facets = [
            skip_scan(&table, ACTION, None, None, Some("$1")).into(),
            skip_scan(&table, "e.action_type", None, None, Some("$1")).into(),
            skip_scan(&table, "e.resource", None, None, Some("$1")).into(),
            skip_scan(&table, &metadata_key("mode"), None, None, Some("$1")).into(),
            skip_scan(&table, &metadata_key("module"), None, None, Some("$1")).into(),
        ];
        let actor_facets = actor_columns
            .iter()
            .map(|c| skip_scan(&table, &format!("e.{c}"), None, None, Some("$1")).into())
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
            outer_columns: outer.join(", "),
            actor_columns,
            table,
            changes,
            commits,
        }
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
