//! The HTTP API's overhead at a million events: `GET api/entries` for keyset
//! page 1 and keyset page 1,000 (50 entries each), served by the events-http
//! router on 127.0.0.1 and loaded with `wrk`, next to the same queries through
//! the Rust API (`AuditLog::query`) at the same concurrency, measured in
//! process. Prints p50 and p99 of each and their ratio.
//!
//! Seeds 1,000,000 events into a fresh database `events_bench_http` with the
//! audit benches' `UNNEST` seeding (`events_bench::audit_log`). The router's
//! policy allows everything, so the scope adds nothing to the statements.
//! Needs `wrk` on the PATH.
//!
//! `cargo run --release -p events-bench --bin http [-- <events> <seconds> <connections>]`

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::request::Parts;
use events_bench::audit_log::{BenchLog, BoxError, seed};
use events_core::audit::{AuditQuery, Cursor, Order, Scope};
use events_http::{Denied, EventsHttp, ReadPolicy};
use events_postgres::{AuditLog, PgEventStore};

/// Every request may read everything.
struct Everyone;

impl ReadPolicy for Everyone {
    async fn scope(&self, _request: &Parts) -> Result<Scope, Denied> {
        Ok(Scope::everything())
    }
}

/// The wrk script: its `done` prints the latency percentiles in microseconds.
const WRK_SCRIPT: &str = r#"
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("WRK p50=%d p99=%d requests=%d errors=%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests, errors))
end
"#;

/// p50 and p99 of one way of running a query, and how many ran.
struct Latency {
    p50: Duration,
    p99: Duration,
    count: u64,
}

/// Runs `wrk` against `url`: its p50 and p99.
fn wrk(
    url: &str,
    script: &std::path::Path,
    seconds: u64,
    connections: u64,
) -> Result<Latency, BoxError> {
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("WRK "))
        .ok_or_else(|| {
            format!(
                "no result from wrk: {text} {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let field = |name: &str| -> Result<u64, BoxError> {
        let value = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .ok_or_else(|| format!("no {name} in `{line}`"))?;
        Ok(value.parse()?)
    };
    if field("errors=")? > 0 {
        return Err(format!("wrk saw errors: {line}").into());
    }
    Ok(Latency {
        p50: Duration::from_micros(field("p50=")?),
        p99: Duration::from_micros(field("p99=")?),
        count: field("requests=")?,
    })
}

/// Runs `query` from `connections` tasks for `seconds`: the p50 and p99 of
/// each call.
async fn in_process(
    audit: &AuditLog<BenchLog>,
    query: &AuditQuery<BenchLog>,
    seconds: u64,
    connections: u64,
) -> Result<Latency, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (audit, query) = (audit.clone(), query.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while Instant::now() < deadline {
                let start = Instant::now();
                let page = audit.query(&query).await?;
                times.push(start.elapsed());
                std::hint::black_box(page);
            }
            Ok::<_, events_core::Error>(times)
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await??);
    }
    Ok(Latency {
        count: times.len() as u64,
        p50: events_bench::percentile(&mut times, 50.0),
        p99: events_bench::percentile(&mut times, 99.0),
    })
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let connections: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);

    let db = events_examples::connect("events_bench_http").await?;
    let store = PgEventStore::<BenchLog>::new(db.pool.clone());
    store.migrate().await?;
    eprintln!("seeding {n} events on {}", db.source);
    let (seeded, seed_time) = events_bench::time(seed(&db.pool, n)).await;
    seeded?;
    eprintln!("seeded in {:.1} s", seed_time.as_secs_f64());
    let audit = store.audit();

    // The cursor of keyset page 1,000: after the 49,950th entry, newest first.
    let deep: Cursor = audit
        .list(&AuditQuery::new().offset(999 * 50 - 1).limit(1))
        .await?
        .first()
        .and_then(|e| e.cursor(Order::OccurredDesc))
        .ok_or("an entry 49,950 deep")?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = EventsHttp::new(store.clone())
        .policy(Arc::new(Everyone))
        .router();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let script = std::env::temp_dir().join(format!("events-bench-http-{}.lua", std::process::id()));
    std::fs::write(&script, WRK_SCRIPT)?;

    let shapes = [
        (
            "keyset page 1 (50)",
            String::new(),
            AuditQuery::new().after(None).limit(50),
        ),
        (
            "keyset page 1000 (50)",
            format!("?after={deep}"),
            AuditQuery::new().after(Some(deep)).limit(50),
        ),
    ];
    println!(
        "{n} events, {connections} connections, {seconds} s each; latencies in ms\n\n\
         | query | HTTP p50 | HTTP p99 | HTTP req/s | Rust p50 | Rust p99 | Rust calls/s | p50 ratio | p99 ratio |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (name, params, query) in shapes {
        let url = format!("{base}/api/entries{params}");
        // Warm both paths (plans, caches, connections), then measure. wrk
        // runs off the runtime's threads, which serve its requests.
        let run_wrk = |seconds: u64| {
            let (url, script) = (url.clone(), script.clone());
            tokio::task::spawn_blocking(move || wrk(&url, &script, seconds, connections))
        };
        run_wrk(1).await??;
        in_process(&audit, &query, 1, connections).await?;
        let http = run_wrk(seconds).await??;
        let rust = in_process(&audit, &query, seconds, connections).await?;
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(f64::EPSILON);
        println!(
            "| {name} | {} | {} | {:.0} | {} | {} | {:.0} | {:.2}x | {:.2}x |",
            events_bench::ms(http.p50),
            events_bench::ms(http.p99),
            http.count as f64 / seconds as f64,
            events_bench::ms(rust.p50),
            events_bench::ms(rust.p99),
            rust.count as f64 / seconds as f64,
            ratio(http.p50, rust.p50),
            ratio(http.p99, rust.p99),
        );
    }
    server.abort();
    std::fs::remove_file(&script)?;
    Ok(())
}
