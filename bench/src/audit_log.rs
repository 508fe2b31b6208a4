//! The audit benches' event log and its seeding: a million events (recorded
//! actions and manual entries, actors, targets, tenants, request ids, changes,
//! commit times) written with multi-row `UNNEST` inserts, the fastest path to a
//! realistic log, shared by `audit_queries` and `http`.
//!
//! The rows are written straight into the event table (and its commit and
//! changes side tables), deterministically: every run seeds the same log.

use chrono::{DateTime, TimeDelta, Utc};
use events_core::{Actor, event_log};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// Errors of the bench binaries.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The bench's event log: a UUID actor and a string actor, like the tests', and
/// commit times, which some query shapes filter and order on.
#[event_log(
    track_commit_time = true,
    persist_actor_primary_key(user_id, Member),
    persist_actor_primary_key(service, Service, attribute_type = string),
)]
pub struct BenchLog;

/// A person.
pub struct Member(pub Uuid);
impl Actor for Member {
    type PrimaryKey = Uuid;
    fn primary_key(&self) -> Uuid {
        self.0
    }
}

/// A background process.
pub struct Service(pub String);
impl Actor for Service {
    type PrimaryKey = String;
    fn primary_key(&self) -> String {
        self.0.clone()
    }
}

/// SplitMix64: a deterministic stream, so every run seeds the same log.
pub struct Rng(pub u64);
impl Rng {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const MEMBERS: u64 = 20_000;
const RECORDS: u64 = 200_000;
const TENANTS: u64 = 50;
const RECORDED: [(&str, &str, &str); 9] = [
    ("User", "create", "create"),
    ("User", "update", "update"),
    ("User", "destroy", "destroy"),
    ("Post", "publish", "create"),
    ("Post", "edit", "update"),
    ("Post", "retract", "destroy"),
    ("Comment", "create", "create"),
    ("Invoice", "issue", "create"),
    ("Invoice", "mark_paid", "update"),
];
const MANUAL: [&str; 12] = [
    "project.created",
    "project.deleted",
    "project.archived",
    "billing.charged",
    "billing.refunded",
    "billing.cycle_closed",
    "user.login",
    "user.logout",
    "settings.updated",
    "admin_password_reset",
    "role.assigned",
    "export.downloaded",
];
const SOURCES: [&str; 4] = ["api", "web", "import", "admin"];
const SERVICES: [&str; 6] = [
    "mailer",
    "billing",
    "importer",
    "scheduler",
    "search",
    "sync",
];
const MODULES: [&str; 5] = ["billing", "blog", "users", "admin", "exports"];

/// The id of seeded member `n`.
pub fn member(n: u64) -> Uuid {
    Uuid::from_u64_pair(0x0190_0000_0000_7000 | (n >> 48), n)
}

/// The id of seeded record `n` of resource number `resource`.
pub fn record(resource: u64, n: u64) -> Uuid {
    Uuid::from_u64_pair(0x0191_0000_0000_7000 | resource, n)
}

/// Seeded tenant `n`.
pub fn tenant(n: u64) -> String {
    Uuid::from_u64_pair(0x0192_0000_0000_7000, n).to_string()
}

/// A batch of seeded events (columns as the event table holds them).
#[derive(Default)]
struct Batch {
    resource: Vec<Option<String>>,
    record_id: Vec<Option<Uuid>>,
    action: Vec<String>,
    action_type: Vec<String>,
    user_id: Vec<Option<Uuid>>,
    service: Vec<Option<String>>,
    data: Vec<serde_json::Value>,
    metadata: Vec<serde_json::Value>,
    tenant: Vec<Option<String>>,
    occurred_at: Vec<DateTime<Utc>>,
    txid: Vec<String>,
    commit_txid: Vec<String>,
    committed_at: Vec<DateTime<Utc>>,
    change_at: Vec<i64>,
    unchanged: Vec<bool>,
}

/// Seeds `n` events with multi-row `UNNEST` inserts of 10,000 rows, their commit
/// times and (for a fifth of them) their changes.
pub async fn seed(pool: &PgPool, n: u64) -> Result<(), BoxError> {
    let mut rng = Rng(42);
    let start = Utc::now() - TimeDelta::days(365);
    let step_us = (365 * 24 * 3600 * 1_000_000) / n.max(1) as i64;
    sqlx::query("ALTER TABLE events DISABLE TRIGGER events_commit_time")
        .execute(pool)
        .await?;
    let mut i = 0;
    let mut first_id = 1_i64;
    while i < n {
        let mut b = Batch::default();
        let end = (i + 10_000).min(n);
        for k in i..end {
            let at = start + TimeDelta::microseconds(step_us * k as i64 + rng.below(1000) as i64);
            let manual = rng.chance(8);
            let (resource, record_id, action, kind) = if manual {
                let action = MANUAL[rng.below(MANUAL.len() as u64) as usize];
                let res = match rng.below(3) {
                    0 => None,
                    1 => Some(("project".to_owned(), record(100, rng.below(RECORDS / 10)))),
                    _ => Some((
                        "billing.account".to_owned(),
                        record(101, rng.below(RECORDS / 10)),
                    )),
                };
                (
                    res.as_ref().map(|r| r.0.clone()),
                    res.map(|r| r.1),
                    action.to_owned(),
                    "manual",
                )
            } else {
                let (res, action, kind) = RECORDED[rng.below(RECORDED.len() as u64) as usize];
                let res_n = RECORDED.iter().position(|r| r.0 == res).unwrap_or(0) as u64;
                (
                    Some(res.to_owned()),
                    Some(record(res_n, rng.below(RECORDS))),
                    action.to_owned(),
                    kind,
                )
            };
            let who = rng.below(100);
            let (user, service) = if who < 70 {
                (Some(member(rng.below(MEMBERS))), None)
            } else if who < 90 {
                (
                    None,
                    Some(SERVICES[rng.below(SERVICES.len() as u64) as usize].to_owned()),
                )
            } else {
                (None, None)
            };
            let mut metadata = serde_json::Map::new();
            metadata.insert(
                "source".into(),
                json!(SOURCES[rng.below(SOURCES.len() as u64) as usize]),
            );
            if rng.chance(30) {
                metadata.insert("request_id".into(), json!(format!("req-{}", k / 3)));
            }
            if rng.chance(if manual { 60 } else { 5 }) {
                metadata.insert("target_type".into(), json!("user"));
                metadata.insert(
                    "target_id".into(),
                    json!(member(rng.below(MEMBERS)).to_string()),
                );
            }
            if rng.chance(5) {
                metadata.insert(
                    "mode".into(),
                    json!(if rng.chance(50) { "auto" } else { "manual" }),
                );
                metadata.insert(
                    "module".into(),
                    json!(MODULES[rng.below(MODULES.len() as u64) as usize]),
                );
            }
            // Every tenth transaction writes two events.
            let txid = 1_000 + k - u64::from(k % 10 == 1);
            if k % 10 != 0 {
                b.commit_txid.push(txid.to_string());
                b.committed_at
                    .push(at + TimeDelta::microseconds(rng.below(20_000) as i64));
            }
            if kind == "update" && rng.chance(35) || kind == "create" && rng.chance(10) {
                b.change_at.push(first_id + (k - i) as i64);
                b.unchanged.push(kind == "update" && rng.chance(10));
            }
            b.resource.push(resource);
            b.record_id.push(record_id);
            b.action.push(action);
            b.action_type.push(kind.to_owned());
            b.user_id.push(user);
            b.service.push(service);
            b.data.push(json!({ "n": k }));
            b.metadata.push(serde_json::Value::Object(metadata));
            b.tenant
                .push(rng.chance(30).then(|| tenant(rng.below(TENANTS))));
            b.occurred_at.push(at);
            b.txid.push(txid.to_string());
        }
        let rows = b.action.len() as i64;
        sqlx::query(
            "INSERT INTO events (resource, record_id, action, action_type, user_id, service, data, \
             metadata, version, tenant, occurred_at, recorded_at, txid) \
             SELECT r, rid, a, t, u, s, d, m, 1, tn, at, at, x::xid8 FROM UNNEST($1::text[], $2::uuid[], \
             $3::text[], $4::text[], $5::uuid[], $6::text[], $7::jsonb[], $8::jsonb[], $9::text[], \
             $10::timestamptz[], $11::text[]) AS v(r, rid, a, t, u, s, d, m, tn, at, x)",
        )
        .bind(&b.resource)
        .bind(&b.record_id)
        .bind(&b.action)
        .bind(&b.action_type)
        .bind(&b.user_id)
        .bind(&b.service)
        .bind(&b.data)
        .bind(&b.metadata)
        .bind(&b.tenant)
        .bind(&b.occurred_at)
        .bind(&b.txid)
        .execute(pool)
        .await?;
        sqlx::query(
            "INSERT INTO events_commits (txid, committed_at) \
             SELECT x::xid8, c FROM UNNEST($1::text[], $2::timestamptz[]) AS v(x, c)",
        )
        .bind(&b.commit_txid)
        .bind(&b.committed_at)
        .execute(pool)
        .await?;
        sqlx::query(
            "INSERT INTO events_changes (event_id, old_values, diff_values, unchanged) \
             SELECT id, '{\"name\": \"old\"}', CASE WHEN u THEN '{}' ELSE '{\"name\": \"new\"}' END::jsonb, u \
             FROM UNNEST($1::int8[], $2::bool[]) AS v(id, u)",
        )
        .bind(&b.change_at)
        .bind(&b.unchanged)
        .execute(pool)
        .await?;
        first_id += rows;
        i = end;
        if i % 100_000 == 0 {
            eprintln!("  seeded {i} events");
        }
    }
    sqlx::query("ALTER TABLE events ENABLE TRIGGER events_commit_time")
        .execute(pool)
        .await?;
    for table in ["events", "events_commits", "events_changes"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .execute(pool)
            .await?;
    }
    Ok(())
}
