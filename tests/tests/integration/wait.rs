//! Waiting for what the database (or NATS) reaches in its own time: another
//! test's open transaction holding back the commit watermark, a relay's
//! acknowledgements, a statement queued on a lock.

use std::time::{Duration, Instant};

/// An error of a test.
pub type TestError = Box<dyn std::error::Error + Send + Sync>;

/// Polls `check` every 10 ms until it returns `Some`, failing after `limit`
/// with an error naming `what`. An error from `check` ends the wait at once.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> Result<T, TestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, TestError>>,
{
    let start = Instant::now();
    loop {
        if let Some(found) = check().await? {
            return Ok(found);
        }
        if start.elapsed() > limit {
            return Err(format!("{what}: not within {limit:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
