//! Versioning: change an action's input and keep old events replayable.
//!
//! It shows, in one program, two builds of the same application sharing a database:
//! - **v1** records `Customer.register` with `{ full_name }` (version 1);
//! - **v2** changes the input to `{ first_name, last_name, email }` and says so with
//!   `current_action_versions(register = 2)`. It keeps the old body as
//!   `register_v1`, in `ignore_actions` (it records nothing itself), and routes
//!   version-1 events to it with a `replay_override`;
//! - a replay with v2 rebuilds exactly the state both builds produced;
//! - without the override, the preflight passes (the action exists) but the old
//!   data does not fit the new input: replay stops with a typed error naming the
//!   event and the field, and changes nothing.
//!
//! Run it with `cargo run --example versioning`.

use events_core::replay::{Replay, Selection};
use events_core::{ActionCtx, ClearRecords, Error, event_log, events};
use events_postgres::PgEventStore;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

/// The `customers` table both builds write.
#[derive(Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CustomerRow {
    id: uuid::Uuid,
    first_name: String,
    last_name: String,
    email: Option<String>,
}

async fn insert(
    ctx: &mut ActionCtx<'_>,
    first: &str,
    last: &str,
    email: Option<&str>,
) -> Result<(), Error> {
    sqlx::query("INSERT INTO customers (id, first_name, last_name, email) VALUES ($1, $2, $3, $4)")
        .bind(ctx.record_id())
        .bind(first)
        .bind(last)
        .bind(email)
        .execute(ctx.conn())
        .await?;
    Ok(())
}

/// How v1 split a full name; v2 keeps doing it for old events.
fn split(full_name: &str) -> (&str, &str) {
    full_name.split_once(' ').unwrap_or((full_name, ""))
}

/// Input of version 1.
#[derive(Serialize, Deserialize)]
pub struct RegisterV1 {
    full_name: String,
}

/// Input of version 2.
#[derive(Serialize, Deserialize)]
pub struct RegisterV2 {
    first_name: String,
    last_name: String,
    email: String,
}

/// Clears what replay rebuilds.
pub struct ClearCustomers;

impl ClearRecords for ClearCustomers {
    async fn clear_records(conn: &mut PgConnection) -> Result<(), Error> {
        sqlx::query("DELETE FROM customers").execute(conn).await?;
        Ok(())
    }
}

/// The first build.
mod v1 {
    use super::*;

    #[event_log]
    pub struct EventLog;

    pub struct Customer;

    #[events(event_log = EventLog, name = "Customer")]
    impl Customer {
        /// Registers a customer from a full name.
        #[create]
        pub async fn register(ctx: &mut ActionCtx<'_>, input: RegisterV1) -> Result<(), Error> {
            let (first, last) = split(&input.full_name);
            insert(ctx, first, last, None).await
        }
    }
}

/// The second build: new input, old body kept for old events.
mod v2 {
    use super::*;

    #[event_log(
        clear_records_for_replay = ClearCustomers,
        replay_override(Customer, register, versions = [1], route_to(Customer, register_v1)),
    )]
    pub struct EventLog;

    pub struct Customer;

    #[events(event_log = EventLog, ignore_actions = [register_v1], current_action_versions(register = 2))]
    impl Customer {
        /// Registers a customer.
        #[create]
        pub async fn register(ctx: &mut ActionCtx<'_>, input: RegisterV2) -> Result<(), Error> {
            insert(ctx, &input.first_name, &input.last_name, Some(&input.email)).await
        }

        /// Version 1's body, kept so version-1 events replay as they ran.
        #[create]
        async fn register_v1(ctx: &mut ActionCtx<'_>, input: RegisterV1) -> Result<(), Error> {
            let (first, last) = split(&input.full_name);
            insert(ctx, first, last, None).await
        }
    }
}

/// The second build as it would be without the override.
mod v2_forgetful {
    use super::*;

    #[event_log(clear_records_for_replay = ClearCustomers)]
    pub struct EventLog;

    pub struct Customer;

    #[events(event_log = EventLog, current_action_versions(register = 2))]
    impl Customer {
        /// Registers a customer.
        #[create]
        pub async fn register(ctx: &mut ActionCtx<'_>, input: RegisterV2) -> Result<(), Error> {
            insert(ctx, &input.first_name, &input.last_name, Some(&input.email)).await
        }
    }
}

async fn customers(pool: &sqlx::PgPool) -> Result<Vec<CustomerRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, first_name, last_name, email FROM customers ORDER BY id")
        .fetch_all(pool)
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = events_examples::connect("events_versioning").await?;
    println!("Using {}.\n", db.source);
    let old = PgEventStore::<v1::EventLog>::new(db.pool.clone());
    let new = PgEventStore::<v2::EventLog>::new(db.pool.clone());
    new.migrate().await?;
    sqlx::query("CREATE TABLE customers (id uuid PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, email text)")
        .execute(&db.pool)
        .await?;

    // The v1 build runs for a while...
    for name in ["Ada Lovelace", "Alan Turing"] {
        v1::Customer::register(RegisterV1 {
            full_name: name.into(),
        })
        .run(&old)
        .await?;
    }
    // ...then v2 is deployed.
    v2::Customer::register(RegisterV2 {
        first_name: "Grace".into(),
        last_name: "Hopper".into(),
        email: "grace@example.com".into(),
    })
    .run(&new)
    .await?;

    let events = new.list_events(None, 100).await?;
    println!("{}", events_examples::events_table(&events));
    let live = customers(&db.pool).await?;

    // The v2 build can replay everything: version 1 goes through register_v1.
    println!(
        "\nv2 preflight: {} events, every one routed",
        new.verify_replayable(&Selection::All).await?.events
    );
    let report = new.replay(Replay::all()).await?;
    let rebuilt = customers(&db.pool).await?;
    println!(
        "v2 replay applied {} events; state identical to live: {}",
        report.applied,
        rebuilt == live
    );
    assert_eq!(rebuilt, live);

    // Without the override, the version-1 data does not fit the new input.
    let forgetful = PgEventStore::<v2_forgetful::EventLog>::new(db.pool.clone());
    match forgetful.replay(Replay::all()).await {
        Ok(_) => println!("unexpected: the forgetful build replayed version-1 events"),
        Err(e) => println!("\nwithout the override, replay refuses:\n  {e}"),
    }
    println!(
        "state unchanged after the failed replay: {}",
        customers(&db.pool).await? == live
    );
    Ok(())
}
