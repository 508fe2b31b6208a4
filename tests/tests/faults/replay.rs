//! Replays whose backend is killed half-way: an atomic replay leaves the state
//! exactly as before; a chunked one keeps its committed chunks and a
//! checkpoint, and `resume_replay` finishes it to the state of a full replay.

use events_core::Error;
use events_core::replay::Replay;
use events_postgres::PgEventStore;
use sqlx::PgPool;
use tokio::sync::oneshot;

use crate::fixture::{
    BoxError, Fault, FaultLog, Hold, Job, JobRow, TestResult, arm_on_replay, input, jobs, label,
    setup, sqlstate, terminate, within,
};

/// True for the error of a replay whose backend died under a body: the
/// body's `Error::Database` (SQLSTATE 57P01) wrapped in `ReplayError::Body`.
fn killed_while_applying(err: &Error) -> bool {
    match err {
        Error::Replay(events_core::ReplayError::Body { source, .. }) => source
            .downcast_ref::<Error>()
            .and_then(sqlstate)
            .is_some_and(|code| code == "57P01"),
        _ => false,
    }
}

/// Twelve jobs, each relabelled once: 24 events. Returns the live rows and
/// the label of the 17th event (the relabel of the fifth job).
async fn history(store: &PgEventStore<FaultLog>) -> Result<(Vec<JobRow>, String), BoxError> {
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(Job::create(input(&label("c-"))).run(store).await?.id);
    }
    let mut seventeenth = String::new();
    for (i, id) in ids.iter().enumerate() {
        let l = label("r-");
        Job::relabel(*id, input(&l)).run(store).await?;
        if i == 4 {
            seventeenth = l;
        }
    }
    Ok((jobs(store.pool()).await?, seventeenth))
}

/// The replay's backend is killed while it applies the 17th of 24 events: the
/// replay fails with `Error::Database`, the cleared and half-rebuilt state
/// rolls back to exactly the live rows, no checkpoint is left; a replay
/// afterwards rebuilds the same rows.
#[sqlx::test(migrations = false)]
async fn an_atomic_replay_killed_midway_changes_nothing(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let (live, seventeenth) = history(&store).await?;
    let (tx, started) = oneshot::channel();
    arm_on_replay(
        &seventeenth,
        Fault::Park {
            pid: tx,
            hold: Hold::Server(30.0),
        },
    );
    let replay = tokio::spawn({
        let store = store.clone();
        async move { store.replay(Replay::all().batch_size(5)).await }
    });
    let pid = within("the replay to reach event 17", started).await??;
    terminate(&pool, pid).await?;
    let err = within("the killed replay", replay)
        .await??
        .expect_err("its backend was killed");
    assert!(killed_while_applying(&err), "{err}");
    assert!(
        err.to_string().contains("event 17"),
        "names the event: {err}"
    );
    assert_eq!(jobs(&pool).await?, live, "all or nothing: nothing");
    assert_eq!(store.replay_checkpoint().await?, None);

    let report = within("a replay after the kill", store.replay(Replay::all())).await??;
    assert_eq!(report.applied, 24);
    assert_eq!(jobs(&pool).await?, live);
    Ok(())
}

/// A chunked replay (chunks of 5) killed in its fourth chunk: the three
/// committed chunks stay with a checkpoint at 15 of 24 and the error says
/// `PartialReplay`; `resume_replay` finishes it, leaving the live rows and no
/// checkpoint.
#[sqlx::test(migrations = false)]
async fn a_chunked_replay_killed_midway_resumes_to_the_full_state(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let (live, seventeenth) = history(&store).await?;
    let (tx, started) = oneshot::channel();
    arm_on_replay(
        &seventeenth,
        Fault::Park {
            pid: tx,
            hold: Hold::Server(30.0),
        },
    );
    let replay = tokio::spawn({
        let store = store.clone();
        async move { store.replay(Replay::all().in_chunks(5).batch_size(2)).await }
    });
    let pid = within("the replay to reach event 17", started).await??;
    terminate(&pool, pid).await?;
    let err = within("the killed replay", replay)
        .await??
        .expect_err("its backend was killed");
    let Error::Replay(events_core::ReplayError::Partial {
        applied, source, ..
    }) = &err
    else {
        panic!("expected PartialReplay, got {err}")
    };
    assert_eq!(*applied, 15, "{err}");
    assert!(killed_while_applying(source), "{err}");
    let checkpoint = store.replay_checkpoint().await?.ok_or("a checkpoint")?;
    assert_eq!((checkpoint.applied, checkpoint.total), (15, 24));
    let half = jobs(&pool).await?;
    assert_ne!(half, live, "half rebuilt, as the error says");
    assert_eq!(half.len(), 12, "the creates were in the first chunks");

    let report = within("resume", store.resume_replay(Replay::all().in_chunks(5))).await??;
    assert_eq!(report.applied, 24);
    assert_eq!(jobs(&pool).await?, live, "the same rows as a full replay");
    assert_eq!(store.replay_checkpoint().await?, None);
    let full = within("a full replay", store.replay(Replay::all())).await??;
    assert_eq!(full.applied, 24);
    assert_eq!(jobs(&pool).await?, live);
    Ok(())
}

/// A live relabel that gets in between the chunks of a chunked replay would act
/// on the half-rebuilt row, and a later chunk would apply the record's older
/// relabel over it: a successful replay leaving a state that is not the replay
/// of the log. Actions are refused while a chunked replay is unfinished
/// (`Error::ChunkedReplayUnfinished`, nothing written), so the state after the
/// chunked replay is the replay of the log.
///
/// Made deterministic by parking the replay in its third chunk (event 12)
/// while the live relabel of job 5 (whose own relabel is event 17, in the
/// fourth chunk) queues behind the chunk's table lock.
#[sqlx::test(migrations = false)]
async fn a_write_between_chunks_is_refused_not_overwritten(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let mut ids = Vec::new();
    let mut creates = Vec::new();
    for _ in 0..12 {
        let l = label("c-");
        ids.push(Job::create(input(&l)).run(&store).await?.id);
        creates.push(l);
    }
    for id in &ids {
        Job::relabel(*id, input(&label("r-"))).run(&store).await?;
    }
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let (tx, started) = oneshot::channel();
    arm_on_replay(
        &creates[11],
        Fault::Park {
            pid: tx,
            hold: Hold::Until(std::sync::Arc::clone(&release)),
        },
    );
    let replay = tokio::spawn({
        let store = store.clone();
        async move { store.replay(Replay::all().in_chunks(5).batch_size(5)).await }
    });
    within("the replay to reach event 12", started).await??;
    let live = label("live-");
    let writer = tokio::spawn({
        let store = store.clone();
        let (id, live) = (ids[4], live.clone());
        async move { Job::relabel(id, input(&live)).run(&store).await }
    });
    crate::fixture::wait_until("the live relabel to queue behind the chunk", || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await?;
        Ok(waiting > 0)
    })
    .await?;
    release.notify_one();
    within("the chunked replay", replay).await???;
    let refused = within("the live relabel", writer).await??;
    assert!(
        matches!(refused, Err(Error::ChunkedReplayUnfinished { .. })),
        "{refused:?}"
    );
    let after_chunked = jobs(&pool).await?;
    within("an atomic replay", store.replay(Replay::all())).await??;
    let replayed = jobs(&pool).await?;
    assert_eq!(
        after_chunked, replayed,
        "a successful chunked replay leaves the state the log replays to"
    );

    // Once the replay is done, the same call goes through, and replay keeps it.
    Job::relabel(ids[4], input(&live)).run(&store).await?;
    within("an atomic replay", store.replay(Replay::all())).await??;
    let job5 = jobs(&pool).await?.into_iter().find(|j| j.id == ids[4]);
    assert_eq!(job5.map(|j| j.label), Some(live));
    Ok(())
}
