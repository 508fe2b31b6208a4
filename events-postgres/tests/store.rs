//! Integration tests of `PgEventStore` against a real PostgreSQL: schema, append,
//! advisory locks, the append-only guard, rollback and reading back.
//!
//! Each test gets a fresh database from `DATABASE_URL` (`#[sqlx::test]`). Two event
//! logs are written by hand, as `#[event_log]` would generate them:
//!
//! - [`IntLog`]: `integer` primary key, `uuid` record ids, two nullable actor columns
//!   (`user_id uuid`, `system_actor text`), single-key lock default;
//! - [`UuidLog`]: `uuid_v7` primary key, `integer` record ids, one required actor
//!   column (`service_id bigint NOT NULL`), pair-key lock default, and a table name
//!   that needs quoting.

use chrono::{DateTime, SubsecRound, Utc};
use events_core::store::NewEvent;
use events_core::{
    ActionKind, ActorColumn, ActorRef, AdvisoryLockKeyGenerator, BoxFuture,
    DefaultLockKeyGenerator, Error, Event, EventId, EventLog, EventStore, Key, KeyType, LockKey,
    LockKeyInput, PrimaryKeyType, ReplayOverride,
};
use events_postgres::PgEventStore;
use serde_json::{Value, json};
use sqlx::{Acquire, PgPool, Row};
use uuid::Uuid;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `integer` ids, `uuid` record ids, two actor columns.
struct IntLog;
impl EventLog for IntLog {
    type RecordId = Uuid;
    const TABLE: &'static str = "int_events";
    const PRIMARY_KEY_TYPE: PrimaryKeyType = PrimaryKeyType::Integer;
    const ADVISORY_LOCK_KEY_DEFAULT: LockKey = LockKey::DEFAULT;
    const ADVISORY_LOCK_KEY_GENERATOR: &'static str = "DefaultLockKeyGenerator";
    const CLEAR_RECORDS_FOR_REPLAY: Option<&'static str> = None;
    const ACTOR_COLUMNS: &'static [ActorColumn] = &[
        ActorColumn {
            name: "user_id",
            destination: "User",
            allow_nil: true,
            attribute_type: KeyType::Uuid,
            public: false,
        },
        ActorColumn {
            name: "system_actor",
            destination: "SystemActor",
            allow_nil: true,
            attribute_type: KeyType::String,
            public: false,
        },
    ];
    const REPLAY_OVERRIDES: &'static [ReplayOverride] = &[];
    fn advisory_lock_key(input: &LockKeyInput<'_>) -> Result<LockKey, Error> {
        DefaultLockKeyGenerator::generate_key(input, Self::ADVISORY_LOCK_KEY_DEFAULT)
    }
    fn clear_records(_: &mut sqlx::PgConnection) -> Option<BoxFuture<'_, Result<(), Error>>> {
        None
    }
}

/// `uuid_v7` ids, `integer` record ids, one required actor column.
struct UuidLog;
impl EventLog for UuidLog {
    type RecordId = i64;
    const TABLE: &'static str = "Uuid Events";
    const PRIMARY_KEY_TYPE: PrimaryKeyType = PrimaryKeyType::UuidV7;
    const ADVISORY_LOCK_KEY_DEFAULT: LockKey = LockKey::Pair(1337, 31337);
    const ADVISORY_LOCK_KEY_GENERATOR: &'static str = "DefaultLockKeyGenerator";
    const CLEAR_RECORDS_FOR_REPLAY: Option<&'static str> = None;
    const ACTOR_COLUMNS: &'static [ActorColumn] = &[ActorColumn {
        name: "service_id",
        destination: "Service",
        allow_nil: false,
        attribute_type: KeyType::Integer,
        public: false,
    }];
    const REPLAY_OVERRIDES: &'static [ReplayOverride] = &[];
    fn advisory_lock_key(input: &LockKeyInput<'_>) -> Result<LockKey, Error> {
        DefaultLockKeyGenerator::generate_key(input, Self::ADVISORY_LOCK_KEY_DEFAULT)
    }
    fn clear_records(_: &mut sqlx::PgConnection) -> Option<BoxFuture<'_, Result<(), Error>>> {
        None
    }
}

/// The owned parts of a [`NewEvent`].
struct Ev {
    resource: &'static str,
    record_id: Key,
    action: &'static str,
    action_type: ActionKind,
    actor: Option<ActorRef>,
    data: Value,
    metadata: Value,
    version: u32,
    tenant: Option<Key>,
}

impl Ev {
    fn new(resource: &'static str, record_id: impl Into<Key>) -> Self {
        Ev {
            resource,
            record_id: record_id.into(),
            action: "create",
            action_type: ActionKind::Create,
            actor: None,
            data: json!({}),
            metadata: json!({}),
            version: 1,
            tenant: None,
        }
    }

    fn actor(mut self, column: &'static str, key: impl Into<Key>) -> Self {
        self.actor = Some(ActorRef {
            column,
            key: key.into(),
        });
        self
    }

    fn as_new(&self) -> NewEvent<'_> {
        NewEvent {
            resource: self.resource,
            record_id: &self.record_id,
            action: self.action,
            action_type: self.action_type,
            actor: self.actor.as_ref(),
            data: &self.data,
            metadata: &self.metadata,
            version: self.version,
            tenant: self.tenant.as_ref(),
            personal: None,
        }
    }
}

async fn store<L: EventLog>(pool: &PgPool) -> Result<PgEventStore<L>, Error> {
    let store = PgEventStore::<L>::new(pool.clone());
    store.migrate().await?;
    Ok(store)
}

/// Appends `ev` in its own committed transaction under the log's default lock.
async fn append<L: EventLog>(store: &PgEventStore<L>, ev: &Ev) -> Result<EventId, Error> {
    let mut tx = store.begin().await?;
    let appended = store
        .append(
            &mut tx,
            Some(L::ADVISORY_LOCK_KEY_DEFAULT),
            &ev.as_new(),
            None,
        )
        .await?;
    tx.commit().await?;
    Ok(appended.id)
}

async fn count(pool: &PgPool, table: &str) -> Result<i64, sqlx::Error> {
    let sql = format!("SELECT count(*) FROM \"{table}\"");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
}

/// The advisory locks held by backend `pid`: (classid, objid, objsubid, mode, granted).
async fn advisory_locks(
    pool: &PgPool,
    pid: i32,
) -> Result<Vec<(i64, i64, i32, String, bool)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT classid::int8, objid::int8, objsubid::int4, mode, granted \
         FROM pg_locks WHERE locktype = 'advisory' AND pid = $1",
    )
    .bind(pid)
    .fetch_all(pool)
    .await
}

#[sqlx::test(migrations = false)]
async fn migrate_twice_creates_the_schema_once(pool: PgPool) -> TestResult {
    let store = PgEventStore::<IntLog>::new(pool.clone());
    store.migrate().await?;
    store.migrate().await?;

    let columns: Vec<(String, String, bool, String)> = sqlx::query_as(
        "SELECT attname::text, format_type(atttypid, atttypmod), attnotnull, attidentity::text \
         FROM pg_attribute WHERE attrelid = 'int_events'::regclass AND attnum > 0 \
         AND NOT attisdropped ORDER BY attnum",
    )
    .fetch_all(&pool)
    .await?;
    let expected = [
        ("id", "bigint", true, "a"),
        ("resource", "text", false, ""),
        ("record_id", "uuid", false, ""),
        ("action", "text", true, ""),
        ("action_type", "text", true, ""),
        ("user_id", "uuid", false, ""),
        ("system_actor", "text", false, ""),
        ("data", "jsonb", true, ""),
        ("metadata", "jsonb", true, ""),
        ("version", "integer", true, ""),
        ("tenant", "text", false, ""),
        ("occurred_at", "timestamp with time zone", true, ""),
        ("recorded_at", "timestamp with time zone", true, ""),
        ("txid", "xid8", true, ""),
    ];
    let columns: Vec<(&str, &str, bool, &str)> = columns
        .iter()
        .map(|(n, t, nn, id)| (n.as_str(), t.as_str(), *nn, id.as_str()))
        .collect();
    assert_eq!(columns, expected);

    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'int_events' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await?;
    assert_eq!(
        indexes,
        [
            "int_events_action_idx",
            "int_events_action_type_idx",
            "int_events_metadata_idx",
            "int_events_mode_idx",
            "int_events_module_idx",
            "int_events_occurred_at_idx",
            "int_events_pkey",
            "int_events_request_id_idx",
            "int_events_resource_occurred_at_idx",
            "int_events_resource_record_id_idx",
            "int_events_system_actor_occurred_at_idx",
            "int_events_target_idx",
            "int_events_tenant_occurred_at_idx",
            "int_events_txid_idx",
            "int_events_user_id_occurred_at_idx",
        ]
    );
    let triggers: Vec<String> = sqlx::query_scalar(
        "SELECT tgname::text FROM pg_trigger \
         WHERE tgrelid = 'int_events'::regclass AND NOT tgisinternal ORDER BY 1",
    )
    .fetch_all(&pool)
    .await?;
    assert_eq!(
        triggers,
        [
            "int_events_append_only_row",
            "int_events_append_only_truncate",
            "int_events_commit_time",
            "int_events_stamp"
        ]
    );
    // Nullable for manual audit entries only: recorded actions still need both.
    for (resource, record_id) in [("NULL", "gen_random_uuid()"), ("'User'", "NULL")] {
        let sql = format!(
            "INSERT INTO int_events (resource, record_id, action, action_type, version, occurred_at) \
             VALUES ({resource}, {record_id}, 'create', 'create', 1, now())"
        );
        let err = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect_err("a recorded action without resource or record id");
        let code = err.as_database_error().and_then(|d| d.code());
        assert_eq!(code.as_deref(), Some("23514"), "check violation: {err}");
    }
    assert_eq!(
        store.migration_sql(),
        events_postgres::schema::migration_sql::<IntLog>()
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn concurrent_migrations_of_a_quoted_table_both_succeed(pool: PgPool) -> TestResult {
    let a = PgEventStore::<UuidLog>::new(pool.clone());
    let b = a.clone();
    tokio::try_join!(a.migrate(), b.migrate())?;
    a.migrate().await?;

    let columns: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT attname::text, format_type(atttypid, atttypmod), attnotnull \
         FROM pg_attribute WHERE attrelid = '\"Uuid Events\"'::regclass \
         AND attname IN ('id', 'record_id', 'service_id') ORDER BY attnum",
    )
    .fetch_all(&pool)
    .await?;
    let expected = [
        ("id".to_owned(), "uuid".to_owned(), true),
        ("record_id".to_owned(), "bigint".to_owned(), false),
        // allow_nil = false: required by a check on action events, not NOT NULL,
        // so manual entries (retention's own record) may have no actor.
        ("service_id".to_owned(), "bigint".to_owned(), false),
    ];
    assert_eq!(columns, expected);
    let check: String = sqlx::query_scalar(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE conrelid = '\"Uuid Events\"'::regclass AND conname = 'Uuid Events_service_id_required'",
    )
    .fetch_one(&pool)
    .await?;
    assert!(check.contains("service_id IS NOT NULL"), "{check}");
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn append_stores_every_column(pool: PgPool) -> TestResult {
    let store = store::<IntLog>(&pool).await?;
    let record = Uuid::now_v7();
    let user = Uuid::now_v7();
    let mut ev = Ev::new("User", record).actor("user_id", user);
    ev.action = "update_email";
    ev.action_type = ActionKind::Update;
    ev.data = json!({"email": "a@example.com"});
    ev.metadata = json!({"source": "api"});
    ev.version = 3;
    ev.tenant = Some(Key::Integer(42));

    let before = Utc::now().trunc_subsecs(6);
    let mut tx = store.begin().await?;
    let appended = store
        .append(&mut tx, Some(LockKey::DEFAULT), &ev.as_new(), None)
        .await?;
    let id = appended.id;
    let txid: String = sqlx::query_scalar("SELECT pg_current_xact_id()::text")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    assert_eq!(id, EventId::Integer(1));

    let row = sqlx::query(
        "SELECT id, resource, record_id, action, action_type, user_id, system_actor, data, \
         metadata, version, tenant, occurred_at, recorded_at, txid::text AS txid FROM int_events",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(row.try_get::<i64, _>("id")?, 1);
    assert_eq!(row.try_get::<String, _>("resource")?, "User");
    assert_eq!(row.try_get::<Uuid, _>("record_id")?, record);
    assert_eq!(row.try_get::<String, _>("action")?, "update_email");
    assert_eq!(row.try_get::<String, _>("action_type")?, "update");
    assert_eq!(row.try_get::<Option<Uuid>, _>("user_id")?, Some(user));
    assert_eq!(row.try_get::<Option<String>, _>("system_actor")?, None);
    assert_eq!(row.try_get::<Value, _>("data")?, ev.data);
    assert_eq!(row.try_get::<Value, _>("metadata")?, ev.metadata);
    assert_eq!(row.try_get::<i32, _>("version")?, 3);
    assert_eq!(
        row.try_get::<Option<String>, _>("tenant")?.as_deref(),
        Some("42")
    );
    let occurred_at: DateTime<Utc> = row.try_get("occurred_at")?;
    assert_eq!(
        occurred_at, appended.occurred_at,
        "append reports what it stored"
    );
    assert!(
        (occurred_at - before).num_seconds().abs() < 60,
        "the database clock at insert time"
    );
    let recorded_at: DateTime<Utc> = row.try_get("recorded_at")?;
    assert!((Utc::now() - recorded_at).num_seconds().abs() < 60);
    assert_eq!(row.try_get::<String, _>("txid")?, txid);

    let events = store.events_for_record("User", record).await?;
    let expected = Event {
        id,
        resource: "User".to_owned(),
        record_id: Key::Uuid(record),
        action: "update_email".to_owned(),
        action_type: ActionKind::Update,
        actor: Some(("user_id".to_owned(), Key::Uuid(user))),
        data: ev.data.clone(),
        metadata: ev.metadata.clone(),
        version: 3,
        tenant: Some("42".to_owned()),
        occurred_at,
    };
    assert_eq!(events, [expected]);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn events_for_record_maps_each_actor_column(pool: PgPool) -> TestResult {
    let store = store::<IntLog>(&pool).await?;
    let record = Uuid::now_v7();
    let user = Uuid::now_v7();
    append(&store, &Ev::new("User", record).actor("user_id", user)).await?;
    append(
        &store,
        &Ev::new("User", record).actor("system_actor", "cron"),
    )
    .await?;
    append(&store, &Ev::new("User", record)).await?;
    append(&store, &Ev::new("User", Uuid::now_v7())).await?;
    append(&store, &Ev::new("Post", record)).await?;

    let events = store.events_for_record("User", record).await?;
    let actors: Vec<_> = events.iter().map(|e| e.actor.clone()).collect();
    assert_eq!(
        actors,
        [
            Some(("user_id".to_owned(), Key::Uuid(user))),
            Some(("system_actor".to_owned(), Key::from("cron"))),
            None,
        ]
    );
    let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        [
            EventId::Integer(1),
            EventId::Integer(2),
            EventId::Integer(3)
        ]
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn uuid_v7_primary_key_and_integer_record_ids(pool: PgPool) -> TestResult {
    let store = store::<UuidLog>(&pool).await?;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(append(&store, &Ev::new("Job", 7_i64).actor("service_id", 9_i64)).await?);
    }
    for id in &ids {
        let EventId::Uuid(u) = id else {
            panic!("uuid_v7 log returned {id:?}");
        };
        assert_eq!(u.get_version_num(), 7);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    let events = store.events_for_record("Job", 7_i64).await?;
    assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    for e in &events {
        assert_eq!(e.record_id, Key::Integer(7));
        assert_eq!(e.actor, Some(("service_id".to_owned(), Key::Integer(9))));
    }
    let rest = store.list_events(Some(ids[0]), 10).await?;
    assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), ids[1..]);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn single_key_lock_is_visible_in_pg_locks(pool: PgPool) -> TestResult {
    let store = store::<IntLog>(&pool).await?;
    for key in [
        LockKey::DEFAULT,
        LockKey::Single(-2),
        LockKey::Single(0x1234_5678_9abc_def0),
        LockKey::Single(i64::MIN),
    ] {
        let LockKey::Single(k) = key else {
            unreachable!()
        };
        let mut tx = store.begin().await?;
        store
            .append(
                &mut tx,
                Some(key),
                &Ev::new("User", Uuid::now_v7()).as_new(),
                None,
            )
            .await?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx)
            .await?;

        let locks = advisory_locks(&pool, pid).await?;
        let classid = i64::from((k >> 32) as u32);
        let objid = i64::from(k as u32);
        assert_eq!(
            locks,
            [(classid, objid, 1, "ExclusiveLock".to_owned(), true)],
            "{key}"
        );
        let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1::int8)")
            .bind(k)
            .fetch_one(&pool)
            .await?;
        assert!(!free, "{key} is held by the open transaction");
        tx.rollback().await?;
    }
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn pair_key_lock_is_visible_in_pg_locks(pool: PgPool) -> TestResult {
    let store = store::<UuidLog>(&pool).await?;
    for (a, b) in [(1337, 31337), (-1, i32::MIN), (i32::MAX, 0)] {
        let mut tx = store.begin().await?;
        let ev = Ev::new("Job", 1_i64).actor("service_id", 1_i64);
        store
            .append(&mut tx, Some(LockKey::Pair(a, b)), &ev.as_new(), None)
            .await?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx)
            .await?;

        let locks = advisory_locks(&pool, pid).await?;
        let expected = (
            i64::from(a as u32),
            i64::from(b as u32),
            2,
            "ExclusiveLock".to_owned(),
            true,
        );
        assert_eq!(locks, [expected], "[{a}, {b}]");
        tx.rollback().await?;
    }
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn update_delete_and_truncate_are_rejected(pool: PgPool) -> TestResult {
    let store = store::<IntLog>(&pool).await?;
    append(&store, &Ev::new("User", Uuid::now_v7())).await?;

    for (op, statement) in [
        ("UPDATE", "UPDATE int_events SET action = 'tampered'"),
        ("DELETE", "DELETE FROM int_events"),
        ("TRUNCATE", "TRUNCATE int_events"),
    ] {
        let Err(e) = sqlx::query(statement).execute(&pool).await else {
            panic!("{op} on the event table went through");
        };
        let db = e.as_database_error().ok_or("not a database error")?;
        assert_eq!(db.code().as_deref(), Some("EV001"), "{op}");
        assert_eq!(db.table(), Some("int_events"), "{op}");
        assert!(db.message().contains(op), "{}", db.message());
        assert!(
            db.message().contains("public.int_events"),
            "{}",
            db.message()
        );

        match Error::from_sqlx("tampering with events", e) {
            Error::AppendOnly { message, table } => {
                assert!(message.contains(op), "{message}");
                assert!(table.is_some(), "the table is named");
            }
            other => panic!("{op}: expected AppendOnly, got {other:?}"),
        }
    }
    assert_eq!(count(&pool, "int_events").await?, 1);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn allow_prune_lets_a_delete_through_for_one_transaction(pool: PgPool) -> TestResult {
    let store = store::<IntLog>(&pool).await?;
    let old = append(&store, &Ev::new("User", Uuid::now_v7())).await?;
    append(&store, &Ev::new("User", Uuid::now_v7())).await?;
    let EventId::Integer(old) = old else {
        panic!("integer log returned {old:?}");
    };

    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL events.allow_prune = 'on'")
        .execute(&mut *tx)
        .await?;
    let deleted = sqlx::query("DELETE FROM int_events WHERE id = $1")
        .bind(old)
        .execute(&mut *tx)
        .await?;
    assert_eq!(deleted.rows_affected(), 1);
    tx.commit().await?;
    assert_eq!(count(&pool, "int_events").await?, 1);

    // SET LOCAL ended with its transaction: the guard is back, on the same pool.
    let again = sqlx::query("DELETE FROM int_events").execute(&pool).await;
    let err = again
        .err()
        .ok_or("delete after the pruning transaction went through")?;
    assert!(Error::from_sqlx("deleting", err).is_append_only());
    assert_eq!(count(&pool, "int_events").await?, 1);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn rolled_back_append_leaves_no_event(pool: PgPool) -> TestResult {
    let store = store::<IntLog>(&pool).await?;
    let mut tx = store.begin().await?;
    store
        .append(
            &mut tx,
            Some(LockKey::DEFAULT),
            &Ev::new("User", Uuid::now_v7()).as_new(),
            None,
        )
        .await?;
    tx.rollback().await?;

    let mut tx = store.begin().await?;
    store
        .append(
            &mut tx,
            Some(LockKey::DEFAULT),
            &Ev::new("User", Uuid::now_v7()).as_new(),
            None,
        )
        .await?;
    drop(tx);

    assert_eq!(count(&pool, "int_events").await?, 0);
    assert!(store.list_events(None, 10).await?.is_empty());
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn list_events_pages_by_id(pool: PgPool) -> TestResult {
    let store = store::<IntLog>(&pool).await?;
    let mut all = Vec::new();
    for i in 0..7 {
        let mut ev = Ev::new("User", Uuid::now_v7());
        ev.data = json!({ "n": i });
        all.push(append(&store, &ev).await?);
    }

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_events(after, 3).await?;
        sizes.push(page.len());
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        seen.extend(page.iter().map(|e| e.id));
    }
    assert_eq!(sizes, [3, 3, 1, 0]);
    assert_eq!(seen, all);

    let first = store.list_events(None, 1).await?;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].data, json!({ "n": 0 }));
    assert!(store.list_events(None, 0).await?.is_empty());
    assert!(store.list_events(None, -5).await?.is_empty());

    let wrong = store
        .list_events(Some(EventId::Uuid(Uuid::now_v7())), 3)
        .await;
    assert!(
        matches!(&wrong, Err(Error::InvalidValue { column, .. }) if column == "id"),
        "{wrong:?}"
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn mismatched_keys_are_typed_errors_before_the_lock(pool: PgPool) -> TestResult {
    let store = store::<IntLog>(&pool).await?;
    let record = Uuid::now_v7();
    let mut zero_version = Ev::new("User", record);
    zero_version.version = 0;
    let cases = [
        (Ev::new("User", record).actor("user_id", "bob"), "user_id"),
        (
            Ev::new("User", record).actor("system_actor", 5_i64),
            "system_actor",
        ),
        (
            Ev::new("User", record).actor("nobody", Uuid::now_v7()),
            "nobody",
        ),
        (Ev::new("User", 1_i64), "record_id"),
        (zero_version, "version"),
    ];

    let mut tx = store.begin().await?;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *tx)
        .await?;
    for (ev, column) in &cases {
        let result = store
            .append(&mut tx, Some(LockKey::DEFAULT), &ev.as_new(), None)
            .await;
        match result {
            Err(Error::InvalidValue { column: c, message }) => {
                assert_eq!(&c, column, "{message}");
            }
            other => panic!("{column}: expected InvalidValue, got {other:?}"),
        }
    }
    assert!(advisory_locks(&pool, pid).await?.is_empty());
    tx.rollback().await?;

    let read = store.events_for_record("User", 5_i64).await;
    assert!(
        matches!(&read, Err(Error::InvalidValue { column, .. }) if column == "record_id"),
        "{read:?}"
    );
    assert_eq!(count(&pool, "int_events").await?, 0);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn required_actor_column_rejects_a_missing_actor(pool: PgPool) -> TestResult {
    let store = store::<UuidLog>(&pool).await?;
    let result = append(&store, &Ev::new("Job", 1_i64)).await;
    match result {
        Err(Error::Database { source, .. }) => {
            let code = source.as_database_error().and_then(|d| d.code());
            assert_eq!(code.as_deref(), Some("23514"), "check violation");
        }
        other => panic!("expected a check violation, got {other:?}"),
    }
    assert_eq!(count(&pool, "Uuid Events").await?, 0);
    Ok(())
}

/// `allow_nil = false` binds action events only: manual entries (system entries,
/// retention's own record) need no actor, and retention works on such a log.
#[sqlx::test(migrations = false)]
async fn required_actor_log_takes_system_entries_and_prunes(pool: PgPool) -> TestResult {
    let store = store::<UuidLog>(&pool).await?;
    append(&store, &Ev::new("Job", 1_i64).actor("service_id", 7_i64)).await?;
    let audit = store.audit();
    let entry = audit
        .track(events_core::audit::ManualEntry::new("system.boot"))
        .await?
        .ok_or("tracked")?;
    assert!(entry.actor.is_none());
    // UuidLog cannot replay: retention deletes everything old, records the
    // horizon, and its own entry has no actor.
    let report = audit.prune(chrono::Duration::zero()).await?;
    assert_eq!((report.deleted, report.deleted_actions), (2, 1));
    assert_eq!(
        count(&pool, "Uuid Events").await?,
        1,
        "only audit.pruned is left"
    );
    assert!(matches!(
        store
            .verify_replayable(&events_core::replay::Selection::All)
            .await,
        Err(Error::Replay(events_core::ReplayError::Horizon { .. }))
    ));
    Ok(())
}

/// A batched prune on a log with `uuid_v7` ids and a table name that needs
/// quoting: each batch's record gets a fresh UUIDv7 (passed by the store),
/// and a log that cannot replay loses its action events, recording the horizon.
#[sqlx::test(migrations = false)]
async fn uuid_log_prunes_in_batches(pool: PgPool) -> TestResult {
    let store = store::<UuidLog>(&pool).await?;
    for job in 1..=3_i64 {
        append(&store, &Ev::new("Job", job).actor("service_id", 7_i64)).await?;
    }
    let audit = store.audit();
    audit
        .track(events_core::audit::ManualEntry::new("system.boot"))
        .await?;
    let mut entries = Vec::new();
    let report = audit
        .prune_in_batches(chrono::Duration::zero(), 2)
        .await?
        .run(|batch| entries.push(batch.entry))
        .await?;
    assert_eq!((report.deleted, report.deleted_actions), (4, 3));
    assert_eq!(entries.len(), 2);
    assert!(
        entries.iter().all(|e| matches!(e, EventId::Uuid(_))),
        "{entries:?}"
    );
    assert_eq!(
        count(&pool, "Uuid Events").await?,
        2,
        "the two batches' records are left"
    );
    assert_eq!(count(&pool, "Uuid Events_replay_horizon").await?, 2);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn one_prepared_insert_per_connection(pool: PgPool) -> TestResult {
    let store = store::<IntLog>(&pool).await?;
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let record = Uuid::now_v7();
    for ev in [
        Ev::new("User", record).actor("user_id", Uuid::now_v7()),
        Ev::new("User", record).actor("system_actor", "cron"),
        Ev::new("User", record),
    ] {
        store
            .append(&mut tx, Some(LockKey::DEFAULT), &ev.as_new(), None)
            .await?;
    }
    tx.commit().await?;

    let inserts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_prepared_statements \
         WHERE statement LIKE 'WITH cfg AS (%), lock AS (SELECT pg_advisory_xact_lock(%) FROM cfg) INSERT INTO%'",
    )
    .fetch_one(&mut *conn)
    .await?;
    assert_eq!(inserts, 1, "one statement text for every append");
    let separate_locks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT pg_advisory_xact_lock($%'",
    )
    .fetch_one(&mut *conn)
    .await?;
    assert_eq!(
        separate_locks, 0,
        "the lock is part of the insert: one round trip"
    );
    assert_eq!(count(&pool, "int_events").await?, 3);
    Ok(())
}

/// The plan of `EXPLAIN EXECUTE <execute>` for `prepare`, generic (as sqlx's cached
/// statements end up) or custom.
async fn plan(
    conn: &mut sqlx::PgConnection,
    prepare: &'static str,
    execute: &'static str,
    generic: bool,
) -> Result<String, sqlx::Error> {
    let mode = if generic {
        "SET plan_cache_mode = force_generic_plan"
    } else {
        "SET plan_cache_mode = force_custom_plan"
    };
    // Simple protocol throughout, so sqlx's own prepared statements stay untouched.
    sqlx::raw_sql(mode).execute(&mut *conn).await?;
    sqlx::raw_sql(prepare).execute(&mut *conn).await?;
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("EXPLAIN {execute}")))
        .fetch_all(&mut *conn)
        .await?;
    sqlx::raw_sql("DEALLOCATE q").execute(&mut *conn).await?;
    let lines = rows
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(lines.join("\n"))
}

#[sqlx::test(migrations = false)]
async fn reads_use_their_indexes_at_a_realistic_size(pool: PgPool) -> TestResult {
    store::<IntLog>(&pool).await?;
    sqlx::raw_sql(
        "INSERT INTO int_events (resource, record_id, action, action_type, version, occurred_at) \
         SELECT CASE WHEN g % 2 = 0 THEN 'User' ELSE 'Post' END, md5((g % 5000)::text)::uuid, \
                'update', 'update', 1, now() - make_interval(secs => g) \
         FROM generate_series(1, 100000) AS g; \
         ANALYZE int_events;",
    )
    .execute(&pool)
    .await?;

    // The texts `PgEventStore<IntLog>` runs (columns elided: they do not change the plan).
    let cases = [
        (
            "PREPARE q(bigint, bigint) AS SELECT * FROM int_events WHERE id > $1 ORDER BY id LIMIT $2",
            "EXECUTE q(90000, 500)",
            "int_events_pkey",
        ),
        (
            "PREPARE q(bigint) AS SELECT * FROM int_events ORDER BY id LIMIT $1",
            "EXECUTE q(500)",
            "int_events_pkey",
        ),
        (
            "PREPARE q(text, uuid) AS SELECT * FROM int_events \
             WHERE resource = $1 AND record_id = $2 ORDER BY id",
            "EXECUTE q('User', md5('42')::uuid)",
            "int_events_resource_record_id_idx",
        ),
    ];
    let mut conn = pool.acquire().await?;
    for (prepare, execute, index) in cases {
        for generic in [false, true] {
            let plan = plan(&mut conn, prepare, execute, generic).await?;
            assert!(
                plan.contains(index),
                "{prepare} (generic: {generic}):\n{plan}"
            );
            assert!(!plan.contains("Seq Scan"), "{prepare}:\n{plan}");
            assert!(!plan.contains("Sort"), "{prepare}:\n{plan}");
        }
    }
    Ok(())
}
