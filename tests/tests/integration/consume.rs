//! Checkpointed consumers on a real PostgreSQL: a projection's effect happens
//! exactly once across handler failures, interrupted runs and restarts; a group
//! of members splits the log by record and keeps each record's order; status
//! and reset.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use events_core::{ActionCtx, BoxError, BoxFuture, Error, EventId, event_log, events};
use events_postgres::PgEventStore;
use events_postgres::consume::{Consumer, ConsumerError, RetryPolicy, member_of};
use events_postgres::subscribe::Delivery;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::wait::wait_for;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Per-record locks.
#[event_log(advisory_lock_scope = record, table = "proj_log")]
pub struct ProjLog;

/// A counter; its events are what the projections read.
pub struct Counter;

#[events(event_log = ProjLog)]
impl Counter {
    /// Opens a counter.
    #[create]
    pub async fn open(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        Ok(())
    }

    /// Bumps a counter.
    #[update]
    pub async fn bump(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        Ok(())
    }
}

/// Records each event it handles in `seen` (the primary key refuses a second
/// time), failing on events listed in `fail_on` for its first `failures` tries.
struct Seen {
    name: &'static str,
    member: i32,
    fail_on: Option<i64>,
    failures: Arc<AtomicU32>,
}

impl Consumer for Seen {
    fn name(&self) -> &str {
        self.name
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let EventId::Integer(id) = delivery.event.id else {
                return Err("integer ids".into());
            };
            sqlx::query(
                "INSERT INTO seen (consumer, event_id, record_id, member) VALUES ($1, $2, $3, $4)",
            )
            .bind(self.name)
            .bind(id)
            .bind(delivery.event.record_id.to_string())
            .bind(self.member)
            .execute(&mut *tx)
            .await?;
            if self.fail_on == Some(id) && self.failures.load(Ordering::SeqCst) > 0 {
                self.failures.fetch_sub(1, Ordering::SeqCst);
                return Err("the projection's database said no".into());
            }
            Ok(())
        })
    }
}

impl Seen {
    /// A consumer `name` (member 0) that never fails.
    fn healthy(name: &'static str) -> Self {
        Seen {
            name,
            member: 0,
            fail_on: None,
            failures: Arc::new(AtomicU32::new(0)),
        }
    }
}

async fn setup(
    pool: &PgPool,
) -> Result<PgEventStore<ProjLog>, Box<dyn std::error::Error + Send + Sync>> {
    let store = PgEventStore::<ProjLog>::new(pool.clone()).with_notifications(true);
    store.migrate().await?;
    sqlx::query(
        "CREATE TABLE seen (consumer text, event_id bigint, record_id text, member int, \
         handled_at timestamptz DEFAULT clock_timestamp(), PRIMARY KEY (consumer, event_id))",
    )
    .execute(pool)
    .await?;
    Ok(store)
}

/// Opens `records` counters and bumps each `bumps` times; returns the record ids.
async fn write(
    store: &PgEventStore<ProjLog>,
    records: usize,
    bumps: usize,
) -> Result<Vec<Uuid>, Error> {
    let mut ids = Vec::new();
    for _ in 0..records {
        let id = Uuid::now_v7();
        Counter::open(()).record_id(id).run(store).await?;
        ids.push(id);
    }
    for _ in 0..bumps {
        for id in &ids {
            Counter::bump(*id, ()).run(store).await?;
        }
    }
    Ok(ids)
}

async fn seen(pool: &PgPool, consumer: &str) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT event_id FROM seen WHERE consumer = $1 ORDER BY event_id")
        .bind(consumer)
        .fetch_all(pool)
        .await
}

#[sqlx::test]
async fn a_projection_happens_once_across_failures_interruptions_and_restarts(
    pool: PgPool,
) -> TestResult {
    let store = setup(&pool).await?;
    write(&store, 4, 4).await?; // 20 events, ids 1..=20
    let failures = Arc::new(AtomicU32::new(10));
    let failing = Seen {
        name: "seen",
        member: 0,
        fail_on: Some(7),
        failures: Arc::clone(&failures),
    };
    let no_retry = RetryPolicy {
        attempts: 2,
        first_backoff: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let err = store.consume(failing).retry(no_retry).run().await.err();
    let Some(ConsumerError::Handler {
        event,
        attempts,
        consumer,
        ..
    }) = err
    else {
        panic!("the handler's failure stops the consumer, naming the event: {err:?}");
    };
    assert_eq!(
        (event, attempts, consumer.as_str()),
        (EventId::Integer(7), 2, "seen")
    );
    // Events 1 to 6 were projected; 7's attempts rolled back with their positions.
    assert_eq!(seen(&pool, "seen").await?, (1..=6).collect::<Vec<_>>());

    // Interrupted mid-run (the future dropped while it runs), then restarted.
    let healthy = || Seen::healthy("seen");
    let interrupted = tokio::time::timeout(
        Duration::from_millis(30),
        store
            .consume(healthy())
            .poll_interval(Duration::from_millis(20))
            .run(),
    )
    .await;
    assert!(interrupted.is_err(), "a consumer runs until stopped");
    // Restarted again and again, one event per run: each resumes after the
    // last event whose transaction committed.
    let mut restarts = 0;
    while seen(&pool, "seen").await?.len() < 20 {
        store.consume(healthy()).run_until(|n| n == 1).await?;
        restarts += 1;
        assert!(restarts <= 20, "each run moves the position");
    }
    assert_eq!(
        seen(&pool, "seen").await?,
        (1..=20).collect::<Vec<_>>(),
        "each event once"
    );
    Ok(())
}

#[sqlx::test]
async fn a_restarted_consumer_resumes_after_its_last_committed_event(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    write(&store, 3, 3).await?; // 12 events
    let healthy = || Seen::healthy("resume");
    store.consume(healthy()).run_until(|n| n == 5).await?;
    assert_eq!(seen(&pool, "resume").await?, (1..=5).collect::<Vec<_>>());
    store.consume(healthy()).run_until(|n| n == 7).await?;
    assert_eq!(seen(&pool, "resume").await?, (1..=12).collect::<Vec<_>>());

    // Live: new events reach the running consumer.
    let running = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .consume(healthy())
                .poll_interval(Duration::from_secs(30))
                .run_until(|n| n == 3)
                .await
        }
    });
    write(&store, 1, 2).await?;
    tokio::time::timeout(Duration::from_secs(10), running).await???;
    assert_eq!(seen(&pool, "resume").await?, (1..=15).collect::<Vec<_>>());

    let status = store.consumer_status().await?;
    assert_eq!(status.len(), 1);
    assert_eq!(
        (
            status[0].name.as_str(),
            status[0].handled,
            status[0].lag_events
        ),
        ("resume", 15, 0)
    );
    assert_eq!(status[0].position.map(|p| p.id), Some(EventId::Integer(15)));
    write(&store, 2, 0).await?;
    // Lag counts the events every reader can see: another test's open
    // transaction (the watermark is cluster-wide) may hide them for a moment.
    wait_for("a lag of two events", Duration::from_secs(10), || async {
        let status = store.consumer_status().await?;
        match status.first().map(|s| s.lag_events) {
            Some(2) => Ok(Some(())),
            Some(lag) if lag > 2 => Err(format!("two events behind: {status:?}").into()),
            _ => Ok(None),
        }
    })
    .await?;

    // Reset: the next run starts from the beginning (the projection is the
    // caller's to clear).
    assert_eq!(store.reset_consumer("resume").await?, 1);
    sqlx::query("DELETE FROM seen").execute(&pool).await?;
    store.consume(healthy()).run_until(|n| n == 17).await?;
    assert_eq!(seen(&pool, "resume").await?, (1..=17).collect::<Vec<_>>());
    Ok(())
}

#[sqlx::test]
async fn a_group_splits_the_log_by_record_and_keeps_each_records_order(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let ids = write(&store, 12, 3).await?; // 48 events
    let members = 3;
    let mut runs = Vec::new();
    for member in 0..members {
        let mine = ids
            .iter()
            .filter(|id| member_of("Counter", &id.to_string(), members) == member)
            .count() as u64
            * 4;
        let store = store.clone();
        runs.push(tokio::spawn(async move {
            let consumer = Seen {
                name: "group",
                member: i32::try_from(member).unwrap_or(0),
                fail_on: None,
                failures: Arc::new(AtomicU32::new(0)),
            };
            if mine == 0 {
                return Ok(());
            }
            store
                .consume(consumer)
                .member(member, members)
                .run_until(|n| n == mine)
                .await
        }));
    }
    for run in runs {
        tokio::time::timeout(Duration::from_secs(20), run).await???;
    }
    assert_eq!(
        seen(&pool, "group").await?,
        (1..=48).collect::<Vec<_>>(),
        "each event once"
    );
    // Every record was handled by one member, its events in order.
    let rows: Vec<(String, i32, i64)> = sqlx::query_as(
        "SELECT record_id, member, event_id FROM seen ORDER BY handled_at, event_id",
    )
    .fetch_all(&pool)
    .await?;
    for id in &ids {
        let mine: Vec<&(String, i32, i64)> =
            rows.iter().filter(|r| r.0 == id.to_string()).collect();
        assert_eq!(mine.len(), 4);
        assert!(
            mine.windows(2).all(|w| w[0].1 == w[1].1 && w[0].2 < w[1].2),
            "{mine:?}"
        );
    }
    let status = store.consumer_status().await?;
    assert!(status.iter().all(|s| s.members == 3 && s.name == "group"));
    Ok(())
}

#[sqlx::test]
async fn a_rebuild_replays_the_log_from_the_start_with_progress(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    write(&store, 5, 39).await?; // 200 events
    let healthy = || Seen::healthy("rebuilt");
    store.consume(healthy()).run_until(|n| n == 200).await?;
    // The projection is cleared and rebuilt from the log.
    sqlx::query("DELETE FROM seen").execute(&pool).await?;
    let mut reports = Vec::new();
    let handled = store
        .consume(healthy())
        .rebuild(|p| reports.push(p))
        .await?;
    assert_eq!(handled, 200);
    assert_eq!(seen(&pool, "rebuilt").await?, (1..=200).collect::<Vec<_>>());
    assert_eq!(reports.len(), 100, "about every percent: {reports:?}");
    let last = reports.last().copied();
    assert_eq!(
        last.map(|p| (p.read, p.total, p.handled)),
        Some((200, 200, 200))
    );
    assert!(reports.windows(2).all(|w| w[0].read < w[1].read));
    // A run after the rebuild continues where it stopped.
    write(&store, 1, 0).await?;
    store.consume(healthy()).run_until(|n| n == 1).await?;
    assert_eq!(seen(&pool, "rebuilt").await?, (1..=201).collect::<Vec<_>>());
    Ok(())
}

#[sqlx::test]
async fn batches_commit_together_and_a_failing_batch_names_its_event(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    write(&store, 4, 4).await?; // 20 events
    let always_failing = Seen {
        name: "batched",
        member: 0,
        fail_on: Some(7),
        failures: Arc::new(AtomicU32::new(u32::MAX)),
    };
    let err = store
        .consume(always_failing)
        .batch_size(50)
        .retry(RetryPolicy {
            attempts: 2,
            first_backoff: Duration::from_millis(5),
            ..RetryPolicy::default()
        })
        .run()
        .await
        .err();
    let Some(ConsumerError::Handler { event, .. }) = err else {
        panic!("a failing batch stops the consumer: {err:?}");
    };
    assert_eq!(
        event,
        EventId::Integer(7),
        "the event at fault, not the batch's first"
    );
    // The batch was rolled back, then its events handled one by one up to the
    // failing one.
    assert_eq!(seen(&pool, "batched").await?, (1..=6).collect::<Vec<_>>());
    let status = store.consumer_status().await?;
    assert_eq!(status[0].handled, 6);
    assert_eq!(status[0].position.map(|p| p.id), Some(EventId::Integer(6)));

    let healthy = Seen::healthy("batched");
    store
        .consume(healthy)
        .batch_size(8)
        .run_until(|n| n >= 14)
        .await?;
    assert_eq!(seen(&pool, "batched").await?, (1..=20).collect::<Vec<_>>());
    let status = store.consumer_status().await?;
    assert_eq!((status[0].handled, status[0].lag_events), (20, 0));
    Ok(())
}

/// Appends each event it handles to `applied`, which has no key: a second
/// application shows as a second row.
struct Applied;

impl Consumer for Applied {
    fn name(&self) -> &str {
        "applied"
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            sqlx::query("INSERT INTO applied (event_id) VALUES ($1)")
                .bind(delivery.event.id.to_string())
                .execute(&mut *tx)
                .await?;
            Ok(())
        })
    }
}

#[sqlx::test]
async fn a_second_runner_of_the_same_member_stops_without_applying_anything_twice(
    pool: PgPool,
) -> TestResult {
    let store = setup(&pool).await?;
    sqlx::query("CREATE TABLE applied (event_id text)")
        .execute(&pool)
        .await?;
    write(&store, 5, 7).await?; // 40 events
    let mut first = tokio::spawn({
        let store = store.clone();
        async move { store.consume(Applied).run().await }
    });
    let mut second = tokio::spawn({
        let store = store.clone();
        async move { store.consume(Applied).run().await }
    });
    // One of them is moved under and stops; the other goes on to the end.
    let (stopped, first_stopped) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::select! {
            done = &mut first => (done, true),
            done = &mut second => (done, false),
        }
    })
    .await?;
    let other = if first_stopped { second } else { first };
    let stopped = stopped?;
    assert!(
        matches!(stopped, Err(ConsumerError::Moved { ref consumer, member: 0 }) if consumer == "applied"),
        "{stopped:?}"
    );
    wait_for(
        "the other runner to apply all 40",
        Duration::from_secs(20),
        || async {
            let n: i64 = sqlx::query_scalar("SELECT count(DISTINCT event_id) FROM applied")
                .fetch_one(&pool)
                .await?;
            Ok((n == 40).then_some(()))
        },
    )
    .await?;
    other.abort();
    let (rows, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT event_id) FROM applied")
            .fetch_one(&pool)
            .await?;
    assert_eq!((rows, distinct), (40, 40), "each event applied once");
    Ok(())
}
