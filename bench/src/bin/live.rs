//! Subscriptions, side by side in one run:
//!
//! - latency from commit to a subscriber (p50, p99) at a steady 500 and 2,000
//!   actions/s, with notifications on (woken at each commit) and off (polling
//!   every 100 ms): the time from the writer's `run(..)` returning (its commit
//!   acknowledged) to the subscriber receiving the event;
//! - catch-up: a subscriber reading a backlog from the beginning, events/s, next
//!   to `COPY (SELECT <the same columns> ORDER BY txid, id) TO STDOUT` of the
//!   same rows.
//!
//! `cargo run --release -p events-bench --bin live [-- <backlog events>]`
//! (default 200,000; the figure is 1,000,000).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use events_core::{ActionCtx, BulkCtx, Error, event_log, events};
use events_postgres::PgEventStore;
use events_postgres::subscribe::StartAt;
use futures_util::StreamExt;
use sqlx::postgres::PgPoolOptions;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Per-record locks, so paced writers never wait on each other.
#[event_log(advisory_lock_scope = record, table = "live_events")]
pub struct LiveLog;

/// An item; the event is the whole point.
pub struct Item;

#[events(event_log = LiveLog)]
impl Item {
    /// Creates an item (the event only).
    #[create]
    pub async fn create(_ctx: &mut ActionCtx<'_>, value: i64) -> Result<(), Error> {
        let _ = value;
        Ok(())
    }

    /// Creates many (the backlog).
    #[bulk(create)]
    pub async fn create_many(_ctx: &mut BulkCtx<'_>, values: Vec<i64>) -> Result<(), Error> {
        let _ = values;
        Ok(())
    }
}

/// Commit-to-subscriber latencies of `seconds` of actions at `rate` per second.
async fn latency(
    store: &PgEventStore<LiveLog>,
    rate: u32,
    seconds: u32,
    poll: Duration,
) -> Result<(Vec<Duration>, f64), BoxError> {
    let committed: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let received: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let writers = 8;
    let total = rate * seconds / writers * writers;
    let mut sub = store.subscribe(StartAt::Now).poll_interval(poll);
    // Resolve "now" and connect the listener before writing.
    let _ = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
    let reader = {
        let received = Arc::clone(&received);
        tokio::spawn(async move {
            let mut n = 0;
            while n < total {
                match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
                    Ok(Some(Ok(delivery))) => {
                        received
                            .lock()
                            .map_err(|_| "poisoned")?
                            .insert(delivery.event.record_id.to_string(), Instant::now());
                        n += 1;
                    }
                    Ok(Some(Err(e))) => return Err::<(), BoxError>(e.into()),
                    Ok(None) | Err(_) => return Err(format!("subscriber stalled at {n}").into()),
                }
            }
            Ok(())
        })
    };
    // Eight paced writers, each at rate / 8.
    let period = Duration::from_secs_f64(f64::from(writers) / f64::from(rate));
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            let committed = Arc::clone(&committed);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                for i in 0..total / writers {
                    tick.tick().await;
                    let id = uuid::Uuid::now_v7();
                    Item::create(i64::from(w * 1_000_000 + i))
                        .record_id(id)
                        .run(&store)
                        .await?;
                    committed
                        .lock()
                        .map_err(|_| "poisoned")?
                        .insert(id.to_string(), Instant::now());
                }
                Ok::<_, BoxError>(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let achieved = events_bench::per_second(u64::from(total), start.elapsed());
    reader.await??;
    let committed = committed.lock().map_err(|_| "poisoned")?;
    let received = received.lock().map_err(|_| "poisoned")?;
    let samples = committed
        .iter()
        .filter_map(|(id, at)| {
            received
                .get(id)
                .map(|got| got.saturating_duration_since(*at))
        })
        .collect();
    Ok((samples, achieved))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let backlog: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let db = events_examples::connect("events_bench_live").await?;
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .connect_with(db.pool.connect_options().as_ref().clone())
        .await?;
    let quiet = PgEventStore::<LiveLog>::new(pool.clone());
    let notifying = quiet.clone().with_notifications(true);
    quiet.migrate().await?;
    println!("subscription bench on {}\n", db.source);

    println!("commit-to-subscriber latency, 5 s at each rate");
    println!("| actions/s (achieved) | notifications | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    for rate in [500, 2_000] {
        for (label, store, poll) in [
            ("on", &notifying, Duration::from_secs(1)),
            ("off, poll 100 ms", &quiet, Duration::from_millis(100)),
        ] {
            let (mut samples, achieved) = latency(store, rate, 5, poll).await?;
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            let (p50, p99) = (
                events_bench::percentile(&mut samples, 50.0),
                events_bench::percentile(&mut samples, 99.0),
            );
            println!(
                "| {rate} ({achieved:.0}) | {label} | {:.1} | {:.1} |",
                ms(p50),
                ms(p99)
            );
        }
    }

    // The backlog, written in bulk.
    let chunk = 10_000;
    let mut written = 0;
    while written < backlog {
        let n = chunk.min(backlog - written);
        Item::create_many((0..n).map(|v| v as i64))
            .run(&quiet)
            .await?;
        written += n;
    }
    sqlx::query("VACUUM ANALYZE live_events")
        .execute(&pool)
        .await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM live_events")
        .fetch_one(&pool)
        .await?;
    let total = usize::try_from(total)?;

    println!("\ncatch-up: {total} events from the beginning");
    println!("| reader | events/s | ratio to COPY |");
    println!("|---|---|---|");
    let copy = {
        let mut conn = pool.acquire().await?;
        let start = Instant::now();
        let mut out = conn
            .copy_out_raw(
                "COPY (SELECT id, resource, record_id, action, action_type, data, metadata, version, \
                 tenant, occurred_at, txid FROM live_events ORDER BY txid, id) TO STDOUT",
            )
            .await?;
        let mut bytes = 0;
        while let Some(chunk) = out.next().await {
            bytes += chunk?.len();
        }
        let _ = bytes;
        events_bench::per_second(total as u64, start.elapsed())
    };
    let subscriber = {
        let start = Instant::now();
        let mut sub = quiet.subscribe(StartAt::Beginning).batch_size(10_000);
        let mut n = 0;
        while n < total {
            match sub.next().await {
                Some(delivery) => {
                    delivery?;
                    n += 1;
                }
                None => return Err("the subscription ended".into()),
            }
        }
        events_bench::per_second(total as u64, start.elapsed())
    };
    println!("| `COPY .. TO STDOUT` | {copy:.0} | 1.00x |");
    println!(
        "| subscription from the beginning (pages of 10,000) | {subscriber:.0} | {:.2}x |",
        subscriber / copy
    );
    Ok(())
}
