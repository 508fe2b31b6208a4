//! Seed: fills the example application's database (`DATABASE_URL`) for its
//! `events` command line: the quickstart's actions, then `--users N` bulk
//! registrations (none by default), for a long replay to watch.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop cargo run -p events-examples --example seed -- --users 100000
//! ```
//!
//! It migrates first (the event log and the application's tables), so it runs
//! on an empty database.

use events_examples::app;
use events_postgres::PgEventStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url =
        std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL to the database to fill")?;
    let mut users = 0_u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--users" => {
                users = args
                    .next()
                    .and_then(|n| n.replace('_', "").parse().ok())
                    .ok_or("--users takes a number")?;
            }
            other => return Err(format!("unknown argument `{other}`; seed takes --users N").into()),
        }
    }
    let pool = sqlx::PgPool::connect(&url).await?;
    let store = PgEventStore::<app::EventLog>::new(pool.clone());
    store.migrate().await?;
    sqlx::raw_sql(app::SCHEMA).execute(&pool).await?;
    let story = app::story(&store).await?;
    println!("quickstart story written: grace is User {}", story.grace);
    if users > 0 {
        app::seed_users(&store, 0, users).await?;
        println!("{users} users registered");
    }
    Ok(())
}
