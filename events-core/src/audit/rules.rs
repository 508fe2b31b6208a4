//! The rules an audit query must meet, one function each with a one-line
//! comment stating it, run in a fixed order by [`AuditQuery::check`](super::AuditQuery::check)
//! and [`AuditQuery::validate`](super::AuditQuery::validate) (`valid.rs`); the first
//! failure is the query's error.

use super::check::{self, MAX_KEY_LEN, MAX_LIST_LEN, MAX_NAME_LEN, MAX_PAGE_SIZE, filter};
use super::{
    ActionMatch, ActorKey, ActorMatch, CountMode, Cursor, Filters, Order, Pagination, TimeRange,
};
use crate::{Error, EventId, EventLog, Key, PrimaryKeyType};

// ---- rules without the log's types ---------------------------------------------

/// A list filter holds at most [`MAX_LIST_LEN`] values.
pub(super) fn lists_are_short(f: &Filters) -> Result<(), Error> {
    for (field, len) in [
        ("resources", f.resources.len()),
        ("rows", f.rows.len()),
        ("record_ids", f.record_ids.len()),
        ("action", f.actions.len()),
        ("actors", f.actors.len()),
        ("targets", f.targets.len()),
        ("transactions", f.transactions.len()),
    ] {
        if len > MAX_LIST_LEN {
            return Err(filter(
                field,
                format!("{len} values; at most {MAX_LIST_LEN} are accepted"),
            ));
        }
    }
    Ok(())
}

/// Names (resources, actions, search, target kind, request id, mode, module,
/// actor columns) are at most [`MAX_NAME_LEN`] bytes, without NUL characters.
pub(super) fn names_fit(f: &Filters) -> Result<(), Error> {
    let resources = f.resources.iter().map(|r| ("resources", r));
    let rows = f.rows.iter().map(|(r, _)| ("rows", r));
    let actions = f.actions.iter().map(|a| {
        let (ActionMatch::Exact(s) | ActionMatch::Prefix(s)) = a;
        ("action", s)
    });
    let single = [
        ("search", &f.search),
        ("target_kind", &f.target_kind),
        ("request_id", &f.request_id),
        ("mode", &f.mode),
        ("module", &f.module),
    ]
    .into_iter()
    .filter_map(|(field, value)| value.as_ref().map(|v| (field, v)));
    for (field, name) in resources.chain(rows).chain(actions).chain(single) {
        check::filter_text(field, name, MAX_NAME_LEN)?;
    }
    Ok(())
}

/// String keys are at most [`MAX_KEY_LEN`] bytes, without NUL characters; so
/// are actor column names at most [`MAX_NAME_LEN`].
pub(super) fn keys_fit(f: &Filters) -> Result<(), Error> {
    let keys = f
        .rows
        .iter()
        .map(|(_, k)| ("rows", k))
        .chain(f.record_ids.iter().map(|k| ("record_ids", k)))
        .chain(f.actors.iter().map(|a| ("actors", &a.key)))
        .chain(f.targets.iter().map(|k| ("targets", k)))
        .chain(f.for_user.iter().map(|k| ("for_user", k)))
        .chain(f.tenant.iter().map(|k| ("tenant", k)));
    for (field, key) in keys {
        if let Key::String(s) = key {
            check::filter_text(field, s, MAX_KEY_LEN)?;
        }
    }
    for column in f.actors.iter().filter_map(|a| a.column.as_ref()) {
        check::filter_text("actors", column, MAX_NAME_LEN)?;
    }
    Ok(())
}

/// Transaction ids fit PostgreSQL's `xid8` (an `i64`).
pub(super) fn transactions_fit(f: &Filters) -> Result<(), Error> {
    match f
        .transactions
        .iter()
        .find(|id| i64::try_from(**id).is_err())
    {
        Some(id) => Err(filter(
            "transactions",
            format!("{id} is beyond any transaction id"),
        )),
        None => Ok(()),
    }
}

/// Times (the two ranges and the cursor's) are from [`EARLIEST_TIME`](super::EARLIEST_TIME) on.
pub(super) fn times_fit(f: &Filters, cursor: Option<&Cursor>) -> Result<(), Error> {
    let range = |from: &'static str, to: &'static str, r: &TimeRange| [(from, r.from), (to, r.to)];
    let times = range("since", "until", &f.occurred)
        .into_iter()
        .chain(range("committed_since", "committed_until", &f.committed))
        .chain([("cursor", cursor.map(|c| c.at))]);
    for (field, at) in times {
        if let Some(problem) = at.and_then(check::time_problem) {
            return Err(filter(field, problem));
        }
    }
    Ok(())
}

/// The metadata filter is a JSON object (matched with `@>`) that could be
/// stored ([`check::json_problem`]).
pub(super) fn metadata_is_an_object(f: &Filters) -> Result<(), Error> {
    let Some(metadata) = &f.metadata else {
        return Ok(());
    };
    if !metadata.is_object() {
        return Err(filter(
            "metadata",
            "must be a JSON object, matched with @> (contains)",
        ));
    }
    match check::json_problem(metadata) {
        Some(problem) => Err(filter("metadata", problem)),
        None => Ok(()),
    }
}

/// A page holds 1 to [`MAX_PAGE_SIZE`] entries.
pub(super) fn page_size_fits(pagination: &Pagination) -> Result<(), Error> {
    let size = pagination.size();
    if size == 0 || size > MAX_PAGE_SIZE {
        let field = match pagination {
            Pagination::Page { .. } => "per_page",
            _ => "limit",
        };
        return Err(filter(
            field,
            format!("{size} is outside 1..={MAX_PAGE_SIZE}"),
        ));
    }
    Ok(())
}

/// Pages count from 1, and the entries skipped before a page fit an `i64`.
pub(super) fn position_fits(pagination: &Pagination) -> Result<(), Error> {
    match pagination {
        Pagination::Page { page: 0, .. } => Err(filter("page", "pages are numbered from 1")),
        Pagination::Page { page, per_page }
            if page
                .checked_sub(1)
                .and_then(|p| p.checked_mul(*per_page))
                .and_then(|o| i64::try_from(o).ok())
                .is_none() =>
        {
            Err(filter("page", format!("page {page} is beyond any log")))
        }
        Pagination::Offset { offset, .. } if i64::try_from(*offset).is_err() => {
            Err(filter("offset", format!("{offset} is beyond any log")))
        }
        _ => Ok(()),
    }
}

/// A cursor continues the order it was taken in.
pub(super) fn cursor_order_matches(cursor: &Cursor, order: Order) -> Result<(), Error> {
    if cursor.order == order {
        return Ok(());
    }
    Err(filter(
        "cursor",
        format!(
            "the cursor belongs to order {:?}, this query is ordered {order:?}",
            cursor.order
        ),
    ))
}

/// A capped count has a cap of at least 1.
pub(super) fn count_cap_is_positive(count: Option<CountMode>) -> Result<(), Error> {
    match count {
        Some(CountMode::Capped(0)) => {
            Err(filter("count", "a capped count needs a cap of at least 1"))
        }
        _ => Ok(()),
    }
}

// ---- rules with the log's types ------------------------------------------------

/// Orders and filters by commit time need a log that records it
/// ([`EventLog::TRACK_COMMIT_TIME`]): elsewhere they would match nothing.
pub(super) fn commit_time_tracked<L: EventLog>(f: &Filters, order: Order) -> Result<(), Error> {
    if L::TRACK_COMMIT_TIME {
        return Ok(());
    }
    let used = if order.by_commit() {
        "an order by commit time"
    } else if f.committed.from.is_some() {
        "committed_since"
    } else if f.committed.to.is_some() {
        "committed_until"
    } else {
        return Ok(());
    };
    Err(Error::Audit(crate::AuditError::CommitTimeNotTracked {
        table: L::TABLE,
        used,
    }))
}

/// A cursor's id is of the log's primary key type (checked on counts too,
/// which ignore the cursor: the query is wrong either way).
pub(super) fn cursor_id_fits<L: EventLog>(cursor: &Cursor) -> Result<(), Error> {
    match (L::PRIMARY_KEY_TYPE, cursor.id) {
        (PrimaryKeyType::Integer, EventId::Integer(_))
        | (PrimaryKeyType::UuidV7, EventId::Uuid(_)) => Ok(()),
        (expected, other) => Err(filter(
            "cursor",
            format!(
                "`{other}` is not an id of this log, whose primary_key_type is {}",
                expected.as_str()
            ),
        )),
    }
}

/// Record keys (`rows`, `record_ids`) fit the log's record id type; strings
/// are parsed to it ([`coerce_key`](super::coerce_key)).
pub(super) fn record_keys_fit<L: EventLog>(f: &mut Filters) -> Result<(), Error> {
    for (_, key) in &mut f.rows {
        *key = check::coerce_key("rows", L::RECORD_ID_TYPE, key)?;
    }
    for key in &mut f.record_ids {
        *key = check::coerce_key("record_ids", L::RECORD_ID_TYPE, key)?;
    }
    Ok(())
}

/// An actor filter names an actor column of the log and its key fits it; one
/// without a column fits at least one actor column, and matches in each.
pub(super) fn actors_resolve<L: EventLog>(actors: &[ActorMatch]) -> Result<Vec<ActorKey>, Error> {
    let mut resolved = Vec::new();
    for m in actors {
        let Some(name) = &m.column else {
            let fitting = user_columns::<L>(&m.key);
            if fitting.is_empty() {
                return Err(filter(
                    "actors",
                    format!(
                        "`{}` fits no actor column of this log ({})",
                        shorten(&m.key.to_string()),
                        describe_actor_columns::<L>()
                    ),
                ));
            }
            resolved.extend(fitting);
            continue;
        };
        let Some(column) = L::ACTOR_COLUMNS.iter().position(|c| c.name == name) else {
            return Err(filter(
                "actors",
                format!(
                    "`{}` is not an actor column of this log ({})",
                    shorten(name),
                    describe_actor_columns::<L>()
                ),
            ));
        };
        let ty = L::ACTOR_COLUMNS[column].attribute_type;
        let key = check::coerce_key("actors", ty, &m.key)?;
        resolved.push(ActorKey { column, key });
    }
    Ok(resolved)
}

/// `key` in every actor column it fits (none is no error: the key may still
/// match as a target).
pub(super) fn user_columns<L: EventLog>(key: &Key) -> Vec<ActorKey> {
    L::ACTOR_COLUMNS
        .iter()
        .enumerate()
        .filter_map(|(column, c)| {
            let key = check::coerce_key("actors", c.attribute_type, key).ok()?;
            Some(ActorKey { column, key })
        })
        .collect()
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
