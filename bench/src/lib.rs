//! Shared pieces of the bench binaries: timing helpers and the report format.
//!
//! Each binary under `src/bin/` measures the framework next to a hand-written
//! baseline in the same run, on the same database, and prints ratios: timings on a
//! shared machine are noisy, ratios measured side by side much less so.
//!
//! Run one with `cargo run --release -p events-bench --bin <name>`.

use std::time::{Duration, Instant};

pub mod audit_log;

/// Times `f` once.
pub async fn time<F: Future<Output = T>, T>(f: F) -> (T, Duration) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed())
}

/// `d` in milliseconds with two decimals, for tables.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// The `p`-th percentile (0..=100) of `samples`, which it sorts.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

/// Events (or actions) per second.
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
}
