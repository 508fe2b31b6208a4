//! Personal data: what an encrypted field costs, side by side in one run, every
//! store built with a key provider:
//!
//! - single writer: a `#[create]` action whose input has one encrypted personal
//!   field vs the same action whose input declares no personal data (same shape,
//!   same body, each on its own event log and state table), and the encrypted
//!   action for the same data subject every time (its key cached) vs a new data
//!   subject every time (a fresh key, wrapped and stored by the write); rounds
//!   alternate between the three, the median round of each is reported;
//! - bulk: 100,000 creates with `#[bulk(create)]` in calls of 10,000 (10,000
//!   subjects), encrypted vs plain, calls alternating;
//! - reading those 100,000 events back, pages of 1,000, through the store's
//!   readers (audit query keyset pages, the audit follower, `read_committed`)
//!   vs the same events of the plain action read the same way; alternating
//!   passes, the median of each. The last column says whether a reader returned
//!   the encrypted email decrypted or sealed.
//!
//! After the writes it looks for the plaintext email in the encrypted logs'
//! `data` column and prints a WARNING when it finds it: actions are then not
//! encrypted in this build, and the encrypted columns measure plaintext.
//!
//! `cargo run --release -p events-bench --bin personal [-- <actions>]`

use std::time::{Duration, Instant};

use events_core::audit::{AuditQuery, CountMode};
use events_core::personal::{DataKey, EnvKeyProvider, PersonalData, is_erased, is_sealed};
use events_core::{ActionCtx, BulkCtx, Error, EventLog, event_log, events};
use events_postgres::PgEventStore;
use events_postgres::subscribe::StartAt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The domain of every email written: what the plaintext check looks for.
const DOMAIN: &str = "@personal-bench.example";

/// Events per log read back by the reading bench.
const READ_EVENTS: usize = 100_000;

/// Creates per bulk call.
const CHUNK: usize = 10_000;

/// Distinct data subjects among the bulk-created events (10 events each).
const BULK_SUBJECTS: usize = 10_000;

/// Page size of every reader (the audit query's maximum).
const PAGE: u64 = 1_000;

/// A new user, no personal data declared.
#[derive(Serialize, Deserialize)]
pub struct PlainUser {
    /// The user.
    pub user_id: Uuid,
    /// Their email, stored as given.
    pub email: String,
    /// Some number.
    pub value: i64,
}

/// A new user whose email is personal data, encrypted with the user's key.
#[derive(Serialize, Deserialize, PersonalData)]
#[personal(subject = user_id)]
pub struct NewUser {
    /// The user: the data subject.
    pub user_id: Uuid,
    /// Their email, encrypted.
    #[personal(encrypted, erased = String::from("[erased]"))]
    pub email: String,
    /// Some number.
    pub value: i64,
}

/// The fields every body writes, whichever input type carries them.
trait UserRow {
    /// The user, the email and the number.
    fn row(&self) -> (Uuid, &str, i64);
}

impl UserRow for PlainUser {
    fn row(&self) -> (Uuid, &str, i64) {
        (self.user_id, &self.email, self.value)
    }
}

impl UserRow for NewUser {
    fn row(&self) -> (Uuid, &str, i64) {
        (self.user_id, &self.email, self.value)
    }
}

/// The body of every `#[create]`: one row of state table `table`.
async fn insert_one(
    ctx: &mut ActionCtx<'_>,
    table: &str,
    input: &impl UserRow,
) -> Result<(), Error> {
    let (user_id, email, value) = input.row();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {table} (id, user_id, email, value) VALUES ($1, $2, $3, $4)"
    )))
    .bind(ctx.record_id())
    .bind(user_id)
    .bind(email)
    .bind(value)
    .execute(ctx.conn())
    .await?;
    Ok(())
}

/// The body of every `#[bulk(create)]`: every row of state table `table` in one
/// statement.
async fn insert_many(
    ctx: &mut BulkCtx<'_>,
    table: &str,
    inputs: &[impl UserRow],
) -> Result<(), Error> {
    let mut user_ids = Vec::with_capacity(inputs.len());
    let mut emails = Vec::with_capacity(inputs.len());
    let mut values = Vec::with_capacity(inputs.len());
    for (user_id, email, value) in inputs.iter().map(UserRow::row) {
        user_ids.push(user_id);
        emails.push(email);
        values.push(value);
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {table} (id, user_id, email, value) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int8[])"
    )))
    .bind(ctx.record_ids())
    .bind(&user_ids)
    .bind(&emails)
    .bind(&values)
    .execute(ctx.conn())
    .await?;
    Ok(())
}

/// The single-writer log of the plain action.
#[event_log(advisory_lock_scope = record, table = "plain_events")]
pub struct PlainLog;

/// The single-writer log of the encrypted action.
#[event_log(advisory_lock_scope = record, table = "secret_events")]
pub struct SecretLog;

/// The log of the plain events read back.
#[event_log(advisory_lock_scope = record, table = "plain_read_events")]
pub struct PlainReadLog;

/// The log of the encrypted events read back.
#[event_log(advisory_lock_scope = record, table = "secret_read_events")]
pub struct SecretReadLog;

/// Users created by the plain action.
pub struct Plain;

#[events(event_log = PlainLog, name = "User")]
impl Plain {
    /// Inserts a user.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, input: PlainUser) -> Result<(), Error> {
        insert_one(ctx, "plain_users", &input).await
    }
}

/// Users created by the encrypted action.
pub struct Secret;

#[events(event_log = SecretLog, name = "User")]
impl Secret {
    /// Inserts a user.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, input: NewUser) -> Result<(), Error> {
        insert_one(ctx, "secret_users", &input).await
    }
}

/// Users bulk-created by the plain action.
pub struct PlainRead;

#[events(event_log = PlainReadLog, name = "User")]
impl PlainRead {
    /// Inserts a user.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, input: PlainUser) -> Result<(), Error> {
        insert_one(ctx, "plain_read_users", &input).await
    }

    /// Inserts many users in one statement.
    #[bulk(create)]
    pub async fn create_many(ctx: &mut BulkCtx<'_>, inputs: Vec<PlainUser>) -> Result<(), Error> {
        insert_many(ctx, "plain_read_users", &inputs).await
    }
}

/// Users bulk-created by the encrypted action.
pub struct SecretRead;

#[events(event_log = SecretReadLog, name = "User")]
impl SecretRead {
    /// Inserts a user.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, input: NewUser) -> Result<(), Error> {
        insert_one(ctx, "secret_read_users", &input).await
    }

    /// Inserts many users in one statement.
    #[bulk(create)]
    pub async fn create_many(ctx: &mut BulkCtx<'_>, inputs: Vec<NewUser>) -> Result<(), Error> {
        insert_many(ctx, "secret_read_users", &inputs).await
    }
}

/// A store of `L` on `pool` with a master key of its own.
fn store<L: EventLog>(pool: &PgPool) -> Result<PgEventStore<L>, BoxError> {
    Ok(PgEventStore::new(pool.clone())
        .with_key_provider(EnvKeyProvider::new("bench", DataKey::generate()?)))
}

fn email(i: usize) -> String {
    format!("user{i}{DOMAIN}")
}

/// The median of `samples`.
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    match samples.len() {
        0 => 0.0,
        n if n % 2 == 1 => samples[n / 2],
        n => (samples[n / 2 - 1] + samples[n / 2]) / 2.0,
    }
}

/// What the single-writer bench runs.
#[derive(Clone, Copy)]
enum Variant {
    /// The action whose input declares no personal data.
    Plain,
    /// The encrypted action, always for the same subject: its key is cached.
    SameSubject,
    /// The encrypted action, a new subject each time: a fresh key each time.
    NewSubject,
}

impl Variant {
    const ALL: [Variant; 3] = [Variant::Plain, Variant::SameSubject, Variant::NewSubject];

    fn label(self) -> &'static str {
        match self {
            Variant::Plain => "no personal declaration",
            Variant::SameSubject => "encrypted email, same subject (cached key)",
            Variant::NewSubject => "encrypted email, a new subject per action (fresh key)",
        }
    }
}

/// The single-writer stores.
struct Writers {
    plain: PgEventStore<PlainLog>,
    secret: PgEventStore<SecretLog>,
    /// The subject of [`Variant::SameSubject`].
    subject: Uuid,
}

async fn one(w: &Writers, variant: Variant, i: usize) -> Result<(), BoxError> {
    let value = i as i64;
    match variant {
        Variant::Plain => {
            let input = PlainUser {
                user_id: Uuid::now_v7(),
                email: email(i),
                value,
            };
            Plain::create(input).run(&w.plain).await?;
        }
        Variant::SameSubject | Variant::NewSubject => {
            let user_id = match variant {
                Variant::SameSubject => w.subject,
                _ => Uuid::now_v7(),
            };
            let input = NewUser {
                user_id,
                email: email(i),
                value,
            };
            Secret::create(input).run(&w.secret).await?;
        }
    }
    Ok(())
}

/// Actions per second of `count` actions of `variant`, numbered from `first`.
async fn round(w: &Writers, variant: Variant, first: usize, count: usize) -> Result<f64, BoxError> {
    let start = Instant::now();
    for i in first..first + count {
        one(w, variant, i).await?;
    }
    Ok(events_bench::per_second(count as u64, start.elapsed()))
}

/// How many events of `table` hold an email of [`DOMAIN`] in plaintext, and how
/// many events it has; prints the verdict.
async fn check_plaintext(pool: &PgPool, table: &str) -> Result<(), BoxError> {
    let (plain, total): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FILTER (WHERE data::text LIKE $1), count(*) FROM {table}"
    )))
    .bind(format!("%{DOMAIN}%"))
    .fetch_one(pool)
    .await?;
    if plain > 0 {
        println!(
            "WARNING: actions are not encrypted in this build: {plain} of the {total} events of \
             `{table}` hold the email in plaintext, so the encrypted figures above measure plaintext"
        );
    } else {
        println!("ok: none of the {total} events of `{table}` holds the email in plaintext");
    }
    Ok(())
}

/// A reading path of the store.
#[derive(Clone, Copy)]
enum Reader {
    /// `store.audit().query(..)` keyset pages, no count.
    AuditQuery,
    /// `store.audit().follow(..)` from the beginning, `next_batch` until empty.
    AuditFollow,
    /// `store.read_committed(..)` pages, as replay and subscriptions read.
    ReadCommitted,
}

impl Reader {
    const ALL: [Reader; 3] = [
        Reader::AuditQuery,
        Reader::AuditFollow,
        Reader::ReadCommitted,
    ];

    fn label(self) -> &'static str {
        match self {
            Reader::AuditQuery => "`audit().query(..)` keyset pages",
            Reader::AuditFollow => "`audit().follow(..)` batches",
            Reader::ReadCommitted => "`read_committed(..)` pages",
        }
    }
}

/// One pass of a reader over a whole log.
struct Pass {
    events: u64,
    elapsed: Duration,
    /// The `email` of the last event read, as the reader returned it.
    email: Value,
}

/// Reads every event of `store` with `reader`.
async fn read_all<L: EventLog>(store: &PgEventStore<L>, reader: Reader) -> Result<Pass, BoxError> {
    let start = Instant::now();
    let mut events = 0u64;
    let mut email = Value::Null;
    match reader {
        Reader::AuditQuery => {
            let audit = store.audit();
            let mut cursor = None;
            loop {
                let query = AuditQuery::new()
                    .after(cursor)
                    .limit(PAGE)
                    .count_mode(CountMode::None);
                let page = audit.query(&query).await?;
                events += page.entries.len() as u64;
                if let Some(last) = page.entries.last() {
                    email = last.data["email"].clone();
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Reader::AuditFollow => {
            let mut follower = store
                .audit()
                .follow(&AuditQuery::new(), StartAt::Beginning)
                .await?;
            loop {
                let batch = follower.next_batch(PAGE).await?;
                let Some(last) = batch.last() else { break };
                email = last.data["email"].clone();
                events += batch.len() as u64;
            }
        }
        Reader::ReadCommitted => {
            let mut cursor = None;
            loop {
                let page = store.read_committed(cursor, PAGE as i64).await?;
                let Some(last) = page.events.last() else {
                    break;
                };
                email = last.data["email"].clone();
                events += page.events.len() as u64;
                cursor = page.cursor;
            }
        }
    }
    Ok(Pass {
        events,
        elapsed: start.elapsed(),
        email,
    })
}

/// How a reader returned an email: decrypted (or never encrypted), sealed, erased.
fn shown(email: &Value) -> &'static str {
    match email {
        Value::String(s) if s.ends_with(DOMAIN) => "plaintext",
        v if is_sealed(v) => "sealed (not decrypted)",
        v if is_erased(v) => "erased",
        _ => "unexpected",
    }
}

/// Bulk-creates [`READ_EVENTS`] users on each read log, the two alternating call
/// by call; returns the rows per second of each (plain, encrypted).
async fn seed_reads(
    plain: &PgEventStore<PlainReadLog>,
    secret: &PgEventStore<SecretReadLog>,
) -> Result<(f64, f64), BoxError> {
    let subjects: Vec<Uuid> = (0..BULK_SUBJECTS).map(|_| Uuid::now_v7()).collect();
    let (mut plain_time, mut secret_time) = (Duration::ZERO, Duration::ZERO);
    for first in (0..READ_EVENTS).step_by(CHUNK) {
        let range = first..(first + CHUNK).min(READ_EVENTS);
        let plain_inputs: Vec<PlainUser> = range
            .clone()
            .map(|i| PlainUser {
                user_id: subjects[i % BULK_SUBJECTS],
                email: email(i),
                value: i as i64,
            })
            .collect();
        let secret_inputs: Vec<NewUser> = range
            .map(|i| NewUser {
                user_id: subjects[i % BULK_SUBJECTS],
                email: email(i),
                value: i as i64,
            })
            .collect();
        let start = Instant::now();
        PlainRead::create_many(plain_inputs).run(plain).await?;
        plain_time += start.elapsed();
        let start = Instant::now();
        SecretRead::create_many(secret_inputs).run(secret).await?;
        secret_time += start.elapsed();
    }
    let rows = READ_EVENTS as u64;
    Ok((
        events_bench::per_second(rows, plain_time),
        events_bench::per_second(rows, secret_time),
    ))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let actions: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);
    let db = events_examples::connect("events_bench_personal").await?;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(db.pool.connect_options().as_ref().clone())
        .await?;
    let writers = Writers {
        plain: store(&pool)?,
        secret: store(&pool)?,
        subject: Uuid::now_v7(),
    };
    let plain_read: PgEventStore<PlainReadLog> = store(&pool)?;
    let secret_read: PgEventStore<SecretReadLog> = store(&pool)?;
    writers.plain.migrate().await?;
    writers.secret.migrate().await?;
    plain_read.migrate().await?;
    secret_read.migrate().await?;
    let mut state = String::new();
    for table in [
        "plain_users",
        "secret_users",
        "plain_read_users",
        "secret_read_users",
    ] {
        state.push_str(&format!(
            "CREATE TABLE {table} (id uuid PRIMARY KEY, user_id uuid NOT NULL, \
             email text NOT NULL, value bigint NOT NULL);"
        ));
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(state))
        .execute(&pool)
        .await?;
    println!(
        "personal data bench on {}, {actions} actions per variant\n",
        db.source
    );

    // Single writer. Warm-up: prepare every statement, create the cached key.
    let warm = 50;
    for variant in Variant::ALL {
        round(&writers, variant, 0, warm).await?;
    }
    let rounds = 5;
    let per_round = actions.div_ceil(rounds);
    let mut rates = [const { Vec::new() }; 3];
    for r in 0..rounds {
        // Each round starts with the next variant, so none always runs first.
        for k in 0..Variant::ALL.len() {
            let v = (r + k) % Variant::ALL.len();
            let first = warm + r * per_round;
            rates[v].push(round(&writers, Variant::ALL[v], first, per_round).await?);
        }
    }
    let [plain, same, new] = rates.map(median);
    println!(
        "single writer `#[create]`, one personal field ({rounds} alternating rounds of {per_round} \
         actions per variant, each round starting with the next variant, median)"
    );
    println!("| input | actions/s | vs no personal declaration |");
    println!("|---|---|---|");
    for (variant, rate) in Variant::ALL.into_iter().zip([plain, same, new]) {
        println!("| {} | {rate:.0} | {:.2}x |", variant.label(), rate / plain);
    }
    let ratio = same / plain;
    println!(
        "encrypted / plain: {ratio:.2}x (target >= 0.90x: {}); new subject / same subject: {:.2}x",
        if ratio >= 0.9 { "met" } else { "NOT met" },
        new / same
    );
    check_plaintext(&pool, "secret_events").await?;

    // Bulk creates, then reads.
    let (plain_rows, secret_rows) = seed_reads(&plain_read, &secret_read).await?;
    println!(
        "\nbulk `#[bulk(create)]`: {READ_EVENTS} users per log in calls of {CHUNK} \
         (alternating calls), {BULK_SUBJECTS} subjects"
    );
    println!("| input | rows/s | vs no personal declaration |");
    println!("|---|---|---|");
    println!("| no personal declaration | {plain_rows:.0} | 1.00x |");
    println!(
        "| encrypted email | {secret_rows:.0} | {:.2}x |",
        secret_rows / plain_rows
    );
    check_plaintext(&pool, "secret_read_events").await?;
    // VACUUM refuses a multi-statement string: one at a time.
    for vacuum in [
        "VACUUM (ANALYZE) plain_read_events",
        "VACUUM (ANALYZE) secret_read_events",
    ] {
        sqlx::raw_sql(vacuum).execute(&pool).await?;
    }

    // Warm-up pass of every reader on both logs, then alternating timed passes.
    for reader in Reader::ALL {
        read_all(&plain_read, reader).await?;
        read_all(&secret_read, reader).await?;
    }
    let passes = 5;
    let mut plain_passes: Vec<Vec<Pass>> = Reader::ALL.iter().map(|_| Vec::new()).collect();
    let mut secret_passes: Vec<Vec<Pass>> = Reader::ALL.iter().map(|_| Vec::new()).collect();
    for pass in 0..passes {
        for (i, reader) in Reader::ALL.into_iter().enumerate() {
            // Plain first on even passes, encrypted first on odd ones.
            if pass % 2 == 0 {
                plain_passes[i].push(read_all(&plain_read, reader).await?);
                secret_passes[i].push(read_all(&secret_read, reader).await?);
            } else {
                secret_passes[i].push(read_all(&secret_read, reader).await?);
                plain_passes[i].push(read_all(&plain_read, reader).await?);
            }
        }
    }
    println!(
        "\nreading {READ_EVENTS} events per log back, pages of {PAGE}, through a store with the key \
         provider ({passes} alternating passes, median)"
    );
    println!(
        "| reader | plain events/s | encrypted events/s | encrypted / plain | events read (plain, encrypted) | encrypted email as read |"
    );
    println!("|---|---|---|---|---|---|");
    let rate = |passes: &[Pass]| {
        median(
            passes
                .iter()
                .map(|p| events_bench::per_second(p.events, p.elapsed))
                .collect(),
        )
    };
    for (i, reader) in Reader::ALL.into_iter().enumerate() {
        let (plain, secret) = (rate(&plain_passes[i]), rate(&secret_passes[i]));
        let count = |passes: &[Pass]| passes.last().map_or(0, |p| p.events);
        let email = secret_passes[i].last().map_or(&Value::Null, |p| &p.email);
        println!(
            "| {} | {plain:.0} | {secret:.0} | {:.2}x | {}, {} | {} |",
            reader.label(),
            secret / plain,
            count(&plain_passes[i]),
            count(&secret_passes[i]),
            shown(email)
        );
    }
    Ok(())
}
