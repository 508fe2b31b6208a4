//! The changes an action body recorded
//! ([`EventStore::insert_changes`](events_core::EventStore::insert_changes)):
//! one row per event in the log's changes side table, one statement per call.

use std::sync::Arc;

use events_core::audit::{Changes, changes_table};
use events_core::{Error, EventId, EventLog, PrimaryKeyType};
use serde_json::Value;
use sqlx::PgConnection;

use crate::schema::quote_qualified;
use crate::sql;

/// The insert of recorded changes into `L`'s changes table: event ids
/// (`$1`, `int8[]` or `uuid[]` as `L`'s primary key), old, new and diff values
/// (`jsonb[]`) and the `unchanged` flags (`bool[]`), one row per element.
pub(crate) fn insert_changes_sql<L: EventLog>() -> Arc<str> {
    let id = match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => "int8",
        PrimaryKeyType::UuidV7 => "uuid",
    };
    format!(
        "INSERT INTO {} (event_id, old_values, new_values, diff_values, unchanged) \
         SELECT * FROM unnest($1::{id}[], $2::jsonb[], $3::jsonb[], $4::jsonb[], $5::bool[])",
        quote_qualified(&changes_table(L::TABLE)),
    )
    .into()
}

/// Runs `text` ([`insert_changes_sql`]) for `changes[i]` of `event_ids[i]`, on
/// `conn`; a database error names `resource.action`.
pub(crate) async fn insert_changes<L: EventLog>(
    conn: &mut PgConnection,
    text: &Arc<str>,
    (resource, action): (&str, &str),
    event_ids: &[EventId],
    changes: Vec<Changes>,
) -> Result<(), Error> {
    let q = sql::query(text);
    // An id of the other shape binds NULL, which the primary key refuses.
    let q = match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => q.bind(ids(event_ids, |id| match id {
            EventId::Integer(i) => Some(*i),
            EventId::Uuid(_) => None,
        })),
        PrimaryKeyType::UuidV7 => q.bind(ids(event_ids, |id| match id {
            EventId::Uuid(u) => Some(*u),
            EventId::Integer(_) => None,
        })),
    };
    let mut old = Vec::with_capacity(changes.len());
    let mut new = Vec::with_capacity(changes.len());
    let mut diff = Vec::with_capacity(changes.len());
    let mut unchanged = Vec::with_capacity(changes.len());
    for c in changes {
        old.push(c.old_values.map(Value::Object));
        new.push(c.new_values.map(Value::Object));
        diff.push(c.diff_values.map(Value::Object));
        unchanged.push(c.unchanged);
    }
    q.bind(old)
        .bind(new)
        .bind(diff)
        .bind(unchanged)
        .execute(conn)
        .await
        .map_err(|e| {
            let context = match event_ids {
                [event] => format!("recording the changes of {resource}.{action} (event {event})"),
                _ => format!(
                    "recording the changes of {} events of {resource}.{action}",
                    event_ids.len()
                ),
            };
            Error::from_sqlx(context, e)
        })?;
    Ok(())
}

/// The event ids as one array of `T`, through `pick`.
fn ids<T>(event_ids: &[EventId], pick: fn(&EventId) -> Option<T>) -> Vec<Option<T>> {
    event_ids.iter().map(pick).collect()
}
