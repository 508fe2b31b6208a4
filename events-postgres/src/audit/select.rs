//! The statements of a validated query: its page of entries (keyset, offset or
//! numbered), one entry by id, and its counts in each count mode. Each is a
//! fixed frame from [`AuditSql`] around the filters' conditions
//! ([`AuditSql::filters`]); nothing is checked here any more: the query is a
//! [`ValidQuery`].

use events_core::audit::{CountMode, Cursor, Order, Scope, ValidQuery};
use events_core::{Error, EventId, EventLog};

use super::sql::{AuditSql, Sql, bind_id};

/// How a count statement's result is read.
pub(crate) enum CountPlan {
    /// `count(*)` of every match.
    Exact,
    /// `count(*)` of at most the cap plus one.
    Capped(u64),
    /// The planner's row estimate (`EXPLAIN (FORMAT JSON)`).
    Estimate,
}

impl AuditSql {
    /// Entries of `query`: filters, keyset cursor, order, limit and offset, then
    /// the commit time and changes of just the rows returned. Fetches one row
    /// more than the page size, to know whether another page follows.
    pub(crate) fn entries<L: EventLog>(
        &self,
        q: &ValidQuery<L>,
        scope: &Scope,
    ) -> Result<Sql, Error> {
        let by_commit = q.order().by_commit();
        let join_commits = q.uses_commit_time();
        let dir = if q.order().descending() {
            "DESC"
        } else {
            "ASC"
        };
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
        let mut s = Sql::default();
        self.entry_select(&mut s, scope, committed)?;
        s.push(&format!(
            " FROM (SELECT {}{} FROM {} e",
            self.inner_columns,
            if join_commits { ", c.committed_at" } else { "" },
            self.table,
        ));
        if join_commits {
            s.push(&format!(" JOIN {} c ON c.txid = e.txid", self.commits));
        }
        s.push(" WHERE TRUE");
        self.filters(&mut s, q)?;
        self.scope_conditions(&mut s, scope)?;
        if let Some(cursor) = q.cursor() {
            keyset::<L>(&mut s, cursor)?;
        }
        let (limit, offset) = (q.limit(), q.offset());
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

    /// One entry by id, if `scope` allows it.
    pub(crate) fn entry<L: EventLog>(&self, id: EventId, scope: &Scope) -> Result<Sql, Error> {
        let mut s = Sql::default();
        self.entry_select(&mut s, scope, "c.committed_at")?;
        s.push(&format!(
            " FROM (SELECT {} FROM {} e WHERE e.id = ",
            self.inner_columns, self.table,
        ));
        let id = bind_id::<L>(&mut s, "id", id)?;
        s.push(&id);
        self.scope_conditions(&mut s, scope)?;
        s.push(&format!(
            ") p LEFT JOIN {} c ON c.txid = p.txid LEFT JOIN {} ch ON ch.event_id = p.id",
            self.commits, self.changes
        ));
        Ok(s)
    }

    /// Every entry that holds a value encrypted for data subject `subject` (in
    /// its data, metadata or changes), and its erasures, allowed by `scope`, in
    /// `(occurred_at, id)` order. A scan of the log: exports are rare.
    pub(crate) fn subject_entries(&self, subject: &str, scope: &Scope) -> Result<Sql, Error> {
        let mut s = Sql::default();
        self.entry_select(&mut s, scope, "c.committed_at")?;
        s.push(&format!(
            " FROM (SELECT {} FROM {} e WHERE (",
            self.inner_columns, self.table,
        ));
        let vars = s.arg("subject", serde_json::json!({ "s": subject }))?;
        let text = s.arg("subject", subject.to_owned())?;
        let has = |column: &str| {
            format!(
                "jsonb_path_exists({column}, '$.* ? (@.\"$pd\" == \"v1\" && @.s == $s)', {vars}::jsonb)"
            )
        };
        s.push(&format!(
            "{} OR {} OR EXISTS (SELECT 1 FROM {} x WHERE x.event_id = e.id AND ({} OR {} OR {})) \
             OR (e.action_type = 'manual' AND e.action = 'personal.erased' \
             AND e.metadata ->> 'target_id' = {text}::text))",
            has("e.data"),
            has("e.metadata"),
            self.changes,
            has("x.old_values"),
            has("x.new_values"),
            has("x.diff_values"),
        ));
        self.scope_conditions(&mut s, scope)?;
        s.push(&format!(
            ") p LEFT JOIN {} c ON c.txid = p.txid LEFT JOIN {} ch ON ch.event_id = p.id \
             ORDER BY p.occurred_at, p.id",
            self.commits, self.changes
        ));
        Ok(s)
    }

    /// `prefix`, then `SELECT 1 FROM .. WHERE ..` over `query`'s filters (no
    /// cursor, no order): the body of every count.
    pub(crate) fn count_body<L: EventLog>(
        &self,
        prefix: &str,
        q: &ValidQuery<L>,
        scope: &Scope,
    ) -> Result<Sql, Error> {
        let mut s = Sql::new(format!("{prefix}SELECT 1 FROM {} e", self.table));
        if !q.filters().committed.is_open() {
            s.push(&format!(" JOIN {} c ON c.txid = e.txid", self.commits));
        }
        s.push(" WHERE TRUE");
        self.filters(&mut s, q)?;
        self.scope_conditions(&mut s, scope)?;
        Ok(s)
    }

    /// The count statement of `mode`, and how its result is read.
    pub(crate) fn count<L: EventLog>(
        &self,
        q: &ValidQuery<L>,
        mode: CountMode,
        scope: &Scope,
    ) -> Result<(Sql, CountPlan), Error> {
        Ok(match mode {
            CountMode::None | CountMode::Exact => {
                let mut s = self.count_body("SELECT count(*) FROM (", q, scope)?;
                s.push(") s");
                (s, CountPlan::Exact)
            }
            CountMode::Capped(cap) => {
                let mut s = self.count_body("SELECT count(*) FROM (", q, scope)?;
                s.push(" LIMIT ");
                let limit = i64::try_from(cap.saturating_add(1)).unwrap_or(i64::MAX);
                s.bind("count", limit)?;
                s.push(") s");
                (s, CountPlan::Capped(cap))
            }
            CountMode::Estimated => (
                self.count_body("EXPLAIN (FORMAT JSON) ", q, scope)?,
                CountPlan::Estimate,
            ),
        })
    }
}

fn to_i64(field: &str, n: u64) -> Result<i64, Error> {
    i64::try_from(n).map_err(|_| {
        Error::Audit(events_core::AuditError::InvalidFilter {
            field: field.to_owned(),
            message: format!("{n} is too large"),
        })
    })
}

/// The keyset condition: strictly after `cursor` in its order.
fn keyset<L: EventLog>(s: &mut Sql, cursor: &Cursor) -> Result<(), Error> {
    let at = s.arg("cursor", cursor.at)?;
    let id = bind_id::<L>(s, "cursor", cursor.id)?;
    let (column, op, bound) = match cursor.order {
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
