//! Live: follow the log as it is written.
//!
//! It shows:
//! - a store with notifications on (`with_notifications(true)`), so that
//!   subscribers are woken at each commit instead of at their next poll;
//! - a subscription from the beginning of the log, filtered to one resource,
//!   catching up on what was written before it started, then following live;
//! - a subscription from "now", which sees only what commits after it;
//! - keeping a projection (open orders and their total) from the events, and
//!   the position to resume from after a restart.
//!
//! Run it with `cargo run --example live`. It uses `DATABASE_URL` if set, else
//! PostgreSQL at 127.0.0.1:5432, else a throwaway cluster.

use std::collections::HashMap;
use std::time::Duration;

use events_core::{ActionCtx, Error, event_log, events};
use events_postgres::PgEventStore;
use events_postgres::subscribe::StartAt;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The application's event log.
#[event_log]
pub struct EventLog;

/// An order.
pub struct Order;

/// Input of `Order::place`.
#[derive(Serialize, Deserialize)]
pub struct Place {
    cents: i64,
}

#[events(event_log = EventLog)]
impl Order {
    /// Places an order.
    #[create]
    pub async fn place(ctx: &mut ActionCtx<'_>, input: Place) -> Result<Uuid, Error> {
        sqlx::query("INSERT INTO orders (id, cents) VALUES ($1, $2)")
            .bind(ctx.record_id())
            .bind(input.cents)
            .execute(ctx.conn())
            .await?;
        Ok(ctx.record_id())
    }

    /// Closes an order.
    #[destroy]
    pub async fn close(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        sqlx::query("DELETE FROM orders WHERE id = $1")
            .bind(ctx.record_id())
            .execute(ctx.conn())
            .await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let db = events_examples::connect("events_live").await?;
    println!("Using {}.\n", db.source);
    let store = PgEventStore::<EventLog>::new(db.pool.clone()).with_notifications(true);
    store.migrate().await?;
    sqlx::query("CREATE TABLE orders (id uuid PRIMARY KEY, cents bigint NOT NULL)")
        .execute(&db.pool)
        .await?;

    // Written before anyone subscribes: a subscription from the beginning
    // catches up on it, one from "now" never sees it.
    let first = Order::place(Place { cents: 1_250 }).run(&store).await?;

    let mut orders = store.subscribe(StartAt::Beginning).resource("Order");
    let mut live = store.subscribe(StartAt::Now);
    // Let "now" be resolved before the next writes.
    let _ = tokio::time::timeout(Duration::from_millis(200), live.next()).await;

    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for cents in [400, 9_900] {
                Order::place(Place { cents }).run(&store).await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Order::close(first, ()).run(&store).await?;
            Ok::<_, Error>(())
        })
    };

    // The projection: open orders and their amounts, kept from the events.
    let mut open: HashMap<String, i64> = HashMap::new();
    let mut position = None;
    for _ in 0..4 {
        let Some(delivery) = orders.next().await else {
            break;
        };
        let delivery = delivery?;
        let record = delivery.event.record_id.to_string();
        match delivery.event.action.as_str() {
            "place" => {
                let place: Place = delivery.decode()?;
                open.insert(record, place.cents);
            }
            "close" => {
                open.remove(&record);
            }
            _ => {}
        }
        position = Some(delivery.position);
        println!(
            "{:>6} {:<5} {}  open: {} orders, {} cents",
            delivery.event.id,
            delivery.event.action,
            delivery.event.record_id,
            open.len(),
            open.values().sum::<i64>()
        );
    }
    writer.await??;
    println!("\nresume after {position:?} on the next start: StartAt::from(position)");

    let mut since_now = 0;
    while let Ok(Some(delivery)) =
        tokio::time::timeout(Duration::from_millis(300), live.next()).await
    {
        delivery?;
        since_now += 1;
    }
    println!(
        "the subscription from \"now\" saw {since_now} events (the first order came before it)"
    );
    Ok(())
}
