//! Many writers at once: a commit-safe follower sees every committed event
//! exactly once and none of the failed calls; replay runs while writers keep
//! writing and leaves exactly the state the log replays to.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use events_core::replay::Replay;
use events_core::{Error, EventId, Key};
use events_postgres::PgEventStore;
use events_postgres::follow::Position;
use sqlx::PgPool;
use uuid::Uuid;

use crate::fixture::{
    FaultLog, Job, JobRow, TestResult, input, jobs, label, next_random, setup, within,
};

/// Reads everything the follower may see now; checks the cursor never moves
/// back.
async fn drain(
    store: &PgEventStore<FaultLog>,
    cursor: &mut Option<Position>,
    seen: &mut Vec<events_core::Event>,
) -> Result<(), Error> {
    loop {
        let page = store.read_committed(*cursor, 37).await?;
        if let (Some(before), Some(after)) = (*cursor, page.cursor) {
            assert!(after >= before, "the cursor never moves back");
        }
        *cursor = page.cursor;
        if page.events.is_empty() {
            return Ok(());
        }
        seen.extend(page.events);
    }
}

/// Sixteen writers relabel six shared records (a quarter of the calls fail in
/// the body, after their writes) while a follower pages with
/// `read_committed`. The follower sees exactly the events of the calls that
/// returned `Ok`, each once, in `(txid, id)` order, none labelled `fail:`; and
/// folding them in that order gives the live rows.
#[sqlx::test(migrations = false)]
async fn a_follower_sees_each_committed_event_once_and_no_failed_call(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let mut records = Vec::new();
    let mut committed = HashSet::new();
    for _ in 0..6 {
        let done = Job::create(input(&label("open-"))).run(&store).await?;
        records.push(done.id);
        committed.insert(done.event.ok_or("recorded")?);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let follower = tokio::spawn({
        let store = store.clone();
        let stop = Arc::clone(&stop);
        async move {
            let mut cursor = None;
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                drain(&store, &mut cursor, &mut seen).await?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok::<_, Error>((cursor, seen))
        }
    });
    let writers: Vec<_> = (0..16_u64)
        .map(|w| {
            let store = store.clone();
            let records = records.clone();
            tokio::spawn(async move {
                let mut rng = w + 1;
                let mut results = Vec::new();
                for i in 0..10 {
                    let record = records[usize::try_from(next_random(&mut rng)).unwrap_or(0) % 6];
                    let fails = next_random(&mut rng).is_multiple_of(4);
                    let l = label(if fails { "fail:" } else { "ok-" });
                    let result = Job::relabel(record, input(&format!("{l}w{w}-{i}")))
                        .run(&store)
                        .await;
                    results.push((fails, result));
                }
                results
            })
        })
        .collect();
    let mut failed = 0;
    for w in writers {
        for (fails, result) in within("a writer", w).await?? {
            match (fails, result) {
                (true, Err(Error::MalformedRow { .. })) => failed += 1,
                (false, Ok(done)) => {
                    assert!(committed.insert(done.event.ok_or("recorded")?));
                }
                (fails, other) => panic!("fails={fails}: {other:?}"),
            }
        }
    }
    assert!(failed > 0, "some calls failed on purpose");
    stop.store(true, Ordering::Relaxed);
    let (mut cursor, mut seen) = within("the follower", follower).await???;
    // The release waits for every older transaction of the cluster (other tests
    // too): latency, not loss. Wait for the rest.
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < committed.len() && Instant::now() < deadline {
        drain(&store, &mut cursor, &mut seen).await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let seen_ids: Vec<EventId> = seen.iter().map(|e| e.id).collect();
    let unique: HashSet<EventId> = seen_ids.iter().copied().collect();
    assert_eq!(unique.len(), seen_ids.len(), "no event seen twice");
    assert_eq!(
        unique, committed,
        "exactly the events of the calls that returned Ok"
    );
    assert!(
        seen.iter()
            .all(|e| !e.data["label"].as_str().unwrap_or("").starts_with("fail:")),
        "no failed call's event"
    );

    // In order: the follower's order is (txid, id), the order of each record's lock.
    let order: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM fault_log WHERE action_type <> 'manual' ORDER BY txid, id")
            .fetch_all(&pool)
            .await?;
    let order: Vec<EventId> = order
        .into_iter()
        .map(|(id,)| EventId::Integer(id))
        .collect();
    assert_eq!(seen_ids, order, "followed in (txid, id) order");

    let mut folded: BTreeMap<Uuid, (String, i32)> = BTreeMap::new();
    for e in &seen {
        let Key::Uuid(id) = e.record_id else {
            panic!("uuid record ids")
        };
        let l = e.data["label"].as_str().unwrap_or_default().to_owned();
        match e.action.as_str() {
            "create" => {
                folded.insert(id, (l, 0));
            }
            _ => {
                let entry = folded.entry(id).or_insert(("?".into(), 0));
                *entry = (l, entry.1 + 1);
            }
        }
    }
    let folded: Vec<JobRow> = folded
        .into_iter()
        .map(|(id, (label, rev))| JobRow { id, label, rev })
        .collect();
    assert_eq!(
        folded,
        jobs(&pool).await?,
        "the followed order rebuilds the live rows"
    );
    Ok(())
}

/// Writers keep creating and relabelling (some calls failing) while atomic
/// replays run: each replay succeeds, no writer fails for it, and once the
/// writers stop the live rows are exactly what a replay of everything
/// committed gives.
#[sqlx::test(migrations = false)]
async fn replay_while_writers_run_matches_a_replay_of_everything(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4_u64)
        .map(|w| {
            let store = store.clone();
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut rng = w + 11;
                let mut own = Vec::new();
                let (mut ok, mut refused) = (0_u32, 0_u32);
                while !stop.load(Ordering::Relaxed) {
                    let fails = next_random(&mut rng).is_multiple_of(5);
                    let l = label(if fails { "fail:" } else { "w-" });
                    let result = if own.is_empty() || next_random(&mut rng).is_multiple_of(3) {
                        Job::create(input(&l))
                            .run(&store)
                            .await
                            .map(|d| own.push(d.id))
                    } else {
                        let record =
                            own[usize::try_from(next_random(&mut rng)).unwrap_or(0) % own.len()];
                        Job::relabel(record, input(&l)).run(&store).await.map(drop)
                    };
                    match (fails, result) {
                        (false, Ok(())) => ok += 1,
                        (true, Err(Error::MalformedRow { .. })) => refused += 1,
                        (_, other) => return Err(format!("writer {w}: {other:?}")),
                    }
                }
                Ok((ok, refused))
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut replays = 0;
    for _ in 0..4 {
        let report = within(
            "a replay among writers",
            store.replay(Replay::all().batch_size(7)),
        )
        .await??;
        assert_eq!(report.commits, 1);
        replays += 1;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut succeeded = 0;
    for w in writers {
        let (ok, _) = within("a writer", w).await??.map_err(|e| e.to_string())?;
        succeeded += ok;
    }
    assert_eq!(replays, 4);

    let live = jobs(&pool).await?;
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM fault_log WHERE action_type <> 'manual'")
            .fetch_one(&pool)
            .await?;
    assert_eq!(
        events,
        i64::from(succeeded),
        "one event per successful call, none for the failed"
    );
    let report = within("the final replay", store.replay(Replay::all())).await??;
    assert_eq!(report.applied, u64::try_from(events)?);
    assert_eq!(
        jobs(&pool).await?,
        live,
        "the live rows are the replay of the log"
    );
    Ok(())
}
