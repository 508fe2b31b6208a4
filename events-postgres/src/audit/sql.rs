//! The audit log's SQL: fixed texts built once per [`AuditLog`](super::AuditLog)
//! from the event log's configuration, and the query builder that turns an
//! [`AuditQuery`] into one statement.
//!
//! Every value a caller gives is a bound parameter. The builder only concatenates
//! fixed fragments (and identifiers from the event log's compile-time
//! configuration, quoted), so the statement text depends on which filters are set,
//! never on their values; sqlx prepares each shape once per connection.

use std::sync::Arc;

use events_core::audit::{
    ActionMatch, AuditQuery, Cursor, Order, Pagination, coerce_key, target_text,
};
use events_core::{Error, EventId, EventLog, Key, KeyType, PrimaryKeyType};
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, AssertSqlSafe, Encode, Postgres, Type};

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

/// Binds a key already in the shape of a column holding `ty` keys.
fn bind_key(s: &mut Sql, field: &str, ty: KeyType, key: Key) -> Result<(), Error> {
    match (ty, key) {
        (KeyType::Uuid, Key::Uuid(u)) => s.bind(field, u)?,
        (KeyType::Integer, Key::Integer(i)) => s.bind(field, i)?,
        (KeyType::String, Key::String(v)) => s.bind(field, v)?,
        (ty, key) => {
            return Err(Error::InvalidFilter {
                field: field.to_owned(),
                message: format!(
                    "`{}` does not fit a column of {ty} keys",
                    shorten(&key.to_string())
                ),
            });
        }
    };
    Ok(())
}

/// Binds keys (already in shape `ty`) as one array.
fn bind_keys(s: &mut Sql, field: &str, ty: KeyType, keys: Vec<Key>) -> Result<(), Error> {
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
fn skip_scan(
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
const ACTION: &str = r#"(e.action COLLATE "C")"#;

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
    inner_columns: String,
    /// Outer select list (alias `p`), before `committed_at` and the changes.
    outer_columns: String,
    /// Quoted actor columns, in config order.
    actor_columns: Vec<String>,
    /// Insert of a manual entry (and its changes), see [`AuditSql::new`].
    pub(crate) manual_insert: Arc<str>,
    /// Typeahead with an upper bound: `$1` prefix, `$2` upper bound, `$3` limit.
    pub(crate) search_bounded: Arc<str>,
    /// Typeahead without one: `$1` prefix, `$2` limit.
    pub(crate) search_open: Arc<str>,
    /// Distinct actions, kinds, resources, modes, modules: `$1` limit.
    facets: [Arc<str>; 5],
    /// Distinct keys per actor column: `$1` limit.
    actor_facets: Vec<Arc<str>>,
    /// The distinct resources, as a subquery without parameters.
    resources_subquery: String,
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

    /// Entries of `query`: filters, keyset cursor, order, limit and offset, then
    /// the commit time and changes of just the rows returned. Fetches one row
    /// more than the page size, to know whether another page follows.
    pub(crate) fn entries<L: EventLog>(&self, q: &AuditQuery<L>) -> Result<Sql, Error> {
        commit_time_tracked(q)?;
        let by_commit = q.order.by_commit();
        let join_commits = by_commit || !q.committed.is_open();
        let dir = if q.order.descending() { "DESC" } else { "ASC" };
        let (inner_sort, outer_sort) = if by_commit {
            ("c.committed_at", "p.committed_at")
        } else {
            ("e.occurred_at", "p.occurred_at")
        };
        let committed = if join_commits {
            "p.committed_at"
        } else {
            "c.committed_at"
        };
        let mut s = Sql::new(format!(
            "SELECT {}, {committed} AS committed_at, ch.old_values, ch.new_values, \
             ch.diff_values, ch.unchanged FROM (SELECT {}{} FROM {} e",
            self.outer_columns,
            self.inner_columns,
            if join_commits { ", c.committed_at" } else { "" },
            self.table,
        ));
        if join_commits {
            s.push(&format!(" JOIN {} c ON c.txid = e.txid", self.commits));
        }
        s.push(" WHERE TRUE");
        self.filters(&mut s, q)?;
        let (limit, offset) = match &q.pagination {
            Pagination::Page { page, per_page } => {
                (*per_page, page.saturating_sub(1).saturating_mul(*per_page))
            }
            Pagination::Offset { offset, limit } => (*limit, *offset),
            Pagination::After { cursor, limit } => {
                if let Some(cursor) = cursor {
                    self.keyset::<L>(&mut s, q.order, cursor)?;
                }
                (*limit, 0)
            }
        };
        s.push(&format!(" ORDER BY {inner_sort} {dir}, e.id {dir} LIMIT "));
        s.bind("limit", to_i64("limit", limit.saturating_add(1))?)?;
        if offset > 0 {
            s.push(" OFFSET ");
            s.bind("offset", to_i64("offset", offset)?)?;
        }
        s.push(") p");
        if !join_commits {
            s.push(&format!(" LEFT JOIN {} c ON c.txid = p.txid", self.commits));
        }
        s.push(&format!(
            " LEFT JOIN {} ch ON ch.event_id = p.id ORDER BY {outer_sort} {dir}, p.id {dir}",
            self.changes
        ));
        Ok(s)
    }

    /// One entry by id.
    pub(crate) fn entry<L: EventLog>(&self, id: EventId) -> Result<Sql, Error> {
        let mut s = Sql::new(format!(
            "SELECT {}, c.committed_at AS committed_at, ch.old_values, ch.new_values, \
             ch.diff_values, ch.unchanged FROM (SELECT {} FROM {} e WHERE e.id = ",
            self.outer_columns, self.inner_columns, self.table,
        ));
        let id = bind_id::<L>(&mut s, "id", id)?;
        s.push(&id);
        s.push(&format!(
            ") p LEFT JOIN {} c ON c.txid = p.txid LEFT JOIN {} ch ON ch.event_id = p.id",
            self.commits, self.changes
        ));
        Ok(s)
    }

    /// `prefix`, then `SELECT 1 FROM .. WHERE ..` over `query`'s filters (no
    /// cursor, no order): the body of every count.
    pub(crate) fn count_body<L: EventLog>(
        &self,
        prefix: &str,
        q: &AuditQuery<L>,
    ) -> Result<Sql, Error> {
        let mut s = Sql::new(format!("{prefix}SELECT 1 FROM {} e", self.table));
        if !q.committed.is_open() {
            s.push(&format!(" JOIN {} c ON c.txid = e.txid", self.commits));
        }
        s.push(" WHERE TRUE");
        self.filters(&mut s, q)?;
        Ok(s)
    }

    /// The keyset condition: strictly after `cursor` in `order`.
    fn keyset<L: EventLog>(&self, s: &mut Sql, order: Order, cursor: &Cursor) -> Result<(), Error> {
        if cursor.order != order {
            return Err(Error::InvalidFilter {
                field: "cursor".into(),
                message: format!(
                    "the cursor belongs to order {:?}, this query is ordered {order:?}",
                    cursor.order
                ),
            });
        }
        let at = s.arg("cursor", cursor.at)?;
        let id = bind_id::<L>(s, "cursor", cursor.id)?;
        let (column, op, bound) = match order {
            Order::OccurredAsc => ("e.occurred_at", ">", ">="),
            Order::OccurredDesc => ("e.occurred_at", "<", "<="),
            Order::CommittedAsc => ("c.committed_at", ">", ">="),
            Order::CommittedDesc => ("c.committed_at", "<", "<="),
        };
        // The plain bound lets the index range start at the cursor; the row
        // comparison makes the position exact.
        s.push(&format!(
            " AND {column} {bound} {at} AND ({column}, e.id) {op} ({at}, {id})"
        ));
        Ok(())
    }

    /// The `AND ...` conditions of every filter set on `q`.
    fn filters<L: EventLog>(&self, s: &mut Sql, q: &AuditQuery<L>) -> Result<(), Error> {
        q.check()?;
        commit_time_tracked(q)?;
        if let Pagination::After {
            cursor: Some(cursor),
            ..
        } = &q.pagination
        {
            // Checked on counts too, which ignore the cursor: the query is wrong either way.
            bind_id::<L>(&mut Sql::new(""), "cursor", cursor.id)?;
        }
        if !q.resources.is_empty() {
            s.push(" AND e.resource = ANY(");
            s.bind("resources", q.resources.clone())?;
            s.push(")");
        }
        if !q.rows.is_empty() {
            s.push(" AND (");
            for (i, (resource, key)) in q.rows.iter().enumerate() {
                if i > 0 {
                    s.push(" OR ");
                }
                s.push("(e.resource = ");
                s.bind("rows", resource.clone())?;
                s.push(" AND e.record_id = ");
                let key = coerce_key("rows", L::RECORD_ID_TYPE, key)?;
                bind_key(s, "rows", L::RECORD_ID_TYPE, key)?;
                s.push(")");
            }
            s.push(")");
        }
        if !q.record_ids.is_empty() {
            let keys = q
                .record_ids
                .iter()
                .map(|k| coerce_key("record_ids", L::RECORD_ID_TYPE, k))
                .collect::<Result<Vec<_>, _>>()?;
            // Any resource: the (resource, record_id, id) index, entered once per
            // distinct resource (found by a skip scan), serves it.
            s.push(&format!(
                " AND e.resource = ANY(ARRAY({})) AND e.record_id = ANY(",
                self.resources_subquery
            ));
            bind_keys(s, "record_ids", L::RECORD_ID_TYPE, keys)?;
            s.push(")");
        }
        if !q.actions.is_empty() {
            s.push(" AND (");
            for (i, m) in q.actions.iter().enumerate() {
                if i > 0 {
                    s.push(" OR ");
                }
                match m {
                    ActionMatch::Exact(name) => {
                        s.push(&format!("{ACTION} = "));
                        s.bind("action", name.clone())?;
                    }
                    ActionMatch::Prefix(prefix) => self.prefix(s, "action", prefix)?,
                }
            }
            s.push(")");
        }
        if let Some(term) = &q.search {
            s.push(" AND ");
            self.prefix(s, "search", term)?;
        }
        if !q.kinds.is_empty() {
            let kinds: Vec<String> = q.kinds.iter().map(|k| k.as_str().to_owned()).collect();
            s.push(" AND e.action_type = ANY(");
            s.bind("kinds", kinds)?;
            s.push(")");
        }
        if !q.actors.is_empty() {
            let mut conditions = Vec::new();
            for m in &q.actors {
                let columns: Vec<(usize, &events_core::ActorColumn)> = match &m.column {
                    Some(name) => {
                        let Some(found) = L::ACTOR_COLUMNS
                            .iter()
                            .enumerate()
                            .find(|(_, c)| c.name == name)
                        else {
                            return Err(unknown_actor_column::<L>(name));
                        };
                        vec![found]
                    }
                    None => L::ACTOR_COLUMNS.iter().enumerate().collect(),
                };
                let mut fitted = 0;
                for (i, column) in columns {
                    match coerce_key("actors", column.attribute_type, &m.key) {
                        Ok(key) => {
                            let placeholder = match key {
                                Key::Uuid(u) => s.arg("actors", u)?,
                                Key::Integer(n) => s.arg("actors", n)?,
                                Key::String(v) => s.arg("actors", v)?,
                            };
                            conditions.push(format!("e.{} = {placeholder}", self.actor_columns[i]));
                            fitted += 1;
                        }
                        Err(e) if m.column.is_some() => return Err(e),
                        Err(_) => {}
                    }
                }
                if fitted == 0 {
                    return Err(Error::InvalidFilter {
                        field: "actors".into(),
                        message: format!(
                            "`{}` fits no actor column of this log ({})",
                            shorten(&m.key.to_string()),
                            describe_actor_columns::<L>()
                        ),
                    });
                }
            }
            s.push(&format!(" AND ({})", conditions.join(" OR ")));
        }
        if !q.targets.is_empty() {
            let ids: Vec<String> = q.targets.iter().map(target_text).collect();
            // `IS NOT NULL` lets the partial target index serve `= ANY($n)`, which
            // the planner cannot prove non-null by itself.
            s.push(" AND (e.metadata ->> 'target_id') IS NOT NULL AND (e.metadata ->> 'target_id') = ANY(");
            s.bind("targets", ids)?;
            s.push(")");
        }
        if let Some(kind) = &q.target_kind {
            s.push(" AND e.metadata @> ");
            s.bind("target_kind", serde_json::json!({ "target_type": kind }))?;
        }
        if let Some(user) = &q.for_user {
            let mut conditions = Vec::new();
            for (i, column) in L::ACTOR_COLUMNS.iter().enumerate() {
                if let Ok(key) = coerce_key("for_user", column.attribute_type, user) {
                    let placeholder = match key {
                        Key::Uuid(u) => s.arg("for_user", u)?,
                        Key::Integer(n) => s.arg("for_user", n)?,
                        Key::String(v) => s.arg("for_user", v)?,
                    };
                    conditions.push(format!("e.{} = {placeholder}", self.actor_columns[i]));
                }
            }
            let target = s.arg("for_user", target_text(user))?;
            conditions.push(format!("(e.metadata ->> 'target_id') = {target}"));
            s.push(&format!(" AND ({})", conditions.join(" OR ")));
        }
        if let Some(tenant) = &q.tenant {
            s.push(" AND e.tenant = ");
            s.bind("tenant", tenant.to_string())?;
        }
        if !q.transactions.is_empty() {
            let ids: Vec<String> = q.transactions.iter().map(u64::to_string).collect();
            s.push(" AND e.txid = ANY(");
            s.bind("transactions", ids)?;
            s.push("::text[]::xid8[])");
        }
        if let Some(from) = q.occurred.from {
            s.push(" AND e.occurred_at >= ");
            s.bind("since", from)?;
        }
        if let Some(to) = q.occurred.to {
            s.push(" AND e.occurred_at < ");
            s.bind("until", to)?;
        }
        if let Some(from) = q.committed.from {
            s.push(" AND c.committed_at >= ");
            s.bind("committed_since", from)?;
        }
        if let Some(to) = q.committed.to {
            s.push(" AND c.committed_at < ");
            s.bind("committed_until", to)?;
        }
        if let Some(metadata) = &q.metadata {
            s.push(" AND e.metadata @> ");
            s.bind("metadata", metadata.clone())?;
        }
        for (field, key, value) in [
            ("request_id", "request_id", &q.request_id),
            ("mode", "mode", &q.mode),
            ("module", "module", &q.module),
        ] {
            if let Some(value) = value {
                s.push(&format!(" AND (e.metadata ->> '{key}') = "));
                s.bind(field, value.clone())?;
            }
        }
        if q.hide_unchanged {
            s.push(&format!(
                " AND NOT EXISTS (SELECT 1 FROM {} ch WHERE ch.event_id = e.id AND ch.unchanged)",
                self.changes
            ));
        }
        Ok(())
    }

    /// `action` starting with `prefix`: a byte range, which the action index
    /// serves in any plan (a `LIKE` pattern would need escaping, and a constant).
    fn prefix(&self, s: &mut Sql, field: &str, prefix: &str) -> Result<(), Error> {
        s.push(&format!("({ACTION} >= "));
        s.bind(field, prefix.to_owned())?;
        if let Some(upper) = prefix_upper_bound(prefix) {
            s.push(&format!(" AND {ACTION} < "));
            s.bind(field, upper)?;
        }
        s.push(")");
        Ok(())
    }
}

fn to_i64(field: &str, n: u64) -> Result<i64, Error> {
    i64::try_from(n).map_err(|_| Error::InvalidFilter {
        field: field.to_owned(),
        message: format!("{n} is too large"),
    })
}

fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

fn describe_actor_columns<L: EventLog>() -> String {
    if L::ACTOR_COLUMNS.is_empty() {
        return "it has none".to_owned();
    }
    L::ACTOR_COLUMNS
        .iter()
        .map(|c| format!("{}: {}", c.name, c.attribute_type))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses a query that filters or orders by commit time on a log that does not
/// record it ([`EventLog::TRACK_COMMIT_TIME`]): it would match nothing.
fn commit_time_tracked<L: EventLog>(q: &AuditQuery<L>) -> Result<(), Error> {
    if L::TRACK_COMMIT_TIME {
        return Ok(());
    }
    let used = if q.order.by_commit() {
        "an order by commit time"
    } else if q.committed.from.is_some() {
        "committed_since"
    } else if q.committed.to.is_some() {
        "committed_until"
    } else {
        return Ok(());
    };
    Err(Error::CommitTimeNotTracked {
        table: L::TABLE,
        used,
    })
}

pub(crate) fn unknown_actor_column<L: EventLog>(name: &str) -> Error {
    Error::InvalidFilter {
        field: "actors".into(),
        message: format!(
            "`{}` is not an actor column of this log ({})",
            shorten(name),
            describe_actor_columns::<L>()
        ),
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
