//! `AuditLog::follow`, what `events tail -f` runs: a query's entries, manual
//! ones included, in commit-safe order. An entry whose transaction commits
//! late is held back, never passed over; `StartAt::Now` passes over what had
//! committed; filters apply in SQL and the position still moves past the rows
//! they reject.
//!
//! A binary of its own: it holds a transaction open, which holds back the
//! cluster-wide watermark other tests' followers and lag counts read.

use std::time::{Duration, Instant};

use events_core::audit::{AuditEntry, AuditQuery, ManualEntry};
use events_postgres::PgEventStore;
use events_postgres::audit::EntryFollower;
use events_postgres::subscribe::StartAt;
use sqlx::PgPool;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// An audit trail: manual entries only.
#[events_core::event_log(table = "trail")]
pub struct Trail;

fn actions(entries: &[AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.action.as_str()).collect()
}

/// Reads until `n` entries came (a transaction another test holds open
/// anywhere in the cluster delays them, never loses them), then once more.
async fn read(
    follower: &mut EntryFollower<Trail>,
    n: usize,
) -> Result<Vec<AuditEntry>, events_core::Error> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while seen.len() < n && Instant::now() < deadline {
        let batch = follower.next_batch(2).await?;
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        seen.extend(batch);
    }
    seen.extend(follower.next_batch(100).await?);
    Ok(seen)
}

#[sqlx::test]
async fn followers_hold_back_what_an_open_transaction_precedes_and_never_skip_it(
    pool: PgPool,
) -> TestResult {
    let store = PgEventStore::<Trail>::new(pool.clone());
    store.migrate().await?;
    let audit = store.audit();
    audit.track(ManualEntry::new("before")).await?;
    let mut everything = audit.follow(&AuditQuery::new(), StartAt::Beginning).await?;
    let mut from_now = audit.follow(&AuditQuery::new(), StartAt::Now).await?;
    let mut late_only = audit
        .follow(&AuditQuery::new().action("late.entry"), StartAt::Beginning)
        .await?;

    // An entry written in a transaction that stays open, then one committed after it.
    let mut late = pool.begin().await?;
    audit
        .track_in(&mut late, ManualEntry::new("late.entry"))
        .await?;
    audit.track(ManualEntry::new("after")).await?;
    assert_eq!(
        actions(&read(&mut everything, 1).await?),
        ["before"],
        "what committed before the open transaction only"
    );
    assert!(
        from_now.next_batch(100).await?.is_empty(),
        "held back behind the open transaction"
    );
    late.commit().await?;

    assert_eq!(
        actions(&read(&mut everything, 2).await?),
        ["late.entry", "after"],
        "the late entry first: its transaction began first"
    );
    assert_eq!(
        actions(&read(&mut from_now, 2).await?),
        ["late.entry", "after"],
        "the past passed over, the late entry kept"
    );
    assert_eq!(actions(&read(&mut late_only, 1).await?), ["late.entry"]);

    // Rows the filter rejects move the position too, so they are not read again.
    let before = late_only.position();
    audit.track(ManualEntry::new("third")).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while late_only.position() <= before && Instant::now() < deadline {
        assert!(late_only.next_batch(100).await?.is_empty());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        late_only.position() > before,
        "the position moved past the rejected rows"
    );
    assert_eq!(actions(&read(&mut everything, 1).await?), ["third"]);
    Ok(())
}
