//! Audit query latency at a million events: for every query shape of the audit
//! API, the median and p95 latency next to a single-row primary-key lookup
//! measured in the same run, the plan's access methods (from `EXPLAIN`), and
//! keyset page 1,000 against page 1.
//!
//! Seeds 1,000,000 events (recorded actions and manual entries, actors, targets,
//! tenants, request ids, changes, commit times) with multi-row `UNNEST` inserts
//! into a fresh database `events_bench_audit`, then `VACUUM ANALYZE`s.
//!
//! Fails (exit code 1) when a shape's plan has a sequential scan of the event
//! table, or keyset page 1,000 costs more than 2x page 1.
//!
//! `cargo run --release -p events-bench --bin audit_queries [-- <events> <samples>]`

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use events_bench::audit_log::{BenchLog, BoxError, Member, Rng, member, seed, tenant};
use events_core::EventId;
use events_core::audit::{AuditQuery, CountMode, EntryKind, Order};
use events_postgres::audit::{Explain, Facet};
use events_postgres::{AuditLog, PgEventStore};
use serde_json::json;
use sqlx::PgPool;

/// One query shape of the audit API.
enum Shape {
    /// A page (or list) of entries.
    Query(AuditQuery<BenchLog>),
    /// A count.
    Count(AuditQuery<BenchLog>, CountMode),
    /// Typeahead.
    Search(&'static str),
    /// A facet.
    Facet(Facet),
    /// `get` by a random id.
    Get,
}

struct Measured {
    name: String,
    median: Duration,
    p95: Duration,
    rows: usize,
    access: String,
    seq_scan: bool,
}

async fn run_once(
    audit: &AuditLog<BenchLog>,
    shape: &Shape,
    rng: &mut Rng,
    n: u64,
) -> Result<usize, BoxError> {
    Ok(match shape {
        Shape::Query(q) => audit.query(q).await?.entries.len(),
        Shape::Count(q, mode) => {
            audit.count(&q.clone().count_mode(*mode)).await?;
            1
        }
        Shape::Search(term) => audit
            .search_actions(term, events_postgres::audit::SEARCH_LIMIT)
            .await?
            .len(),
        Shape::Facet(Facet::Actions) => audit.distinct_actions().await?.len(),
        Shape::Facet(Facet::Kinds) => audit.distinct_kinds().await?.len(),
        Shape::Facet(Facet::Resources) => audit.distinct_resources().await?.len(),
        Shape::Facet(Facet::Modes) => audit.distinct_modes().await?.len(),
        Shape::Facet(Facet::Modules) => audit.distinct_modules().await?.len(),
        Shape::Facet(Facet::Actor(_)) => audit.distinct_actors(100).await?.len(),
        Shape::Get => {
            let id = 1 + rng.below(n) as i64;
            usize::from(audit.find(id).await?.is_some())
        }
    })
}

/// The scan nodes of a plan, compacted: `Index Scan Backward using x`, ...
fn access_methods(plan: &str) -> String {
    let mut seen: Vec<String> = Vec::new();
    for line in plan.lines() {
        let node = line.trim_start().trim_start_matches("->").trim();
        let node = node.split("  (").next().unwrap_or(node);
        if !(node.contains("Scan") && (node.contains(" on ") || node.contains(" using "))) {
            continue;
        }
        let short = node
            .replace("Index Only Scan", "IOS")
            .replace("Index Scan Backward", "IdxScanBack")
            .replace("Index Scan", "IdxScan")
            .replace("Bitmap Index Scan", "BitmapIdx")
            .replace("Bitmap Heap Scan", "BitmapHeap")
            .replace("Seq Scan", "SEQ SCAN");
        // Keep the index name (or the table, for a scan without one); drop aliases.
        let short = match short.split_once(" on ") {
            Some((head, _)) if head.contains(" using ") => head.to_owned(),
            Some((head, table)) => {
                format!("{head} on {}", table.split(' ').next().unwrap_or(table))
            }
            None => short.clone(),
        };
        if !seen.contains(&short) && !short.starts_with("BitmapHeap") {
            seen.push(short);
        }
    }
    seen.join(", ")
}

async fn measure(
    audit: &AuditLog<BenchLog>,
    name: &str,
    shape: &Shape,
    samples: usize,
    n: u64,
) -> Result<Measured, BoxError> {
    let plan = match shape {
        Shape::Query(q) => audit.explain(Explain::Query(q)).await?,
        Shape::Count(q, mode) => audit.explain(Explain::Count(q, *mode)).await?,
        Shape::Search(term) => audit.explain(Explain::SearchActions(term)).await?,
        Shape::Facet(f) => audit.explain(Explain::Facet(*f)).await?,
        Shape::Get => {
            audit
                .explain(Explain::Get(EventId::Integer(1 + (n / 2) as i64)))
                .await?
        }
    };
    let mut rng = Rng(7);
    let mut rows = 0;
    for _ in 0..3 {
        rows = run_once(audit, shape, &mut rng, n).await?;
    }
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        rows = run_once(audit, shape, &mut rng, n).await?;
        times.push(start.elapsed());
    }
    Ok(Measured {
        name: name.to_owned(),
        median: events_bench::percentile(&mut times, 50.0),
        p95: events_bench::percentile(&mut times, 95.0),
        rows,
        seq_scan: plan.contains("Seq Scan on events "),
        access: access_methods(&plan),
    })
}

/// The primary-key baseline: `SELECT * FROM events WHERE id = $1`, random ids.
async fn pk_lookup(
    pool: &PgPool,
    samples: usize,
    n: u64,
) -> Result<(Duration, Duration), BoxError> {
    let mut rng = Rng(11);
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples + 3 {
        let id = 1 + rng.below(n) as i64;
        let start = Instant::now();
        let row = sqlx::query("SELECT * FROM events WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
        if i >= 3 {
            times.push(start.elapsed());
        }
        drop(row);
    }
    Ok((
        events_bench::percentile(&mut times, 50.0),
        events_bench::percentile(&mut times, 95.0),
    ))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let samples: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(40);
    let db = events_examples::connect("events_bench_audit").await?;
    let store = PgEventStore::<BenchLog>::new(db.pool.clone());
    store.migrate().await?;
    let audit = store.audit();
    eprintln!("seeding {n} events on {}", db.source);
    let (seeded, seed_time) = events_bench::time(seed(&db.pool, n)).await;
    seeded?;
    eprintln!("seeded in {:.1} s", seed_time.as_secs_f64());

    // Values that exist in the seeded log.
    let someone = member(4_242);
    let some_record = audit
        .list(&AuditQuery::new().resource("Post").after(None).limit(1))
        .await?
        .first()
        .and_then(|e| e.record_id.clone())
        .ok_or("a seeded post")?;
    let mid = audit
        .list(&AuditQuery::new().offset(n / 2).limit(1))
        .await?
        .into_iter()
        .next()
        .ok_or("a middle entry")?;
    let day = mid.occurred_at;
    let committed = mid.committed_at.unwrap_or(day);
    let deep = |order: Order| {
        let audit = audit.clone();
        async move {
            let entry = audit
                .list(&AuditQuery::new().order(order).offset(999 * 50 - 1).limit(1))
                .await?
                .into_iter()
                .next()
                .ok_or("an entry 50,000 deep")?;
            Ok::<_, BoxError>(entry.cursor(order).ok_or("a cursor")?)
        }
    };
    let deep_occurred = deep(Order::OccurredDesc).await?;
    let deep_committed = deep(Order::CommittedDesc).await?;

    let q = AuditQuery::<BenchLog>::new;
    let shapes: Vec<(&str, Shape)> = vec![
        ("get by id", Shape::Get),
        ("recent(20)", Shape::Query(q().after(None).limit(20))),
        (
            "keyset page 1 (50)",
            Shape::Query(q().after(None).limit(50)),
        ),
        (
            "keyset page 1000 (50)",
            Shape::Query(q().after(Some(deep_occurred)).limit(50)),
        ),
        ("page 1 of 50 + capped count", Shape::Query(q().page(1, 50))),
        (
            "page 20 of 50 + capped count",
            Shape::Query(q().page(20, 50)),
        ),
        (
            "action exact",
            Shape::Query(q().action("project.deleted").after(None)),
        ),
        (
            "action prefix billing.*",
            Shape::Query(q().action_pattern("billing.*").after(None)),
        ),
        (
            "recent + search (HawkEx)",
            Shape::Query(q().search("user.").page(1, 50)),
        ),
        (
            "kind = manual",
            Shape::Query(q().kind(EntryKind::Manual).after(None)),
        ),
        (
            "kinds create+destroy",
            Shape::Query(
                q().kinds([EntryKind::Create, EntryKind::Destroy])
                    .after(None),
            ),
        ),
        (
            "resource Invoice",
            Shape::Query(q().resource("Invoice").after(None)),
        ),
        (
            "record history",
            Shape::Query(
                q().record("Post", some_record.clone())
                    .order(Order::OccurredAsc)
                    .after(None),
            ),
        ),
        (
            "record id, any resource",
            Shape::Query(q().record_id(some_record.clone()).after(None)),
        ),
        (
            "actor (user_id)",
            Shape::Query(q().actor(&Member(someone)).after(None)),
        ),
        (
            "actor page 1 + count",
            Shape::Query(q().actor(&Member(someone)).page(1, 20)),
        ),
        (
            "identity (service)",
            Shape::Query(q().identity("billing").after(None)),
        ),
        ("target", Shape::Query(q().target(someone).after(None))),
        (
            "for user (actor or target)",
            Shape::Query(q().for_user(someone).after(None)),
        ),
        ("tenant", Shape::Query(q().tenant(tenant(7)).after(None))),
        (
            "transaction",
            Shape::Query(q().transaction(mid.transaction_id).after(None)),
        ),
        (
            "occurred in one day",
            Shape::Query(
                q().since(day - TimeDelta::hours(12))
                    .until(day + TimeDelta::hours(12))
                    .after(None),
            ),
        ),
        (
            "committed desc page 1",
            Shape::Query(q().order(Order::CommittedDesc).after(None)),
        ),
        (
            "committed desc page 1000",
            Shape::Query(q().order(Order::CommittedDesc).after(Some(deep_committed))),
        ),
        (
            "committed in one hour",
            Shape::Query(
                q().committed_since(committed - TimeDelta::minutes(30))
                    .committed_until(committed + TimeDelta::minutes(30))
                    .order(Order::CommittedAsc)
                    .after(None),
            ),
        ),
        (
            "metadata @> source=admin",
            Shape::Query(
                q().metadata_contains(json!({"source": "admin"}))
                    .after(None),
            ),
        ),
        (
            "request id",
            Shape::Query(q().request_id(format!("req-{}", n / 6)).after(None)),
        ),
        ("mode", Shape::Query(q().mode("manual").after(None))),
        ("module", Shape::Query(q().module("billing").after(None))),
        (
            "hide unchanged",
            Shape::Query(q().hide_unchanged().after(None)),
        ),
        (
            "resource+kind+week",
            Shape::Query(
                q().resource("User")
                    .kind(EntryKind::Update)
                    .since(day - TimeDelta::days(7))
                    .until(day)
                    .after(None),
            ),
        ),
        (
            "count exact (actor)",
            Shape::Count(q().actor(&Member(someone)), CountMode::Exact),
        ),
        (
            "count capped 10k (all)",
            Shape::Count(q(), CountMode::Capped(10_000)),
        ),
        (
            "count estimated (all)",
            Shape::Count(q(), CountMode::Estimated),
        ),
        (
            "count estimated (resource)",
            Shape::Count(q().resource("Invoice"), CountMode::Estimated),
        ),
        ("count exact (all)", Shape::Count(q(), CountMode::Exact)),
        ("typeahead 'bil' (5)", Shape::Search("bil")),
        ("distinct actions", Shape::Facet(Facet::Actions)),
        ("distinct kinds", Shape::Facet(Facet::Kinds)),
        ("distinct resources", Shape::Facet(Facet::Resources)),
        ("distinct modes", Shape::Facet(Facet::Modes)),
        ("distinct modules", Shape::Facet(Facet::Modules)),
        (
            "distinct actors (100 per col)",
            Shape::Facet(Facet::Actor(0)),
        ),
    ];

    let (pk_before, _) = pk_lookup(&db.pool, samples * 5, n).await?;
    let mut rows = Vec::new();
    for (name, shape) in &shapes {
        let samples = if name.starts_with("count exact (all)") {
            samples.min(10)
        } else {
            samples
        };
        rows.push(measure(&audit, name, shape, samples, n).await?);
    }
    let (pk_after, pk_p95) = pk_lookup(&db.pool, samples * 5, n).await?;
    let pk = (pk_before + pk_after) / 2;

    println!(
        "audit queries: {n} events on {}; {samples} samples per shape (after 3 warm-up runs)",
        db.source
    );
    println!(
        "baseline: primary-key lookup `SELECT * FROM events WHERE id = $1`: median {} ms, p95 {} ms\n",
        events_bench::ms(pk),
        events_bench::ms(pk_p95)
    );
    println!(
        "| {:<30} | {:>9} | {:>9} | {:>7} | {:>4} | access (EXPLAIN) |",
        "shape", "median ms", "p95 ms", "x pk", "rows"
    );
    println!(
        "|{:-<32}|{:->11}|{:->11}|{:->9}|{:->6}|{:-<18}|",
        "", "", "", "", "", ""
    );
    let mut failed = false;
    for m in &rows {
        println!(
            "| {:<30} | {:>9} | {:>9} | {:>7.1} | {:>4} | {}{} |",
            m.name,
            events_bench::ms(m.median),
            events_bench::ms(m.p95),
            m.median.as_secs_f64() / pk.as_secs_f64().max(f64::EPSILON),
            m.rows,
            m.access,
            if m.seq_scan {
                "  <-- SEQ SCAN ON events"
            } else {
                ""
            }
        );
        failed |= m.seq_scan;
    }
    let median_of = |name: &str| rows.iter().find(|m| m.name == name).map(|m| m.median);
    let (Some(p1), Some(p1000)) = (
        median_of("keyset page 1 (50)"),
        median_of("keyset page 1000 (50)"),
    ) else {
        return Err("keyset shapes missing".into());
    };
    let ratio = p1000.as_secs_f64() / p1.as_secs_f64().max(f64::EPSILON);
    let seq = rows.iter().filter(|m| m.seq_scan).count();
    println!(
        "\nkeyset page 1000 vs page 1: {} ms vs {} ms = {ratio:.2}x (target <= 2x): {}",
        events_bench::ms(p1000),
        events_bench::ms(p1),
        if ratio <= 2.0 { "ok" } else { "FAIL" }
    );
    println!(
        "sequential scans of the event table: {seq} of {} shapes: {}",
        rows.len(),
        if seq == 0 { "ok" } else { "FAIL" }
    );
    failed |= ratio > 2.0;
    if failed {
        std::process::exit(1);
    }
    Ok(())
}
