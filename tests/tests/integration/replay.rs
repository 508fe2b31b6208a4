//! Replay on a real PostgreSQL: rebuilds exactly the live state, routes old
//! versions through overrides, skips hooks, refuses before changing anything when a
//! route is missing, and is all-or-nothing (or checkpointed and resumable).

use std::sync::{Arc, Mutex};

use events_core::replay::{Replay, ReplayProgress, Selection};
use events_core::store::NewEvent;
use events_core::{ActionKind, Error, EventId, EventStore as _, Key, LockKey};
use events_postgres::PgEventStore;
use events_tests::alt::{self, AltLog, Counter};
use events_tests::app::{self, Admin, CreateUserV1, EventLog, Post, PublishPost, UpdateUser, User};
use events_tests::legacy::{OldLog, OldUser};
use events_tests::snapshot;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

type TestResult = Result<(), Box<dyn std::error::Error>>;

use events_tests::app::create_input as input;
use events_tests::app::store as app_store;

/// Appends a raw event, as some other writer (or a corrupted one) would have.
async fn append_raw(
    store: &PgEventStore<EventLog>,
    resource: &'static str,
    action: &'static str,
    version: u32,
    record: Uuid,
    data: serde_json::Value,
) -> Result<EventId, Error> {
    let key = Key::Uuid(record);
    let metadata = json!({});
    let mut tx = store.begin().await?;
    let appended = store
        .append(
            &mut tx,
            Some(LockKey::DEFAULT),
            &NewEvent {
                resource,
                record_id: &key,
                action,
                action_type: ActionKind::Create,
                actor: None,
                data: &data,
                metadata: &metadata,
                version,
                tenant: None,
                personal: None,
            },
            None,
        )
        .await?;
    tx.commit()
        .await
        .map_err(|e| Error::from_sqlx("committing a raw event", e))?;
    Ok(appended.id)
}

#[sqlx::test(migrations = false)]
async fn replay_rebuilds_the_live_state_with_old_versions_routed(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let old_store = PgEventStore::<OldLog>::new(pool.clone());
    let admin = Admin { id: Uuid::now_v7() };

    let legacy = OldUser::create(CreateUserV1 {
        full_name: "Ada Lovelace".into(),
    })
    .actor(&admin)
    .run(&old_store)
    .await?;
    let grace = User::create(input("Grace")).run(&store).await?;
    User::update(legacy, UpdateUser { name: "Ada".into() })
        .run(&store)
        .await?;
    let post = Post::publish(PublishPost {
        author_id: grace.id,
        title: "COBOL".into(),
    })
    .run(&store)
    .await?;
    Post::retract(post.id, ()).run(&store).await?;
    Post::publish(PublishPost {
        author_id: legacy,
        title: "Notes".into(),
    })
    .run(&store)
    .await?;
    User::destroy(grace.id, ()).run(&store).await?;

    let versions: Vec<(String, u32)> = store
        .list_events(None, 100)
        .await?
        .into_iter()
        .map(|e| (e.action, e.version))
        .collect();
    assert_eq!(
        versions[0],
        ("create".to_owned(), 1),
        "the legacy build wrote a version-1 create"
    );

    let live = snapshot(&pool).await?;
    let side_effects_before: (i64,) = sqlx::query_as("SELECT count(*) FROM audit_side_effects")
        .fetch_one(&pool)
        .await?;
    let report = store.replay(Replay::all()).await?;
    assert_eq!(report.applied, 7);
    assert_eq!(report.commits, 1);
    assert_eq!(
        snapshot(&pool).await?,
        live,
        "replay rebuilds exactly the live state"
    );
    let side_effects_after: (i64,) = sqlx::query_as("SELECT count(*) FROM audit_side_effects")
        .fetch_one(&pool)
        .await?;
    assert_eq!(
        side_effects_before, side_effects_after,
        "after_action hooks do not run on replay"
    );
    assert_eq!(
        app::after_commit_runs(grace.id),
        1,
        "after_commit hooks ran once, live, not on replay"
    );
    assert_eq!(
        store.list_events(None, 100).await?.len(),
        7,
        "replay writes no events"
    );

    // Replaying twice gives the same state again.
    store.replay(Replay::all()).await?;
    assert_eq!(snapshot(&pool).await?, live);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn replay_up_to_an_event_and_up_to_a_time_match_live_snapshots(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let mut checkpoints = Vec::new();
    let a = User::create(input("A")).run(&store).await?;
    checkpoints.push(snapshot(&pool).await?);
    User::update(a.id, UpdateUser { name: "A2".into() })
        .run(&store)
        .await?;
    checkpoints.push(snapshot(&pool).await?);
    let b = User::create(input("B")).run(&store).await?;
    checkpoints.push(snapshot(&pool).await?);
    User::destroy(a.id, ()).run(&store).await?;
    checkpoints.push(snapshot(&pool).await?);
    User::update(b.id, UpdateUser { name: "B2".into() })
        .run(&store)
        .await?;
    let final_state = snapshot(&pool).await?;

    let events = store.list_events(None, 100).await?;
    for (i, expected) in checkpoints.iter().enumerate() {
        store.replay(Replay::up_to_event(events[i].id)).await?;
        assert_eq!(
            &snapshot(&pool).await?,
            expected,
            "up to event {}",
            events[i].id
        );
        store
            .replay(Replay::up_to_time(events[i].occurred_at))
            .await?;
        assert_eq!(
            &snapshot(&pool).await?,
            expected,
            "up to {}",
            events[i].occurred_at
        );
    }
    store.replay(Replay::all()).await?;
    assert_eq!(snapshot(&pool).await?, final_state);

    let err = store
        .replay(Replay::up_to_event(EventId::Integer(999)))
        .await
        .expect_err("no such event");
    assert!(
        matches!(
            err,
            Error::Replay(events_core::ReplayError::UnknownEvent {
                id: EventId::Integer(999)
            })
        ),
        "{err}"
    );
    assert_eq!(snapshot(&pool).await?, final_state, "nothing changed");
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn a_failing_body_leaves_the_state_as_before_and_names_the_event(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let a = User::create(input("Ann")).run(&store).await?;
    let b = User::create(input("Ben")).run(&store).await?;
    User::update(
        a.id,
        UpdateUser {
            name: "Anne".into(),
        },
    )
    .run(&store)
    .await?;
    User::update(
        b.id,
        UpdateUser {
            name: "Benjamin".into(),
        },
    )
    .run(&store)
    .await?;
    let before = snapshot(&pool).await?;
    let events = store.list_events(None, 100).await?;
    let failing = events[3].id;

    app::FAIL_ON_REPLAY
        .lock()
        .map_err(|e| e.to_string())?
        .push(b.id);
    let err = store
        .replay(Replay::all())
        .await
        .expect_err("the update of Ben fails on replay");
    app::FAIL_ON_REPLAY
        .lock()
        .map_err(|e| e.to_string())?
        .retain(|id| *id != b.id);

    match &err {
        Error::Replay(events_core::ReplayError::Body { event, target, .. }) => {
            assert_eq!(event.id, failing);
            assert_eq!(
                (
                    event.resource.as_str(),
                    event.action.as_str(),
                    event.version
                ),
                ("User", "update", 3)
            );
            assert_eq!(target, "User.update");
        }
        other => panic!("expected Error::Replay, got {other}"),
    }
    assert!(
        err.to_string().contains(&format!("event {failing}")),
        "{err}"
    );
    assert_eq!(
        snapshot(&pool).await?,
        before,
        "all-or-nothing: the clear and the first events rolled back"
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn the_preflight_lists_every_missing_route_and_changes_nothing(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    User::create(input("Cy")).run(&store).await?;
    append_raw(&store, "Ghost", "haunt", 1, Uuid::now_v7(), json!({})).await?;
    append_raw(&store, "User", "teleport", 1, Uuid::now_v7(), json!({})).await?;
    append_raw(
        &store,
        "User",
        "create",
        9,
        Uuid::now_v7(),
        json!({"name": "x", "email": "y"}),
    )
    .await?;
    let before = snapshot(&pool).await?;

    for err in [
        store
            .verify_replayable(&Selection::All)
            .await
            .expect_err("three triples lack routes"),
        store
            .replay(Replay::all())
            .await
            .expect_err("replay refuses"),
    ] {
        let Error::Replay(events_core::ReplayError::MissingRoutes { missing }) = &err else {
            panic!("expected MissingRoutes, got {err}")
        };
        let triples: Vec<(&str, &str, u32)> = missing
            .iter()
            .map(|m| (m.resource.as_str(), m.action.as_str(), m.version))
            .collect();
        assert_eq!(
            triples,
            [
                ("Ghost", "haunt", 1),
                ("User", "create", 9),
                ("User", "teleport", 1)
            ]
        );
        assert!(
            missing[0].reason.contains("no resource named `Ghost`"),
            "{}",
            missing[0].reason
        );
        assert!(
            missing[1].reason.contains("newer than this code"),
            "{}",
            missing[1].reason
        );
        assert!(
            missing[2].reason.contains("has no action `teleport`"),
            "{}",
            missing[2].reason
        );
    }
    assert_eq!(snapshot(&pool).await?, before, "nothing was cleared");
    // Up to the first event, every route exists.
    assert_eq!(
        store
            .verify_replayable(&Selection::UpToEvent(EventId::Integer(1)))
            .await?
            .events,
        1
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn malformed_event_data_is_a_typed_error_naming_event_and_field(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    User::create(input("Dee")).run(&store).await?;
    let bad = append_raw(
        &store,
        "User",
        "create",
        2,
        Uuid::now_v7(),
        json!({"name": 5, "email": "e"}),
    )
    .await?;
    let before = snapshot(&pool).await?;
    let err = store
        .replay(Replay::all())
        .await
        .expect_err("data does not fit CreateUser");
    match &err {
        Error::Replay(events_core::ReplayError::Decode {
            event,
            field,
            target,
            ..
        }) => {
            assert_eq!(event.id, bad);
            assert_eq!(
                (
                    event.resource.as_str(),
                    event.action.as_str(),
                    event.version
                ),
                ("User", "create", 2)
            );
            assert_eq!(field, "name");
            assert_eq!(target, "User.create");
        }
        other => panic!("expected DecodeEvent, got {other}"),
    }
    assert_eq!(snapshot(&pool).await?, before);

    let missing = append_raw(
        &store,
        "User",
        "create",
        2,
        Uuid::now_v7(),
        json!({"name": "no email"}),
    )
    .await;
    assert!(missing.is_ok());
    let err = store
        .replay(Replay::all())
        .await
        .expect_err("still malformed");
    assert!(
        err.to_string().contains(&format!("event {bad}")),
        "the first bad event is named: {err}"
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn replay_without_clear_records_is_refused_before_anything(pool: PgPool) -> TestResult {
    let store = PgEventStore::<AltLog>::new(pool.clone());
    store.migrate().await?;
    alt::create_tables(&mut *pool.acquire().await?).await?;
    Counter::open(alt::Open { start: 1 })
        .record_id(1_i64)
        .run(&store)
        .await?;
    let err = store
        .replay(Replay::all())
        .await
        .expect_err("AltLog has no clear_records_for_replay");
    assert!(
        matches!(
            err,
            Error::Replay(events_core::ReplayError::NoClearRecords { .. })
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("clear_records_for_replay = YourType")
    );
    let (value,): (i64,) = sqlx::query_as("SELECT value FROM counters WHERE id = 1")
        .fetch_one(&pool)
        .await?;
    assert_eq!(value, 1);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn progress_is_reported_per_batch(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    for i in 0..7 {
        User::create(input(&format!("P{i}"))).run(&store).await?;
    }
    let seen: Arc<Mutex<Vec<ReplayProgress>>> = Arc::default();
    let sink = Arc::clone(&seen);
    store
        .replay(Replay::all().batch_size(3).on_progress(move |p| {
            if let Ok(mut s) = sink.lock() {
                s.push(p);
            }
        }))
        .await?;
    let seen: Vec<(u64, u64)> = seen
        .lock()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|p| (p.applied, p.total))
        .collect();
    assert_eq!(seen, [(3, 7), (6, 7), (7, 7)]);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn chunked_replay_commits_with_checkpoints_and_resumes(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(User::create(input(&format!("C{i}"))).run(&store).await?.id);
    }
    for id in &ids {
        User::update(
            *id,
            UpdateUser {
                name: format!("renamed {id}"),
            },
        )
        .run(&store)
        .await?;
    }
    let live = snapshot(&pool).await?;

    let report = store
        .replay(Replay::all().in_chunks(3).batch_size(2))
        .await?;
    assert_eq!((report.applied, report.commits), (10, 4));
    assert_eq!(snapshot(&pool).await?, live);
    assert_eq!(
        store.replay_checkpoint().await?,
        None,
        "a finished replay leaves no checkpoint"
    );

    // Break the 7th event (update of ids[1]): chunks 1 and 2 commit, chunk 3 fails.
    app::FAIL_ON_REPLAY
        .lock()
        .map_err(|e| e.to_string())?
        .push(ids[1]);
    let err = store
        .replay(Replay::all().in_chunks(3))
        .await
        .expect_err("chunk 3 fails");
    let Error::Replay(events_core::ReplayError::Partial { applied, .. }) = &err else {
        panic!("expected PartialReplay, got {err}")
    };
    assert_eq!(*applied, 6);
    assert!(
        err.to_string().contains("resume_replay()"),
        "says what to do: {err}"
    );
    let checkpoint = store
        .replay_checkpoint()
        .await?
        .ok_or("a checkpoint remains")?;
    assert_eq!((checkpoint.applied, checkpoint.total), (6, 10));
    assert_ne!(
        snapshot(&pool).await?,
        live,
        "the state is partially rebuilt, and the error says so"
    );

    let wrong = store
        .resume_replay(Replay::up_to_time(chrono::Utc::now()))
        .await
        .expect_err("other selection");
    assert!(
        matches!(
            wrong,
            Error::Replay(events_core::ReplayError::NothingToResume { .. })
        ),
        "{wrong}"
    );

    app::FAIL_ON_REPLAY
        .lock()
        .map_err(|e| e.to_string())?
        .retain(|id| *id != ids[1]);
    let resumed = store.resume_replay(Replay::all().in_chunks(3)).await?;
    assert_eq!(resumed.applied, 10);
    assert_eq!(snapshot(&pool).await?, live);
    assert_eq!(store.replay_checkpoint().await?, None);
    let none = store
        .resume_replay(Replay::all())
        .await
        .expect_err("nothing to resume");
    assert!(matches!(
        none,
        Error::Replay(events_core::ReplayError::NothingToResume { .. })
    ));
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn replay_waits_for_in_flight_actions_and_blocks_new_ones(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    User::create(input("Eli")).run(&store).await?;
    // An action whose transaction is open while replay starts commits first, and
    // its event is replayed.
    let mut open = store.begin().await?;
    let key = Key::Uuid(Uuid::now_v7());
    let data = json!({"name": "Fin", "email": "fin@example.com"});
    let metadata = json!({});
    let appended = store
        .append(
            &mut open,
            Some(LockKey::DEFAULT),
            &NewEvent {
                resource: "User",
                record_id: &key,
                action: "create",
                action_type: ActionKind::Create,
                actor: None,
                data: &data,
                metadata: &metadata,
                version: 2,
                tenant: None,
                personal: None,
            },
            None,
        )
        .await?;
    let Key::Uuid(fin) = key else { unreachable!() };
    sqlx::query(
        "INSERT INTO users (id, name, email, created_at) VALUES ($1, 'Fin', 'fin@example.com', $2)",
    )
    .bind(fin)
    .bind(appended.occurred_at)
    .execute(&mut *open)
    .await?;
    let replay_store = store.clone();
    let replay = tokio::spawn(async move { replay_store.replay(Replay::all()).await });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!replay.is_finished(), "replay waits for the open action");
    open.commit().await?;
    let report = replay.await??;
    assert_eq!(report.applied, 2, "the late commit is part of the replay");
    let names: Vec<(String,)> = sqlx::query_as("SELECT name FROM users ORDER BY name")
        .fetch_all(&pool)
        .await?;
    assert_eq!(names, [("Eli".to_owned(),), ("Fin".to_owned(),)]);
    Ok(())
}

fn signup(name: &str, first_post: &str, tolerate_failed_post: bool) -> app::Signup {
    app::Signup {
        name: name.to_owned(),
        email: format!("{}@example.com", name.to_lowercase()),
        first_post: first_post.to_owned(),
        tolerate_failed_post,
    }
}

#[sqlx::test(migrations = false)]
async fn a_nested_action_records_its_own_event_and_is_not_replayed_twice(
    pool: PgPool,
) -> TestResult {
    let store = app_store(&pool).await?;
    let user = User::signup(signup("Gil", "Hello", false))
        .run(&store)
        .await?;
    let events = store.list_events(None, 100).await?;
    let actions: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.resource.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        actions,
        [("User", "signup"), ("blog.post", "publish")],
        "the caller's event comes first"
    );
    let live = snapshot(&pool).await?;
    assert_eq!(live.posts.len(), 1);
    assert_eq!(live.posts[0].author_id, user.id);

    store.replay(Replay::all()).await?;
    let replayed = snapshot(&pool).await?;
    assert_eq!(
        replayed.posts.len(),
        1,
        "the nested publish is applied once, from its own event"
    );
    assert_eq!(replayed, live);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn a_failed_nested_action_rolls_back_alone_or_with_its_caller(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    // Tolerated: the post and its event roll back to the savepoint; the signup stays.
    let kept = User::signup(signup("Hal", "", true)).run(&store).await?;
    let events = store.list_events(None, 100).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].action.as_str(), events[0].record_id.clone()),
        ("signup", Key::Uuid(kept.id))
    );
    let state = snapshot(&pool).await?;
    assert_eq!((state.users.len(), state.posts.len()), (1, 0));

    // Propagated: everything rolls back.
    let err = User::signup(signup("Ivy", "", false))
        .run(&store)
        .await
        .expect_err("the post fails");
    assert!(matches!(err, Error::MalformedRow { .. }), "{err}");
    assert_eq!(store.list_events(None, 100).await?.len(), 1);
    assert_eq!(snapshot(&pool).await?, state);

    store.replay(Replay::all()).await?;
    assert_eq!(snapshot(&pool).await?, state);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn run_in_refuses_an_action_of_another_event_log(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let err = User::create_counter_from_other_log(input("Jo"))
        .run(&store)
        .await
        .expect_err("other log");
    assert!(
        matches!(
            err,
            Error::NestedOtherLog {
                resource: "Counter",
                action: "open"
            }
        ),
        "{err}"
    );
    assert!(
        store.list_events(None, 100).await?.is_empty(),
        "the caller rolled back with the error"
    );
    Ok(())
}
