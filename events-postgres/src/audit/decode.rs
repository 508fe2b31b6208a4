//! Reading audit rows back into [`AuditEntry`]. A row that does not fit is
//! [`Error::MalformedRow`] naming the column, never a panic.

use std::str::FromStr;

use events_core::audit::{AuditEntry, Changes, EntryActor, EntryKind, Fields, Target};
use events_core::{Error, EventLog};
use serde_json::Value;
use sqlx::postgres::PgRow;

use crate::sql::{get, get_id, get_json, get_opt_json, get_opt_key, get_txid};

/// A metadata key's value as text: strings as they are, numbers and booleans
/// printed; absent, null and structured values are `None`.
fn metadata_text(metadata: &Value, key: &str) -> Option<String> {
    match metadata.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads a changes column: a JSON object or `NULL`.
fn fields(row: &PgRow, column: &'static str) -> Result<Option<Fields>, Error> {
    match get_opt_json(row, column)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => {
            let depth = events_core::json::depth(&other);
            events_core::json::with_stack(depth, move || drop(other));
            Err(Error::MalformedRow {
                column: column.to_owned(),
                message: "not a JSON object".into(),
            })
        }
    }
}

/// Maps one row of an entries query (see `AuditSql::entries`) into an entry.
pub(crate) fn decode_entry<L: EventLog>(row: &PgRow) -> Result<AuditEntry, Error> {
    let action_type: String = get(row, "action_type")?;
    let kind = EntryKind::from_str(&action_type).map_err(|_| Error::MalformedRow {
        column: "action_type".into(),
        message: format!("`{action_type}` is not one of create, update, destroy, manual"),
    })?;
    let version: i32 = get(row, "version")?;
    let mut actor = None;
    for column in L::ACTOR_COLUMNS {
        if let Some(key) = get_opt_key(row, column.name, column.attribute_type)? {
            actor = Some(EntryActor {
                column: column.name.to_owned(),
                actor_type: column.destination.to_owned(),
                key,
            });
            break;
        }
    }
    let metadata = get_json(row, "metadata")?;
    let target = metadata_text(&metadata, "target_id").map(|id| Target {
        kind: metadata_text(&metadata, "target_type"),
        id,
    });
    let unchanged: Option<bool> = get(row, "unchanged")?;
    let changes = match unchanged {
        None => None,
        Some(unchanged) => Some(Changes {
            old_values: fields(row, "old_values")?,
            new_values: fields(row, "new_values")?,
            diff_values: fields(row, "diff_values")?,
            unchanged,
        }),
    };
    Ok(AuditEntry {
        id: get_id::<L>(row, "id")?,
        kind,
        resource: get(row, "resource")?,
        record_id: get_opt_key(row, "record_id", L::RECORD_ID_TYPE)?,
        action: get(row, "action")?,
        actor,
        target,
        data: get_json(row, "data")?,
        version: u32::try_from(version).map_err(|_| Error::MalformedRow {
            column: "version".into(),
            message: format!("negative version {version}"),
        })?,
        tenant: get(row, "tenant")?,
        ip_address: metadata_text(&metadata, "ip_address"),
        user_agent: metadata_text(&metadata, "user_agent"),
        request_id: metadata_text(&metadata, "request_id"),
        mode: metadata_text(&metadata, "mode"),
        module: metadata_text(&metadata, "module"),
        metadata,
        occurred_at: get(row, "occurred_at")?,
        committed_at: get(row, "committed_at")?,
        transaction_id: get_txid(row, "txid")?,
        changes,
    })
}
