//! The live scenario, end to end on a real PostgreSQL: 16 writers, 3
//! subscribers and a consumer group of 3 members at once.
//!
//! What it proves:
//!
//! - **Subscribers.** Each of 3 subscriptions started from the beginning while
//!   the writers write sees every committed event exactly once, in `(txid, id)`
//!   order: its deliveries equal the table's committed events ordered by
//!   `(txid, id)`, element for element, and no event of a rolled-back action
//!   ever appears. The writers make this hard: slow bodies hold their record
//!   lock while later ids commit first, and a nested action takes a new id
//!   after that sleep, so its transaction id orders it before events with
//!   lower ids (checked: the `(txid, id)` order is not the id order, and
//!   commit times show ids committing out of order). A subscriber paging by id
//!   would skip the late commits (missing events) or deliver them in id order
//!   (a different sequence); either fails the equality.
//! - **Consumer group.** The members' projection holds every committed event
//!   once (its primary key refuses a second time; the sets are compared), each
//!   handled by `member_of(resource, record id, 3)`, and per record the
//!   projection's insertion order is the `(txid, id)` order.
//! - **Killing a member.** Member 1 is killed twice and restarted with the
//!   same name and member: once while its handler's transaction is open (after
//!   the projection row was written): the row must roll back and the next run
//!   must start with that very event, so a position saved before or outside
//!   the handler's transaction loses it; once while its `COMMIT` is on the
//!   server (held there by a deferred trigger waiting on a lock the test
//!   holds): the row and the position must commit together, so a position
//!   saved after the handler's transaction is missing and the next run repeats
//!   the event (the primary key stops that run). The saved counts of handled
//!   events equal the projection's per member.
//!
//! Each failure mode named above was checked by breaking the product on
//! purpose (reading by id with and without the commit-safe filter; saving the
//! consumer's position before, or after, the handler's transaction): the test
//! fails, with a message naming what broke, within seconds. Two runs of one
//! member at once (a restart while the killed run's `COMMIT` is still on the
//! server) are fenced by the runner's compare-and-set, which `consume.rs`'s
//! `a_second_runner_of_the_same_member_stops_without_applying_anything_twice`
//! checks; here the restart waits for that `COMMIT`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use events_core::{ActionCtx, BoxError, BoxFuture, Error, EventId, event_log, events};
use events_postgres::PgEventStore;
use events_postgres::consume::{Consumer, ConsumerError, member_of};
use events_postgres::subscribe::{Delivery, StartAt, Subscription};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::wait::{TestError, wait_for};

type TestResult<T = ()> = Result<T, TestError>;

/// Concurrent writer tasks.
const WRITERS: u64 = 16;
/// Actions each writer attempts.
const ACTIONS: u64 = 30;
/// Members of the consumer group.
const MEMBERS: u32 = 3;
/// Records that hash to each member; every writer writes to all of them.
const RECORDS_PER_MEMBER: usize = 2;
/// The consumer group's name.
const GROUP: &str = "scenario";
/// Member 1's first run hangs inside its handler on its call number ...
const HANG_AT: u64 = 5;
/// ... and its second run is killed during the `COMMIT` of its call number.
const GATE_AT: u64 = 25;
/// The longest any wait of the scenario may take before the test fails.
const WAIT: Duration = Duration::from_secs(60);

/// Per-record locks: writers on one record serialize, on different records
/// they commit concurrently. Commit times, to show commits out of id order.
#[event_log(advisory_lock_scope = record, table = "scenario_log", track_commit_time = true)]
pub struct ScenarioLog;

/// An account; the records every writer shares.
pub struct Account;

/// Input of `Account::post`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Post {
    /// `w<writer>-<action>`: unique per action.
    tag: String,
    /// Milliseconds the body sleeps after the event was appended (holding the
    /// record's lock and the transaction open).
    sleep_ms: u32,
    /// After the sleep, a nested `note` records a second event with a new,
    /// higher id in this (older) transaction.
    nested: bool,
    /// The body fails at the end: the whole transaction rolls back.
    fail: bool,
}

/// Input of `Account::note`.
#[derive(Debug, Serialize, Deserialize)]
pub struct NoteInput {
    /// The tag of the post that nested it.
    tag: String,
}

#[events(event_log = ScenarioLog)]
impl Account {
    /// Opens an account.
    #[create]
    pub async fn open(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        Ok(())
    }

    /// Posts to an account: maybe slowly, maybe with a nested note, maybe failing.
    #[update]
    pub async fn post(ctx: &mut ActionCtx<'_>, input: Post) -> Result<(), Error> {
        if input.sleep_ms > 0 {
            sqlx::query("SELECT pg_sleep($1::float8 / 1000)")
                .bind(f64::from(input.sleep_ms))
                .execute(ctx.conn())
                .await?;
        }
        if input.nested {
            let note = NoteInput {
                tag: input.tag.clone(),
            };
            Account::note(ctx.record_id(), note).run_in(ctx).await?;
        }
        if input.fail {
            return Err(Error::InvalidValue {
                column: "tag".into(),
                message: "asked to fail".into(),
            });
        }
        Ok(())
    }

    /// A note, nested in a post.
    #[update]
    pub async fn note(_ctx: &mut ActionCtx<'_>, _input: NoteInput) -> Result<(), Error> {
        Ok(())
    }
}

/// The last event, written once every writer is done: its transaction id is
/// above theirs, so it is last in `(txid, id)` order.
pub struct Marker;

#[events(event_log = ScenarioLog)]
impl Marker {
    /// Marks the end of the writing.
    #[create]
    pub async fn done(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        Ok(())
    }
}

/// The advisory lock key the gated `COMMIT` waits on (a bigint key: `classid`
/// 0, `objid` this, `objsubid` 1 in `pg_locks`); written out in
/// [`PROJECTION`]'s trigger.
const GATE_KEY: i64 = 7_340_032;

/// The projection, and a deferred trigger that makes the `COMMIT` of a row
/// written with `gated` wait for the test's lock.
const PROJECTION: &str = r"
CREATE TABLE scenario_projection (
    event_id bigint PRIMARY KEY,
    resource text NOT NULL,
    record_id text NOT NULL,
    member integer NOT NULL,
    gated boolean NOT NULL DEFAULT false,
    seq bigserial NOT NULL
);
CREATE FUNCTION scenario_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7340032);
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER scenario_gate AFTER INSERT ON scenario_projection
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.gated)
    EXECUTE FUNCTION scenario_gate();
";

/// What one run of a member does besides projecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Nothing.
    None,
    /// On this call, after writing the row, it signals and hangs (inside the
    /// handler's transaction) until killed.
    HangAt(u64),
    /// On this call it writes the row `gated` and signals: its `COMMIT` waits
    /// for the gate.
    GateCommitAt(u64),
}

/// One run of a member: what it was given, in order, and its fault.
struct Run {
    member: u32,
    fault: Fault,
    calls: AtomicU64,
    given: Mutex<Vec<i64>>,
    tripped: Mutex<Option<oneshot::Sender<i64>>>,
}

impl Run {
    /// A run of `member`; the receiver gets the event id its fault tripped on.
    fn new(member: u32, fault: Fault) -> (Arc<Run>, oneshot::Receiver<i64>) {
        let (tx, rx) = oneshot::channel();
        let run = Run {
            member,
            fault,
            calls: AtomicU64::new(0),
            given: Mutex::new(Vec::new()),
            tripped: Mutex::new(Some(tx)),
        };
        (Arc::new(run), rx)
    }

    /// The event ids this run was given, in order.
    async fn given(&self) -> Vec<i64> {
        self.given.lock().await.clone()
    }
}

/// The group's consumer: one projection row per event, in the handler's
/// transaction.
struct Projector(Arc<Run>);

impl Consumer for Projector {
    fn name(&self) -> &str {
        GROUP
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let run = &self.0;
            let EventId::Integer(id) = delivery.event.id else {
                return Err("integer ids".into());
            };
            let call = run.calls.fetch_add(1, Ordering::SeqCst) + 1;
            run.given.lock().await.push(id);
            let gated = run.fault == Fault::GateCommitAt(call);
            sqlx::query(
                "INSERT INTO scenario_projection (event_id, resource, record_id, member, gated) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(&delivery.event.resource)
            .bind(delivery.event.record_id.to_string())
            .bind(i32::try_from(run.member)?)
            .bind(gated)
            .execute(&mut *tx)
            .await?;
            let hang = run.fault == Fault::HangAt(call);
            let signal = if hang || gated {
                run.tripped.lock().await.take()
            } else {
                None
            };
            if let Some(signal) = signal {
                let _ = signal.send(id);
            }
            if hang {
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    }
}

/// Starts `run` as its member of the group.
fn start(
    store: &PgEventStore<ScenarioLog>,
    run: &Arc<Run>,
) -> JoinHandle<Result<(), ConsumerError>> {
    let runner = store
        .consume(Projector(Arc::clone(run)))
        .member(run.member, MEMBERS)
        .poll_interval(Duration::from_millis(200));
    tokio::spawn(runner.run())
}

/// Kills a running member: its task is dropped wherever it is awaiting.
async fn kill(handle: JoinHandle<Result<(), ConsumerError>>) -> TestResult {
    handle.abort();
    match handle.await {
        Err(e) if e.is_cancelled() => Ok(()),
        other => Err(format!("the member was to be killed while running: {other:?}").into()),
    }
}

/// `fut` within [`WAIT`], or an error naming `what`.
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> TestResult<T> {
    tokio::time::timeout(WAIT, fut)
        .await
        .map_err(|_| format!("{what}: not within {WAIT:?}").into())
}

/// Collects one subscriber's deliveries up to the marker, then checks that
/// nothing follows it.
async fn subscriber(mut sub: Subscription<ScenarioLog>, n: usize) -> TestResult<Vec<Delivery>> {
    let mut seen = Vec::new();
    let collect = async {
        loop {
            match sub.next().await {
                Some(delivery) => {
                    let delivery = delivery?;
                    let last = delivery.event.resource == "Marker";
                    seen.push(delivery);
                    if last {
                        return Ok::<(), TestError>(());
                    }
                }
                None => return Err("the subscription ended".into()),
            }
        }
    };
    tokio::time::timeout(WAIT, collect).await.map_err(|_| {
        format!(
            "subscriber {n}: no marker within {WAIT:?} ({} events)",
            seen.len()
        )
    })??;
    // Nothing after the marker: no repeat, no rolled-back event.
    let extra = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
    if let Ok(extra) = extra {
        return Err(format!("subscriber {n}: an event after the marker: {extra:?}").into());
    }
    Ok(seen)
}

/// What a writer did: the tags of its committed posts (with whether each
/// nested a note) and of its rolled-back ones.
#[derive(Debug, Default)]
struct Written {
    committed: Vec<(String, bool)>,
    rolled_back: Vec<String>,
}

/// A tiny deterministic generator: the next value of an LCG.
fn next_random(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

/// Writer `w`: [`ACTIONS`] posts over every record, some slow, some nesting a
/// note, some failing.
async fn writer(
    store: PgEventStore<ScenarioLog>,
    w: u64,
    records: Vec<Uuid>,
) -> TestResult<Written> {
    let mut state = w.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED;
    let mut written = Written::default();
    for i in 0..ACTIONS {
        let r = next_random(&mut state);
        let record = records[usize::try_from(r % records.len() as u64)?];
        let nested = (r >> 4) % 100 < 15;
        // Slow posts (and every nesting one) sleep 10 to 49 ms holding their
        // record, while writers of other records take later ids and commit.
        let slow = nested || (r >> 11) % 100 < 20;
        let sleep_ms = if slow {
            10 + u32::try_from((r >> 18) % 40)?
        } else {
            0
        };
        let fail = (r >> 25) % 100 < 12;
        let tag = format!("w{w}-{i}");
        let post = Post {
            tag: tag.clone(),
            sleep_ms,
            nested,
            fail,
        };
        match (Account::post(record, post).run(&store).await, fail) {
            (Ok(()), false) => written.committed.push((tag, nested)),
            (Err(Error::InvalidValue { .. }), true) => written.rolled_back.push(tag),
            (other, _) => return Err(format!("writer {w}, post {i}: {other:?}").into()),
        }
    }
    Ok(written)
}

/// A committed event of the table, in `(txid, id)` order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    txid: u64,
    id: i64,
    resource: String,
    record_id: String,
    tag: Option<String>,
}

/// Every committed event, ordered by `(txid, id)`: the ground truth.
async fn committed(pool: &PgPool) -> TestResult<Vec<Row>> {
    let rows: Vec<(String, i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT txid::text, id, resource, record_id::text, data->>'tag' FROM scenario_log \
         WHERE action_type <> 'manual' ORDER BY txid, id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(txid, id, resource, record_id, tag)| {
            Ok(Row {
                txid: txid.parse()?,
                id,
                resource,
                record_id,
                tag,
            })
        })
        .collect()
}

/// The id of the last event member `member` of the group saved as handled.
async fn saved_position(pool: &PgPool, member: i32) -> TestResult<Option<String>> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT last_id FROM scenario_log_consumers WHERE name = $1 AND member = $2",
    )
    .bind(GROUP)
    .bind(member)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|r| r.0))
}

/// `n` record ids per member of the group.
fn records_per_member(n: usize) -> Vec<Uuid> {
    let mut per_member: Vec<Vec<Uuid>> = vec![Vec::new(); MEMBERS as usize];
    while per_member.iter().any(|m| m.len() < n) {
        let id = Uuid::now_v7();
        let member = member_of("Account", &id.to_string(), MEMBERS) as usize;
        if per_member[member].len() < n {
            per_member[member].push(id);
        }
    }
    per_member.concat()
}

#[sqlx::test]
async fn writers_subscribers_and_a_group_with_a_killed_member_see_each_event_once_in_order(
    pool: PgPool,
) -> TestResult {
    let began = Instant::now();
    // A pool of its own on the test database: 16 writers, 3 subscribers and 3
    // members (listener, reads, transactions) at once.
    let big = PgPoolOptions::new()
        .max_connections(36)
        .acquire_timeout(WAIT)
        .connect_lazy_with(pool.connect_options().as_ref().clone());
    let store = PgEventStore::<ScenarioLog>::new(big.clone()).with_notifications(true);
    store.migrate().await?;
    sqlx::raw_sql(PROJECTION).execute(&pool).await?;

    let records = records_per_member(RECORDS_PER_MEMBER);
    for id in &records {
        Account::open(()).record_id(*id).run(&store).await?;
    }

    // Three subscribers and the group follow from the beginning while the
    // writers write.
    let subscribers: Vec<_> = (0..3)
        .map(|n| {
            let sub = store
                .subscribe(StartAt::Beginning)
                .poll_interval(Duration::from_millis(200));
            tokio::spawn(subscriber(sub, n))
        })
        .collect();
    let (member0, _) = Run::new(0, Fault::None);
    let (member2, _) = Run::new(2, Fault::None);
    let (first, hung) = Run::new(1, Fault::HangAt(HANG_AT));
    let mut members = vec![(0, start(&store, &member0)), (2, start(&store, &member2))];
    let first_run = start(&store, &first);

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(store.clone(), w, records.clone())))
        .collect();

    // Kill 1: member 1 hangs inside its handler's transaction, its row
    // written; killed there, the row rolls back.
    let x = within("member 1 to hang in its handler", hung).await??;
    let before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM scenario_projection WHERE member = 1")
            .fetch_one(&pool)
            .await?;
    assert_eq!(
        before,
        i64::try_from(HANG_AT - 1)?,
        "member 1 handled some events first"
    );
    kill(first_run).await?;
    let x_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM scenario_projection WHERE event_id = $1")
            .bind(x)
            .fetch_one(&pool)
            .await?;
    assert_eq!(x_rows, 0, "the killed transaction's row is not committed");
    let before_x = first.given().await;
    assert_eq!(
        saved_position(&pool, 1).await?,
        before_x.iter().rev().nth(1).map(i64::to_string),
        "member 1's saved position is the last event it committed, before the killed one"
    );

    // Kill 2: restarted, member 1 is killed while its COMMIT waits on the
    // server for the gate this connection holds.
    let mut gate = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(GATE_KEY)
        .execute(&mut *gate)
        .await?;
    let (second, gated) = Run::new(1, Fault::GateCommitAt(GATE_AT));
    let second_run = start(&store, &second);
    let y = within("member 1 to write its gated row", gated).await??;
    assert_eq!(
        second.given().await.first(),
        Some(&x),
        "run 2 resumes at the event run 1 was killed on"
    );
    let db = &pool;
    let waiting: String = wait_for(
        "the gated COMMIT to wait for the gate",
        WAIT,
        move || async move {
            Ok(sqlx::query_scalar(
                "SELECT a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = 0 \
                 AND l.objid::bigint = $1 AND l.objsubid = 1 AND l.database = \
                 (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .bind(GATE_KEY)
            .fetch_optional(db)
            .await?)
        },
    )
    .await?;
    assert!(
        waiting.trim().eq_ignore_ascii_case("commit"),
        "waiting in `{waiting}`"
    );
    let writers_running = writers.iter().filter(|w| !w.is_finished()).count();
    kill(second_run).await?;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(GATE_KEY)
        .execute(&mut *gate)
        .await?;
    drop(gate);
    // The COMMIT the killed run had sent completes: the row and the position
    // with it.
    let saved: String = wait_for("the gated COMMIT to complete", WAIT, move || async move {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT c.last_id FROM scenario_projection p, scenario_log_consumers c \
             WHERE p.event_id = $1 AND c.name = $2 AND c.member = 1",
        )
        .bind(y)
        .bind(GROUP)
        .fetch_optional(db)
        .await?;
        Ok(row.map(|r| r.0))
    })
    .await?;
    assert_eq!(saved, y.to_string(), "the position committed with the row");

    // Restarted again, for good, once that COMMIT is done (a run started
    // before would be fenced: ConsumerError::Moved, tested in `consume`).
    let (third, _) = Run::new(1, Fault::None);
    members.push((1, start(&store, &third)));

    let mut written = Written::default();
    for (w, handle) in writers.into_iter().enumerate() {
        let done = within(&format!("writer {w}"), handle).await???;
        written.committed.extend(done.committed);
        written.rolled_back.extend(done.rolled_back);
    }
    Marker::done(()).run(&store).await?;
    let writing = began.elapsed();

    // The ground truth, and that the scenario was what it claims.
    let truth = committed(&pool).await?;
    let nested = written.committed.iter().filter(|(_, n)| *n).count();
    assert_eq!(
        truth.len(),
        records.len() + written.committed.len() + nested + 1,
        "opens, committed posts, their notes and the marker"
    );
    let failed: HashSet<&str> = written.rolled_back.iter().map(String::as_str).collect();
    assert!(
        !failed.is_empty() && nested > 0,
        "rollbacks and nested notes happened"
    );
    assert!(
        truth
            .iter()
            .all(|r| r.tag.as_deref().is_none_or(|t| !failed.contains(t))),
        "no rolled-back event in the table"
    );
    let ids: Vec<i64> = truth.iter().map(|r| r.id).collect();
    assert!(
        ids.windows(2).any(|w| w[0] > w[1]),
        "the (txid, id) order is not the id order"
    );
    let late: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM scenario_log a JOIN scenario_log_commits ca USING (txid), \
         scenario_log b JOIN scenario_log_commits cb ON cb.txid = b.txid \
         WHERE a.id < b.id AND ca.committed_at > cb.committed_at",
    )
    .fetch_one(&pool)
    .await?;
    assert!(late > 0, "some ids committed after higher ones");

    // Subscribers: exactly the ground truth, in its order.
    let expected: Vec<(u64, i64)> = truth.iter().map(|r| (r.txid, r.id)).collect();
    for (n, handle) in subscribers.into_iter().enumerate() {
        let seen = within(&format!("subscriber {n}"), handle).await???;
        let got: Vec<(u64, i64)> = seen
            .iter()
            .map(|d| match d.event.id {
                EventId::Integer(id) => (d.position.txid, id),
                EventId::Uuid(_) => (d.position.txid, -1),
            })
            .collect();
        if got != expected {
            let got_set: HashSet<_> = got.iter().collect();
            let missing = expected.iter().filter(|e| !got_set.contains(e)).count();
            panic!(
                "subscriber {n}: {} deliveries, {} committed events, {missing} missing, {} \
                 distinct: not every committed event once in (txid, id) order",
                got.len(),
                expected.len(),
                got_set.len()
            );
        }
        assert!(
            seen.iter()
                .filter_map(|d| d.event.data.get("tag").and_then(|t| t.as_str()))
                .all(|t| !failed.contains(t)),
            "subscriber {n}: no rolled-back event"
        );
    }

    // The group: wait until the projection holds as many rows as the log has
    // events, failing fast if a member stops.
    let total = i64::try_from(truth.len())?;
    let running = &members;
    let projected_n = &AtomicI64::new(0);
    let waited = wait_for(
        "the projection to hold every committed event",
        WAIT,
        move || async move {
            if running.iter().any(|(_, h)| h.is_finished()) {
                return Ok(Some(false));
            }
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM scenario_projection")
                .fetch_one(db)
                .await?;
            projected_n.store(n, Ordering::SeqCst);
            Ok((n == total).then_some(true))
        },
    )
    .await
    .map_err(|e| {
        let n = projected_n.load(Ordering::SeqCst);
        format!("{e}: {n} of {total} events projected")
    })?;
    for (member, handle) in members {
        if handle.is_finished() {
            let stopped = handle.await;
            return Err(format!(
                "group member {member} stopped (all projected: {waited}): {stopped:?}"
            )
            .into());
        }
        kill(handle).await?;
    }

    let projected: Vec<(i64, String, String, i32)> = sqlx::query_as(
        "SELECT event_id, resource, record_id, member FROM scenario_projection ORDER BY seq",
    )
    .fetch_all(&pool)
    .await?;
    let mut projected_ids: Vec<i64> = projected.iter().map(|p| p.0).collect();
    projected_ids.sort_unstable();
    let mut committed_ids = ids.clone();
    committed_ids.sort_unstable();
    assert_eq!(
        projected_ids, committed_ids,
        "each committed event projected once"
    );
    for (id, resource, record_id, member) in &projected {
        assert_eq!(
            u32::try_from(*member)?,
            member_of(resource, record_id, MEMBERS),
            "event {id} handled by its record's member"
        );
    }
    // Per record: the projection's order (seq) is the (txid, id) order.
    let mut by_record: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (id, _, record_id, _) in &projected {
        by_record.entry(record_id).or_default().push(*id);
    }
    let mut truth_by_record: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for row in &truth {
        truth_by_record
            .entry(&row.record_id)
            .or_default()
            .push(row.id);
    }
    assert_eq!(
        by_record, truth_by_record,
        "per record, in (txid, id) order"
    );

    // Member 1's runs: the second started with the event the first was killed
    // on, the third right after the event whose COMMIT the second was killed
    // in; both kills were mid-run.
    let ones: Vec<i64> = truth
        .iter()
        .filter(|r| member_of(&r.resource, &r.record_id, MEMBERS) == 1)
        .map(|r| r.id)
        .collect();
    let at = |id: i64| ones.iter().position(|&o| o == id);
    let first_given = first.given().await;
    let second_given = second.given().await;
    let third_given = third.given().await;
    assert_eq!(first_given.last(), Some(&x));
    assert_eq!(
        first_given,
        ones[..first_given.len()].to_vec(),
        "run 1 in order"
    );
    assert_eq!(
        second_given.first(),
        Some(&x),
        "run 2 resumes at the killed event"
    );
    assert_eq!(second_given.last(), Some(&y));
    let y_at = at(y).ok_or("y is member 1's")?;
    assert!(y_at + 1 < ones.len(), "run 2 was killed mid-run");
    assert_eq!(
        third_given.first(),
        Some(&ones[y_at + 1]),
        "run 3 resumes after the event committed in the kill"
    );
    assert_eq!(
        first_given.len() - 1 + second_given.len() + third_given.len(),
        ones.len(),
        "member 1's runs together were given each of its events once (the killed one twice)"
    );

    // The saved positions: each member's handled count and last event.
    let status = store.consumer_status().await?;
    let mut handled: HashMap<u32, (u64, Option<EventId>)> = HashMap::new();
    for s in &status {
        assert_eq!((s.name.as_str(), s.members), (GROUP, MEMBERS));
        handled.insert(s.member, (s.handled, s.position.map(|p| p.id)));
    }
    for member in 0..MEMBERS {
        let mine: Vec<i64> = truth
            .iter()
            .filter(|r| member_of(&r.resource, &r.record_id, MEMBERS) == member)
            .map(|r| r.id)
            .collect();
        assert_eq!(
            handled.get(&member).copied(),
            Some((
                u64::try_from(mine.len())?,
                mine.last().map(|&id| EventId::Integer(id))
            )),
            "member {member}: handled count and position"
        );
    }

    drop(store);
    tokio::time::timeout(Duration::from_secs(10), big.close())
        .await
        .map_err(|_| "the scenario's pool did not close")?;
    eprintln!(
        "live scenario: {} events, {} rolled back, {nested} nested, {late} late pairs; \
         {writers_running} writers running at the second kill; writing {writing:?}, all {:?}",
        truth.len(),
        failed.len(),
        began.elapsed()
    );
    Ok(())
}
