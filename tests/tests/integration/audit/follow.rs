//! `AuditLog::follow`, what `events tail -f` runs: a query's entries, manual
//! ones included, in commit-safe order. An entry whose transaction commits
//! late is held back, never passed over; `StartAt::Now` passes over what had
//! committed; filters apply in SQL and the position still moves past what they
//! reject.

use events_core::audit::{AuditEntry, AuditQuery, EntryKind, ManualEntry};
use events_postgres::audit::EntryFollower;
use events_postgres::subscribe::StartAt;
use sqlx::PgPool;

use super::fixture::{Log, TestResult, actions, project, setup};

/// Reads until `n` entries came (the watermark is cluster-wide: a transaction
/// another test holds open delays them, it never loses them), then once more.
async fn read(
    follower: &mut EntryFollower<Log>,
    n: usize,
) -> Result<Vec<AuditEntry>, events_core::Error> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = Vec::new();
    while seen.len() < n && std::time::Instant::now() < deadline {
        let batch = follower.next_batch(2).await?;
        if batch.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
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
    let (store, audit) = setup(&pool).await?;
    project(&store, "before").await?;
    let mut everything = audit.follow(&AuditQuery::new(), StartAt::Beginning).await?;
    let mut from_now = audit.follow(&AuditQuery::new(), StartAt::Now).await?;
    let query = AuditQuery::new().kind(EntryKind::Manual);
    let mut manual = audit.follow(&query, StartAt::Beginning).await?;

    // An entry written in a transaction that stays open, then one committed after it.
    let mut late = pool.begin().await?;
    audit
        .track_in(&mut late, ManualEntry::new("late.entry"))
        .await?;
    project(&store, "after").await?;
    let first = read(&mut everything, 1).await?;
    assert_eq!(
        actions(&first),
        ["create"],
        "what committed before the open transaction only"
    );
    assert!(
        from_now.next_batch(100).await?.is_empty(),
        "held back behind the open transaction"
    );

    late.commit().await?;
    assert_eq!(
        actions(&read(&mut everything, 2).await?),
        ["late.entry", "create"],
        "the late entry first: its transaction began first"
    );
    assert_eq!(
        actions(&read(&mut from_now, 2).await?),
        ["late.entry", "create"],
        "the past passed over, the late one kept"
    );
    assert_eq!(actions(&read(&mut manual, 1).await?), ["late.entry"]);

    // Rows the filter rejects move the position too, so they are not read again.
    let before = manual.position();
    project(&store, "third").await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while manual.position() <= before && std::time::Instant::now() < deadline {
        assert!(manual.next_batch(100).await?.is_empty());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        manual.position() > before,
        "the position moved past the rejected rows"
    );
    assert_eq!(actions(&read(&mut everything, 1).await?), ["create"]);
    Ok(())
}
