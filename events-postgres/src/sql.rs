//! The SQL texts a store runs, built once per store from its event log's
//! configuration, and the helpers that bind keys to them.
//!
//! Every text is fixed for a given event log: actor columns are always all bound
//! (`NULL` for the unused ones), so sqlx prepares each statement once per connection
//! and reuses it from its statement cache.

use std::sync::Arc;

use events_core::{Error, EventLog, Key, KeyType, PrimaryKeyType};
use serde::Deserialize;
use serde_json::Value;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArguments, PgRow, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Decode, Postgres, Row, Type};

use crate::schema::{
    checkpoint_table_name, horizon_table_name, migration_sql, prune_function_name, quote_ident,
    quote_qualified, replay_function_name,
};

/// A query with its arguments bound eagerly, independent of any borrow.
pub(crate) type PgQuery = sqlx::query::Query<'static, Postgres, PgArguments>;

/// Serializes concurrent `migrate()` calls on one table (`$1`: the table name). The
/// two-`int4` key space keeps it apart from the single-key locks actions default to.
pub(crate) const LOCK_MIGRATION: &str =
    "SELECT pg_advisory_xact_lock(hashtext('events_postgres.migrate'), hashtext($1))";

/// Takes the replay lock of an event log at session level (`$1`: the table name):
/// the key `<table>_begin_replay()` takes at transaction level, so chunked and
/// atomic replays exclude each other. Returns false when another session holds it.
pub(crate) const LOCK_REPLAY: &str =
    "SELECT pg_try_advisory_lock(hashtext('events_postgres.replay'), hashtext($1))";
/// Releases [`LOCK_REPLAY`].
pub(crate) const UNLOCK_REPLAY: &str =
    "SELECT pg_advisory_unlock(hashtext('events_postgres.replay'), hashtext($1))";

/// Columns every event `SELECT` returns, in this order; the actor columns follow.
pub(crate) const EVENT_COLUMNS: [&str; 10] = [
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

/// The SQL of one event log, built once when its store is created.
#[derive(Debug)]
pub(crate) struct Statements {
    /// The append, one statement and one round trip: the advisory lock in a CTE,
    /// then `INSERT ... SELECT ... FROM lock RETURNING id, occurred_at`. Parameters:
    /// (`id` for `uuid_v7`), resource, record_id, action, action_type, data,
    /// metadata, version, tenant, every actor column, then the lock key (one
    /// `int8`). The row is produced by scanning the lock, so the lock is granted
    /// before the insert and before `occurred_at = clock_timestamp()` is read.
    pub(crate) insert_single: Arc<str>,
    /// The same with a two-`int4` lock key (the last two parameters).
    pub(crate) insert_pair: Arc<str>,
    /// The insert without a lock (no lock parameter).
    pub(crate) insert_unlocked: Arc<str>,
    /// The append of many events alike but for their record ids and data, one
    /// statement: every lock (ascending, distinct), then one event per element of
    /// the `unnest`ed arrays, in array order, with one `occurred_at` read after the
    /// last lock. Parameters in [`insert_many_columns`] order (`shared` ones a
    /// value, the others an array), then the single lock keys (`int8[]`) and the
    /// two halves of the pair keys (`int4[]`, `int4[]`). Returns the ids and the
    /// shared `occurred_at`.
    pub(crate) insert_many: Arc<str>,
    /// The same with every column an array: events of different actions, actors,
    /// metadata or tenants.
    pub(crate) insert_many_rows: Arc<str>,
    /// First page of the log: `$1` limit.
    pub(crate) list_first: Arc<str>,
    /// Page after a cursor: `$1` cursor id, `$2` limit.
    pub(crate) list_after: Arc<str>,
    /// One record's events: `$1` resource, `$2` record id.
    pub(crate) for_record: Arc<str>,
    /// The schema script of [`migration_sql`].
    pub(crate) migration: Arc<str>,
    /// `SELECT <event columns>`, for queries that add columns before `FROM`.
    pub(crate) select_list: String,
    /// The quoted table name.
    pub(crate) table: String,
    /// The quoted replay checkpoint table name.
    pub(crate) checkpoint_table: String,
    /// Starts a replay: the replay lock (`false` when another replay holds it) and
    /// the table lock against appends.
    pub(crate) begin_replay: String,
    /// The latest replay horizon, if retention ever gave up replay.
    pub(crate) horizon: String,
    /// Retention: `$1` period in milliseconds, `$2` give up replay, (`$3` the
    /// entry's id for `uuid_v7`). Returns deleted, deleted action events, cutoff
    /// (`NULL` for before all time) and the `audit.pruned` entry's id.
    pub(crate) prune: Arc<str>,
}

impl Statements {
    pub(crate) fn new<L: EventLog>() -> Self {
        let table = quote_qualified(L::TABLE);
        let checkpoint_table = quote_qualified(&checkpoint_table_name(L::TABLE));
        // While a chunked replay is unfinished (its checkpoint row exists) the state
        // is half rebuilt: appends write nothing, and the store reports it. One
        // scan of a table that is empty otherwise, in the same statement.
        let no_chunked_replay = format!("NOT EXISTS (SELECT FROM {checkpoint_table})");
        let actors = L::ACTOR_COLUMNS.iter().map(|c| quote_ident(c.name));

        let mut insert_columns: Vec<String> = Vec::new();
        if L::PRIMARY_KEY_TYPE == PrimaryKeyType::UuidV7 {
            insert_columns.push("id".to_owned());
        }
        // Every column but `occurred_at`, which is the database clock at insert time.
        insert_columns.extend(EVENT_COLUMNS[1..9].iter().map(|c| (*c).to_owned()));
        insert_columns.extend(actors.clone());
        let mut values: Vec<String> = (1..=insert_columns.len())
            .map(|i| format!("${i}"))
            .collect();
        insert_columns.push("occurred_at".to_owned());
        values.push("clock_timestamp()".to_owned());
        let n = values.len();
        // The deadline (last parameter) is set first; the lock is taken by
        // scanning `lock`, which reads `cfg`.
        let insert = |lock: String, deadline: usize| -> Arc<str> {
            format!(
                "WITH {}, lock AS (SELECT {lock} FROM cfg) INSERT INTO {table} ({}) SELECT {} FROM lock \
                 WHERE {no_chunked_replay} RETURNING id, occurred_at",
                deadline_cte(deadline),
                insert_columns.join(", "),
                values.join(", "),
            )
            .into()
        };
        let insert_single = insert(format!("pg_advisory_xact_lock(${}::int8)", n), n + 1);
        let insert_pair = insert(
            format!("pg_advisory_xact_lock(${}::int4, ${}::int4)", n, n + 1),
            n + 2,
        );
        let insert_unlocked: Arc<str> = format!(
            "WITH {} INSERT INTO {table} ({}) SELECT {} FROM cfg WHERE {no_chunked_replay} \
             RETURNING id, occurred_at",
            deadline_cte(n),
            insert_columns.join(", "),
            values.join(", "),
        )
        .into();

        let insert_many = insert_many_sql::<L>(&table, &no_chunked_replay, true);
        let insert_many_rows = insert_many_sql::<L>(&table, &no_chunked_replay, false);

        let select_columns: Vec<String> = EVENT_COLUMNS
            .iter()
            .map(|c| (*c).to_owned())
            .chain(actors)
            .collect();
        let select_list = format!("SELECT {}", select_columns.join(", "));
        let select = format!("{select_list} FROM {table}");

        Statements {
            insert_single,
            insert_pair,
            insert_unlocked,
            insert_many,
            insert_many_rows,
            // Manual audit entries are not events: they have no action to replay and
            // do not fit `Event` (see `crate::audit`).
            list_first: format!("{select} WHERE action_type <> 'manual' ORDER BY id LIMIT $1")
                .into(),
            list_after: format!(
                "{select} WHERE id > $1 AND action_type <> 'manual' ORDER BY id LIMIT $2"
            )
            .into(),
            for_record: format!(
                "{select} WHERE resource = $1 AND record_id = $2 AND action_type <> 'manual' \
                 ORDER BY id"
            )
            .into(),
            migration: migration_sql::<L>().into(),
            checkpoint_table,
            begin_replay: format!(
                "SELECT {}()",
                quote_qualified(&replay_function_name(L::TABLE))
            ),
            horizon: format!(
                "SELECT pruned_before, pruned_at FROM {} ORDER BY pruned_before DESC LIMIT 1",
                quote_qualified(&horizon_table_name(L::TABLE))
            ),
            prune: format!(
                "SELECT out_deleted, out_deleted_actions, out_cutoff, out_entry FROM {}($1, $2{})",
                quote_qualified(&prune_function_name(L::TABLE)),
                if L::PRIMARY_KEY_TYPE == PrimaryKeyType::UuidV7 {
                    ", $3"
                } else {
                    ""
                },
            )
            .into(),
            select_list,
            table,
        }
    }
}

/// The columns of a many-event insert, in parameter order, with their SQL types
/// and whether the value is one for all events (`shared`) or one per event.
/// `shared` selects the uniform form, where every event of the call has the same
/// resource, action, kind, metadata, version, tenant and actor: then only the id
/// (for `uuid_v7`), the record id and the data are arrays.
pub(crate) fn insert_many_columns<L: EventLog>(shared: bool) -> Vec<(String, String, bool)> {
    let mut columns: Vec<(String, String, bool)> = Vec::new();
    if L::PRIMARY_KEY_TYPE == PrimaryKeyType::UuidV7 {
        columns.push(("id".to_owned(), "uuid".to_owned(), false));
    }
    let record = L::RECORD_ID_TYPE.sql_type();
    for (column, ty) in EVENT_COLUMNS[1..9].iter().zip([
        "text", record, "text", "text", "jsonb", "jsonb", "int4", "text",
    ]) {
        let per_event = matches!(*column, "record_id" | "data");
        columns.push(((*column).to_owned(), ty.to_owned(), shared && !per_event));
    }
    for actor in L::ACTOR_COLUMNS {
        columns.push((
            quote_ident(actor.name),
            actor.attribute_type.sql_type().to_owned(),
            shared,
        ));
    }
    columns
}

/// A CTE `cfg` (one row) that tells the database a call's deadline, parameter
/// `$n` in milliseconds (`NULL`: nothing): `statement_timeout` and
/// `idle_in_transaction_session_timeout` for the rest of the transaction, each
/// lowered to it, never raised (a shorter timeout of the session stays). Set in
/// the call's first statement, so it costs no statement of its own: it applies
/// from the next statement on, the body's.
fn deadline_cte(n: usize) -> String {
    let set = |name: &str| {
        format!(
            "pg_catalog.set_config('{name}', CASE WHEN ${n}::int8 IS NULL \
             OR (t.{name} > 0 AND t.{name} <= ${n}::int8) \
             THEN pg_catalog.current_setting('{name}') ELSE (${n}::int8)::text END, true)"
        )
    };
    let ms = |name: &str| {
        format!(
            "extract(epoch FROM pg_catalog.current_setting('{name}')::interval) * 1000 AS {name}"
        )
    };
    format!(
        "cfg AS (SELECT {} AS st, {} AS it FROM (SELECT {}, {}) AS t)",
        set("statement_timeout"),
        set("idle_in_transaction_session_timeout"),
        ms("statement_timeout"),
        ms("idle_in_transaction_session_timeout"),
    )
}

/// The text of [`Statements::insert_many`] (`shared`) or
/// [`Statements::insert_many_rows`].
fn insert_many_sql<L: EventLog>(table: &str, guard: &str, shared: bool) -> Arc<str> {
    let columns = insert_many_columns::<L>(shared);
    let mut values = Vec::new();
    let mut arrays = Vec::new();
    let mut row_columns = Vec::new();
    for (i, (_, ty, is_shared)) in columns.iter().enumerate() {
        let param = i + 1;
        if *is_shared {
            values.push(format!("${param}::{ty}"));
        } else {
            arrays.push(format!("${param}::{ty}[]"));
            row_columns.push(format!("c{i}"));
            values.push(format!("r.c{i}"));
        }
    }
    let names: Vec<&str> = columns.iter().map(|(c, _, _)| c.as_str()).collect();
    let n = columns.len();
    let (singles, pair_a, pair_b) = (n + 1, n + 2, n + 3);
    let cfg = deadline_cte(n + 4);
    // Each lock aggregate reads a sorted, distinct subquery, so the locks are
    // taken in key order; `clock_timestamp()` is read once both are done, and the
    // insert scans `lock` before writing a row.
    format!(
        "WITH {cfg}, lock AS (\
         SELECT clock_timestamp() AS at FROM cfg, \
         (SELECT count(pg_advisory_xact_lock(k)) FROM \
         (SELECT DISTINCT k FROM unnest(${singles}::int8[]) AS u(k) ORDER BY k) s) singles, \
         (SELECT count(pg_advisory_xact_lock(a, b)) FROM \
         (SELECT DISTINCT a, b FROM unnest(${pair_a}::int4[], ${pair_b}::int4[]) AS u(a, b) ORDER BY a, b) s) pairs) \
         INSERT INTO {table} ({}, occurred_at) SELECT {}, lock.at FROM lock, \
         unnest({}) WITH ORDINALITY AS r({}, ord) \
         WHERE {guard} ORDER BY r.ord RETURNING id, occurred_at",
        names.join(", "),
        values.join(", "),
        arrays.join(", "),
        row_columns.join(", "),
    )
    .into()
}

/// A query over one of the store's texts; the text is shared, not copied.
pub(crate) fn query(sql: &Arc<str>) -> PgQuery {
    // Built only from the event log's compile-time config, identifiers quoted.
    sqlx::query(AssertSqlSafe(Arc::clone(sql)))
}

/// Binds `key` as the SQL type of a `expected` column.
pub(crate) fn bind_key(
    q: PgQuery,
    column: &str,
    expected: KeyType,
    key: &Key,
) -> Result<PgQuery, Error> {
    match (expected, key) {
        (KeyType::Uuid, Key::Uuid(u)) => Ok(q.bind(*u)),
        (KeyType::Integer, Key::Integer(i)) => Ok(q.bind(*i)),
        (KeyType::String, Key::String(s)) if s.contains('\0') => Err(nul_key(column)),
        (KeyType::String, Key::String(s)) => Ok(q.bind(s.as_str())),
        _ => Err(key_mismatch(column, expected, key)),
    }
}

/// A string key with a NUL character, which a `text` column cannot hold.
pub(crate) fn nul_key(column: &str) -> Error {
    Error::InvalidValue {
        column: column.to_owned(),
        message: "the key contains a NUL character, which PostgreSQL text cannot hold; remove it"
            .to_owned(),
    }
}

/// Binds `key`, or a typed `NULL`, as the SQL type of a `expected` column.
pub(crate) fn bind_opt_key(
    q: PgQuery,
    column: &str,
    expected: KeyType,
    key: Option<&Key>,
) -> Result<PgQuery, Error> {
    match (expected, key) {
        (_, Some(key)) => bind_key(q, column, expected, key),
        (KeyType::Uuid, None) => Ok(q.bind(None::<uuid::Uuid>)),
        (KeyType::Integer, None) => Ok(q.bind(None::<i64>)),
        (KeyType::String, None) => Ok(q.bind(None::<&str>)),
    }
}

/// A key whose shape does not fit the column it is meant for.
pub(crate) fn key_mismatch(column: &str, expected: KeyType, key: &Key) -> Error {
    Error::InvalidValue {
        column: column.to_owned(),
        message: format!(
            "{} key `{key}` does not fit this column, which holds {expected} keys (SQL type {})",
            key.key_type(),
            expected.sql_type(),
        ),
    }
}

/// Reads column `index` (named `column` in errors) of a row.
pub(crate) fn get<'r, T>(row: &'r PgRow, index: usize, column: &str) -> Result<T, Error>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(index).map_err(|e| Error::MalformedRow {
        column: column.to_owned(),
        message: e.to_string(),
    })
}

/// Reads a nullable key column of shape `ty`.
pub(crate) fn get_opt_key(
    row: &PgRow,
    index: usize,
    column: &str,
    ty: KeyType,
) -> Result<Option<Key>, Error> {
    Ok(match ty {
        KeyType::Uuid => get::<Option<uuid::Uuid>>(row, index, column)?.map(Key::Uuid),
        KeyType::Integer => get::<Option<i64>>(row, index, column)?.map(Key::Integer),
        KeyType::String => get::<Option<String>>(row, index, column)?.map(Key::String),
    })
}

/// Reads a non-null key column of shape `ty`.
pub(crate) fn get_key(row: &PgRow, index: usize, column: &str, ty: KeyType) -> Result<Key, Error> {
    get_opt_key(row, index, column, ty)?.ok_or_else(|| Error::MalformedRow {
        column: column.to_owned(),
        message: "unexpected NULL".to_owned(),
    })
}

/// A `jsonb` (or `json`) column's value, read without serde_json's nesting
/// limit: every reader of the store decodes JSON columns through it (`data`,
/// `metadata`, the changes), so whatever PostgreSQL holds can be read back,
/// also rows written with raw SQL deeper than
/// [`MAX_JSON_DEPTH`](events_core::audit::MAX_JSON_DEPTH). Read it with
/// [`get`] as `JsonValue` or `Option<JsonValue>`.
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

/// Reads JSON column `index` (named `column` in errors) at any depth.
pub(crate) fn get_json(row: &PgRow, index: usize, column: &str) -> Result<Value, Error> {
    get::<JsonValue>(row, index, column).map(|json| json.0)
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
}
