//! Bulk actions on a real PostgreSQL: one event per input, written by one
//! statement with the state change in one transaction; replayed one by one
//! through the single action to the same state; locks taken in key order.

use std::collections::BTreeSet;

use events_core::audit::Changes;
use events_core::replay::Replay;
use events_core::{
    ActionCtx, BulkCtx, ClearRecords, Error, EventId, EventLog as _, LockKey, LockKeyInput,
    Resource as _, event_log, events,
};
use events_postgres::PgEventStore;
use events_tests::app::{self, Admin, UpdateUser, User};
use events_tests::{held_advisory_locks, pg_locks_row, snapshot};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

type TestResult = Result<(), Box<dyn std::error::Error>>;

use events_tests::app::create_input as input;
use events_tests::app::store as app_store;

/// Clears the `slots` table before a replay.
pub struct ClearSlots;

impl ClearRecords for ClearSlots {
    async fn clear_records(conn: &mut PgConnection) -> Result<(), Error> {
        sqlx::query("DELETE FROM slots").execute(&mut *conn).await?;
        Ok(())
    }
}

/// One lock per record.
#[event_log(
    advisory_lock_scope = record,
    table = "slot_events",
    clear_records_for_replay = ClearSlots
)]
pub struct SlotLog;

/// A counter per record id.
pub struct Slot;

#[events(event_log = SlotLog)]
impl Slot {
    /// Adds `by` to one slot, creating it at 0.
    #[update]
    pub async fn bump(ctx: &mut ActionCtx<'_>, by: i64) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO slots (id, value) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET value = slots.value + EXCLUDED.value",
        )
        .bind(ctx.record_id())
        .bind(by)
        .execute(ctx.conn())
        .await?;
        Ok(())
    }

    /// Opens one slot at `value`.
    #[create]
    pub async fn open(ctx: &mut ActionCtx<'_>, value: i64) -> Result<(), Error> {
        sqlx::query("INSERT INTO slots (id, value) VALUES ($1, $2)")
            .bind(ctx.record_id())
            .bind(value)
            .execute(ctx.conn())
            .await?;
        Ok(())
    }

    /// Opens many slots; returns the advisory locks the transaction holds.
    #[bulk(open)]
    pub async fn open_many(
        ctx: &mut BulkCtx<'_>,
        inputs: Vec<i64>,
    ) -> Result<Vec<(i64, i64, i16)>, Error> {
        sqlx::query("INSERT INTO slots (id, value) SELECT * FROM unnest($1::uuid[], $2::int8[])")
            .bind(ctx.record_ids())
            .bind(&inputs)
            .execute(ctx.conn())
            .await?;
        held_advisory_locks(ctx.conn()).await
    }

    /// Bumps many slots in one statement; returns the advisory locks the
    /// transaction holds while it runs.
    #[bulk(bump)]
    pub async fn bump_many(
        ctx: &mut BulkCtx<'_>,
        inputs: Vec<i64>,
    ) -> Result<Vec<(i64, i64, i16)>, Error> {
        sqlx::query(
            "INSERT INTO slots (id, value) \
             SELECT id, sum(by) FROM unnest($1::uuid[], $2::int8[]) AS u(id, by) GROUP BY id \
             ON CONFLICT (id) DO UPDATE SET value = slots.value + EXCLUDED.value",
        )
        .bind(ctx.record_ids())
        .bind(&inputs)
        .execute(ctx.conn())
        .await?;
        held_advisory_locks(ctx.conn()).await
    }
}

/// A label per record, with its changes recorded for the audit log.
pub struct Label;

#[events(event_log = SlotLog)]
impl Label {
    /// Sets one label.
    #[update]
    pub async fn set(ctx: &mut ActionCtx<'_>, text: String) -> Result<(), Error> {
        let old: Option<String> = sqlx::query_scalar("SELECT text FROM labels WHERE id = $1")
            .bind(ctx.record_id())
            .fetch_optional(ctx.conn())
            .await?;
        sqlx::query("UPDATE labels SET text = $2 WHERE id = $1")
            .bind(ctx.record_id())
            .bind(&text)
            .execute(ctx.conn())
            .await?;
        ctx.record_updated(&json!({ "text": old }), &json!({ "text": text }))
            .await?;
        Ok(())
    }

    /// Sets many labels with one statement; records every change with one more.
    #[bulk(set)]
    pub async fn set_many(ctx: &mut BulkCtx<'_>, texts: Vec<String>) -> Result<(), Error> {
        let ids = ctx.record_ids().to_vec();
        let old: Vec<(Uuid, String)> =
            sqlx::query_as("SELECT id, text FROM labels WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(ctx.conn())
                .await?;
        sqlx::query(
            "UPDATE labels SET text = u.text FROM unnest($1::uuid[], $2::text[]) AS u(id, text) \
             WHERE labels.id = u.id",
        )
        .bind(ctx.record_ids())
        .bind(&texts)
        .execute(ctx.conn())
        .await?;
        let changes = ctx
            .record_ids()
            .iter()
            .zip(&texts)
            .map(|(id, text)| {
                let before = old.iter().find(|(o, _)| o == id).map(|(_, t)| t.clone());
                Changes::updated(&json!({ "text": before }), &json!({ "text": text }))
            })
            .collect::<Result<Vec<_>, _>>()?;
        ctx.record_all(changes).await
    }
}

/// A broken bulk form of `Label::set`: records one `Changes` too few.
pub struct BrokenLabel;

#[events(event_log = SlotLog)]
impl BrokenLabel {
    /// Never called: the single form the bulk one belongs to.
    #[update]
    pub async fn set(_ctx: &mut ActionCtx<'_>, _text: String) -> Result<(), Error> {
        Ok(())
    }

    /// Writes the labels, then records changes for all inputs but the last.
    #[bulk(set)]
    pub async fn set_many(ctx: &mut BulkCtx<'_>, texts: Vec<String>) -> Result<(), Error> {
        sqlx::query(
            "UPDATE labels SET text = u.text FROM unnest($1::uuid[], $2::text[]) AS u(id, text) \
             WHERE labels.id = u.id",
        )
        .bind(ctx.record_ids().to_vec())
        .bind(&texts)
        .execute(ctx.conn())
        .await?;
        let changes = texts
            .iter()
            .skip(1)
            .map(|t| Changes::updated(&json!({}), &json!({ "text": t })))
            .collect::<Result<Vec<_>, _>>()?;
        ctx.record_all(changes).await
    }
}

async fn slot_store(pool: &PgPool) -> Result<PgEventStore<SlotLog>, Box<dyn std::error::Error>> {
    let store = PgEventStore::<SlotLog>::new(pool.clone());
    store.migrate().await?;
    sqlx::raw_sql(
        "CREATE TABLE slots (id uuid PRIMARY KEY, value bigint NOT NULL);
         CREATE TABLE labels (id uuid PRIMARY KEY, text text NOT NULL);",
    )
    .execute(pool)
    .await?;
    Ok(store)
}

async fn slots(pool: &PgPool) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT id, value FROM slots ORDER BY id")
        .fetch_all(pool)
        .await
}

#[sqlx::test(migrations = false)]
async fn bulk_create_writes_one_event_per_input_in_one_transaction(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let admin = Admin { id: Uuid::now_v7() };
    let names = ["Ada", "Grace", "Edsger", "Barbara"];
    let users = User::create_many(names.iter().map(|n| input(n)))
        .actor(&admin)
        .metadata(json!({"source": "import"}))
        .run(&store)
        .await?;
    assert_eq!(users.len(), names.len());

    let events = store.list_events(None, 100).await?;
    assert_eq!(events.len(), names.len(), "one event per input");
    for ((event, user), name) in events.iter().zip(&users).zip(names) {
        // The events are `create`'s, at its current version, in input order.
        assert_eq!(event.resource, "User");
        assert_eq!(event.action, "create");
        assert_eq!(event.version, 2);
        assert_eq!(event.record_id, events_core::Key::Uuid(user.id));
        assert_eq!(
            event.data,
            json!({"name": name, "email": input(name).email})
        );
        assert_eq!(event.metadata, json!({"source": "import"}));
        assert_eq!(
            event.actor,
            Some(("user_id".to_owned(), events_core::Key::Uuid(admin.id)))
        );
        // One timestamp for the call: the body's `ctx.now()`.
        assert_eq!(event.occurred_at, user.created_at);
    }
    let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "event ids ascend in input order");

    let state = snapshot(&pool).await?;
    assert_eq!(state.users.len(), names.len());
    for user in &users {
        assert!(state.users.contains(user), "{user:?} is stored");
    }
    // All of it committed in one transaction.
    let txids: i64 = sqlx::query_scalar("SELECT count(DISTINCT txid) FROM events")
        .fetch_one(&pool)
        .await?;
    assert_eq!(txids, 1);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn a_failing_bulk_body_leaves_no_event_and_no_row(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let err = User::create_many([input("Ada"), input(""), input("Grace")])
        .run(&store)
        .await
        .expect_err("an empty name fails the whole call");
    assert!(matches!(err, Error::MalformedRow { .. }), "{err}");
    assert!(store.list_events(None, 10).await?.is_empty());
    assert!(snapshot(&pool).await?.users.is_empty());
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn record_ids_must_match_the_inputs(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let err = User::create_many([input("Ada"), input("Grace")])
        .record_ids([Uuid::now_v7()])
        .run(&store)
        .await
        .expect_err("two inputs, one record id");
    assert!(
        matches!(
            err,
            Error::BulkRecordIds {
                inputs: 2,
                record_ids: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("give one record id per input"));
    assert!(store.list_events(None, 10).await?.is_empty());

    // Given ids are used, in order.
    let ids = [Uuid::now_v7(), Uuid::now_v7()];
    let users = User::create_many([input("Ada"), input("Grace")])
        .record_ids(ids)
        .run(&store)
        .await?;
    assert_eq!(users.iter().map(|u| u.id).collect::<Vec<_>>(), ids);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn an_empty_bulk_call_writes_nothing(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let call = User::create_many(Vec::new());
    assert!(call.is_empty());
    assert!(call.run(&store).await?.is_empty());
    assert!(store.list_events(None, 10).await?.is_empty());
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn replay_of_bulk_events_rebuilds_the_live_state(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let users = User::create_many((0..50).map(|i| input(&format!("user{i}"))))
        .run(&store)
        .await?;
    // Single actions between bulk calls, and a record renamed twice in one call:
    // replay must apply every event in the order the live calls did.
    User::update(
        users[0].id,
        UpdateUser {
            name: "solo".into(),
        },
    )
    .run(&store)
    .await?;
    let renames = users
        .iter()
        .step_by(3)
        .map(|u| {
            (
                u.id,
                UpdateUser {
                    name: format!("{}-renamed", u.name),
                },
            )
        })
        .chain([(
            users[3].id,
            UpdateUser {
                name: "twice".into(),
            },
        )]);
    let renamed = User::rename_many(renames).run(&store).await?;
    assert_eq!(renamed, 17, "17 distinct users renamed");
    User::create(input("late")).run(&store).await?;

    let live = snapshot(&pool).await?;
    assert_eq!(
        live.users
            .iter()
            .find(|u| u.id == users[3].id)
            .map(|u| u.name.as_str()),
        Some("twice")
    );
    let report = store.replay(Replay::all()).await?;
    assert_eq!(report.applied, 50 + 1 + 18 + 1);
    assert_eq!(
        snapshot(&pool).await?,
        live,
        "replayed state equals live state"
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn bulk_takes_each_records_lock_once(pool: PgPool) -> TestResult {
    let store = slot_store(&pool).await?;
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let held = Slot::bump_many([(c, 1), (a, 2), (c, 3), (b, 4)])
        .run(&store)
        .await?;
    let key = |id: Uuid| {
        <Slot as events_core::Resource>::advisory_lock_key(&LockKeyInput {
            resource: Slot::NAME,
            action: "bump",
            record_id: &events_core::Key::Uuid(id),
            tenant: None,
        })
    };
    let expected: BTreeSet<(i64, i64, i16)> = [key(a)?, key(b)?, key(c)?]
        .into_iter()
        .map(pg_locks_row)
        .collect();
    assert_eq!(held.into_iter().collect::<BTreeSet<_>>(), expected);
    assert!(matches!(key(a)?, LockKey::Single(_)));
    assert_eq!(SlotLog::TABLE, "slot_events");
    assert_eq!(store.list_events(None, 10).await?.len(), 4);
    Ok(())
}

/// Two bulk calls over the same records in opposite orders, both made to queue
/// behind a third transaction that holds the lock of a record in the middle: with
/// the locks taken in key order, whichever goes first takes them all and the other
/// waits; in input order, each would hold half the keys and wait for the other's
/// (PostgreSQL would abort one with a deadlock error).
#[sqlx::test(migrations = false)]
async fn concurrent_bulk_calls_over_the_same_records_do_not_deadlock(pool: PgPool) -> TestResult {
    let store = slot_store(&pool).await?;
    let ids: Vec<Uuid> = (0..40).map(|_| Uuid::now_v7()).collect();
    let rounds = 3;
    for _ in 0..rounds {
        let middle = <Slot as events_core::Resource>::advisory_lock_key(&LockKeyInput {
            resource: Slot::NAME,
            action: "bump",
            record_id: &events_core::Key::Uuid(ids[20]),
            tenant: None,
        })?;
        let LockKey::Single(middle) = middle else {
            return Err("record keys are single keys".into());
        };
        let mut blocker = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(middle)
            .execute(&mut *blocker)
            .await?;
        let spawn = |ids: Vec<Uuid>| {
            let store = store.clone();
            tokio::spawn(async move {
                Slot::bump_many(ids.into_iter().map(|id| (id, 1)))
                    .run(&store)
                    .await
            })
        };
        let forward = spawn(ids.clone());
        let backward = spawn(ids.iter().rev().copied().collect());
        // Both calls are waiting on the blocker by now.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        blocker.commit().await?;
        forward.await??;
        backward.await??;
    }
    let state = slots(&pool).await?;
    assert_eq!(state.len(), ids.len());
    assert!(state.iter().all(|(_, v)| *v == 2 * rounds));

    // And the log replays to the same counts.
    store.replay(Replay::all()).await?;
    assert_eq!(slots(&pool).await?, state);
    Ok(())
}

/// Under the record scope, a bulk create of generated ids has nothing to wait
/// for and takes no lock (so an import of any size fits PostgreSQL's lock
/// table); given ids may name existing records, so they are locked.
#[sqlx::test(migrations = false)]
async fn record_scope_bulk_create_locks_only_given_ids(pool: PgPool) -> TestResult {
    let store = slot_store(&pool).await?;
    let held = Slot::open_many(0..20_000).run(&store).await?;
    assert!(held.is_empty(), "generated ids take no lock: {held:?}");
    assert_eq!(slots(&pool).await?.len(), 20_000);
    assert_eq!(store.list_events(None, 30_000).await?.len(), 20_000);

    let ids = [Uuid::now_v7(), Uuid::now_v7()];
    let held = Slot::open_many([1, 2]).record_ids(ids).run(&store).await?;
    assert_eq!(held.len(), 2, "given ids are locked: {held:?}");
    Ok(())
}

/// The bulk form of an ignored action runs its body in one transaction and
/// writes no event, under no lock, like the single action.
#[sqlx::test(migrations = false)]
async fn bulk_of_an_ignored_action_writes_no_event(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let users = User::create_many([input("Ada"), input("Grace")])
        .tenant(7_i64)
        .run(&store)
        .await?;
    let events = store.list_events(None, 10).await?;
    assert!(events.iter().all(|e| e.tenant.as_deref() == Some("7")));

    let (event_ids, locks) = User::touch_many(users.iter().map(|u| (u.id, ())))
        .run(&store)
        .await?;
    assert_eq!((event_ids, locks), (0, vec![]));
    assert_eq!(store.list_events(None, 10).await?.len(), 2, "no new event");
    Ok(())
}

/// UUIDv7 event ids, integer record ids and a pair lock key (the `alt` log): a
/// bulk create needs its record ids, returns event ids in input order, takes the
/// pair lock once.
#[sqlx::test(migrations = false)]
async fn bulk_with_uuid_event_ids_integer_records_and_a_pair_key(pool: PgPool) -> TestResult {
    use events_tests::alt::{self, AltLog, Counter, Open};
    let store = PgEventStore::<AltLog>::new(pool.clone());
    store.migrate().await?;
    alt::create_tables(&mut *pool.acquire().await?).await?;

    let err = Counter::open_many([Open { start: 1 }])
        .run(&store)
        .await
        .expect_err("integer record ids cannot be generated");
    assert!(matches!(err, Error::MissingRecordId { .. }), "{err}");

    let (event_ids, held) = Counter::open_many((1..=5).map(|start| Open { start }))
        .record_ids([50_i64, 10, 40, 20, 30])
        .run(&store)
        .await?;
    assert_eq!(held, vec![pg_locks_row(LockKey::Pair(1337, 31337))]);
    let events = store.list_events(None, 10).await?;
    let stored: Vec<(EventId, events_core::Key)> =
        events.iter().map(|e| (e.id, e.record_id.clone())).collect();
    let mut by_id = stored.clone();
    by_id.sort();
    assert_eq!(stored, by_id);
    let expected: Vec<(EventId, events_core::Key)> = event_ids
        .iter()
        .copied()
        .zip([50_i64, 10, 40, 20, 30].map(events_core::Key::Integer))
        .collect();
    assert_eq!(stored, expected, "event ids follow input order");
    assert!(event_ids.iter().all(|id| matches!(id, EventId::Uuid(_))));
    Ok(())
}

/// `each(..)`: every call's own body, actor and metadata, one transaction, one
/// statement for the events, hooks as for single actions.
#[sqlx::test(migrations = false)]
async fn each_runs_every_body_in_one_transaction(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let admin = Admin { id: Uuid::now_v7() };
    let names = ["Ada", "Grace", "Edsger"];
    let importer = app::SystemActor("importer");
    let calls = names.iter().enumerate().map(|(i, n)| {
        let call = User::create(input(n)).metadata(json!({ "line": i }));
        // Two actor columns: NULL in the other one, row by row.
        if i == 2 {
            call.actor(&importer)
        } else {
            call.actor(&admin)
        }
    });
    let users = events_core::each(calls).run(&store).await?;
    assert_eq!(users.len(), 3);

    let events = store.list_events(None, 10).await?;
    assert_eq!(events.len(), 3);
    for (i, (event, user)) in events.iter().zip(&users).enumerate() {
        assert_eq!(event.action, "create");
        assert_eq!(event.version, 2);
        assert_eq!(event.record_id, events_core::Key::Uuid(user.id));
        assert_eq!(event.metadata, json!({ "line": i }));
        let expected_actor = if i == 2 {
            (
                "system_actor".to_owned(),
                events_core::Key::String("importer".into()),
            )
        } else {
            ("user_id".to_owned(), events_core::Key::Uuid(admin.id))
        };
        assert_eq!(event.actor, Some(expected_actor));
        assert_eq!(event.occurred_at, user.created_at, "the body's ctx.now()");
    }
    let txids: i64 = sqlx::query_scalar("SELECT count(DISTINCT txid) FROM events")
        .fetch_one(&pool)
        .await?;
    assert_eq!(txids, 1, "one transaction");
    // `create` registers an after-action hook and an after-commit hook: each ran
    // once per call.
    let side_effects: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_side_effects")
        .fetch_one(&pool)
        .await?;
    assert_eq!(side_effects, 3);
    assert!(users.iter().all(|u| app::after_commit_runs(u.id) == 1));

    // Mixed with updates of those users, then replayed: the live state.
    let renames = users.iter().map(|u| {
        User::update(
            u.id,
            UpdateUser {
                name: format!("{} (renamed)", u.name),
            },
        )
    });
    events_core::each(renames).run(&store).await?;
    let live = snapshot(&pool).await?;
    store.replay(Replay::all()).await?;
    assert_eq!(snapshot(&pool).await?, live);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn each_is_all_or_nothing(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let calls = [input("Ada"), input(""), input("Grace")].map(User::create);
    let err = events_core::each(calls)
        .run(&store)
        .await
        .expect_err("the empty name fails its call");
    assert!(matches!(err, Error::MalformedRow { .. }), "{err}");
    assert!(store.list_events(None, 10).await?.is_empty());
    assert!(snapshot(&pool).await?.users.is_empty());
    let side_effects: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_side_effects")
        .fetch_one(&pool)
        .await?;
    assert_eq!(
        side_effects, 0,
        "the first call's after-action hook rolled back too"
    );
    let none: Vec<events_core::ActionCall<User, app::CreateUser, Result<User, Error>>> = Vec::new();
    assert!(events_core::each(none).run(&store).await?.is_empty());
    Ok(())
}

/// A body run by `each` cannot nest an action: its event would land after all of
/// the call's events and replay would apply it out of order.
#[sqlx::test(migrations = false)]
async fn each_refuses_nested_actions(pool: PgPool) -> TestResult {
    let store = app_store(&pool).await?;
    let signup = User::signup(app::Signup {
        name: "Ada".into(),
        email: "ada@example.com".into(),
        first_post: "Hello".into(),
        tolerate_failed_post: false,
    });
    let err = events_core::each([signup])
        .run(&store)
        .await
        .expect_err("nested publish refused");
    assert!(
        matches!(
            err,
            Error::NestedInEach {
                action: "publish",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("run it as a call of its own"),
        "{err}"
    );
    assert!(store.list_events(None, 10).await?.is_empty());
    Ok(())
}

/// A bulk body records every input's changes with its event, and the request
/// context reaches every event: the audit log shows a bulk call like single ones.
#[sqlx::test(migrations = false)]
async fn bulk_changes_and_request_reach_the_audit_log(pool: PgPool) -> TestResult {
    use events_core::audit::{AuditQuery, RequestContext};
    let store = slot_store(&pool).await?;
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    for id in &ids {
        sqlx::query("INSERT INTO labels (id, text) VALUES ($1, 'old')")
            .bind(id)
            .execute(&pool)
            .await?;
    }
    let request = RequestContext::new().request_id("req-bulk");
    Label::set_many(
        ids.iter()
            .enumerate()
            .map(|(i, id)| (*id, format!("new {i}"))),
    )
    .request(&request)
    .run(&store)
    .await?;
    let entries = store
        .audit()
        .list(&AuditQuery::new().request_id("req-bulk"))
        .await?;
    assert_eq!(entries.len(), 3, "every event carries the request id");
    for entry in &entries {
        let Some(events_core::Key::Uuid(id)) = entry.record_id.clone() else {
            return Err("a uuid record id".into());
        };
        let i = ids.iter().position(|x| *x == id).ok_or("one of ours")?;
        let diff = entry.diff_values().ok_or("changes recorded")?;
        assert_eq!(diff.get("text"), Some(&json!(format!("new {i}"))));
        let old = entry.old_values().ok_or("old values recorded")?;
        assert_eq!(old.get("text"), Some(&json!("old")));
    }

    // One `Changes` per input or none: a short list fails the call, which rolls
    // back with its events.
    let before = store.list_events(None, 100).await?.len();
    let err = BrokenLabel::set_many(ids.iter().map(|id| (*id, "broken".to_owned())))
        .run(&store)
        .await
        .expect_err("two changes for three inputs");
    assert!(
        err.to_string().contains("give one `Changes` per input"),
        "{err}"
    );
    assert_eq!(store.list_events(None, 100).await?.len(), before);
    let texts: Vec<String> = sqlx::query_scalar("SELECT text FROM labels ORDER BY id")
        .fetch_all(&pool)
        .await?;
    assert!(texts.iter().all(|t| t.starts_with("new")), "{texts:?}");
    Ok(())
}
