//! The log's trust guarantees on a real PostgreSQL: order by the transaction id
//! itself (never its text), one replay at a time, retention that never makes
//! replay lose state silently, least-privilege roles that cannot change stored
//! rows, database-assigned order, required actors, schema-qualified tables.

use std::str::FromStr;

use events_core::audit::{AuditQuery, ManualEntry};
use events_core::replay::{Replay, Selection};
use events_core::{ActionCtx, Actor, ClearRecords, Error, EventId, event_log, events};
use events_postgres::PgEventStore;
use events_postgres::follow::Position;
use events_tests::app::{self, EventLog, UpdateUser, User};
use events_tests::snapshot;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

type TestResult = Result<(), Box<dyn std::error::Error>>;

// ---- a schema-qualified log whose state table has no primary key --------------

/// Clears the notes before a replay.
pub struct ClearNotes;

impl ClearRecords for ClearNotes {
    async fn clear_records(conn: &mut PgConnection) -> Result<(), Error> {
        sqlx::query("DELETE FROM notes").execute(conn).await?;
        Ok(())
    }
}

/// An event log in its own schema.
#[event_log(
    table = "audit.trail",
    clear_records_for_replay = ClearNotes,
    track_commit_time = true,
    persist_actor_primary_key(user_id, Member),
)]
pub struct TrailLog;

/// A person.
#[derive(Debug, Clone, Copy)]
pub struct Member(pub Uuid);

impl Actor for Member {
    type PrimaryKey = Uuid;
    fn primary_key(&self) -> Uuid {
        self.0
    }
}

/// A note: its table has no primary key, so a doubled replay would show.
pub struct Note;

/// Input of `Note::write`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteNote {
    /// The text.
    pub text: String,
}

#[events(event_log = TrailLog)]
impl Note {
    /// Writes a note and records it as created.
    #[create]
    pub async fn write(ctx: &mut ActionCtx<'_>, input: WriteNote) -> Result<(), Error> {
        sqlx::query("INSERT INTO notes (id, text) VALUES ($1, $2)")
            .bind(ctx.record_id())
            .bind(&input.text)
            .execute(ctx.conn())
            .await?;
        ctx.record_created(&serde_json::json!({ "text": input.text }))
            .await?;
        Ok(())
    }
}

async fn trail_store(pool: &PgPool) -> Result<PgEventStore<TrailLog>, Box<dyn std::error::Error>> {
    let store = PgEventStore::<TrailLog>::new(pool.clone());
    store.migrate().await?;
    sqlx::query("CREATE TABLE notes (id uuid NOT NULL, text text NOT NULL)")
        .execute(pool)
        .await?;
    Ok(store)
}

async fn notes(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT text FROM notes ORDER BY text")
        .fetch_all(pool)
        .await
}

// ---- 0. order by xid8, never by its text ----------------------------------------

/// Gives the events, in id order, the transaction ids `txids` (as rows crafted by
/// a superuser with triggers off would have them): the log then spans 9 → 10,
/// 99 → 100, 999 → 1000, where text order and numeric order disagree.
async fn craft_txids(pool: &PgPool, txids: &[u64]) -> TestResult {
    let mut conn = pool.acquire().await?;
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await?;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM events WHERE action_type <> 'manual' ORDER BY id")
            .fetch_all(&mut *conn)
            .await?;
    assert_eq!(ids.len(), txids.len());
    for (id, txid) in ids.iter().zip(txids) {
        sqlx::query("UPDATE events SET txid = $1::text::xid8 WHERE id = $2")
            .bind(txid.to_string())
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("SET session_replication_role = origin")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

const POWERS_OF_TEN: [u64; 6] = [9, 10, 99, 100, 999, 1000];

/// Six users created, then given transaction ids across powers of ten.
async fn log_across_powers_of_ten(
    pool: &PgPool,
) -> Result<
    (PgEventStore<EventLog>, events_tests::Snapshot, Vec<EventId>),
    Box<dyn std::error::Error>,
> {
    let store = app::store(pool).await?;
    for name in ["Ada", "Bea", "Cy", "Di", "Ed", "Flo"] {
        User::create(app::create_input(name)).run(&store).await?;
    }
    craft_txids(pool, &POWERS_OF_TEN).await?;
    let live = snapshot(pool).await?;
    let ids = store
        .list_events(None, 100)
        .await?
        .iter()
        .map(|e| e.id)
        .collect();
    Ok((store, live, ids))
}

#[sqlx::test(migrations = false)]
async fn replay_orders_by_the_transaction_id_not_its_text(pool: PgPool) -> TestResult {
    let (store, live, ids) = log_across_powers_of_ten(&pool).await?;

    for replay in [
        Replay::all(),
        Replay::all().batch_size(1),
        Replay::up_to_event(ids[5]),
        Replay::up_to_event(ids[5]).batch_size(2),
        Replay::up_to_time(chrono::Utc::now()),
    ] {
        let report = store.replay(replay).await?;
        assert_eq!(report.applied, 6);
        assert_eq!(report.last_event, Some(ids[5]));
        assert_eq!(snapshot(&pool).await?, live);
    }
    // A cut at the event of transaction 999 includes the five before it, not the
    // one of transaction 1000.
    let report = store
        .replay(Replay::up_to_event(ids[4]).batch_size(1))
        .await?;
    assert_eq!(report.applied, 5);
    assert_eq!(snapshot(&pool).await?.users.len(), 5);

    // Chunked, one event a commit: every chunk crosses a boundary.
    let report = store.replay(Replay::all().in_chunks(1)).await?;
    assert_eq!((report.applied, report.commits), (6, 6));
    assert_eq!(snapshot(&pool).await?, live);
    assert_eq!(store.verify_replayable(&Selection::All).await?.events, 6);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn resumed_replay_crosses_powers_of_ten(pool: PgPool) -> TestResult {
    let (store, live, _) = log_across_powers_of_ten(&pool).await?;
    // Make the fourth event (transaction 100) fail once: its user's email is taken.
    let fourth = store.list_events(None, 100).await?[3].clone();
    let record = match fourth.record_id {
        events_core::Key::Uuid(u) => u,
        other => return Err(format!("record id {other:?}").into()),
    };
    sqlx::query("CREATE TABLE blocker (email text)")
        .execute(&pool)
        .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(
        "CREATE OR REPLACE FUNCTION block() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF EXISTS (SELECT 1 FROM blocker WHERE email = NEW.email) THEN RAISE 'blocked'; END IF; \
         RETURN NEW; END $$; \
         DROP TRIGGER IF EXISTS block ON users; \
         CREATE TRIGGER block BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION block();"
            .to_owned(),
    ))
    .execute(&pool)
    .await?;
    let email: String = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(record)
        .fetch_one(&pool)
        .await?;
    sqlx::query("INSERT INTO blocker VALUES ($1)")
        .bind(&email)
        .execute(&pool)
        .await?;

    let err = store
        .replay(Replay::all().in_chunks(1))
        .await
        .expect_err("the fourth event fails");
    assert!(
        matches!(
            err,
            Error::Replay(events_core::ReplayError::Partial { applied: 3, .. })
        ),
        "{err}"
    );
    let checkpoint = store.replay_checkpoint().await?.ok_or("a checkpoint")?;
    assert_eq!(checkpoint.applied, 3);

    sqlx::query("DELETE FROM blocker").execute(&pool).await?;
    let report = store.resume_replay(Replay::all().in_chunks(1)).await?;
    assert_eq!(report.applied, 6, "3 before the failure + 3 after");
    assert_eq!(snapshot(&pool).await?, live);
    assert!(store.replay_checkpoint().await?.is_none());
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn followers_page_across_powers_of_ten(pool: PgPool) -> TestResult {
    let (store, _, ids) = log_across_powers_of_ten(&pool).await?;
    for limit in [1, 2, 4, 100] {
        let mut cursor: Option<Position> = None;
        let mut seen = Vec::new();
        let mut txids = Vec::new();
        loop {
            let page = store.read_committed(cursor, limit).await?;
            if page.events.is_empty() {
                break;
            }
            seen.extend(page.events.iter().map(|e| e.id));
            cursor = page.cursor;
            txids.push(cursor.ok_or("a cursor")?.txid);
        }
        assert_eq!(seen, ids, "page size {limit}");
        assert!(txids.windows(2).all(|w| w[0] < w[1]), "{txids:?}");
        assert_eq!(txids.last(), Some(&1000));
    }
    Ok(())
}

/// Reads committed events after `after` until `n` have arrived: the commit-safe
/// reader holds events back while any older transaction of the cluster is open,
/// and other tests run transactions in parallel.
async fn committed_after<L: events_core::EventLog>(
    store: &PgEventStore<L>,
    after: Option<Position>,
    n: usize,
) -> Result<Vec<events_core::Event>, Box<dyn std::error::Error>> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let page = store.read_committed(after, 1000).await?;
        if page.events.len() >= n || tokio::time::Instant::now() > deadline {
            return Ok(page.events);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

// ---- 1. one replay at a time ----------------------------------------------------

/// Options to connect to the test database of `pool` as `role`.
async fn connect_as(pool: &PgPool, role: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await?;
    Ok(PgConnectOptions::from_str(&events_tests::database_url())?
        .database(&db)
        .username(role))
}

/// Holds the replay lock of `table` from another session, as a replay running in
/// another process does.
async fn hold_replay_lock(pool: &PgPool, table: &str) -> Result<PgConnection, sqlx::Error> {
    use sqlx::Connection as _;
    let mut conn = PgConnection::connect_with(&connect_as(pool, "postgres").await?).await?;
    let locked: bool = sqlx::query_scalar(
        "SELECT pg_try_advisory_lock(hashtext('events_postgres.replay'), hashtext($1))",
    )
    .bind(table)
    .fetch_one(&mut conn)
    .await?;
    assert!(locked);
    Ok(conn)
}

#[sqlx::test(migrations = false)]
async fn a_replay_refuses_while_another_runs(pool: PgPool) -> TestResult {
    let store = trail_store(&pool).await?;
    for text in ["a", "b", "c"] {
        Note::write(WriteNote { text: text.into() })
            .actor(&Member(Uuid::now_v7()))
            .run(&store)
            .await?;
    }
    let other = hold_replay_lock(&pool, "audit.trail").await?;
    for replay in [Replay::all(), Replay::all().in_chunks(1)] {
        let err = store.replay(replay).await.expect_err("another replay runs");
        assert!(
            matches!(
                err,
                Error::Replay(events_core::ReplayError::InProgress {
                    table: "audit.trail"
                })
            ),
            "{err}"
        );
    }
    let err = store
        .resume_replay(Replay::all().in_chunks(1))
        .await
        .expect_err("another replay runs");
    assert!(
        matches!(
            err,
            Error::Replay(events_core::ReplayError::InProgress { .. })
        ),
        "{err}"
    );
    assert_eq!(notes(&pool).await?, ["a", "b", "c"], "nothing was cleared");
    let mut other = other;
    sqlx::query("SELECT pg_advisory_unlock_all()")
        .execute(&mut other)
        .await?;
    sqlx::Connection::close(other).await?;

    // Once it is gone, replays run again; two started together never double the
    // state: one runs, the other refuses or runs after it.
    let (a, b) = tokio::join!(
        store.replay(Replay::all()),
        store.replay(Replay::all().in_chunks(2))
    );
    for result in [&a, &b] {
        match result {
            Ok(report) => assert_eq!(report.applied, 3),
            Err(Error::Replay(events_core::ReplayError::InProgress { .. })) => {}
            Err(e) => return Err(format!("unexpected {e}").into()),
        }
    }
    assert!(a.is_ok() || b.is_ok());
    assert_eq!(notes(&pool).await?, ["a", "b", "c"]);
    let locks: i64 =
        // This test's database only: other tests' actions hold advisory locks of their own.
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
            .fetch_one(&pool)
            .await?;
    assert_eq!(locks, 0, "no replay lock left behind");
    Ok(())
}

// ---- 3. retention keeps what replay needs ---------------------------------------

#[sqlx::test(migrations = false)]
async fn prune_keeps_action_events_unless_replay_is_given_up(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    let ada = User::create(app::create_input("Ada")).run(&store).await?;
    User::update(
        ada.id,
        UpdateUser {
            name: "Ada L.".into(),
        },
    )
    .run(&store)
    .await?;
    store.audit().track(ManualEntry::new("user.login")).await?;
    let live = snapshot(&pool).await?;

    // Everything is older than "now": a plain prune deletes the manual entry only.
    let report = store.audit().prune(chrono::Duration::zero()).await?;
    assert_eq!((report.deleted, report.deleted_actions), (1, 0));
    assert_eq!(store.verify_replayable(&Selection::All).await?.events, 2);
    store.replay(Replay::all()).await?;
    assert_eq!(snapshot(&pool).await?, live);

    // Giving up replay deletes the action events and records the horizon.
    let report = store
        .audit()
        .prune_giving_up_replay(chrono::Duration::zero())
        .await?;
    assert_eq!(report.deleted_actions, 2);
    for result in [
        store.verify_replayable(&Selection::All).await.map(|_| ()),
        store.replay(Replay::all()).await.map(|_| ()),
        store.replay(Replay::all().in_chunks(1)).await.map(|_| ()),
    ] {
        match result {
            Err(Error::Replay(events_core::ReplayError::Horizon { before, .. })) => {
                assert_eq!(before, report.cutoff)
            }
            other => return Err(format!("expected ReplayHorizon, got {other:?}").into()),
        }
    }
    assert_eq!(
        snapshot(&pool).await?,
        live,
        "a refused replay changes nothing"
    );
    // The prune recorded itself, with what it gave up.
    let entry = store.audit().get(report.entry).await?;
    assert_eq!(entry.action, "audit.pruned");
    assert_eq!(entry.metadata["deleted_actions"], 2);
    assert_eq!(entry.metadata["gave_up_replay"], true);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn retention_longer_than_any_history_deletes_nothing(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    User::create(app::create_input("Ada")).run(&store).await?;
    let audit = store.audit();
    for report in [
        audit
            .prune(chrono::Duration::days(i64::from(u32::MAX)))
            .await?,
        audit.prune(chrono::Duration::MAX).await?,
        audit.prune_giving_up_replay(chrono::Duration::MAX).await?,
    ] {
        assert_eq!(report.deleted, 0);
    }
    assert_eq!(store.verify_replayable(&Selection::All).await?.events, 1);
    Ok(())
}

// ---- 4. least-privilege roles ---------------------------------------------------

/// Roles are cluster-wide: each test makes its own, and drops them at the end.
struct Roles {
    app: String,
    ops: String,
    hostile: String,
}

impl Roles {
    async fn create(pool: &PgPool) -> Result<Roles, sqlx::Error> {
        let tag = Uuid::new_v4().simple().to_string();
        let roles = Roles {
            app: format!("ev_app_{}", &tag[..12]),
            ops: format!("ev_ops_{}", &tag[..12]),
            hostile: format!("ev_bad_{}", &tag[..12]),
        };
        for role in [&roles.app, &roles.ops, &roles.hostile] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} LOGIN")))
                .execute(pool)
                .await?;
        }
        Ok(roles)
    }

    async fn pool(&self, pool: &PgPool, role: &str) -> Result<PgPool, sqlx::Error> {
        PgPoolOptions::new()
            .max_connections(2)
            .connect_with(connect_as(pool, role).await?)
            .await
    }

    /// Runs the generated least-privilege grants of [`EventLog`] for the
    /// application and retention roles.
    async fn grant(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let grants = events_postgres::schema::grants_sql::<EventLog>(&self.app, &self.ops);
        sqlx::raw_sql(sqlx::AssertSqlSafe(grants))
            .execute(pool)
            .await?;
        Ok(())
    }

    async fn drop(self, pool: &PgPool) -> Result<(), sqlx::Error> {
        for role in [&self.app, &self.ops, &self.hostile] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP OWNED BY {role}; DROP ROLE {role}"
            )))
            .execute(pool)
            .await?;
        }
        Ok(())
    }
}

/// Runs `statements` in order in a new session of `role`; returns the error of the
/// first that fails.
async fn first_failure(
    pool: &PgPool,
    role: &str,
    statements: &[&str],
) -> Result<Option<sqlx::Error>, sqlx::Error> {
    use sqlx::Connection as _;
    let mut conn = PgConnection::connect_with(&connect_as(pool, role).await?).await?;
    for statement in statements {
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe((*statement).to_owned()))
            .execute(&mut conn)
            .await
        {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

fn sqlstate(err: &sqlx::Error) -> Option<String> {
    err.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
}

#[sqlx::test(migrations = false)]
async fn the_application_role_cannot_change_stored_rows(pool: PgPool) -> TestResult {
    let owner = app::store(&pool).await?;
    let roles = Roles::create(&pool).await?;
    let result = async {
        roles.grant(&pool).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "GRANT ALL ON users, posts, audit_side_effects TO {}",
            roles.app
        )))
        .execute(&pool)
        .await?;

        // The application runs actions, tracks entries, queries, follows, replays.
        let app_pool = roles.pool(&pool, &roles.app).await?;
        let app = PgEventStore::<EventLog>::new(app_pool.clone());
        let ada = User::create(app::create_input("Ada")).run(&app).await?;
        User::update(
            ada.id,
            UpdateUser {
                name: "Ada L.".into(),
            },
        )
        .run(&app)
        .await?;
        app.audit().track(ManualEntry::new("user.login")).await?;
        assert_eq!(
            app.audit().query(&AuditQuery::new()).await?.entries.len(),
            3
        );
        assert_eq!(committed_after(&app, None, 2).await?.len(), 2);
        let live = snapshot(&pool).await?;
        assert_eq!(app.replay(Replay::all()).await?.applied, 2);
        assert_eq!(app.replay(Replay::all().in_chunks(1)).await?.applied, 2);
        assert_eq!(snapshot(&pool).await?, live);

        // It cannot change or delete a stored row by any means.
        for (table, column) in [
            ("events", "version"),
            ("events_changes", "unchanged"),
            ("events_commits", "committed_at"),
            ("events_replay_horizon", "deleted_actions"),
            ("events_subject_keys", "master_key_id"),
        ] {
            let cases: [Vec<String>; 6] = [
                vec![format!("UPDATE {table} SET {column} = {column}")],
                vec![format!("DELETE FROM {table}")],
                vec![format!("TRUNCATE {table}")],
                vec![format!("ALTER TABLE {table} DISABLE TRIGGER ALL")],
                vec![format!("DROP TABLE {table}")],
                vec![
                    "BEGIN".to_owned(),
                    "SET LOCAL events.allow_prune = 'on'".to_owned(),
                    format!("DELETE FROM {table}"),
                ],
            ];
            for case in cases {
                let statements: Vec<&str> = case.iter().map(String::as_str).collect();
                let err = first_failure(&pool, &roles.app, &statements)
                    .await?
                    .ok_or_else(|| format!("{case:?} succeeded"))?;
                assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{case:?}: {err}");
            }
        }
        for sql in [
            "SET session_replication_role = replica",
            "SELECT events_prune(0, true)",
        ] {
            let err = first_failure(&pool, &roles.app, &[sql])
                .await?
                .ok_or_else(|| format!("{sql} succeeded"))?;
            assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{sql}: {err}");
        }
        let err = app
            .audit()
            .prune_giving_up_replay(chrono::Duration::zero())
            .await
            .expect_err("no retention grant");
        assert!(matches!(err, Error::Database { .. }), "{err}");
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await?;
        assert_eq!(events, 3);

        // Retention runs through the owner's function, for the retention role.
        let ops = PgEventStore::<EventLog>::new(roles.pool(&pool, &roles.ops).await?);
        let report = ops.audit().prune(chrono::Duration::zero()).await?;
        assert_eq!((report.deleted, report.deleted_actions), (1, 0));
        assert_eq!(owner.verify_replayable(&Selection::All).await?.events, 2);
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .await;
    roles.drop(&pool).await?;
    result
}

#[sqlx::test(migrations = false)]
async fn only_the_retention_role_prunes_in_batches(pool: PgPool) -> TestResult {
    let owner = app::store(&pool).await?;
    User::create(app::create_input("Ada")).run(&owner).await?;
    owner.audit().track(ManualEntry::new("user.login")).await?;
    let roles = Roles::create(&pool).await?;
    let result = async {
        roles.grant(&pool).await?;
        // Like `<table>_prune`: its search_path pinned, no execution by PUBLIC,
        // granted to the retention role alone.
        let pinned: Vec<Option<Vec<String>>> = sqlx::query_scalar(
            "SELECT proconfig FROM pg_proc \
             WHERE proname IN ('events_prune', 'events_prune_batch') ORDER BY proname",
        )
        .fetch_all(&pool)
        .await?;
        assert_eq!(pinned.len(), 2);
        assert_eq!(pinned[0], pinned[1]);
        assert!(
            pinned[1]
                .iter()
                .flatten()
                .any(|c| c.starts_with("search_path=pg_catalog")),
            "{pinned:?}"
        );
        for (role, granted) in [
            (&roles.app, false),
            (&roles.hostile, false),
            (&roles.ops, true),
        ] {
            let can: bool = sqlx::query_scalar(
                "SELECT has_function_privilege($1, \
                 'events_prune_batch(timestamptz, boolean, integer)', 'EXECUTE')",
            )
            .bind(role)
            .fetch_one(&pool)
            .await?;
            assert_eq!(can, granted, "{role}");
        }

        // Without the grant, neither directly nor through the API.
        for role in [&roles.app, &roles.hostile] {
            let sql = "SELECT * FROM events_prune_batch(now(), true, 10)";
            let err = first_failure(&pool, role, &[sql])
                .await?
                .ok_or_else(|| format!("{role}: {sql} succeeded"))?;
            assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{role}: {err}");
        }
        let app = PgEventStore::<EventLog>::new(roles.pool(&pool, &roles.app).await?);
        let mut prune = app
            .audit()
            .prune_in_batches_giving_up_replay(chrono::Duration::zero(), 10)
            .await?;
        let err = prune.next_batch().await.expect_err("no retention grant");
        assert_eq!(err.sqlstate().as_deref(), Some("42501"), "{err}");
        assert!(
            err.to_string().contains("grants_sql"),
            "says what to do: {err}"
        );
        assert_eq!(prune.batches(), 0);
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await?;
        assert_eq!(events, 2);

        // The retention role prunes in batches; its own DELETE is refused.
        let ops = PgEventStore::<EventLog>::new(roles.pool(&pool, &roles.ops).await?);
        let report = ops
            .audit()
            .prune_in_batches(chrono::Duration::zero(), 10)
            .await?
            .run(|_| {})
            .await?;
        assert_eq!((report.deleted, report.deleted_actions), (1, 0));
        let err = first_failure(&pool, &roles.ops, &["DELETE FROM events"])
            .await?
            .ok_or("the retention role's DELETE succeeded")?;
        assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
        assert_eq!(owner.verify_replayable(&Selection::All).await?.events, 1);
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .await;
    roles.drop(&pool).await?;
    result
}

#[sqlx::test(migrations = false)]
async fn no_setting_lets_a_non_owner_past_the_guard(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    User::create(app::create_input("Ada")).run(&store).await?;
    let roles = Roles::create(&pool).await?;
    let result = async {
        // A role that was (wrongly) given every privilege on the tables.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "GRANT ALL ON events, events_changes, events_commits TO {}",
            roles.hostile
        )))
        .execute(&pool)
        .await?;
        let cases: [&[&str]; 6] = [
            &[
                "BEGIN",
                "SET LOCAL events.allow_prune = 'on'",
                "DELETE FROM events",
            ],
            &[
                "BEGIN",
                "SET LOCAL events.allow_prune = 'on'",
                "UPDATE events SET version = 9",
            ],
            &["SET events.allow_prune = 'on'", "DELETE FROM events"],
            &[
                "SET events.allow_prune = 'on'",
                "UPDATE events SET data = '{}'",
            ],
            &[
                "BEGIN",
                "SELECT set_config('events.allow_prune', 'on', true)",
                "DELETE FROM events",
            ],
            &[
                "BEGIN",
                "SET LOCAL events.allow_prune = 'on'",
                "TRUNCATE events",
            ],
        ];
        for case in cases {
            let err = first_failure(&pool, &roles.hostile, case)
                .await?
                .ok_or_else(|| format!("{case:?} succeeded"))?;
            assert!(
                Error::from_sqlx("hostile", err).is_append_only(),
                "{case:?}"
            );
        }
        // The owner is refused too without the prune function.
        let err = sqlx::query("DELETE FROM events")
            .execute(&pool)
            .await
            .expect_err("owner");
        assert!(Error::from_sqlx("owner", err).is_append_only());
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await?;
        assert_eq!(count, 1);
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .await;
    roles.drop(&pool).await?;
    result
}

// ---- 5. the database places events in the order --------------------------------

#[sqlx::test(migrations = false)]
async fn a_forged_transaction_id_is_replaced(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    User::create(app::create_input("Ada")).run(&store).await?;
    assert_eq!(committed_after(&store, None, 1).await?.len(), 1);
    let caught_up = store.read_committed(None, 100).await?.cursor;
    let roles = Roles::create(&pool).await?;
    let result = async {
        roles.grant(&pool).await?;
        let app_pool = roles.pool(&pool, &roles.app).await?;
        let forged: (String, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
            "INSERT INTO events (resource, record_id, action, action_type, version, occurred_at, \
             txid, recorded_at) VALUES ('User', gen_random_uuid(), 'create', 'create', 1, now(), \
             '3', '2000-01-01') RETURNING txid::text, recorded_at",
        )
        .fetch_one(&app_pool)
        .await?;
        assert_ne!(forged.0, "3");
        assert!(forged.1 > chrono::Utc::now() - chrono::Duration::minutes(5));
        // A caught-up follower sees it, after everything it had read.
        let events = committed_after(&store, caught_up, 1).await?;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].action, "create");
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .await;
    roles.drop(&pool).await?;
    result
}

// ---- 7. schema-qualified tables, end to end ------------------------------------

#[sqlx::test(migrations = false)]
async fn a_schema_qualified_log_works_end_to_end(pool: PgPool) -> TestResult {
    let store = trail_store(&pool).await?;
    store.migrate().await?;
    let member = Member(Uuid::now_v7());
    for text in ["a", "b"] {
        Note::write(WriteNote { text: text.into() })
            .actor(&member)
            .run(&store)
            .await?;
    }
    let audit = store.audit();
    audit
        .track(ManualEntry::new("note.viewed").actor(&member))
        .await?;

    // Every object lives in the schema; nothing is named with a dot.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'audit' AND c.relkind = 'r' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await?;
    assert_eq!(
        tables,
        [
            "trail",
            "trail_changes",
            "trail_commits",
            "trail_consumers",
            "trail_replay_checkpoint",
            "trail_replay_horizon",
            "trail_subject_keys"
        ]
    );
    let dotted: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_class WHERE relname LIKE '%.%'")
        .fetch_one(&pool)
        .await?;
    assert_eq!(dotted, 0);

    assert_eq!(store.list_events(None, 10).await?.len(), 2);
    assert_eq!(committed_after(&store, None, 2).await?.len(), 2);
    let page = audit.query(&AuditQuery::new().for_user(member.0)).await?;
    assert_eq!(page.entries.len(), 3);
    assert!(
        page.entries.iter().any(|e| e.new_values().is_some()),
        "changes joined"
    );
    assert!(
        page.entries.iter().all(|e| e.committed_at.is_some()),
        "commits joined"
    );
    assert_eq!(
        audit
            .search_actions("no", events_postgres::audit::SEARCH_LIMIT)
            .await?,
        ["note.viewed"]
    );
    assert_eq!(audit.facets().await?.actions, ["note.viewed", "write"]);
    assert_eq!(audit.count(&AuditQuery::new()).await?.value(), 3);

    assert_eq!(store.replay(Replay::all()).await?.applied, 2);
    assert_eq!(store.replay(Replay::all().in_chunks(1)).await?.applied, 2);
    assert_eq!(notes(&pool).await?, ["a", "b"]);
    let report = audit.prune(chrono::Duration::zero()).await?;
    assert_eq!((report.deleted, report.deleted_actions), (1, 0));
    // In batches, giving up replay: every entry before the cutoff goes, with
    // the commit times of the transactions that have no entry left.
    let report = audit
        .prune_in_batches_giving_up_replay(chrono::Duration::zero(), 1)
        .await?
        .run(|_| {})
        .await?;
    assert_eq!((report.deleted, report.deleted_actions), (3, 2));
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit.trail_commits c \
         WHERE NOT EXISTS (SELECT 1 FROM audit.trail e WHERE e.txid = c.txid)",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(orphans, 0);

    assert_eq!(audit.topic(), "audit.trail_audit");
    audit.listen().await?;
    Ok(())
}
