//! Replay routing and context: an override with several `route_to` targets applies
//! each, in order; bodies see the recorded record id, time, actor, tenant and
//! metadata, and know they are replaying.

use events_core::replay::Replay;
use events_core::{ActionCtx, Actor, ClearRecords, Error, event_log, events};
use events_postgres::PgEventStore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Clears the bank tables.
pub struct Clear;

impl ClearRecords for Clear {
    async fn clear_records(conn: &mut PgConnection) -> Result<(), Error> {
        sqlx::query("DELETE FROM accounts")
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM ledger")
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM seen").execute(&mut *conn).await?;
        Ok(())
    }
}

/// A bank teller, recorded in `teller_id`.
pub struct Teller(Uuid);

impl Actor for Teller {
    type PrimaryKey = Uuid;
    fn primary_key(&self) -> Uuid {
        self.0
    }
}

#[event_log(
    clear_records_for_replay = Clear,
    table = "bank_events",
    persist_actor_primary_key(teller_id, Teller),
    replay_override(Account, open, versions = [1], route_to(Account, open_v1), route_to(Ledger, note_opening)),
)]
/// The bank's event log.
pub struct BankLog;

/// Input of `Account::open`.
#[derive(Serialize, Deserialize)]
pub struct Open {
    owner: String,
}

/// Records what an action body saw, live or on replay.
async fn see(ctx: &mut ActionCtx<'_>, what: &str) -> Result<(), Error> {
    let actor = ctx.actor().map(|a| format!("{}={}", a.column, a.key));
    let tenant = ctx.tenant().map(ToString::to_string);
    let metadata = ctx.metadata().clone();
    sqlx::query(
        "INSERT INTO seen (what, record_id, now, actor, tenant, metadata, replay) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(what)
    .bind(ctx.record_id())
    .bind(ctx.now())
    .bind(actor)
    .bind(tenant)
    .bind(metadata)
    .bind(ctx.is_replay())
    .execute(ctx.conn())
    .await?;
    Ok(())
}

/// Accounts.
pub struct Account;

#[events(event_log = BankLog, ignore_actions = [open_v1], current_action_versions(open = 2))]
impl Account {
    #[create]
    pub async fn open(ctx: &mut ActionCtx<'_>, input: Open) -> Result<(), Error> {
        sqlx::query("INSERT INTO accounts (id, owner, opened_at) VALUES ($1, $2, $3)")
            .bind(ctx.record_id())
            .bind(&input.owner)
            .bind(ctx.now())
            .execute(ctx.conn())
            .await?;
        see(ctx, "open").await
    }

    /// Version 1 of `open`: the opening used to be noted by the same action.
    #[create]
    async fn open_v1(ctx: &mut ActionCtx<'_>, input: Open) -> Result<(), Error> {
        sqlx::query("INSERT INTO accounts (id, owner, opened_at) VALUES ($1, $2, $3)")
            .bind(ctx.record_id())
            .bind(&input.owner)
            .bind(ctx.now())
            .execute(ctx.conn())
            .await?;
        see(ctx, "open_v1").await
    }
}

/// The ledger.
pub struct Ledger;

#[events(event_log = BankLog)]
impl Ledger {
    /// Notes an account opening; the second target of version-1 `open` events.
    #[create]
    pub async fn note_opening(ctx: &mut ActionCtx<'_>, input: Open) -> Result<(), Error> {
        // Runs after `open_v1` for the same event: the account exists.
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM accounts WHERE id = $1")
            .bind(ctx.record_id())
            .fetch_one(ctx.conn())
            .await?;
        sqlx::query("INSERT INTO ledger (account_id, line) VALUES ($1, $2)")
            .bind(ctx.record_id())
            .bind(format!(
                "opened for {} (account present: {})",
                input.owner,
                n == 1
            ))
            .execute(ctx.conn())
            .await?;
        see(ctx, "note_opening").await
    }
}

async fn setup(pool: &PgPool) -> Result<PgEventStore<BankLog>, Box<dyn std::error::Error>> {
    let store = PgEventStore::<BankLog>::new(pool.clone());
    store.migrate().await?;
    sqlx::raw_sql(
        "CREATE TABLE accounts (id uuid PRIMARY KEY, owner text NOT NULL, opened_at timestamptz NOT NULL);
         CREATE TABLE ledger (account_id uuid NOT NULL, line text NOT NULL);
         CREATE TABLE seen (what text, record_id uuid, now timestamptz, actor text, tenant text, metadata jsonb, replay bool);",
    )
    .execute(pool)
    .await?;
    Ok(store)
}

type Seen = (
    String,
    Uuid,
    chrono::DateTime<chrono::Utc>,
    Option<String>,
    Option<String>,
    serde_json::Value,
);

async fn seen(pool: &PgPool, replay: bool) -> Result<Vec<Seen>, sqlx::Error> {
    sqlx::query_as(
        "SELECT what, record_id, now, actor, tenant, metadata FROM seen WHERE replay = $1 ORDER BY now, what",
    )
    .bind(replay)
    .fetch_all(pool)
    .await
}

#[sqlx::test(migrations = false)]
async fn an_override_applies_each_route_to_in_order(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    // A version-1 `open` event, as the previous build recorded it.
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO bank_events (resource, record_id, action, action_type, data, version, occurred_at) \
         VALUES ('Account', $1, 'open', 'create', '{\"owner\": \"Ada\"}', 1, now())",
    )
    .bind(id)
    .execute(&pool)
    .await?;
    store.replay(Replay::all()).await?;

    let order: Vec<String> = seen(&pool, true).await?.into_iter().map(|s| s.0).collect();
    assert_eq!(
        order,
        ["note_opening", "open_v1"].map(String::from),
        "sorted by name at equal time"
    );
    let lines: Vec<(String,)> = sqlx::query_as("SELECT line FROM ledger")
        .fetch_all(&pool)
        .await?;
    assert_eq!(
        lines,
        [("opened for Ada (account present: true)".to_owned(),)],
        "open_v1 ran first"
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn bodies_see_the_recorded_context_on_replay(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let teller = Teller(Uuid::now_v7());
    Account::open(Open { owner: "Bo".into() })
        .actor(&teller)
        .tenant(7_i64)
        .metadata(json!({"branch": "north"}))
        .run(&store)
        .await?;
    Account::open(Open { owner: "Cy".into() })
        .run(&store)
        .await?;
    let live = seen(&pool, false).await?;
    assert_eq!(live.len(), 2);
    assert_eq!(
        live[0].3.as_deref(),
        Some(format!("teller_id={}", teller.0).as_str())
    );
    assert_eq!(live[0].4.as_deref(), Some("7"));

    // `seen` is cleared too; replay refills it from the bodies in replay mode.
    store.replay(Replay::all()).await?;
    assert!(seen(&pool, false).await?.is_empty());
    assert_eq!(
        seen(&pool, true).await?,
        live,
        "record id, time, actor, tenant and metadata as recorded"
    );
    Ok(())
}
