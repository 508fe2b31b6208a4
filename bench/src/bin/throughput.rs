//! Write throughput under concurrency, side by side in one run:
//!
//! - single writer: a framework action (record + event) vs the same record insert
//!   alone, with the floors in between: the insert in its own `BEGIN`/`COMMIT`, and
//!   the record + event written by hand in one transaction (the same round trips
//!   as an action);
//! - N writers (1, 4, 16, 32) on distinct records: the `global` lock scope vs the
//!   `record` scope vs a hand-written record + event insert without a lock;
//! - notifications: the record scope with notifications off and on
//!   ([`PgEventStore::with_notifications`]), 1 and 16 writers;
//! - bulk: 10,000 creates in one call (`#[bulk(create)]`, and `each(..)` over the
//!   single action) vs a hand-written multi-row insert of the records and their
//!   events in one transaction.
//!
//! `cargo run --release -p events-bench --bin throughput [-- <actions per writer>]`

use std::time::{Duration, Instant};

use events_core::{ActionCtx, BulkCtx, Error, event_log, events};
use events_postgres::PgEventStore;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// AshEvents' behaviour without tenants: one key for every action.
#[event_log(advisory_lock_scope = global, table = "global_events")]
pub struct GlobalLog;

/// One key per record.
#[event_log(advisory_lock_scope = record, table = "record_events")]
pub struct RecordLog;

/// An item under the global scope.
pub struct GlobalItem;

#[events(event_log = GlobalLog, name = "Item")]
impl GlobalItem {
    /// Inserts an item.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, value: i64) -> Result<(), Error> {
        insert_item(ctx, value).await
    }
}

/// An item under the record scope.
pub struct RecordItem;

#[events(event_log = RecordLog, name = "Item")]
impl RecordItem {
    /// Inserts an item.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, value: i64) -> Result<(), Error> {
        insert_item(ctx, value).await
    }
}

/// Items created in bulk, record scope.
pub struct BulkItem;

#[events(event_log = RecordLog, name = "Item")]
impl BulkItem {
    /// Inserts an item.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, value: i64) -> Result<(), Error> {
        insert_item(ctx, value).await
    }

    /// Inserts many items in one statement.
    #[bulk(create)]
    pub async fn create_many(ctx: &mut BulkCtx<'_>, values: Vec<i64>) -> Result<(), Error> {
        sqlx::query("INSERT INTO items (id, value) SELECT * FROM unnest($1::uuid[], $2::int8[])")
            .bind(ctx.record_ids())
            .bind(&values)
            .execute(ctx.conn())
            .await?;
        Ok(())
    }
}

/// The hand-written bulk baseline: records and events, two multi-row inserts in
/// one transaction.
async fn hand_bulk(pool: &PgPool, values: &[i64]) -> Result<(), BoxError> {
    let ids: Vec<Uuid> = values.iter().map(|_| Uuid::now_v7()).collect();
    let data: Vec<serde_json::Value> = values.iter().map(|v| serde_json::json!(v)).collect();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO hand_events (resource, record_id, action, action_type, data, version, occurred_at) \
         SELECT 'Item', id, 'create', 'create', data, 1, clock_timestamp() \
         FROM unnest($1::uuid[], $2::jsonb[]) AS u(id, data)",
    )
    .bind(&ids)
    .bind(&data)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO items (id, value) SELECT * FROM unnest($1::uuid[], $2::int8[])")
        .bind(&ids)
        .bind(values)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// How a bulk scenario writes its rows.
#[derive(Clone, Copy)]
enum Bulk {
    /// Two hand-written multi-row inserts in one transaction.
    Hand,
    /// `#[bulk(create)]`: one event statement, one state statement.
    Framework,
    /// `each(..)` over single creates: one event statement, one body per row.
    Each,
}

/// Rows per second of the best of `calls` bulk calls of `size` creates.
async fn bulk_rate(stores: &Stores, how: Bulk, size: usize, calls: usize) -> Result<f64, BoxError> {
    let mut best = Duration::MAX;
    for call in 0..calls {
        let values: Vec<i64> = (0..size as i64).map(|v| v + (call * size) as i64).collect();
        let start = Instant::now();
        match how {
            Bulk::Hand => hand_bulk(&stores.pool, &values).await?,
            Bulk::Framework => BulkItem::create_many(values).run(&stores.record).await?,
            Bulk::Each => {
                events_core::each(values.into_iter().map(BulkItem::create))
                    .run(&stores.record)
                    .await?;
            }
        }
        best = best.min(start.elapsed());
    }
    Ok(events_bench::per_second(size as u64, best))
}

async fn insert_item(ctx: &mut ActionCtx<'_>, value: i64) -> Result<(), Error> {
    sqlx::query("INSERT INTO items (id, value) VALUES ($1, $2)")
        .bind(ctx.record_id())
        .bind(value)
        .execute(ctx.conn())
        .await?;
    Ok(())
}

#[derive(Clone, Copy, Debug)]
enum Path {
    /// The record insert alone, autocommitted.
    RecordOnly,
    /// The record insert in its own `BEGIN` .. `COMMIT`, no event: the round trips
    /// any transactional action pays.
    RecordInTransaction,
    /// Record + event row in one transaction, no lock, written by hand.
    HandWritten,
    /// The framework, global scope.
    Global,
    /// The framework, record scope.
    Record,
    /// The framework, record scope, on a store with notifications on.
    RecordNotifying,
}

impl Path {
    fn label(self) -> &'static str {
        match self {
            Path::RecordOnly => "record insert alone",
            Path::RecordInTransaction => "record insert in BEGIN/COMMIT, no event",
            Path::HandWritten => "hand-written record + event, no lock",
            Path::Global => "framework, global scope",
            Path::Record => "framework, record scope",
            Path::RecordNotifying => "framework, record scope, notifications on",
        }
    }
}

struct Stores {
    pool: PgPool,
    global: PgEventStore<GlobalLog>,
    record: PgEventStore<RecordLog>,
    notifying: PgEventStore<RecordLog>,
}

async fn one(stores: &Stores, path: Path, value: i64) -> Result<(), BoxError> {
    match path {
        Path::RecordOnly => {
            sqlx::query("INSERT INTO items (id, value) VALUES ($1, $2)")
                .bind(Uuid::now_v7())
                .bind(value)
                .execute(&stores.pool)
                .await?;
        }
        Path::RecordInTransaction => {
            let mut tx = stores.pool.begin().await?;
            sqlx::query("INSERT INTO items (id, value) VALUES ($1, $2)")
                .bind(Uuid::now_v7())
                .bind(value)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Path::HandWritten => {
            let id = Uuid::now_v7();
            let mut tx = stores.pool.begin().await?;
            sqlx::query(
                "INSERT INTO hand_events (resource, record_id, action, action_type, data, version, occurred_at) \
                 VALUES ('Item', $1, 'create', 'create', $2, 1, clock_timestamp())",
            )
            .bind(id)
            .bind(serde_json::json!(value))
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO items (id, value) VALUES ($1, $2)")
                .bind(id)
                .bind(value)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Path::Global => GlobalItem::create(value).run(&stores.global).await?,
        Path::Record => RecordItem::create(value).run(&stores.record).await?,
        Path::RecordNotifying => RecordItem::create(value).run(&stores.notifying).await?,
    }
    Ok(())
}

/// Runs each path `per_writer` actions per writer in total, split into `rounds`
/// rounds that alternate between the paths; returns each path's actions per second.
async fn interleaved(
    stores: &'static Stores,
    paths: &[Path],
    writers: usize,
    per_writer: usize,
    rounds: usize,
) -> Result<Vec<f64>, BoxError> {
    let per_round = per_writer.div_ceil(rounds);
    let mut elapsed = vec![Duration::ZERO; paths.len()];
    for _ in 0..rounds {
        for (path, total) in paths.iter().zip(elapsed.iter_mut()) {
            let rate = run(stores, *path, writers, per_round).await?;
            *total += Duration::from_secs_f64((writers * per_round) as f64 / rate);
        }
    }
    Ok(elapsed
        .into_iter()
        .map(|t| events_bench::per_second((writers * per_round * rounds) as u64, t))
        .collect())
}

/// Runs `per_writer` actions on each of `writers` tasks; returns actions per second.
async fn run(
    stores: &'static Stores,
    path: Path,
    writers: usize,
    per_writer: usize,
) -> Result<f64, BoxError> {
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            tokio::spawn(async move {
                for i in 0..per_writer {
                    one(stores, path, (w * per_writer + i) as i64).await?;
                }
                Ok::<_, BoxError>(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(events_bench::per_second(
        (writers * per_writer) as u64,
        start.elapsed(),
    ))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let per_writer: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let db = events_examples::connect("events_bench_throughput").await?;
    let pool = PgPoolOptions::new()
        .max_connections(40)
        .connect_with(db.pool.connect_options().as_ref().clone())
        .await?;
    let stores: &'static Stores = Box::leak(Box::new(Stores {
        global: PgEventStore::new(pool.clone()),
        record: PgEventStore::new(pool.clone()),
        notifying: PgEventStore::new(pool.clone()).with_notifications(true),
        pool,
    }));
    stores.global.migrate().await?;
    stores.record.migrate().await?;
    sqlx::raw_sql(
        "CREATE TABLE items (id uuid PRIMARY KEY, value bigint NOT NULL);
         CREATE TABLE hand_events (LIKE record_events INCLUDING ALL);",
    )
    .execute(&stores.pool)
    .await?;
    println!(
        "throughput bench on {}, {per_writer} actions per writer\n",
        db.source
    );

    // Warm-up: prepare every statement on every connection.
    for path in [
        Path::RecordOnly,
        Path::RecordInTransaction,
        Path::HandWritten,
        Path::Global,
        Path::Record,
        Path::RecordNotifying,
    ] {
        run(stores, path, 32, 5).await?;
    }

    // Paths compared in one table run in alternating rounds, so that each sees the
    // same machine (load, table sizes, checkpoints) as the others.
    let rounds = 5;
    println!(
        "single writer ({} actions per path, {rounds} alternating rounds)",
        per_writer * 2
    );
    println!("| path | actions/s | time per action vs record insert alone |");
    println!("|---|---|---|");
    let single = [
        Path::RecordOnly,
        Path::RecordInTransaction,
        Path::HandWritten,
        Path::Record,
        Path::Global,
    ];
    let rates = interleaved(stores, &single, 1, per_writer * 2, rounds).await?;
    for (path, rate) in single.iter().zip(&rates) {
        println!(
            "| {} | {:.0} | {:.2}x |",
            path.label(),
            rate,
            rates[0] / rate
        );
    }

    println!("\nconcurrent writers on distinct records ({per_writer} actions per writer)");
    println!(
        "| writers | global scope | record scope | hand-written, no lock | record / global | record / hand-written |"
    );
    println!("|---|---|---|---|---|---|");
    for writers in [1, 4, 16, 32] {
        let paths = [Path::Global, Path::Record, Path::HandWritten];
        let rates = interleaved(stores, &paths, writers, per_writer, rounds).await?;
        let (global, record, hand) = (rates[0], rates[1], rates[2]);
        println!(
            "| {writers} | {global:.0} | {record:.0} | {hand:.0} | {:.2}x | {:.2}x |",
            record / global,
            record / hand
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "\nnotifications: what announcing each commit costs writers (record scope, {per_writer} actions per writer)"
    );
    println!("| writers | notifications off | notifications on | on / off |");
    println!("|---|---|---|---|");
    for writers in [1, 16] {
        let paths = [Path::Record, Path::RecordNotifying];
        let rates = interleaved(stores, &paths, writers, per_writer, rounds).await?;
        println!(
            "| {writers} | {:.0} | {:.0} | {:.2}x |",
            rates[0],
            rates[1],
            rates[1] / rates[0]
        );
    }
    let (size, calls) = (10_000, 5);
    println!("\nbulk: {size} creates in one call, best of {calls}");
    println!("| path | rows/s | ratio to hand-written |");
    println!("|---|---|---|");
    // Warm-up, then alternate so all see the same machine.
    for how in [Bulk::Hand, Bulk::Framework, Bulk::Each] {
        bulk_rate(stores, how, 100, 2).await?;
    }
    let (mut hand, mut framework, mut each) = (0f64, 0f64, 0f64);
    for _ in 0..2 {
        hand = hand.max(bulk_rate(stores, Bulk::Hand, size, calls).await?);
        framework = framework.max(bulk_rate(stores, Bulk::Framework, size, calls).await?);
        each = each.max(bulk_rate(stores, Bulk::Each, size, 1).await?);
    }
    println!("| hand-written multi-row insert of records and events | {hand:.0} | 1.00x |");
    println!(
        "| framework bulk create, `#[bulk(create)]` (record scope) | {framework:.0} | {:.2}x |",
        framework / hand
    );
    println!(
        "| framework `each(..)` of single creates: one event statement, a body per row | {each:.0} | {:.2}x |",
        each / hand
    );
    Ok(())
}
