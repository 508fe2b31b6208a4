//! Recorded actions on a real PostgreSQL: one event per action with the right
//! columns, nothing stored when the action fails, nothing for ignored actions,
//! hooks live only, the advisory lock held with the configured key.
//!
//! Each test gets a fresh database from `#[sqlx::test]` (`DATABASE_URL`).

use events_core::{ActionKind, Error, Event, EventId, EventLog as _, Key, LockKey};
use events_postgres::PgEventStore;
use events_tests::alt::{self, AltLog, AltProbe, Counter};
use events_tests::app::{self, Admin, LockProbe, Post, PublishPost, SystemActor, UpdateUser, User};
use events_tests::custom_lock::{self, AddTag, Tag, TaggedLog};
use events_tests::pg_locks_row;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

type TestResult = Result<(), Box<dyn std::error::Error>>;

use events_tests::app::create_input;
use events_tests::app::store as app_store;

async fn all_events<L: events_core::EventLog>(
    store: &PgEventStore<L>,
) -> Result<Vec<Event>, Error> {
    store.list_events(None, 1000).await
}

#[sqlx::test(migrations = false)]
async fn each_action_writes_one_event_with_every_column(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let admin = Admin { id: Uuid::now_v7() };

    let user = User::create(create_input("Ada"))
        .actor(&admin)
        .metadata(json!({"source": "api", "request_id": "req-1"}))
        .run(&store)
        .await?;
    let renamed = User::update(
        user.id,
        UpdateUser {
            name: "Ada L.".into(),
        },
    )
    .actor(&SystemActor("renamer"))
    .run(&store)
    .await?;
    assert_eq!(renamed.name, "Ada L.");
    let post = Post::publish(PublishPost {
        author_id: user.id,
        title: "Notes".into(),
    })
    .run(&store)
    .await?;
    User::destroy(user.id, ()).actor(&admin).run(&store).await?;

    let events = all_events(&store).await?;
    assert_eq!(events.len(), 4, "{events:#?}");

    let create = &events[0];
    assert_eq!(create.resource, "User");
    assert_eq!(create.record_id, Key::Uuid(user.id));
    assert_eq!(create.action, "create");
    assert_eq!(create.action_type, ActionKind::Create);
    assert_eq!(create.version, 2, "current_action_versions(create = 2)");
    assert_eq!(
        create.actor,
        Some(("user_id".to_owned(), Key::Uuid(admin.id)))
    );
    assert_eq!(
        create.data,
        json!({"name": "Ada", "email": "ada@example.com"})
    );
    assert_eq!(
        create.metadata,
        json!({"source": "api", "request_id": "req-1"})
    );
    assert_eq!(
        create.occurred_at, user.created_at,
        "the body's ctx.now() is the event's occurred_at"
    );
    assert_eq!(create.tenant, None);

    let update = &events[1];
    assert_eq!(
        (update.action.as_str(), update.action_type, update.version),
        ("update", ActionKind::Update, 3)
    );
    assert_eq!(
        update.actor,
        Some(("system_actor".to_owned(), Key::String("renamer".into())))
    );
    assert_eq!(update.data, json!({"name": "Ada L."}));
    assert_eq!(
        update.metadata,
        json!({}),
        "metadata defaults to an empty object"
    );

    let publish = &events[2];
    assert_eq!(
        publish.resource, "blog.post",
        "the `name` option is what events store"
    );
    assert_eq!(publish.record_id, Key::Uuid(post.id));
    assert_eq!(
        (publish.action.as_str(), publish.version),
        ("publish", 1),
        "unlisted actions are version 1"
    );
    assert_eq!(publish.actor, None);

    let destroy = &events[3];
    assert_eq!(
        (
            destroy.action.as_str(),
            destroy.action_type,
            destroy.version
        ),
        ("destroy", ActionKind::Destroy, 2)
    );
    assert_eq!(destroy.record_id, Key::Uuid(user.id));
    assert_eq!(
        destroy.data,
        json!(null),
        "a unit input is stored as JSON null"
    );

    let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
    assert!(
        ids.windows(2)
            .all(|w| matches!((w[0], w[1]), (EventId::Integer(a), EventId::Integer(b)) if a < b))
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn a_failing_body_stores_neither_event_nor_state(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let err = User::create(create_input(""))
        .run(&store)
        .await
        .expect_err("empty names are rejected");
    assert!(
        matches!(err, Error::MalformedRow { .. }),
        "the body's own error comes back: {err}"
    );
    assert!(
        all_events(&store).await?.is_empty(),
        "the event was inserted before the body and must roll back"
    );
    let (users,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await?;
    assert_eq!(users, 0);

    // A failing update (no such row) leaves the log as it was.
    User::create(create_input("Bob")).run(&store).await?;
    let missing = User::update(Uuid::now_v7(), UpdateUser { name: "x".into() })
        .run(&store)
        .await;
    assert!(missing.is_err());
    assert_eq!(all_events(&store).await?.len(), 1);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn a_failing_after_action_hook_rolls_back_and_skips_after_commit(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let ok = User::create(create_input("Cleo")).run(&store).await?;
    assert!(
        app::after_commit_ran(ok.id),
        "after_commit runs once the action committed"
    );
    let (side,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM audit_side_effects WHERE user_id = $1")
            .bind(ok.id)
            .fetch_one(&pool)
            .await?;
    assert_eq!(side, 1, "after_action ran in the transaction");

    sqlx::query("DROP TABLE audit_side_effects")
        .execute(&pool)
        .await?;
    let id = Uuid::now_v7();
    let err = User::create(create_input("Dan"))
        .record_id(id)
        .run(&store)
        .await
        .expect_err("the hook's insert fails");
    assert!(
        matches!(
            err,
            Error::Hook {
                resource: "User",
                action: "create",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        !app::after_commit_ran(id),
        "after_commit never runs for a rolled-back action"
    );
    assert_eq!(all_events(&store).await?.len(), 1, "only Cleo's event");
    let (users,): (i64,) = sqlx::query_as("SELECT count(*) FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await?;
    assert_eq!(users, 0, "the body's insert rolled back with the hook");
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn ignored_actions_run_without_an_event(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let user = User::create(create_input("Eve")).run(&store).await?;
    User::touch(user.id, ()).run(&store).await?;
    let locks = LockProbe::probe(()).run(&store).await?;
    assert!(!locks.is_empty());
    let events = all_events(&store).await?;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["create", "probe"], "`touch` is in ignore_actions");
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn the_default_lock_key_is_held_during_the_action(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let held = LockProbe::probe(()).run(&store).await?;
    assert_eq!(held, vec![pg_locks_row(LockKey::Single(2_147_483_647))]);
    assert_eq!(
        pg_locks_row(LockKey::Single(2_147_483_647)),
        (0, 2_147_483_647, 1)
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn an_integer_tenant_is_the_lock_key(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let held = LockProbe::probe(()).tenant(42_i64).run(&store).await?;
    assert_eq!(held, vec![(0, 42, 1)]);
    let events = all_events(&store).await?;
    assert_eq!(events[0].tenant.as_deref(), Some("42"));
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn a_uuid_tenant_becomes_two_i32_keys(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let tenant = Uuid::parse_str("00000007-aaaa-bbbb-cccc-dddd00000009")?;
    let held = LockProbe::probe(()).tenant(tenant).run(&store).await?;
    assert_eq!(
        held,
        vec![(7, 9, 2)],
        "first and last four bytes of the UUID"
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn a_string_tenant_needs_a_custom_generator(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let err = LockProbe::probe(())
        .tenant("acme")
        .run(&store)
        .await
        .expect_err("no key for a string tenant");
    assert!(
        matches!(&err, Error::UnsupportedTenant { tenant } if tenant == "acme"),
        "{err}"
    );
    assert!(
        err.to_string().contains("advisory_lock_key_generator"),
        "the message says what to do"
    );
    assert!(all_events(&store).await?.is_empty());
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn a_custom_generator_chooses_the_key(pool: PgPool) -> TestResult {
    let store = PgEventStore::<TaggedLog>::new(pool.clone());
    store.migrate().await?;
    custom_lock::create_tables(&mut *pool.acquire().await?).await?;
    let held = Tag::probe(()).record_id("abcd").run(&store).await?;
    assert_eq!(held, vec![pg_locks_row(LockKey::Single(4007))]);
    let id = Tag::add(AddTag {
        label: "rust".into(),
    })
    .record_id("lang:rust")
    .run(&store)
    .await?;
    assert_eq!(id, "lang:rust");
    let events = store.events_for_record("Tag", "lang:rust").await?;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].record_id, Key::String("lang:rust".into()));
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn uuid_v7_event_ids_and_integer_record_ids(pool: PgPool) -> TestResult {
    let store = PgEventStore::<AltLog>::new(pool.clone());
    store.migrate().await?;
    alt::create_tables(&mut *pool.acquire().await?).await?;

    let held = AltProbe::probe(()).record_id(1_i64).run(&store).await?;
    assert_eq!(
        held,
        vec![(1337, 31337, 2)],
        "advisory_lock_key_default = [1337, 31337]"
    );

    let counter = Counter::open(alt::Open { start: 10 })
        .record_id(7_i64)
        .run(&store)
        .await?;
    let counter = Counter::add(counter.id, alt::Add { by: 5 })
        .run(&store)
        .await?;
    assert_eq!(counter, Counter { id: 7, value: 15 });

    let events = store.events_for_record("Counter", 7_i64).await?;
    assert_eq!(events.len(), 2);
    for e in &events {
        assert_eq!(e.record_id, Key::Integer(7));
        match e.id {
            EventId::Uuid(u) => assert_eq!(u.get_version_num(), 7, "a UUIDv7 event id"),
            EventId::Integer(_) => panic!("uuid_v7 log stored an integer id"),
        }
    }
    assert!(events[0].id < events[1].id, "UUIDv7 ids are time-ordered");
    assert_eq!(AltLog::TABLE, "alt_events");
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn an_integer_record_id_create_needs_an_id(pool: PgPool) -> TestResult {
    let store = PgEventStore::<AltLog>::new(pool.clone());
    store.migrate().await?;
    alt::create_tables(&mut *pool.acquire().await?).await?;
    let err = Counter::open(alt::Open { start: 0 })
        .run(&store)
        .await
        .expect_err("no generated integer ids");
    assert!(
        matches!(
            err,
            Error::MissingRecordId {
                resource: "Counter",
                action: "open",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains(".record_id("),
        "the message says what to call: {err}"
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn the_event_table_is_append_only(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    User::create(create_input("Fay")).run(&store).await?;
    for sql in [
        "UPDATE events SET action = 'forged'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.expect_err(sql);
        let err = Error::from_sqlx("tampering", err);
        assert!(err.is_append_only(), "{sql}: {err}");
    }
    let events = all_events(&store).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "create");
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn migrate_is_idempotent_and_creates_actor_columns(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    store.migrate().await?;
    let cols: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
         WHERE table_name = 'events' AND column_name IN ('user_id', 'system_actor', 'txid', 'record_id') ORDER BY 1",
    )
    .fetch_all(&pool)
    .await?;
    assert_eq!(
        cols,
        vec![
            ("record_id".into(), "uuid".into(), "YES".into()),
            ("system_actor".into(), "text".into(), "YES".into()),
            ("txid".into(), "xid8".into(), "NO".into()),
            ("user_id".into(), "uuid".into(), "YES".into()),
        ]
    );
    Ok(())
}
