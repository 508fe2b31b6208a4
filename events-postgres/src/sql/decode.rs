//! Reading rows: one helper per column shape (a value, a key, an event id, a
//! transaction id, JSON at any depth). A column that does not fit is
//! [`Error::MalformedRow`] naming it, never a panic.

use serde::Deserialize;
use serde_json::Value;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgRow, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, Postgres, Row, Type};

use events_core::{Error, EventId, EventLog, Key, KeyType, PrimaryKeyType};

use crate::follow::Position;

/// A column of a row: its name (`"id"`), or its position with the name errors
/// use (`(0, "id")`), for statements whose columns are known by position.
pub(crate) trait Column: Copy {
    /// What [`Row::try_get`] looks the column up by.
    type Index: ColumnIndex<PgRow>;
    /// The lookup key.
    fn index(self) -> Self::Index;
    /// The name errors give.
    fn name(self) -> &'static str;
}

impl Column for &'static str {
    type Index = &'static str;
    fn index(self) -> &'static str {
        self
    }
    fn name(self) -> &'static str {
        self
    }
}

impl Column for (usize, &'static str) {
    type Index = usize;
    fn index(self) -> usize {
        self.0
    }
    fn name(self) -> &'static str {
        self.1
    }
}

/// The error for a column that does not hold what the log wrote there.
pub(crate) fn malformed(column: &str, message: impl Into<String>) -> Error {
    Error::MalformedRow {
        column: column.to_owned(),
        message: message.into(),
    }
}

/// Reads `column` of a row as a `T`.
pub(crate) fn get<'r, T>(row: &'r PgRow, column: impl Column) -> Result<T, Error>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(column.index())
        .map_err(|e| malformed(column.name(), e.to_string()))
}

/// Reads a nullable key column holding `ty` keys.
pub(crate) fn get_opt_key(
    row: &PgRow,
    column: impl Column,
    ty: KeyType,
) -> Result<Option<Key>, Error> {
    Ok(match ty {
        KeyType::Uuid => get::<Option<uuid::Uuid>>(row, column)?.map(Key::Uuid),
        KeyType::Integer => get::<Option<i64>>(row, column)?.map(Key::Integer),
        KeyType::String => get::<Option<String>>(row, column)?.map(Key::String),
    })
}

/// Reads a non-null key column holding `ty` keys.
pub(crate) fn get_key(row: &PgRow, column: impl Column, ty: KeyType) -> Result<Key, Error> {
    get_opt_key(row, column, ty)?.ok_or_else(|| malformed(column.name(), "unexpected NULL"))
}

/// Reads an event id column of log `L`.
pub(crate) fn get_id<L: EventLog>(row: &PgRow, column: impl Column) -> Result<EventId, Error> {
    Ok(match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => EventId::Integer(get(row, column)?),
        PrimaryKeyType::UuidV7 => EventId::Uuid(get(row, column)?),
    })
}

/// Reads a transaction id column (`xid8`, selected as text: sqlx has no `xid8`).
pub(crate) fn get_txid(row: &PgRow, column: impl Column) -> Result<u64, Error> {
    parse_txid(column.name(), &get::<String>(row, column)?)
}

/// Parses a transaction id that `column` holds as text.
pub(crate) fn parse_txid(column: &str, text: &str) -> Result<u64, Error> {
    text.parse()
        .map_err(|e| malformed(column, format!("`{text}` is not a transaction id: {e}")))
}

/// Reads a position saved as text in two nullable columns (`txid`, `id`):
/// a replay checkpoint's or a consumer's. `None` when either is `NULL`.
pub(crate) fn get_saved_position<L: EventLog>(
    row: &PgRow,
    txid: impl Column,
    id: impl Column,
) -> Result<Option<Position>, Error> {
    match (
        get::<Option<String>>(row, txid)?,
        get::<Option<String>>(row, id)?,
    ) {
        (Some(t), Some(i)) => Ok(Some(Position {
            txid: parse_txid(txid.name(), &t)?,
            id: parse_id::<L>(id.name(), &i)?,
        })),
        _ => Ok(None),
    }
}

/// Parses an event id of log `L` that `column` holds as text.
pub(crate) fn parse_id<L: EventLog>(column: &str, text: &str) -> Result<EventId, Error> {
    let bad = |e: &dyn std::fmt::Display| malformed(column, format!("`{text}`: {e}"));
    match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => text.parse().map(EventId::Integer).map_err(|e| bad(&e)),
        PrimaryKeyType::UuidV7 => text.parse().map(EventId::Uuid).map_err(|e| bad(&e)),
    }
}

/// Reads JSON `column` at any depth (see [`JsonValue`]).
pub(crate) fn get_json(row: &PgRow, column: impl Column) -> Result<Value, Error> {
    get::<JsonValue>(row, column).map(|json| json.0)
}

/// Reads a nullable JSON `column` at any depth.
pub(crate) fn get_opt_json(row: &PgRow, column: impl Column) -> Result<Option<Value>, Error> {
    get::<Option<JsonValue>>(row, column).map(|json| json.map(|j| j.0))
}

/// A `jsonb` (or `json`) column's value, read without serde_json's nesting
/// limit: every reader of the store decodes JSON columns through it (`data`,
/// `metadata`, the changes), so whatever PostgreSQL holds can be read back,
/// also rows written with raw SQL deeper than
/// [`MAX_JSON_DEPTH`](events_core::audit::MAX_JSON_DEPTH).
pub(crate) struct JsonValue(pub(crate) Value);

impl Type<Postgres> for JsonValue {
    fn type_info() -> PgTypeInfo {
        <Json<Value> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <Json<Value> as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for JsonValue {
    /// As sqlx decodes `Json<T>`: in the binary format, `jsonb` is a version
    /// byte (1) and the JSON text; `json` and the text format are the text alone.
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let jsonb = value.format() == PgValueFormat::Binary
            && *sqlx::ValueRef::type_info(&value) == <Json<Value> as Type<Postgres>>::type_info();
        let mut text = value.as_bytes()?;
        if jsonb {
            text = match text.split_first() {
                Some((1, rest)) => rest,
                Some((version, _)) => {
                    return Err(
                        format!("unsupported jsonb format version {version} (expected 1)").into(),
                    );
                }
                None => return Err("empty jsonb value (expected a version byte)".into()),
            };
        }
        parse_json(text).map(JsonValue).map_err(Into::into)
    }
}

/// Parses JSON text at any depth: serde_json's 128-level limit is off, and the
/// stack grows on the heap (`serde_stacker`) as deep values need it. Floats are
/// parsed exactly (serde_json's `float_roundtrip`): PostgreSQL prints a stored
/// `1.7976931348623157e308` as its 309 digits, which the default, faster parser
/// rounds past the largest `f64`.
pub(crate) fn parse_json(text: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(text);
    de.disable_recursion_limit();
    let value = Value::deserialize(serde_stacker::Deserializer::new(&mut de))?;
    de.end()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_past_serde_json_limit_on_a_small_stack() {
        let run = || {
            let depth = 20_000;
            let text = format!("{}1{}", "[{\"a\":".repeat(depth), "}]".repeat(depth));
            let value = parse_json(text.as_bytes()).map_err(|e| e.to_string());
            let found = value
                .as_ref()
                .map(events_core::json::depth)
                .map_err(Clone::clone);
            events_core::json::with_stack(2 * depth, move || drop(value));
            found
        };
        let thread = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(run)
            .expect("spawning a thread");
        assert_eq!(thread.join().ok(), Some(Ok(40_000)));
        assert!(parse_json(b"[1] x").is_err());
    }

    #[test]
    fn ids_and_txids_parse_or_name_the_column() {
        assert_eq!(
            parse_txid("txid", "18446744073709551615").ok(),
            Some(u64::MAX)
        );
        let Err(Error::MalformedRow { column, .. }) = parse_txid("last_txid", "x") else {
            panic!("a malformed txid must be MalformedRow");
        };
        assert_eq!(column, "last_txid");
    }
}
