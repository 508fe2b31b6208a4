//! A log whose single actor column has `allow_nil = false`: every recorded
//! action must name an operator, checked before any SQL runs.

use events_core::{ActionCtx, Actor, BulkCtx, Error, event_log, events};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Event log with one actor column that does not allow nil.
#[event_log(
    table = "strict_events",
    persist_actor_primary_key(operator_id, Operator, allow_nil = false)
)]
pub struct StrictLog;

/// The operator every recorded action names, in `operator_id`.
#[derive(Debug, Clone)]
pub struct Operator {
    /// Primary key.
    pub id: Uuid,
}

impl Actor for Operator {
    type PrimaryKey = Uuid;
    fn primary_key(&self) -> Uuid {
        self.id
    }
}

/// A ledger entry.
pub struct Entry;

/// Input of `Entry::post`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostEntry {
    /// Amount in cents.
    pub amount: i64,
}

#[events(event_log = StrictLog, ignore_actions = [annotate])]
impl Entry {
    /// Posts an entry; returns its id.
    #[create]
    pub async fn post(ctx: &mut ActionCtx<'_>, input: PostEntry) -> Result<Uuid, Error> {
        sqlx::query("INSERT INTO entries (id, amount) VALUES ($1, $2)")
            .bind(ctx.record_id())
            .bind(input.amount)
            .execute(ctx.conn())
            .await?;
        Ok(ctx.record_id())
    }

    /// Posts many entries in one statement: the bulk form of `post`.
    #[bulk(post)]
    pub async fn post_many(ctx: &mut BulkCtx<'_>, inputs: Vec<PostEntry>) -> Result<u64, Error> {
        let amounts: Vec<i64> = inputs.iter().map(|i| i.amount).collect();
        let done = sqlx::query(
            "INSERT INTO entries (id, amount) SELECT * FROM unnest($1::uuid[], $2::int8[])",
        )
        .bind(ctx.record_ids())
        .bind(&amounts)
        .execute(ctx.conn())
        .await?;
        Ok(done.rows_affected())
    }

    /// Adds a note; ignored, so it writes no event and needs no operator.
    #[update]
    pub async fn annotate(ctx: &mut ActionCtx<'_>, note: String) -> Result<(), Error> {
        sqlx::query("UPDATE entries SET note = $2 WHERE id = $1")
            .bind(ctx.record_id())
            .bind(note)
            .execute(ctx.conn())
            .await?;
        Ok(())
    }
}

/// A store for [`StrictLog`] on `pool`, migrated, with the `entries` table.
pub async fn store(
    pool: &sqlx::PgPool,
) -> Result<events_postgres::PgEventStore<StrictLog>, Box<dyn std::error::Error>> {
    let store = events_postgres::PgEventStore::<StrictLog>::new(pool.clone());
    store.migrate().await?;
    sqlx::query("CREATE TABLE entries (id uuid PRIMARY KEY, amount int8 NOT NULL, note text)")
        .execute(pool)
        .await?;
    Ok(store)
}
