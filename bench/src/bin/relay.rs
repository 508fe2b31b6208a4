//! The NATS JetStream relay and batched consumers, side by side in one run:
//!
//! - relay throughput: the [`Relay`] catching up on a backlog, events/s, next
//!   to publishing the same payloads (body, headers, message id) with
//!   async-nats directly, pipelined in windows of the relay's batch size and
//!   every acknowledgement awaited: what a hand-written publisher does, without
//!   reading the log or saving a position;
//! - a projection catching up, one event per transaction next to batches.
//!
//! `cargo run --release -p events-bench --bin relay [-- <backlog events>]`
//! (default 100,000), with NATS at `NATS_URL` (default `127.0.0.1:4222`).
//! Streams are the run's own and deleted at the end.

use std::time::Instant;

use events_core::{BoxError, BoxFuture, BulkCtx, Error, event_log, events};
use events_nats::async_nats::jetstream::message::PublishMessage;
use events_nats::async_nats::{self, jetstream};
use events_nats::{Relay, RelayedEvent};
use events_postgres::PgEventStore;
use events_postgres::consume::Consumer;
use events_postgres::subscribe::{Delivery, StartAt};
use futures_util::StreamExt;
use sqlx::PgConnection;
use sqlx::postgres::PgPoolOptions;

/// Per-record locks.
#[event_log(advisory_lock_scope = record, table = "relay_events")]
pub struct RelayLog;

/// An order; its events are relayed.
pub struct Order;

/// Input of `Order::place_many`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Place {
    sku: String,
    quantity: i64,
}

#[events(event_log = RelayLog)]
impl Order {
    /// Places an order (the event only).
    #[create]
    pub async fn place(_ctx: &mut events_core::ActionCtx<'_>, order: Place) -> Result<(), Error> {
        let _ = order;
        Ok(())
    }

    /// Places many orders (the backlog).
    #[bulk(place)]
    pub async fn place_many(_ctx: &mut BulkCtx<'_>, orders: Vec<Place>) -> Result<(), Error> {
        let _ = orders;
        Ok(())
    }
}

/// Counts orders per sku into `order_counts`.
struct Counts;

impl Consumer for Counts {
    fn name(&self) -> &str {
        "counts"
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let place: Place = delivery.decode()?;
            sqlx::query(
                "INSERT INTO order_counts (sku, n) VALUES ($1, $2) \
                 ON CONFLICT (sku) DO UPDATE SET n = order_counts.n + EXCLUDED.n",
            )
            .bind(place.sku)
            .bind(place.quantity)
            .execute(tx)
            .await?;
            Ok(())
        })
    }
}

const BATCH: usize = 256;

/// Publishes `payloads` to `stream` (created fresh), pipelined in windows of
/// `BATCH`, every acknowledgement awaited; events/s.
async fn direct(
    jetstream: &jetstream::Context,
    stream: &str,
    prefix: &str,
    payloads: &[(String, async_nats::HeaderMap, bytes::Bytes, String)],
) -> Result<f64, BoxError> {
    jetstream
        .create_stream(jetstream::stream::Config {
            name: stream.to_owned(),
            subjects: vec![format!("{prefix}.>")],
            ..Default::default()
        })
        .await?;
    let start = Instant::now();
    for window in payloads.chunks(BATCH) {
        let mut acks = Vec::with_capacity(window.len());
        for (subject, headers, body, id) in window {
            let message = PublishMessage::build()
                .payload(body.clone())
                .headers(headers.clone())
                .message_id(id);
            acks.push(
                jetstream
                    .send_publish(format!("{prefix}.{subject}"), message)
                    .await?,
            );
        }
        for ack in acks {
            ack.await?;
        }
    }
    let rate = events_bench::per_second(payloads.len() as u64, start.elapsed());
    jetstream.delete_stream(stream).await?;
    Ok(rate)
}

/// The relay catching up on the whole log into `stream` (created fresh);
/// events/s.
async fn relay(
    store: &PgEventStore<RelayLog>,
    jetstream: &jetstream::Context,
    stream: &str,
    prefix: &str,
    total: u64,
) -> Result<f64, BoxError> {
    store.reset_consumer("nats-relay").await?;
    let relay = Relay::new(store.clone(), jetstream.clone())
        .stream(stream)
        .subject_prefix(prefix)
        .batch_size(BATCH);
    relay.ensure_stream().await?;
    let start = Instant::now();
    relay.run_until(|n| n >= total).await?;
    let rate = events_bench::per_second(total, start.elapsed());
    jetstream.delete_stream(stream).await?;
    Ok(rate)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let backlog: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let db = events_examples::connect("events_bench_relay").await?;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(db.pool.connect_options().as_ref().clone())
        .await?;
    let store = PgEventStore::<RelayLog>::new(pool.clone());
    store.migrate().await?;
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "127.0.0.1:4222".into());
    let jetstream = jetstream::new(async_nats::connect(&url).await?);
    println!("relay bench on {} and NATS at {url}\n", db.source);

    let mut written = 0;
    while written < backlog {
        let n = 10_000.min(backlog - written);
        Order::place_many((0..n).map(|i| Place {
            sku: format!("sku-{}", (written + i) % 97),
            quantity: 1,
        }))
        .run(&store)
        .await?;
        written += n;
    }
    sqlx::query("VACUUM ANALYZE relay_events")
        .execute(&pool)
        .await?;
    let total = written as u64;

    // The payloads the relay publishes, prepared up front for the direct run.
    let mut payloads = Vec::with_capacity(written);
    let mut deliveries = store.subscribe(StartAt::Beginning).batch_size(5_000);
    while payloads.len() < written {
        let Some(delivery) = deliveries.next().await else {
            return Err("the subscription ended".into());
        };
        let event = RelayedEvent::from_delivery(&delivery?);
        payloads.push((
            format!("{}.{}", event.resource, event.action),
            event.headers(),
            bytes::Bytes::from(serde_json::to_vec(&event)?),
            event.id.to_string(),
        ));
    }
    drop(deliveries);
    let size = payloads.iter().map(|p| p.2.len()).sum::<usize>() / written.max(1);

    let run = std::process::id();
    println!("relay throughput: {total} events (~{size} bytes of JSON each), batches of {BATCH}");
    println!("| round | async-nats directly, events/s | relay, events/s | relay / direct |");
    println!("|---|---|---|---|");
    for round in 1..=3 {
        let direct = direct(
            &jetstream,
            &format!("BENCH_DIRECT_{run}_{round}"),
            &format!("bench{run}.direct{round}"),
            &payloads,
        )
        .await?;
        let relayed = relay(
            &store,
            &jetstream,
            &format!("BENCH_RELAY_{run}_{round}"),
            &format!("bench{run}.relay{round}"),
            total,
        )
        .await?;
        println!(
            "| {round} | {direct:.0} | {relayed:.0} | {:.2}x |",
            relayed / direct
        );
    }

    sqlx::query("CREATE TABLE IF NOT EXISTS order_counts (sku text PRIMARY KEY, n bigint)")
        .execute(&pool)
        .await?;
    let projected = total.min(20_000);
    println!("\nprojection catch-up: {projected} events");
    println!("| events per transaction | events/s | ratio |");
    println!("|---|---|---|");
    let mut first = None;
    for batch in [1, 16, 256] {
        store.reset_consumer("counts").await?;
        sqlx::query("TRUNCATE order_counts").execute(&pool).await?;
        let start = Instant::now();
        store
            .consume(Counts)
            .batch_size(batch)
            .run_until(|n| n >= projected)
            .await?;
        let rate = events_bench::per_second(projected, start.elapsed());
        let base = *first.get_or_insert(rate);
        println!("| {batch} | {rate:.0} | {:.2}x |", rate / base);
    }
    Ok(())
}
