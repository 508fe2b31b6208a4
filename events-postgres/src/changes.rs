//! The changes an action body recorded
//! ([`EventStore::insert_changes`](events_core::EventStore::insert_changes)):
//! one row per event in the log's changes side table, one statement per call
//! ([`Statements::insert_changes`]).

use events_core::audit::Changes;
use events_core::{Error, EventId, EventLog};
use serde_json::Value;
use sqlx::PgConnection;

use crate::sql::{self, Statements, bind};

/// Inserts `changes[i]` for `event_ids[i]`, on `conn`; a database error names
/// `resource.action`.
pub(crate) async fn insert_changes<L: EventLog>(
    conn: &mut PgConnection,
    statements: &Statements,
    (resource, action): (&str, &str),
    event_ids: &[EventId],
    changes: Vec<Changes>,
) -> Result<(), Error> {
    let ids = bind::event_ids::<L>("event_id", event_ids)?;
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
    sql::query(&statements.insert_changes)
        .bind(ids)
        .bind(old)
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
