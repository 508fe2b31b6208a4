//! A viewer's [`Scope`] in SQL: its constraints as `AND` conditions of every
//! read statement (entries, single entries, counts, facets, typeahead,
//! followers), and its hidden fields removed by the select list itself, so a
//! hidden value is never sent by the server, let alone decoded.
//!
//! Conditions and removals are bound parameters like every filter; the
//! statement text depends only on how many constraints and paths the scope has.

use events_core::Error;
use events_core::audit::{ActionMatch, FieldPath, Scope};

use super::filters::action_prefix;
use super::sql::{ACTION, AuditSql, Sql, skip_scan_where};

impl AuditSql {
    /// The `AND ...` conditions of `scope`'s constraints on rows aliased `e`:
    /// each constraint a list the row's value must be in (an empty list
    /// matches nothing).
    pub(crate) fn scope_conditions(&self, s: &mut Sql, scope: &Scope) -> Result<(), Error> {
        for resources in scope.resource_constraints() {
            s.push(" AND e.resource = ANY(")
                .bind("scope.resources", resources.clone())?
                .push(")");
        }
        for tenants in scope.tenant_constraints() {
            s.push(" AND e.tenant = ANY(")
                .bind("scope.tenants", tenants.clone())?
                .push(")");
        }
        for actions in scope.action_constraints() {
            if actions.is_empty() {
                s.push(" AND FALSE");
                continue;
            }
            s.push(" AND (");
            s.list(" OR ", actions, |s, m| match m {
                ActionMatch::Exact(name) => {
                    s.push(ACTION)
                        .push(" = ")
                        .bind("scope.actions", name.clone())?;
                    Ok(())
                }
                ActionMatch::Prefix(prefix) => action_prefix(s, "scope.actions", prefix),
            })?;
            s.push(")");
        }
        Ok(())
    }

    /// The select list of an entry read (alias `p` for the event, `ch` for its
    /// changes), `committed` as its commit time, with `scope`'s hidden fields
    /// removed from data, metadata and the three change values.
    pub(crate) fn entry_select(
        &self,
        s: &mut Sql,
        scope: &Scope,
        committed: &str,
    ) -> Result<(), Error> {
        let hidden = scope.hidden();
        let mut columns = Vec::with_capacity(self.outer_list.len() + 5);
        for column in &self.outer_list {
            let expr = match column.as_str() {
                "p.data" => without(s, "p.data", &hidden.data)?.map(|e| format!("{e} AS data")),
                "p.metadata" => {
                    without(s, "p.metadata", &hidden.metadata)?.map(|e| format!("{e} AS metadata"))
                }
                _ => None,
            };
            columns.push(expr.unwrap_or_else(|| column.clone()));
        }
        columns.push(format!("{committed} AS committed_at"));
        for name in ["old_values", "new_values", "diff_values"] {
            let column = format!("ch.{name}");
            columns.push(match without(s, &column, &hidden.changes)? {
                Some(expr) => format!("{expr} AS {name}"),
                None => column,
            });
        }
        columns.push("ch.unchanged".to_owned());
        s.push("SELECT ").push(&columns.join(", "));
        Ok(())
    }
}

/// `expr` with every path in `paths` removed, or `None` when there are none.
///
/// A path is removed only where it leads through objects: `#-` fails on an
/// array or scalar on the way. So the removals apply only to an object, and
/// each path is replaced by the empty path (a no-op on an object) unless its
/// parent in the stored value is an object. `expr` appears once per path:
/// the text grows linearly with the paths.
fn without(s: &mut Sql, expr: &str, paths: &[FieldPath]) -> Result<Option<String>, Error> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut chain = expr.to_owned();
    for path in paths {
        let segments = path.segments().to_vec();
        let parent = segments[..segments.len().saturating_sub(1)].to_vec();
        let parent = s.arg("scope.hidden", parent)?;
        let path = s.arg("scope.hidden", segments)?;
        chain = format!(
            "{chain} #- (CASE WHEN jsonb_typeof({expr} #> {parent}::text[]) = 'object' \
             THEN {path}::text[] ELSE '{{}}'::text[] END)"
        );
    }
    Ok(Some(format!(
        "(CASE WHEN jsonb_typeof({expr}) = 'object' THEN {chain} ELSE {expr} END)"
    )))
}

/// The bounds of a scoped skip scan, as placeholders already bound.
pub(crate) struct ScanBounds {
    /// Inclusive lower bound.
    pub(crate) lower: Option<String>,
    /// Exclusive upper bound.
    pub(crate) upper: Option<String>,
    /// Most values returned.
    pub(crate) limit: Option<String>,
}

impl AuditSql {
    /// [`skip_scan`](super::sql::skip_scan) over `expr` with `scope`'s
    /// constraints in both of its steps: the distinct values among the rows the
    /// scope allows. Each step walks the index past rows the scope excludes, so
    /// a narrow scope over a large log costs more than the unscoped listing.
    pub(crate) fn scoped_skip_scan(
        &self,
        s: &mut Sql,
        expr: &str,
        bounds: &ScanBounds,
        scope: &Scope,
    ) -> Result<(), Error> {
        // The conditions are bound once; both steps repeat their placeholders.
        let start = s.text_len();
        self.scope_conditions(s, scope)?;
        let conditions = s.take_text_from(start);
        s.push(&skip_scan_where(
            &self.table,
            expr,
            bounds.lower.as_deref(),
            bounds.upper.as_deref(),
            bounds.limit.as_deref(),
            &conditions,
        ));
        Ok(())
    }
}
