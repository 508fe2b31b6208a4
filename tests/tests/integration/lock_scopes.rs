//! Lock scopes: the key each scope locks, as `pg_locks` shows it, the per-resource
//! override, and what waits for what.

use std::time::Duration;

use events_core::{
    ActionCtx, AdvisoryLockKeyGenerator, Error, EventLog as _, Key, LockKey, LockKeyInput,
    LockScope, RecordLockKeyGenerator, Resource as _, event_log, events, info,
};
use events_postgres::PgEventStore;
use events_tests::{held_advisory_locks, pg_locks_row};
use sqlx::PgPool;
use uuid::Uuid;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Every recorded action locks the default key, tenant or not.
#[event_log(advisory_lock_scope = global, advisory_lock_key_default = 4242, table = "global_events")]
pub struct GlobalLog;

/// One lock per record.
#[event_log(advisory_lock_scope = record, table = "record_events")]
pub struct RecordLog;

/// Napping actions under the global scope.
pub struct GlobalNap;

#[events(event_log = GlobalLog)]
impl GlobalNap {
    /// Sleeps `secs` inside the action's transaction; returns the locks held.
    #[update]
    pub async fn nap(ctx: &mut ActionCtx<'_>, secs: f64) -> Result<Vec<(i64, i64, i16)>, Error> {
        sqlx::query("SELECT pg_sleep($1)")
            .bind(secs)
            .execute(ctx.conn())
            .await?;
        held_advisory_locks(ctx.conn()).await
    }
}

/// The same under the record scope.
pub struct RecordNap;

#[events(event_log = RecordLog)]
impl RecordNap {
    /// Sleeps `secs` inside the action's transaction; returns the locks held.
    #[update]
    pub async fn nap(ctx: &mut ActionCtx<'_>, secs: f64) -> Result<Vec<(i64, i64, i16)>, Error> {
        sqlx::query("SELECT pg_sleep($1)")
            .bind(secs)
            .execute(ctx.conn())
            .await?;
        held_advisory_locks(ctx.conn()).await
    }
}

/// Creates under the record scope.
pub struct RecordCreate;

#[events(event_log = RecordLog)]
impl RecordCreate {
    /// Returns the locks held.
    #[create]
    pub async fn make(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<Vec<(i64, i64, i16)>, Error> {
        held_advisory_locks(ctx.conn()).await
    }
}

/// A resource of the global log that locks per record instead.
pub struct Override;

#[events(event_log = GlobalLog, advisory_lock_scope = record)]
impl Override {
    /// Returns the locks held.
    #[update]
    pub async fn touch(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<Vec<(i64, i64, i16)>, Error> {
        held_advisory_locks(ctx.conn()).await
    }
}

fn record_key(resource: &'static str, id: Uuid) -> Result<LockKey, Error> {
    let key = Key::Uuid(id);
    RecordLockKeyGenerator::generate_key(
        &LockKeyInput {
            resource,
            action: "nap",
            record_id: &key,
            tenant: None,
        },
        LockKey::DEFAULT,
    )
}

#[test]
fn scopes_read_back() {
    assert_eq!(GlobalLog::ADVISORY_LOCK_SCOPE, LockScope::Global);
    assert_eq!(RecordLog::ADVISORY_LOCK_SCOPE, LockScope::Record);
    assert_eq!(
        info::event_log_advisory_lock_key_generator::<RecordLog>(),
        "RecordLockKeyGenerator"
    );
    assert_eq!(
        info::events_advisory_lock_scope::<GlobalNap>(),
        LockScope::Global
    );
    assert_eq!(Override::ADVISORY_LOCK_SCOPE, LockScope::Record);
    assert_eq!(
        info::event_log_advisory_lock_scope::<events_tests::app::EventLog>(),
        LockScope::Tenant
    );
}

#[sqlx::test(migrations = false)]
async fn each_scope_locks_its_key(pool: PgPool) -> TestResult {
    let global = PgEventStore::<GlobalLog>::new(pool.clone());
    global.migrate().await?;
    let record = PgEventStore::<RecordLog>::new(pool.clone());
    record.migrate().await?;
    let id = Uuid::now_v7();

    let held = GlobalNap::nap(id, 0.0).tenant(42_i64).run(&global).await?;
    assert_eq!(
        held,
        vec![pg_locks_row(LockKey::Single(4242))],
        "global ignores the tenant"
    );

    let held = RecordNap::nap(id, 0.0).run(&record).await?;
    assert_eq!(held, vec![pg_locks_row(record_key("RecordNap", id)?)]);

    // A create of a generated id: no other action can name the record before it
    // commits, so it waits for nothing. Given an id, it locks that record.
    let held = RecordCreate::make(()).run(&record).await?;
    assert_eq!(held, vec![], "a fresh record takes no lock");
    let held = RecordCreate::make(()).record_id(id).run(&record).await?;
    assert_eq!(held, vec![pg_locks_row(record_key("RecordCreate", id)?)]);

    let held = Override::touch(id, ()).run(&global).await?;
    assert_eq!(
        held,
        vec![pg_locks_row(record_key("Override", id)?)],
        "the resource's scope wins"
    );
    Ok(())
}

/// Starts a long nap on `a`, then a short one on `b`: returns whether the short one
/// finished while the long one still held its lock.
async fn short_passes_long<F, Fut>(
    nap: F,
    a: Uuid,
    b: Uuid,
) -> Result<bool, Box<dyn std::error::Error>>
where
    F: Fn(Uuid, f64) -> Fut,
    Fut: Future<Output = Result<Vec<(i64, i64, i16)>, Error>> + Send + 'static,
{
    let long = tokio::spawn(nap(a, 1.5));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let short = tokio::spawn(nap(b, 0.0));
    let passed = match tokio::time::timeout(Duration::from_millis(800), short).await {
        Ok(done) => {
            done??;
            !long.is_finished()
        }
        Err(_) => false,
    };
    long.await??;
    Ok(passed)
}

#[sqlx::test(migrations = false)]
async fn record_scope_lets_other_records_through_and_global_does_not(pool: PgPool) -> TestResult {
    let global = PgEventStore::<GlobalLog>::new(pool.clone());
    global.migrate().await?;
    let record = PgEventStore::<RecordLog>::new(pool.clone());
    record.migrate().await?;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let on_record = |store: PgEventStore<RecordLog>| {
        move |id, secs| {
            let store = store.clone();
            async move { RecordNap::nap(id, secs).run(&store).await }
        }
    };
    let on_global = |store: PgEventStore<GlobalLog>| {
        move |id, secs| {
            let store = store.clone();
            async move { GlobalNap::nap(id, secs).run(&store).await }
        }
    };
    assert!(
        short_passes_long(on_record(record.clone()), a, b).await?,
        "record scope: other records go through"
    );
    assert!(
        !short_passes_long(on_record(record.clone()), a, a).await?,
        "record scope: the same record waits"
    );
    assert!(
        !short_passes_long(on_global(global.clone()), a, b).await?,
        "global scope: everything waits"
    );
    Ok(())
}
