//! Calls that never finish on their own: a `run` future dropped or timed out
//! while its body waits, and a body that panics. Nothing of them is stored, the
//! record's lock is released, and their connections come back clean.

use std::time::Duration;

use sqlx::PgPool;

use crate::fixture::{
    Fault, Hold, Job, TestResult, arm, input, label, no_idle_transactions, park, setup, stored,
    with_label, within,
};

/// The `run` future is dropped once the body has started (it waits forever on
/// the client): no event, no row, no changes; no session stays idle in its
/// transaction; the record's lock is free for the next action.
#[sqlx::test(migrations = false)]
async fn a_dropped_run_stores_nothing_and_releases_its_lock(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let job = within("create", Job::create(input(&label("a-"))).run(&store)).await??;
    let before = stored(&pool).await?;

    let doomed = label("dropped-");
    let started = park(&doomed, Hold::Forever);
    {
        let call = Job::relabel(job.id, input(&doomed)).run(&store);
        tokio::pin!(call);
        tokio::select! {
            result = &mut call => panic!("a body that waits forever returned: {result:?}"),
            pid = started => { pid?; }
        }
        // Dropped here, mid-transaction, holding the record's lock.
    }
    no_idle_transactions(&pool).await?;
    assert_eq!(stored(&pool).await?, before);
    assert_eq!(with_label(&pool, &doomed).await?, (0, 0));

    let next = label("next-");
    within(
        "relabel of the same record",
        Job::relabel(job.id, input(&next)).run(&store),
    )
    .await??;
    assert_eq!(with_label(&pool, &next).await?, (1, 1));
    Ok(())
}

/// `tokio::time::timeout` around `run` cancels a call whose body sleeps on the
/// client: nothing stored, and a burst of actions on the same pool (more than
/// its connections) all succeed on connections that are not poisoned.
#[sqlx::test(migrations = false)]
async fn a_timed_out_run_leaves_no_poisoned_connection(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let job = within("create", Job::create(input(&label("a-"))).run(&store)).await??;

    let mut doomed = Vec::new();
    for _ in 0..3 {
        let l = label("timed-out-");
        let _started = park(&l, Hold::Client(Duration::from_secs(30)));
        let cancelled = tokio::time::timeout(
            Duration::from_millis(300),
            Job::relabel(job.id, input(&l)).run(&store),
        )
        .await;
        assert!(cancelled.is_err(), "the call was cancelled: {cancelled:?}");
        doomed.push(l);
    }
    no_idle_transactions(&pool).await?;
    for l in &doomed {
        assert_eq!(with_label(&pool, l).await?, (0, 0), "{l}");
    }
    let calls: Vec<_> = (0..12)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                if i % 3 == 0 {
                    Job::relabel(job.id, input(&label("burst-")))
                        .run(&store)
                        .await
                } else {
                    Job::create(input(&label("burst-"))).run(&store).await
                }
            })
        })
        .collect();
    for call in calls {
        within("a call after the cancellations", call).await???;
    }
    let after = stored(&pool).await?;
    assert_eq!(after.events.len(), 13);
    assert_eq!(
        after.jobs.iter().find(|j| j.id == job.id).map(|j| j.rev),
        Some(4)
    );
    Ok(())
}

/// A call cancelled while its body waits in a server-side query: the
/// connection is busy until the query ends, then rolled back; the event never
/// commits and the record can be written again afterwards.
#[sqlx::test(migrations = false)]
async fn a_run_cancelled_mid_query_never_commits(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let job = within("create", Job::create(input(&label("a-"))).run(&store)).await??;
    let doomed = label("mid-query-");
    let started = park(&doomed, Hold::Server(1.0));
    {
        let call = Job::relabel(job.id, input(&doomed)).run(&store);
        tokio::pin!(call);
        tokio::select! {
            result = &mut call => panic!("the body sleeps a second: {result:?}"),
            pid = started => { pid?; }
        }
    }
    let next = label("next-");
    within(
        "relabel of the same record once the query ended",
        Job::relabel(job.id, input(&next)).run(&store),
    )
    .await??;
    no_idle_transactions(&pool).await?;
    assert_eq!(with_label(&pool, &doomed).await?, (0, 0));
    assert_eq!(with_label(&pool, &next).await?, (1, 1));
    Ok(())
}

/// A body that panics (in a spawned task, so the panic surfaces as a
/// `JoinError`): nothing of the call stays, its lock is released, the pool
/// serves the next calls.
#[sqlx::test(migrations = false)]
async fn a_panicking_body_stores_nothing(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let job = within("create", Job::create(input(&label("a-"))).run(&store)).await??;
    let before = stored(&pool).await?;

    for relabel in [true, false] {
        let doomed = label("panic-");
        arm(&doomed, Fault::Panic);
        let call = tokio::spawn({
            let store = store.clone();
            let doomed = doomed.clone();
            async move {
                if relabel {
                    Job::relabel(job.id, input(&doomed)).run(&store).await
                } else {
                    Job::create(input(&doomed)).run(&store).await
                }
            }
        });
        let joined = within("the panicking call", call).await?;
        let err = joined.expect_err("the body panicked");
        assert!(err.is_panic(), "{err}");
        assert_eq!(with_label(&pool, &doomed).await?, (0, 0));
    }
    no_idle_transactions(&pool).await?;
    assert_eq!(stored(&pool).await?, before);

    let next = label("next-");
    within(
        "relabel after the panic",
        Job::relabel(job.id, input(&next)).run(&store),
    )
    .await??;
    within(
        "create after the panic",
        Job::create(input(&label("b-"))).run(&store),
    )
    .await??;
    assert_eq!(with_label(&pool, &next).await?, (1, 1));
    Ok(())
}
