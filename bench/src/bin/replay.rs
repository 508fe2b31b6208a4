//! Replay throughput: events per second when replaying a log of 100,000 events
//! (creates and updates of users), next to applying the same statements directly,
//! without the log, in the same run. Prints the ratio.
//!
//! `cargo run --release -p events-bench --bin replay [-- <events>]`

use std::time::Duration;

use events_core::replay::Replay;
use events_postgres::PgEventStore;
use events_tests::app::{self, EventLog};
use sqlx::PgPool;
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One user's create and update, as both the log and the baseline apply them.
struct Row {
    id: Uuid,
    name: String,
    email: String,
    renamed: String,
    at: chrono::DateTime<chrono::Utc>,
}

fn rows(n: usize) -> Vec<Row> {
    let at = chrono::Utc::now();
    (0..n)
        .map(|i| Row {
            id: Uuid::now_v7(),
            name: format!("user {i}"),
            email: format!("user{i}@example.com"),
            renamed: format!("renamed user {i}"),
            at,
        })
        .collect()
}

/// Writes the events of `rows` (a create each, then an update each) with
/// multi-row inserts, as the actions would have recorded them.
async fn seed(pool: &PgPool, rows: &[Row]) -> Result<(), BoxError> {
    for (action, version) in [("create", 2_i32), ("update", 3)] {
        for chunk in rows.chunks(10_000) {
            let ids: Vec<Uuid> = chunk.iter().map(|r| r.id).collect();
            let data: Vec<serde_json::Value> = chunk
                .iter()
                .map(|r| match action {
                    "create" => serde_json::json!({ "name": r.name, "email": r.email }),
                    _ => serde_json::json!({ "name": r.renamed }),
                })
                .collect();
            let at: Vec<chrono::DateTime<chrono::Utc>> = chunk.iter().map(|r| r.at).collect();
            sqlx::query(
                "INSERT INTO events (resource, record_id, action, action_type, data, version, occurred_at) \
                 SELECT 'User', id, $2, $3, data, $4, at FROM UNNEST($1::uuid[], $5::jsonb[], $6::timestamptz[]) AS t(id, data, at)",
            )
            .bind(&ids)
            .bind(action)
            .bind(if action == "create" { "create" } else { "update" })
            .bind(version)
            .bind(&data)
            .bind(&at)
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

/// The same writes the bodies make, one statement per event, in one transaction,
/// without reading or decoding the log.
async fn direct(pool: &PgPool, rows: &[Row]) -> Result<Duration, BoxError> {
    let start = std::time::Instant::now();
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM posts").execute(&mut *tx).await?;
    sqlx::query("DELETE FROM users").execute(&mut *tx).await?;
    for r in rows {
        sqlx::query("INSERT INTO users (id, name, email, created_at) VALUES ($1, $2, $3, $4)")
            .bind(r.id)
            .bind(&r.name)
            .bind(&r.email)
            .bind(r.at)
            .execute(&mut *tx)
            .await?;
    }
    for r in rows {
        sqlx::query("UPDATE users SET name = $2 WHERE id = $1 RETURNING *")
            .bind(r.id)
            .bind(&r.renamed)
            .fetch_one(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(start.elapsed())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let users = events / 2;
    let db = events_examples::connect("events_bench_replay").await?;
    let store = PgEventStore::<EventLog>::new(db.pool.clone());
    store.migrate().await?;
    app::create_tables(&mut *db.pool.acquire().await?).await?;
    let rows = rows(users);
    seed(&db.pool, &rows).await?;
    println!(
        "replay bench: {} events ({users} creates, {users} updates) on {}",
        users * 2,
        db.source
    );

    // Warm up both paths once on a small prefix, then measure each twice, alternating.
    let mut replay_times = Vec::new();
    let mut direct_times = Vec::new();
    for _ in 0..2 {
        let (report, t) = events_bench::time(store.replay(Replay::all().batch_size(1_000))).await;
        let report = report?;
        assert_eq!(report.applied as usize, users * 2);
        replay_times.push(t);
        direct_times.push(direct(&db.pool, &rows).await?);
    }
    let replay = *replay_times.iter().min().unwrap_or(&Duration::ZERO);
    let direct = *direct_times.iter().min().unwrap_or(&Duration::ZERO);
    let n = (users * 2) as u64;
    println!();
    println!("| path                         | time (best of 2) | events/s |");
    println!("|------------------------------|------------------|----------|");
    println!(
        "| replay (framework)           | {:>14.2?} | {:>8.0} |",
        replay,
        events_bench::per_second(n, replay)
    );
    println!(
        "| same statements, direct      | {:>14.2?} | {:>8.0} |",
        direct,
        events_bench::per_second(n, direct)
    );
    println!();
    println!(
        "replay / direct time ratio: {:.2} (replay throughput is {:.0}% of direct)",
        replay.as_secs_f64() / direct.as_secs_f64().max(f64::EPSILON),
        100.0 * direct.as_secs_f64() / replay.as_secs_f64().max(f64::EPSILON)
    );
    Ok(())
}
