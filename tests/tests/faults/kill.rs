//! Backends killed under a running action: mid-body, during COMMIT, and at
//! random points of a stream of actions. The guarantee: an event is stored if
//! and only if its state change committed, `run` returns a typed error rather
//! than panicking, and the pool goes on serving.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use events_core::Error;
use sqlx::PgPool;
use uuid::Uuid;

use crate::fixture::{
    Fault, Hold, Job, TestResult, arm, input, label, next_random, no_idle_transactions, park,
    pool_with, setup, sqlstate, stored, terminate, wait_until, with_label, within,
};

/// A backend killed while the body waits in a query: `run` fails with
/// `Error::Database`, neither the event nor the row nor its changes stay, and
/// the same pool runs the next actions, on the same record too.
#[sqlx::test(migrations = false)]
async fn backend_killed_mid_body_stores_nothing_and_the_pool_recovers(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let job = within("create", Job::create(input(&label("a-"))).run(&store)).await??;
    let before = stored(&pool).await?;

    let doomed = label("doomed-");
    let started = park(&doomed, Hold::Server(30.0));
    let call = tokio::spawn({
        let store = store.clone();
        let doomed = doomed.clone();
        async move { Job::relabel(job.id, input(&doomed)).run(&store).await }
    });
    let pid = within("the body to start", started).await??;
    terminate(&pool, pid).await?;
    let err = within("the killed call", call)
        .await??
        .expect_err("its backend was killed");
    assert!(matches!(err, Error::Database { .. }), "{err}");
    assert_eq!(sqlstate(&err).as_deref(), Some("57P01"), "{err}");

    assert_eq!(stored(&pool).await?, before, "nothing of the call stayed");
    assert_eq!(with_label(&pool, &doomed).await?, (0, 0));

    // The pool recovers: the same record (its lock was released with the
    // backend) and new ones.
    let next = label("after-");
    within(
        "relabel after the kill",
        Job::relabel(job.id, input(&next)).run(&store),
    )
    .await??;
    for _ in 0..3 {
        within(
            "create after the kill",
            Job::create(input(&label("b-"))).run(&store),
        )
        .await??;
    }
    assert_eq!(with_label(&pool, &next).await?, (1, 1));
    assert_eq!(stored(&pool).await?.events.len(), before.events.len() + 4);
    Ok(())
}

/// A backend killed while the body computes on the client (idle in its
/// transaction): the body's next statement fails, nothing is stored.
#[sqlx::test(migrations = false)]
async fn backend_killed_while_the_body_is_idle_stores_nothing(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let doomed = label("idle-doomed-");
    let started = park(&doomed, Hold::Client(Duration::from_millis(500)));
    let call = tokio::spawn({
        let store = store.clone();
        let doomed = doomed.clone();
        async move { Job::create(input(&doomed)).run(&store).await }
    });
    let pid = within("the body to start", started).await??;
    terminate(&pool, pid).await?;
    let err = within("the killed call", call)
        .await??
        .expect_err("its backend was killed");
    assert!(matches!(err, Error::Database { .. }), "{err}");
    assert_eq!(with_label(&pool, &doomed).await?, (0, 0));
    assert!(stored(&pool).await?.events.is_empty());
    within(
        "create after the kill",
        Job::create(input(&label("c-"))).run(&store),
    )
    .await??;
    Ok(())
}

/// A backend killed while its COMMIT runs (a deferred constraint trigger sleeps
/// at commit time): the transaction is all or nothing. Here the kill lands
/// before the commit record, so nothing is stored; `run` reports the failed
/// commit as `Error::Database`.
#[sqlx::test(migrations = false)]
async fn backend_killed_during_commit_is_all_or_nothing(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let job = within("create", Job::create(input(&label("a-"))).run(&store)).await??;
    let before = stored(&pool).await?;

    let doomed = label("commit-doomed-");
    let (tx, started) = tokio::sync::oneshot::channel();
    arm(
        &doomed,
        Fault::SlowCommit {
            pid: tx,
            secs: 30.0,
        },
    );
    let call = tokio::spawn({
        let store = store.clone();
        let doomed = doomed.clone();
        async move { Job::relabel(job.id, input(&doomed)).run(&store).await }
    });
    let pid = within("the body to finish", started).await??;
    wait_until("the COMMIT to sleep in its deferred trigger", || async {
        let query: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT query, wait_event FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
        )
        .bind(pid)
        .fetch_optional(&pool)
        .await?;
        Ok(matches!(query, Some((q, Some(w))) if q.trim().eq_ignore_ascii_case("commit") && w == "PgSleep"))
    })
    .await?;
    terminate(&pool, pid).await?;
    let result = within("the killed commit", call).await??;
    let after = stored(&pool).await?;
    let (events, rows) = with_label(&pool, &doomed).await?;
    assert_eq!(
        events, rows,
        "never an event without its state, nor state without its event"
    );
    match result {
        Err(err) => {
            assert!(matches!(err, Error::Database { .. }), "{err}");
            assert!(err.to_string().contains("committing"), "{err}");
            assert_eq!((events, rows), (0, 0), "the commit did not happen");
            assert_eq!(after, before);
        }
        Ok(_) => panic!("the COMMIT of a killed backend cannot succeed"),
    }
    within(
        "relabel after the kill",
        Job::relabel(job.id, input(&label("d-"))).run(&store),
    )
    .await??;
    no_idle_transactions(&pool).await?;
    Ok(())
}

/// Four writers run actions whose COMMIT takes 20 ms while a killer terminates
/// one of their backends every few milliseconds, landing in BEGIN, the event
/// insert, the body or the COMMIT. Afterwards, for every call: its event is
/// stored if and only if its row is, with the same label; every call that
/// returned `Ok` is stored; no call panicked.
#[sqlx::test(migrations = false)]
async fn random_kills_never_split_an_event_from_its_state(pool: PgPool) -> TestResult {
    setup(&pool).await?;
    let writers_pool = pool_with(&pool, &[], "faults-writer");
    let writer_store =
        events_postgres::PgEventStore::<crate::fixture::FaultLog>::new(writers_pool.clone());
    let done = Arc::new(AtomicBool::new(false));

    let killer = tokio::spawn({
        let pool = pool.clone();
        let done = Arc::clone(&done);
        async move {
            let mut rng = 7_u64;
            let mut kills = 0_u32;
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(5 + next_random(&mut rng) % 25)).await;
                let killed: Option<bool> = sqlx::query_scalar(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = current_database() AND application_name = 'faults-writer' \
                     AND state <> 'idle' ORDER BY random() LIMIT 1",
                )
                .fetch_optional(&pool)
                .await?;
                kills += u32::from(killed == Some(true));
            }
            Ok::<_, sqlx::Error>(kills)
        }
    });

    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = writer_store.clone();
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for i in 0..15 {
                    let l = label(&format!("slow-commit:w{w}-{i}-"));
                    let id = Uuid::now_v7();
                    let ok = Job::create(input(&l))
                        .record_id(id)
                        .run(&store)
                        .await
                        .is_ok();
                    outcomes.push((id, l, ok));
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for w in writers {
        outcomes.extend(
            within("a writer", w)
                .await?
                .map_err(|e| format!("writer panicked: {e}"))?,
        );
    }
    done.store(true, Ordering::Relaxed);
    let kills = within("the killer", killer).await???;

    let events: BTreeMap<Uuid, String> = sqlx::query_as::<_, (Uuid, String)>(
        "SELECT record_id, data->>'label' FROM fault_log WHERE action_type <> 'manual'",
    )
    .fetch_all(&pool)
    .await?
    .into_iter()
    .collect();
    let rows: BTreeMap<Uuid, String> =
        sqlx::query_as::<_, (Uuid, String)>("SELECT id, label FROM jobs")
            .fetch_all(&pool)
            .await?
            .into_iter()
            .collect();
    assert_eq!(
        events, rows,
        "every stored event has its row and every row its event"
    );
    let failed = outcomes.iter().filter(|(_, _, ok)| !ok).count();
    for (id, l, ok) in &outcomes {
        if *ok {
            assert_eq!(events.get(id), Some(l), "a call that returned Ok is stored");
        }
    }
    assert!(
        kills > 0,
        "the killer hit no backend ({failed} calls failed)"
    );
    // The writers' pool still serves.
    within(
        "create after the kills",
        Job::create(input(&label("e-"))).run(&writer_store),
    )
    .await??;
    Ok(())
}
