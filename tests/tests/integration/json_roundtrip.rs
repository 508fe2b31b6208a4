//! Whatever the log accepts, every reader gives back; whatever it refuses is a
//! typed error that stores nothing.
//!
//! The rule (`events_core::audit::MAX_JSON_DEPTH`, `stored_json_problem`): JSON
//! nested up to 512 levels, without NUL characters, for the data and metadata of
//! single actions, `#[bulk]` calls and `each(..)`, manual entries (which are also
//! limited to `MAX_JSON_LEN` bytes) and recorded changes.
//!
//! - A property: random JSON (deep, wide, astral characters, escapes, big
//!   numbers, empty keys) written through every write path and read back through
//!   every reader: `list_events`, `read_committed`, `events_for_record`,
//!   `audit().query`, `recent`, `list_all`, `get`, replay.
//! - A row nested 5,000 levels deep, written with raw SQL, blocks no reader.
//! - NUL characters and the depth limit itself, on every write path.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use events_core::audit::{
    AuditEntry, AuditQuery, Changes, MAX_JSON_DEPTH, MAX_JSON_LEN, ManualEntry,
};
use events_core::replay::Replay;
use events_core::{Error, Event, EventId, json};
use events_postgres::PgEventStore;
use events_tests::database_url;
use events_tests::doc::{self, Doc, DocLog};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

// ---- the rule, written out independently of the library -------------------------

/// Levels of arrays and objects, counted iteratively.
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 1)];
    while let Some((value, level)) = pending.pop() {
        let children: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            Value::Object(map) => map.values().collect(),
            _ => continue,
        };
        deepest = deepest.max(level);
        pending.extend(children.into_iter().map(|child| (child, level + 1)));
    }
    deepest
}

/// Event data and metadata the log stores (no NUL is ever generated).
fn fits(value: &Value) -> bool {
    depth(value) <= MAX_JSON_DEPTH
}

/// Manual entry data and metadata, and each side of recorded changes.
fn fits_entry(value: &Value) -> bool {
    fits(value) && serde_json::to_string(value).is_ok_and(|s| s.len() <= MAX_JSON_LEN)
}

/// JSON equality, iteratively (values may be deeper than the stack), numbers by
/// value: PostgreSQL keeps numbers as `numeric`, so `1e16` comes back as
/// `10000000000000000`, the same JSON number.
fn same(a: &Value, b: &Value) -> bool {
    same_all(vec![(a, b)])
}

/// [`same`] for objects.
fn same_fields(x: &Map<String, Value>, y: &Map<String, Value>) -> bool {
    x.len() == y.len()
        && x.iter().all(|(key, _)| y.contains_key(key))
        && same_all(x.iter().map(|(key, value)| (value, &y[key])).collect())
}

fn same_all(mut pending: Vec<(&Value, &Value)>) -> bool {
    while let Some((a, b)) = pending.pop() {
        match (a, b) {
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                pending.extend(x.iter().zip(y));
            }
            (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
                for (key, value) in x {
                    match y.get(key) {
                        Some(other) => pending.push((value, other)),
                        None => return false,
                    }
                }
            }
            (Value::Number(x), Value::Number(y)) => {
                let exact = match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                    (Some(i), Some(j), _, _) => Some(i == j),
                    (_, _, Some(i), Some(j)) => Some(i == j),
                    _ => None,
                };
                if !exact.unwrap_or_else(|| x.as_f64() == y.as_f64()) {
                    return false;
                }
            }
            (Value::Array(_) | Value::Object(_), _) => return false,
            (a, b) if a != b => return false,
            _ => {}
        }
    }
    true
}

fn same_changes(a: Option<&Changes>, b: Option<&Changes>) -> bool {
    let side = |x: &Option<Map<String, Value>>, y: &Option<Map<String, Value>>| match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => same_fields(x, y),
        _ => false,
    };
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.unchanged == b.unchanged
                && side(&a.old_values, &b.old_values)
                && side(&a.new_values, &b.new_values)
                && side(&a.diff_values, &b.diff_values)
        }
        _ => false,
    }
}

// ---- generated JSON -------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[^\\x00]{0,12}",
        1 => Just(String::new()),
        1 => Just("\"\\/\u{1}\u{1f}\u{7f}\t\n\r\u{8}\u{c}'%_".to_owned()),
        1 => Just("😀𝄞\u{10FFFF}\u{FFFF}\u{FEFF}é\u{301}\u{2028}".to_owned()),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        prop::sample::select(vec![
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1e308),
            json!(-1.7976931348623157e308),
            json!(5e-324),
            json!(1e16),
            json!(0.1),
            json!(-0.0),
        ]),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ]
}

/// Small nested values, and now and then a wide object.
fn base() -> impl Strategy<Value = Value> {
    let nested = leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let wide = prop::collection::btree_map(text(), leaf(), 100..400)
        .prop_map(|m| Value::Object(m.into_iter().collect()));
    prop_oneof![6 => nested, 1 => wide]
}

/// A base value wrapped in up to ~300 arrays and objects; now and then just past
/// the limit.
fn value() -> impl Strategy<Value = Value> {
    let levels = prop_oneof![
        8 => 0..300usize,
        1 => (MAX_JSON_DEPTH - 6)..(MAX_JSON_DEPTH + 4),
    ];
    (base(), levels)
        .prop_flat_map(|(base, levels)| {
            (
                Just(base),
                prop::collection::vec((any::<bool>(), text()), levels),
            )
        })
        .prop_map(|(base, wrappers)| {
            wrappers.into_iter().fold(base, |inner, (array, key)| {
                if array {
                    Value::Array(vec![inner])
                } else {
                    Value::Object(Map::from_iter([(key, inner)]))
                }
            })
        })
}

// ---- writing and reading --------------------------------------------------------

/// One accepted write: an event (with its record) or a manual entry.
#[derive(Debug)]
struct Row {
    record: Option<Uuid>,
    data: Value,
    metadata: Value,
    changes: Option<Changes>,
}

fn invalid_value(result: &Result<impl std::fmt::Debug, Error>) -> Option<&str> {
    match result {
        Err(Error::InvalidValue { column, .. }) => Some(column),
        _ => None,
    }
}

fn invalid_entry(result: &Result<impl std::fmt::Debug, Error>) -> Option<&str> {
    match result {
        Err(Error::Audit(events_core::AuditError::InvalidEntry { field, .. })) => Some(field),
        _ => None,
    }
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), BoxError> {
    if ok { Ok(()) } else { Err(what().into()) }
}

/// Writes `value` through every write path; returns the rows that must be
/// stored, in write order.
async fn write_all(store: &PgEventStore<DocLog>, value: &Value) -> Result<Vec<Row>, BoxError> {
    let metadata = json!({"m": value});
    let action_ok = fits(value) && fits(&metadata);
    let column = if fits(value) { "metadata" } else { "data" };
    let mut rows = Vec::new();
    let event = |record, data: &Value| Row {
        record: Some(record),
        data: data.clone(),
        metadata: metadata.clone(),
        changes: None,
    };

    // A single action.
    let single = Doc::write(value.clone())
        .metadata(metadata.clone())
        .run(store)
        .await;
    match (&single, action_ok) {
        (Ok(id), true) => rows.push(event(*id, value)),
        (_, false) => ensure(invalid_value(&single) == Some(column), || {
            format!(
                "single action: expected InvalidValue for {column}, got {:?}",
                single.as_ref().err()
            )
        })?,
        (Err(e), true) => return Err(format!("single action refused: {e}").into()),
    }

    // A bulk call: the value and a plain second input share the metadata.
    let second = json!("second");
    let bulk = Doc::write_many(vec![value.clone(), second.clone()])
        .metadata(metadata.clone())
        .run(store)
        .await;
    match (&bulk, action_ok) {
        (Ok(ids), true) if ids.len() == 2 => {
            rows.push(event(ids[0], value));
            rows.push(event(ids[1], &second));
        }
        (_, false) => ensure(invalid_value(&bulk) == Some(column), || {
            format!(
                "bulk: expected InvalidValue for {column}, got {:?}",
                bulk.as_ref().err()
            )
        })?,
        (other, true) => return Err(format!("bulk call: {:?}", other.as_ref().err()).into()),
    }

    // each(..): the value with its metadata, and a plain call without.
    let plain = json!({"plain": true});
    let each = events_core::each([
        Doc::write(value.clone()).metadata(metadata.clone()),
        Doc::write(plain.clone()),
    ])
    .run(store)
    .await;
    match (&each, action_ok) {
        (Ok(ids), true) if ids.len() == 2 => {
            rows.push(event(ids[0], value));
            rows.push(Row {
                record: Some(ids[1]),
                data: plain,
                metadata: json!({}),
                changes: None,
            });
        }
        (_, false) => ensure(invalid_value(&each) == Some(column), || {
            format!(
                "each: expected InvalidValue for {column}, got {:?}",
                each.as_ref().err()
            )
        })?,
        (other, true) => return Err(format!("each: {:?}", other.as_ref().err()).into()),
    }

    // record_updated in an action body: `{"doc": null}` to `{"doc": value}`.
    let record = Uuid::now_v7();
    let revised = Doc::revise(record, value.clone()).run(store).await;
    let side = json!({"doc": value});
    match (&revised, fits(value), fits_entry(&side)) {
        (Ok(_), true, true) => rows.push(Row {
            record: Some(record),
            data: value.clone(),
            metadata: json!({}),
            changes: Some(Changes::updated(&json!({"doc": null}), &side)?),
        }),
        (_, false, _) => ensure(invalid_value(&revised) == Some("data"), || {
            format!(
                "revise: expected InvalidValue for data, got {:?}",
                revised.as_ref().err()
            )
        })?,
        (_, true, false) => ensure(invalid_entry(&revised) == Some("changes"), || {
            format!(
                "revise: expected InvalidEntry for changes, got {:?}",
                revised.as_ref().err()
            )
        })?,
        (Err(e), true, true) => return Err(format!("revise refused: {e}").into()),
    }

    // Manual entries: track returns the error, log drops the entry.
    let entry_ok = fits_entry(value) && fits_entry(&metadata);
    let field = if fits_entry(&metadata) {
        "data"
    } else {
        "metadata"
    };
    let entry = || {
        ManualEntry::<DocLog>::new("doc.noted")
            .data(value.clone())
            .metadata(metadata.clone())
    };
    let tracked = store.audit().track(entry()).await;
    match (&tracked, entry_ok) {
        (Ok(Some(_)), true) => rows.push(Row {
            record: None,
            data: value.clone(),
            metadata: metadata.clone(),
            changes: None,
        }),
        (_, false) => ensure(invalid_entry(&tracked) == Some(field), || {
            format!(
                "track: expected InvalidEntry for {field}, got {:?}",
                tracked.as_ref().err()
            )
        })?,
        (other, true) => return Err(format!("track: {:?}", other.as_ref().err()).into()),
    }
    let logged = store.audit().log(entry()).await;
    ensure(logged.is_some() == entry_ok, || {
        format!("log stored: {}", logged.is_some())
    })?;
    if entry_ok {
        rows.push(Row {
            record: None,
            data: value.clone(),
            metadata: metadata.clone(),
            changes: None,
        });
    }
    Ok(rows)
}

fn check_event(event: &Event, row: &Row, what: &str) -> Result<(), BoxError> {
    ensure(
        Some(event.record_id.clone()) == row.record.map(Into::into)
            && same(&event.data, &row.data)
            && same(&event.metadata, &row.metadata),
        || format!("{what}: event {} differs from what was written", event.id),
    )
}

fn check_entry(entry: &AuditEntry, row: &Row, what: &str) -> Result<(), BoxError> {
    ensure(
        entry.record_id == row.record.map(Into::into)
            && same(&entry.data, &row.data)
            && same(&entry.metadata, &row.metadata)
            && same_changes(entry.changes.as_ref(), row.changes.as_ref()),
        || format!("{what}: entry {} differs from what was written", entry.id),
    )
}

/// Every event, in the commit-safe order; waits while older transactions of
/// other databases hold the snapshot's horizon back.
async fn read_committed(store: &PgEventStore<DocLog>, n: usize) -> Result<Vec<Event>, BoxError> {
    let started = Instant::now();
    loop {
        let page = store.read_committed(None, 10_000).await?;
        if page.events.len() >= n || started.elapsed() > Duration::from_secs(30) {
            return Ok(page.events);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads `rows` back through every reader.
async fn read_all(store: &PgEventStore<DocLog>, rows: &[Row]) -> Result<(), BoxError> {
    let events: Vec<&Row> = rows.iter().filter(|r| r.record.is_some()).collect();
    let check_events = |found: &[Event], what: &str| -> Result<(), BoxError> {
        ensure(found.len() == events.len(), || {
            format!("{what}: {} events, {} written", found.len(), events.len())
        })?;
        for (event, row) in found.iter().zip(&events) {
            check_event(event, row, what)?;
        }
        Ok(())
    };
    check_events(&store.list_events(None, 10_000).await?, "list_events")?;
    check_events(
        &read_committed(store, events.len()).await?,
        "read_committed",
    )?;
    for row in &events {
        let record = row.record.ok_or("an event row has a record")?;
        let history = store.events_for_record("Doc", record).await?;
        ensure(history.len() == 1, || {
            format!("events_for_record: {} events", history.len())
        })?;
        check_event(&history[0], row, "events_for_record")?;
    }

    let audit = store.audit();
    let check_entries =
        |mut found: Vec<AuditEntry>, what: &str| -> Result<Vec<AuditEntry>, BoxError> {
            // Newest first; written in order, one at a time.
            found.reverse();
            ensure(found.len() == rows.len(), || {
                format!("{what}: {} entries, {} written", found.len(), rows.len())
            })?;
            for (entry, row) in found.iter().zip(rows) {
                check_entry(entry, row, what)?;
            }
            Ok(found)
        };
    let all = check_entries(audit.list_all(AuditQuery::new()).await?, "list_all")?;
    let page = audit
        .query(&AuditQuery::new().after(None).limit(1000))
        .await?;
    check_entries(page.entries, "query")?;
    let numbered = audit.query(&AuditQuery::new().page(1, 1000)).await?;
    check_entries(numbered.entries, "query by page")?;
    check_entries(audit.recent(1000).await?, "recent")?;
    for (entry, row) in all.iter().zip(rows) {
        check_entry(&audit.get(entry.id).await?, row, "get")?;
    }

    let report = store.replay(Replay::all()).await?;
    ensure(report.applied == events.len() as u64, || {
        format!(
            "replay applied {} of {} events",
            report.applied,
            events.len()
        )
    })?;
    for row in &events {
        let record = row.record.ok_or("an event row has a record")?;
        let (input, metadata) = doc::replayed(record).ok_or("replay ran every event's body")?;
        ensure(
            same(&input, &row.data) && same(&metadata, &row.metadata),
            || format!("replay of record {record} saw other data or metadata"),
        )?;
    }
    Ok(())
}

// ---- the property ---------------------------------------------------------------

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
    })
}

/// A fresh database for one case, dropped after it.
async fn with_database<F, Fut>(f: F) -> Result<(), BoxError>
where
    F: FnOnce(PgPool) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let admin: PgConnectOptions = database_url().parse()?;
    let name = format!("events_json_{}", Uuid::now_v7().simple());
    let mut conn = admin.connect().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .connect_with(admin.clone().database(&name))
        .await?;
    let result = f(pool.clone()).await;
    pool.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    result
}

async fn round_trip(values: Vec<Value>) -> Result<(), BoxError> {
    with_database(|pool| async move {
        let store = doc::store(&pool).await.map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        for value in &values {
            rows.extend(write_all(&store, value).await?);
        }
        read_all(&store, &rows).await
    })
    .await
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 32, ..ProptestConfig::default() })]

    #[test]
    fn accepted_json_reads_back_everywhere(values in prop::collection::vec(value(), 1..3)) {
        let outcome = runtime().block_on(round_trip(values));
        prop_assert!(outcome.is_ok(), "{}", outcome.err().map(|e| e.to_string()).unwrap_or_default());
    }
}

// ---- the limit itself, and NUL characters ---------------------------------------

/// `levels` nested arrays around a string.
fn nested(levels: usize) -> Value {
    (0..levels).fold(json!("leaf"), |inner, _| Value::Array(vec![inner]))
}

#[sqlx::test]
async fn the_limit_is_the_same_on_every_path(pool: PgPool) -> Result<(), BoxError> {
    let store = doc::store(&pool).await.map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    // Every path nests the value once more in its metadata (`{"m": value}`) or
    // changes (`{"doc": value}`): only the value one below the limit fits all.
    for levels in [MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1] {
        rows.extend(write_all(&store, &nested(levels)).await?);
    }
    assert_eq!(rows.len(), 8);
    // Data and metadata exactly at the limit are stored; one more level is not.
    let at_limit = nested(MAX_JSON_DEPTH);
    let wrapped = json!({"m": nested(MAX_JSON_DEPTH - 1)});
    let id = Doc::write(at_limit.clone())
        .metadata(wrapped.clone())
        .run(&store)
        .await?;
    rows.push(Row {
        record: Some(id),
        data: at_limit.clone(),
        metadata: wrapped.clone(),
        changes: None,
    });
    let entry = ManualEntry::new("doc.noted")
        .data(at_limit.clone())
        .metadata(wrapped.clone());
    store.audit().track(entry).await?.ok_or("stored")?;
    rows.push(Row {
        record: None,
        data: at_limit.clone(),
        metadata: wrapped,
        changes: None,
    });
    let over = nested(MAX_JSON_DEPTH + 1);
    let refused = Doc::write(over.clone()).run(&store).await;
    assert_eq!(invalid_value(&refused), Some("data"));
    if let Err(Error::InvalidValue { message, .. }) = refused {
        assert!(
            message.contains("513") && message.contains("512"),
            "{message}"
        );
    }
    let refused = store
        .audit()
        .track(ManualEntry::new("doc.noted").data(over))
        .await;
    assert_eq!(invalid_entry(&refused), Some("data"));
    read_all(&store, &rows).await
}

#[sqlx::test]
async fn nul_characters_are_typed_errors_that_store_nothing(pool: PgPool) -> Result<(), BoxError> {
    let store = doc::store(&pool).await.map_err(|e| e.to_string())?;
    let audit = store.audit();
    for bad in [
        json!({"name": "a\u{0}b"}),
        json!({"a\u{0}": 1}),
        json!(["\u{0}"]),
    ] {
        let single = Doc::write(bad.clone()).run(&store).await;
        assert_eq!(invalid_value(&single), Some("data"));
        let meta = Doc::write(json!(1))
            .metadata(json!({"m": bad}))
            .run(&store)
            .await;
        assert_eq!(invalid_value(&meta), Some("metadata"));
        let bulk = Doc::write_many(vec![json!(1), bad.clone()])
            .run(&store)
            .await;
        assert_eq!(invalid_value(&bulk), Some("data"));
        let each = events_core::each([Doc::write(json!(1)), Doc::write(bad.clone())])
            .run(&store)
            .await;
        assert_eq!(invalid_value(&each), Some("data"));
        let revised = Doc::revise(Uuid::now_v7(), json!({"ok": 1}).clone())
            .run(&store)
            .await;
        assert!(revised.is_ok());
        let tracked = audit
            .track(ManualEntry::new("doc.noted").data(bad.clone()))
            .await;
        assert_eq!(invalid_entry(&tracked), Some("data"));
        assert!(
            audit
                .log(ManualEntry::new("doc.noted").metadata(json!({"m": bad})))
                .await
                .is_none()
        );
        let changes = Changes::created(&json!({"doc": bad}));
        assert!(
            matches!(changes, Err(Error::Audit(events_core::AuditError::InvalidEntry { ref field, .. })) if field == "changes")
        );
    }
    // Only the three good revisions are stored.
    assert_eq!(store.list_events(None, 100).await?.len(), 3);
    assert_eq!(audit.list_all(AuditQuery::new()).await?.len(), 3);
    Ok(())
}

// ---- a row deeper than anything the log writes ---------------------------------

const DEEP: usize = 5_000;

/// `{key: value}`, moving `value` (`json!` would copy it recursively).
fn object(key: &str, value: Value) -> Value {
    Value::Object(Map::from_iter([(key.to_owned(), value)]))
}

/// `levels` nested objects `{"a": ..}` around 1, and its text.
fn deep_objects(levels: usize) -> (Value, String) {
    let value = (0..levels).fold(json!(1), |inner, _| object("a", inner));
    (
        value,
        format!("{}1{}", "{\"a\":".repeat(levels), "}".repeat(levels)),
    )
}

/// `levels` nested arrays around 1, and its text.
fn deep_arrays(levels: usize) -> (Value, String) {
    let value = (0..levels).fold(json!(1), |inner, _| Value::Array(vec![inner]));
    (
        value,
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels)),
    )
}

/// Drops values too deep for serde_json's recursive `Drop` on this stack.
fn drop_deep<T>(value: T) {
    json::with_stack(2 * DEEP, move || drop(value));
}

/// A recorded action and a manual entry, written with raw SQL 5,000 levels
/// deep (PostgreSQL takes about 13,000): every reader returns them whole. The
/// action's values are arrays, the entry's objects. Replay refuses the action
/// with a typed error naming it: only raw SQL writes beyond the log's 512
/// levels, and the bodies' recursive decoding and drops of such a value can
/// need more than a task's 2 MiB stack.
#[sqlx::test]
async fn a_row_nested_5000_deep_blocks_no_reader(pool: PgPool) -> Result<(), BoxError> {
    let store = doc::store(&pool).await.map_err(|e| e.to_string())?;
    let (arrays, arrays_text) = deep_arrays(DEEP);
    let (objects, objects_text) = deep_objects(DEEP);
    let record = Uuid::now_v7();
    let event: i64 = sqlx::query_scalar(
        "INSERT INTO events (resource, record_id, action, action_type, data, metadata, version, occurred_at) \
         VALUES ('Doc', $1, 'write', 'create', $2::text::jsonb, jsonb_build_object('deep', $2::text::jsonb), 1, clock_timestamp()) \
         RETURNING id",
    )
    .bind(record)
    .bind(&arrays_text)
    .fetch_one(&pool)
    .await?;
    let entry: i64 = sqlx::query_scalar(
        "INSERT INTO events (resource, record_id, action, action_type, data, metadata, version, occurred_at) \
         VALUES (NULL, NULL, 'doc.deep', 'manual', $1::text::jsonb, jsonb_build_object('deep', $1::text::jsonb), 1, clock_timestamp()) \
         RETURNING id",
    )
    .bind(&objects_text)
    .fetch_one(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO events_changes (event_id, old_values, unchanged) \
         VALUES ($1, jsonb_build_object('doc', $2::text::jsonb), false)",
    )
    .bind(entry)
    .bind(&objects_text)
    .execute(&pool)
    .await?;
    let copy = |value: &Value| json::with_stack(2 * DEEP, || value.clone());
    let action_metadata = object("deep", copy(&arrays));
    let entry_metadata = object("deep", copy(&objects));

    let is_action = |e: &Event| {
        e.id == EventId::Integer(event)
            && same(&e.data, &arrays)
            && same(&e.metadata, &action_metadata)
    };
    let events = store.list_events(None, 10).await?;
    assert!(events.len() == 1 && is_action(&events[0]), "list_events");
    drop_deep(events);
    let events = read_committed(&store, 1).await?;
    assert!(events.len() == 1 && is_action(&events[0]), "read_committed");
    drop_deep(events);
    let events = store.events_for_record("Doc", record).await?;
    assert!(
        events.len() == 1 && is_action(&events[0]),
        "events_for_record"
    );
    drop_deep(events);

    let audit = store.audit();
    let entry_changes = Changes {
        old_values: Some(Map::from_iter([("doc".to_owned(), copy(&objects))])),
        ..Changes::default()
    };
    let is_entry = |e: &AuditEntry| {
        e.id == EventId::Integer(entry)
            && same(&e.data, &objects)
            && same(&e.metadata, &entry_metadata)
            && same_changes(e.changes.as_ref(), Some(&entry_changes))
    };
    let is_event = |e: &AuditEntry| {
        e.id == EventId::Integer(event)
            && same(&e.data, &arrays)
            && same(&e.metadata, &action_metadata)
            && e.changes.is_none()
    };
    let both = |entries: &[AuditEntry]| {
        entries.len() == 2 && is_entry(&entries[0]) && is_event(&entries[1])
    };
    let found = audit.list_all(AuditQuery::new()).await?;
    assert!(both(&found), "list_all");
    drop_deep(found);
    let found = audit.query(&AuditQuery::new().page(1, 10)).await?;
    assert!(both(&found.entries), "query");
    drop_deep(found);
    let found = audit
        .query(&AuditQuery::new().action("doc.deep").after(None))
        .await?;
    assert!(
        found.entries.len() == 1 && is_entry(&found.entries[0]),
        "query by action"
    );
    drop_deep(found);
    let found = audit.recent(10).await?;
    assert!(both(&found), "recent");
    drop_deep(found);
    let found = [audit.get(entry).await?, audit.get(event).await?];
    assert!(both(&found), "get");
    drop_deep(found);

    // Replay refuses it by name, before any body runs: its bodies would decode and
    // drop it recursively, deeper than a task's stack allows for some shapes.
    let refused = store.replay(Replay::all()).await;
    match &refused {
        Err(Error::MalformedRow { message, .. }) => {
            assert!(message.contains(&format!("event {event}")), "{message}");
        }
        other => return Err(format!("expected MalformedRow, got {other:?}").into()),
    }
    assert!(doc::replayed(record).is_none(), "no body ran");
    drop_deep((
        arrays,
        objects,
        action_metadata,
        entry_metadata,
        entry_changes,
    ));
    Ok(())
}
