//! The fault suite's own small application and the helpers every module uses.
//!
//! [`FaultLog`] locks per record (so tests can make two writers meet on one
//! record and let the others run in parallel), records commit times (so its
//! `_commits` side table exists) and persists a UUID and a string actor. Its one
//! resource, [`Job`], writes a row of `jobs`, records its changes, and then runs
//! whatever fault a test armed for its label:
//!
//! - a label starting with `fail:` makes the live body return an error after its
//!   writes;
//! - a label starting with `slow-commit:` makes the COMMIT sleep 20 ms server-side
//!   (a deferred constraint trigger on `commit_sleeps`);
//! - [`arm`] / [`arm_on_replay`] register a one-shot [`Fault`] for one label:
//!   panic, park (report the backend pid, then wait server-side, client-side or
//!   until notified), or make the COMMIT sleep.
//!
//! Labels carry a fresh UUID in each test, so tests running in parallel in this
//! binary never take each other's faults.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use events_core::{ActionCtx, Actor, ClearRecords, Error, EventId, event_log, events};
use events_postgres::PgEventStore;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Notify, oneshot};
use uuid::Uuid;

/// Errors of the tests.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// What a test returns.
pub type TestResult = Result<(), BoxError>;

/// The longest any single step of a test may take before it counts as a hang.
pub const STEP: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing (instead of hanging) after [`STEP`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> Result<T, BoxError> {
    within_for(STEP, what, fut).await
}

/// Awaits `fut`, failing (instead of hanging) after `limit`.
pub async fn within_for<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = T>,
) -> Result<T, BoxError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| format!("{what}: did not finish within {limit:?}").into())
}

/// Clears the jobs before a replay.
pub struct ClearJobs;

impl ClearRecords for ClearJobs {
    async fn clear_records(conn: &mut PgConnection) -> Result<(), Error> {
        sqlx::query("DELETE FROM jobs").execute(conn).await?;
        Ok(())
    }
}

/// The fault suite's event log.
#[event_log(
    clear_records_for_replay = ClearJobs,
    advisory_lock_scope = record,
    track_commit_time = true,
    table = "fault_log",
    persist_actor_primary_key(user_id, Member),
    persist_actor_primary_key(service, Service, attribute_type = string),
)]
pub struct FaultLog;

/// A person, recorded in `user_id`.
#[derive(Debug, Clone, Copy)]
pub struct Member(pub Uuid);

impl Actor for Member {
    type PrimaryKey = Uuid;
    fn primary_key(&self) -> Uuid {
        self.0
    }
}

/// A process, recorded in `service`.
#[derive(Debug, Clone)]
pub struct Service(pub String);

impl Actor for Service {
    type PrimaryKey = String;
    fn primary_key(&self) -> String {
        self.0.clone()
    }
}

/// A row of `jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct JobRow {
    /// The record id.
    pub id: Uuid,
    /// The last label set.
    pub label: String,
    /// Relabels applied.
    pub rev: i32,
}

/// Input of both actions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Label {
    /// The label to write; also selects the armed fault.
    pub label: String,
}

/// What a live call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// The record.
    pub id: Uuid,
    /// The call's event.
    pub event: Option<EventId>,
}

/// How a parked body waits once it has reported its backend pid.
#[derive(Debug)]
pub enum Hold {
    /// `SELECT pg_sleep(secs)`: the backend is busy in a query.
    Server(f64),
    /// `tokio::time::sleep`, then `SELECT 1`: the backend is idle in its
    /// transaction meanwhile.
    Client(Duration),
    /// Never returns: only cancelling the call ends it.
    Forever,
    /// Until the test notifies.
    Until(Arc<Notify>),
}

/// A one-shot fault for the body running with one label.
#[derive(Debug)]
pub enum Fault {
    /// Panics after the body's writes.
    Panic,
    /// Reports `pg_backend_pid()`, then holds.
    Park {
        /// Receives the backend pid.
        pid: oneshot::Sender<i32>,
        /// How to wait.
        hold: Hold,
    },
    /// Reports `pg_backend_pid()`, and makes the COMMIT sleep `secs` server-side.
    SlowCommit {
        /// Receives the backend pid.
        pid: oneshot::Sender<i32>,
        /// Seconds the COMMIT sleeps.
        secs: f64,
    },
}

struct Armed {
    label: String,
    on_replay: bool,
    fault: Fault,
}

static ARMED: Mutex<Vec<Armed>> = Mutex::new(Vec::new());

/// Arms `fault` for the next live body running with `label`.
pub fn arm(label: &str, fault: Fault) {
    push(label, false, fault);
}

/// Arms `fault` for the next replay of an event with `label`.
pub fn arm_on_replay(label: &str, fault: Fault) {
    push(label, true, fault);
}

fn push(label: &str, on_replay: bool, fault: Fault) {
    if let Ok(mut armed) = ARMED.lock() {
        armed.push(Armed {
            label: label.to_owned(),
            on_replay,
            fault,
        });
    }
}

fn take(label: &str, on_replay: bool) -> Option<Fault> {
    let mut armed = ARMED.lock().ok()?;
    let at = armed
        .iter()
        .position(|a| a.label == label && a.on_replay == on_replay)?;
    Some(armed.remove(at).fault)
}

/// Parks with `hold` on the next live body running with `label`; the receiver
/// gets its backend pid once its writes are done.
pub fn park(label: &str, hold: Hold) -> oneshot::Receiver<i32> {
    let (tx, rx) = oneshot::channel();
    arm(label, Fault::Park { pid: tx, hold });
    rx
}

async fn backend_pid(conn: &mut PgConnection) -> Result<i32, Error> {
    Ok(sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await?)
}

/// Runs the fault armed for `label`, after the body's writes.
async fn run_fault(ctx: &mut ActionCtx<'_>, label: &str) -> Result<(), Error> {
    if !ctx.is_replay() {
        if label.starts_with("fail:") {
            return Err(Error::MalformedRow {
                column: "label".into(),
                message: "refused by the test".into(),
            });
        }
        if label.starts_with("slow-commit:") {
            sqlx::query("INSERT INTO commit_sleeps (secs) VALUES (0.02)")
                .execute(ctx.conn())
                .await?;
        }
    }
    let Some(fault) = take(label, ctx.is_replay()) else {
        return Ok(());
    };
    match fault {
        Fault::Panic => panic!("the test armed a panic for `{label}`"),
        Fault::Park { pid, hold } => {
            let _ = pid.send(backend_pid(ctx.conn()).await?);
            match hold {
                Hold::Server(secs) => {
                    sqlx::query("SELECT pg_sleep($1)")
                        .bind(secs)
                        .execute(ctx.conn())
                        .await?;
                }
                Hold::Client(d) => {
                    tokio::time::sleep(d).await;
                    sqlx::query("SELECT 1").execute(ctx.conn()).await?;
                }
                Hold::Forever => std::future::pending::<()>().await,
                Hold::Until(notify) => notify.notified().await,
            }
        }
        Fault::SlowCommit { pid, secs } => {
            sqlx::query("INSERT INTO commit_sleeps (secs) VALUES ($1)")
                .bind(secs)
                .execute(ctx.conn())
                .await?;
            let _ = pid.send(backend_pid(ctx.conn()).await?);
        }
    }
    Ok(())
}

/// A job: a row with a label, relabelled under the record's lock.
pub struct Job;

#[events(event_log = FaultLog)]
impl Job {
    /// Inserts the job, records it as created, then runs the armed fault.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, input: Label) -> Result<Done, Error> {
        let row: JobRow =
            sqlx::query_as("INSERT INTO jobs (id, label, rev) VALUES ($1, $2, 0) RETURNING *")
                .bind(ctx.record_id())
                .bind(&input.label)
                .fetch_one(ctx.conn())
                .await?;
        ctx.record_created(&row).await?;
        run_fault(ctx, &input.label).await?;
        Ok(Done {
            id: row.id,
            event: ctx.event_id(),
        })
    }

    /// Sets the label, counts the change and records it, then runs the armed fault.
    #[update]
    pub async fn relabel(ctx: &mut ActionCtx<'_>, input: Label) -> Result<Done, Error> {
        let old: JobRow = sqlx::query_as("SELECT * FROM jobs WHERE id = $1")
            .bind(ctx.record_id())
            .fetch_one(ctx.conn())
            .await?;
        let new: JobRow =
            sqlx::query_as("UPDATE jobs SET label = $2, rev = rev + 1 WHERE id = $1 RETURNING *")
                .bind(ctx.record_id())
                .bind(&input.label)
                .fetch_one(ctx.conn())
                .await?;
        ctx.record_updated(&old, &new).await?;
        run_fault(ctx, &input.label).await?;
        Ok(Done {
            id: new.id,
            event: ctx.event_id(),
        })
    }
}

/// A label unique to this call of the test: `prefix` and a fresh UUID.
pub fn label(prefix: &str) -> String {
    format!("{prefix}{}", Uuid::now_v7().simple())
}

/// A [`Label`] input.
pub fn input(label: &str) -> Label {
    Label {
        label: label.to_owned(),
    }
}

/// The store of [`FaultLog`] on `pool`, migrated, with the application tables.
pub async fn setup(pool: &PgPool) -> Result<PgEventStore<FaultLog>, BoxError> {
    let store = PgEventStore::<FaultLog>::new(pool.clone());
    store.migrate().await?;
    sqlx::raw_sql(
        "CREATE TABLE jobs (id uuid PRIMARY KEY, label text NOT NULL, rev int NOT NULL);
         CREATE TABLE commit_sleeps (secs float8 NOT NULL);
         CREATE FUNCTION commit_sleep() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_sleep(NEW.secs); RETURN NULL; END $$;
         CREATE CONSTRAINT TRIGGER commit_sleep AFTER INSERT ON commit_sleeps
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION commit_sleep();",
    )
    .execute(pool)
    .await?;
    Ok(store)
}

/// Everything stored, for before/after comparisons: recorded events (id,
/// record, action, label), changes rows, jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// `(id, record_id, action, data->>'label')` of every recorded event, by id.
    pub events: Vec<(i64, Uuid, String, String)>,
    /// Event ids with a changes row.
    pub changes: Vec<i64>,
    /// Every job, by id.
    pub jobs: Vec<JobRow>,
}

/// Reads [`Stored`].
pub async fn stored(pool: &PgPool) -> Result<Stored, sqlx::Error> {
    Ok(Stored {
        events: sqlx::query_as(
            "SELECT id, record_id, action, data->>'label' FROM fault_log \
             WHERE action_type <> 'manual' ORDER BY id",
        )
        .fetch_all(pool)
        .await?,
        changes: sqlx::query_scalar("SELECT event_id FROM fault_log_changes ORDER BY 1")
            .fetch_all(pool)
            .await?,
        jobs: jobs(pool).await?,
    })
}

/// Every job, by id.
pub async fn jobs(pool: &PgPool) -> Result<Vec<JobRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM jobs ORDER BY id")
        .fetch_all(pool)
        .await
}

/// How many recorded events and jobs carry `label`: `(events, jobs)`.
pub async fn with_label(pool: &PgPool, label: &str) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM fault_log WHERE data->>'label' = $1), \
                (SELECT count(*) FROM jobs WHERE label = $1)",
    )
    .bind(label)
    .fetch_one(pool)
    .await
}

/// Terminates backend `pid` from another connection of `pool` and waits until
/// it is gone.
pub async fn terminate(pool: &PgPool, pid: i32) -> TestResult {
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(pool)
        .await?;
    assert!(killed, "backend {pid} was there to terminate");
    wait_until("the terminated backend to exit", || async {
        let alive: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
                .bind(pid)
                .fetch_one(pool)
                .await?;
        Ok(!alive)
    })
    .await
}

/// Polls `check` every 10 ms until it returns true; fails after [`STEP`].
pub async fn wait_until<F, Fut>(what: &str, mut check: F) -> TestResult
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, BoxError>>,
{
    let deadline = Instant::now() + STEP;
    loop {
        if check().await? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("waited {STEP:?} for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sessions of this test's database left idle in a transaction (none should
/// be, once a failed or cancelled call has given its connection back).
pub async fn idle_in_transaction(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(pool)
    .await
}

/// Waits until no session of this test's database is idle in a transaction.
pub async fn no_idle_transactions(pool: &PgPool) -> TestResult {
    wait_until("connections to leave their transactions", || async {
        Ok(idle_in_transaction(pool).await? == 0)
    })
    .await
}

/// The test database's connect options with session settings added (each
/// `(name, value)` becomes `-c name=value`), and an application name.
pub fn options_with(pool: &PgPool, settings: &[(&str, &str)], app: &str) -> PgConnectOptions {
    pool.connect_options()
        .as_ref()
        .clone()
        .options(settings.iter().copied())
        .application_name(app)
}

/// A second pool on the test database with `settings` on every connection.
pub fn pool_with(pool: &PgPool, settings: &[(&str, &str)], app: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(options_with(pool, settings, app))
}

/// A port on 127.0.0.1 nothing listens on: bound, read, released.
pub fn closed_port() -> Result<u16, std::io::Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(port)
}

/// The SQLSTATE of a database error, if `err` is one.
pub fn sqlstate(err: &Error) -> Option<String> {
    err.sqlstate()
}

/// A tiny deterministic generator (no dependency): the next value of an LCG.
pub fn next_random(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}
