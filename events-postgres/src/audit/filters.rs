//! One SQL function per filter family: each appends the `AND ...` conditions
//! of its filters of a [`ValidQuery`] and binds their values. The text depends
//! on which filters are set, never on their values; the values are already
//! checked and in their columns' shapes. Adding a filter adds one function here
//! and its call in [`AuditSql::filters`] (see
//! [`Filters`] for the other places).

use events_core::audit::{ActionMatch, ActorKey, Filters, ValidQuery, target_text};
use events_core::{Error, EventLog};

use super::sql::{ACTION, AuditSql, Sql, arg_key, bind_keys, prefix_upper_bound};

impl AuditSql {
    /// The `AND ...` conditions of every filter set on `q`, family by family,
    /// always in this order (so one set of filters gives one text).
    pub(crate) fn filters<L: EventLog>(&self, s: &mut Sql, q: &ValidQuery<L>) -> Result<(), Error> {
        let f = q.filters();
        resources(s, f)?;
        self.records::<L>(s, f)?;
        actions(s, f)?;
        kinds(s, f)?;
        self.actors(s, q.actors())?;
        targets(s, f)?;
        self.for_user(s, f, q.for_user_actors())?;
        tenant(s, f)?;
        transactions(s, f)?;
        times(s, f)?;
        metadata(s, f)?;
        self.hide_unchanged(s, f);
        Ok(())
    }

    /// `rows` (resource and record id pairs) and `record_ids` (any resource).
    fn records<L: EventLog>(&self, s: &mut Sql, f: &Filters) -> Result<(), Error> {
        if !f.rows.is_empty() {
            s.push(" AND (");
            s.list(" OR ", &f.rows, |s, (resource, key)| {
                s.push("(e.resource = ").bind("rows", resource.clone())?;
                let key = arg_key(s, "rows", key)?;
                s.push(" AND e.record_id = ").push(&key).push(")");
                Ok(())
            })?;
            s.push(")");
        }
        if !f.record_ids.is_empty() {
            // Any resource: the (resource, record_id, id) index, entered once per
            // distinct resource (found by a skip scan), serves it.
            s.push(&format!(
                " AND e.resource = ANY(ARRAY({})) AND e.record_id = ANY(",
                self.resources_subquery
            ));
            bind_keys(s, "record_ids", L::RECORD_ID_TYPE, f.record_ids.clone())?;
            s.push(")");
        }
        Ok(())
    }

    /// The resolved actor filters: any column and key pair.
    fn actors(&self, s: &mut Sql, actors: &[ActorKey]) -> Result<(), Error> {
        if actors.is_empty() {
            return Ok(());
        }
        let conditions = self.actor_conditions(s, "actors", actors)?;
        s.push(&format!(" AND ({})", conditions.join(" OR ")));
        Ok(())
    }

    /// `for_user`: the user as actor in any column its key fits, or as target.
    fn for_user(&self, s: &mut Sql, f: &Filters, actors: &[ActorKey]) -> Result<(), Error> {
        let Some(user) = &f.for_user else {
            return Ok(());
        };
        let mut conditions = self.actor_conditions(s, "for_user", actors)?;
        let target = s.arg("for_user", target_text(user))?;
        conditions.push(format!("(e.metadata ->> 'target_id') = {target}"));
        s.push(&format!(" AND ({})", conditions.join(" OR ")));
        Ok(())
    }

    /// `e.<column> = $n` for each pair, binding the keys.
    fn actor_conditions(
        &self,
        s: &mut Sql,
        field: &str,
        actors: &[ActorKey],
    ) -> Result<Vec<String>, Error> {
        actors
            .iter()
            .map(|a| {
                let placeholder = arg_key(s, field, &a.key)?;
                Ok(format!(
                    "e.{} = {placeholder}",
                    self.actor_columns[a.column]
                ))
            })
            .collect()
    }

    /// `hide_unchanged`: no changes row marking the entry unchanged.
    fn hide_unchanged(&self, s: &mut Sql, f: &Filters) {
        if f.hide_unchanged {
            s.push(&format!(
                " AND NOT EXISTS (SELECT 1 FROM {} ch WHERE ch.event_id = e.id AND ch.unchanged)",
                self.changes
            ));
        }
    }
}

/// `resources`: any of the names.
fn resources(s: &mut Sql, f: &Filters) -> Result<(), Error> {
    if !f.resources.is_empty() {
        s.push(" AND e.resource = ANY(");
        s.bind("resources", f.resources.clone())?;
        s.push(")");
    }
    Ok(())
}

/// `actions` (exact or prefix, any of them) and `search` (a prefix).
fn actions(s: &mut Sql, f: &Filters) -> Result<(), Error> {
    if !f.actions.is_empty() {
        s.push(" AND (");
        s.list(" OR ", &f.actions, |s, m| match m {
            ActionMatch::Exact(name) => {
                s.push(ACTION).push(" = ").bind("action", name.clone())?;
                Ok(())
            }
            ActionMatch::Prefix(prefix) => action_prefix(s, "action", prefix),
        })?;
        s.push(")");
    }
    if let Some(term) = &f.search {
        s.push(" AND ");
        action_prefix(s, "search", term)?;
    }
    Ok(())
}

/// `action` starting with `prefix`: a byte range, which the action index
/// serves in any plan (a `LIKE` pattern would need escaping, and a constant).
pub(super) fn action_prefix(s: &mut Sql, field: &str, prefix: &str) -> Result<(), Error> {
    s.push(&format!("({ACTION} >= "));
    s.bind(field, prefix.to_owned())?;
    if let Some(upper) = prefix_upper_bound(prefix) {
        s.push(&format!(" AND {ACTION} < "));
        s.bind(field, upper)?;
    }
    s.push(")");
    Ok(())
}

/// `kinds`: any of the entry kinds.
fn kinds(s: &mut Sql, f: &Filters) -> Result<(), Error> {
    if !f.kinds.is_empty() {
        let kinds: Vec<String> = f.kinds.iter().map(|k| k.as_str().to_owned()).collect();
        s.push(" AND e.action_type = ANY(");
        s.bind("kinds", kinds)?;
        s.push(")");
    }
    Ok(())
}

/// `targets` (any of the ids) and `target_kind`.
fn targets(s: &mut Sql, f: &Filters) -> Result<(), Error> {
    if !f.targets.is_empty() {
        let ids: Vec<String> = f.targets.iter().map(target_text).collect();
        // `IS NOT NULL` lets the partial target index serve `= ANY($n)`, which
        // the planner cannot prove non-null by itself.
        s.push(
            " AND (e.metadata ->> 'target_id') IS NOT NULL AND (e.metadata ->> 'target_id') = ANY(",
        );
        s.bind("targets", ids)?;
        s.push(")");
    }
    if let Some(kind) = &f.target_kind {
        s.push(" AND e.metadata @> ");
        s.bind("target_kind", serde_json::json!({ "target_type": kind }))?;
    }
    Ok(())
}

/// `tenant`, compared as text.
fn tenant(s: &mut Sql, f: &Filters) -> Result<(), Error> {
    if let Some(tenant) = &f.tenant {
        s.push(" AND e.tenant = ");
        s.bind("tenant", tenant.to_string())?;
    }
    Ok(())
}

/// `transactions`: any of the ids, sent as text and cast to `xid8`.
fn transactions(s: &mut Sql, f: &Filters) -> Result<(), Error> {
    if !f.transactions.is_empty() {
        let ids: Vec<String> = f.transactions.iter().map(u64::to_string).collect();
        s.push(" AND e.txid = ANY(");
        s.bind("transactions", ids)?;
        s.push("::text[]::xid8[])");
    }
    Ok(())
}

/// The `occurred_at` and commit time ranges (the commit times are joined as
/// `c` whenever the latter is set).
fn times(s: &mut Sql, f: &Filters) -> Result<(), Error> {
    for (column, field, from, bound) in [
        ("e.occurred_at", "since", true, f.occurred.from),
        ("e.occurred_at", "until", false, f.occurred.to),
        ("c.committed_at", "committed_since", true, f.committed.from),
        ("c.committed_at", "committed_until", false, f.committed.to),
    ] {
        if let Some(at) = bound {
            s.push(&format!(" AND {column} {} ", if from { ">=" } else { "<" }));
            s.bind(field, at)?;
        }
    }
    Ok(())
}

/// `metadata` (contains, `@>`) and the indexed metadata keys `request_id`,
/// `mode`, `module`.
fn metadata(s: &mut Sql, f: &Filters) -> Result<(), Error> {
    if let Some(metadata) = &f.metadata {
        s.push(" AND e.metadata @> ");
        s.bind("metadata", metadata.clone())?;
    }
    for (key, value) in [
        ("request_id", &f.request_id),
        ("mode", &f.mode),
        ("module", &f.module),
    ] {
        if let Some(value) = value {
            s.push(&format!(" AND (e.metadata ->> '{key}') = "));
            s.bind(key, value.clone())?;
        }
    }
    Ok(())
}
