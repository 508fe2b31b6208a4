//! `verify`, `replay` and `resume`: the preflight lists what is missing;
//! replays rebuild the same state with progress lines; Ctrl-C leaves an atomic
//! replay rolled back and a chunked one at its checkpoint, which `resume`
//! finishes.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::support::{Db, interrupt, seed};

#[sqlx::test]
async fn verify_lists_missing_routes_and_passes_when_every_event_has_one(pool: PgPool) {
    let db = Db::new(pool);
    db.with_story().await;
    let ok = db.run(&["verify"]);
    assert!(
        ok.ok().stdout.contains("replayable: 10 events (every event), every stored (resource, action, version) has a route"),
        "{ok:?}"
    );
    let upto = db
        .run(&["verify", "--up-to-event", "3", "--format", "json"])
        .ok()
        .json();
    assert_eq!(upto[0]["events"], 3);
    // An event of an action this build does not have.
    sqlx::query(
        "INSERT INTO events (resource, record_id, action, action_type, version, occurred_at) \
         VALUES ('User', gen_random_uuid(), 'teleport', 'update', 3, now())",
    )
    .execute(&db.pool)
    .await
    .expect("inserted");
    let missing = db.run(&["verify"]);
    missing.fails(
        1,
        "replay would refuse: 1 stored (resource, action, version) has no route",
    );
    let lines = missing.lines();
    assert!(
        lines[0].contains("RESOURCE") && lines[0].contains("REASON"),
        "{}",
        missing.stdout
    );
    assert!(
        lines[1].contains("User") && lines[1].contains("teleport") && lines[1].contains(" 3 "),
        "{}",
        missing.stdout
    );
    // Replay refuses the same way, before asking or changing anything.
    let before = db.state().await;
    db.run(&["replay", "--yes"]).fails(1, "has no route");
    assert_eq!(db.state().await, before);
}

#[sqlx::test]
async fn replay_rebuilds_the_state_with_progress_lines_atomic_or_chunked(pool: PgPool) {
    let db = Db::new(pool);
    db.with_story().await;
    seed(&db, 2_000).await;
    let before = db.state().await;
    db.run(&["replay"]).fails(
        2,
        "replay clears the application's state before rebuilding it: pass --yes to confirm",
    );

    let atomic = db.run(&["replay", "--yes", "--batch-size", "100"]);
    assert!(
        atomic.ok().stdout.starts_with("replayed 2,010 events in "),
        "{atomic:?}"
    );
    assert!(
        atomic.stdout.contains("(1 commit), up to event 2011"),
        "{atomic:?}"
    );
    // Not a terminal: plain progress lines on stderr, every 10%, then a summary.
    let progress: Vec<&str> = atomic.stderr.lines().collect();
    assert!(progress.len() >= 10, "{}", atomic.stderr);
    assert!(
        progress[0].starts_with("replay: ") && progress[0].contains("/2,010 events ("),
        "{}",
        atomic.stderr
    );
    assert!(progress[0].contains(" events/s, ETA "), "{}", atomic.stderr);
    assert!(
        progress
            .last()
            .is_some_and(|l| l.starts_with("replay: 2,010/2,010 events in ")),
        "{}",
        atomic.stderr
    );
    assert_eq!(db.state().await, before, "replay rebuilt the same state");

    let chunked = db.run(&[
        "replay",
        "--yes",
        "--chunks",
        "500",
        "--batch-size",
        "100",
        "--format",
        "json",
    ]);
    let report = &chunked.ok().json()[0];
    assert_eq!(report["applied"], 2_010);
    assert_eq!(report["commits"], 5);
    assert_eq!(report["last_event"], "2011");
    assert_eq!(db.state().await, before);

    let upto = db.run(&[
        "replay",
        "--yes",
        "--up-to-time",
        "2000-01-01",
        "--progress",
        "off",
    ]);
    assert!(
        upto.ok().stdout.starts_with("replayed 0 events"),
        "{upto:?}"
    );
    assert!(upto.stderr.is_empty(), "--progress off: {}", upto.stderr);
    assert!(db.state().await.is_empty(), "nothing occurred before 2000");
    db.run(&["resume"])
        .fails(1, "there is no unfinished chunked replay to resume");
}

#[sqlx::test]
async fn ctrl_c_rolls_an_atomic_replay_back_and_leaves_a_chunked_one_resumable(pool: PgPool) {
    let db = Db::new(pool);
    db.with_story().await;
    seed(&db, 12_000).await;
    let before = db.state().await;

    // Atomic: stopped mid-way (after its first progress line, so never after
    // it finished), everything rolls back.
    let mut child = db.spawn(&["replay", "--yes", "--batch-size", "100"]);
    let stderr_pipe = child.stderr.take().expect("stderr is piped");
    let (first_line, progressed) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
            if line.starts_with("replay: ") {
                let _ = first_line.send(());
            }
            lines.push(line);
        }
        lines.join("\n")
    });
    progressed
        .recv_timeout(Duration::from_secs(60))
        .expect("a progress line within a minute");
    interrupt(&child);
    let out = child.wait_with_output().expect("it ends");
    let stderr = reader.join().expect("stderr is read");
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.lines().last().is_some_and(
            |l| l == "error: interrupted: the replay was rolled back; the state is as before"
        ),
        "{stderr}"
    );
    assert_eq!(db.state().await, before);

    // Chunked: stopped after a checkpoint; the committed chunks stay.
    let child = db.spawn(&["replay", "--yes", "--chunks", "1000", "--batch-size", "100"]);
    let started = Instant::now();
    loop {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT applied FROM events_replay_checkpoint")
                .fetch_optional(&db.pool)
                .await
                .expect("the checkpoint reads");
        if applied.is_some_and(|n| n >= 2_000) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no checkpoint came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    interrupt(&child);
    let out = child.wait_with_output().expect("it ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: interrupted: "), "{stderr}");
    assert!(
        last.contains("/12,010 events are applied and committed (up to event")
            && last.ends_with("run `events resume` to continue"),
        "{stderr}"
    );
    let status = db.run(&["status"]);
    assert!(
        status.ok().stdout.contains("unfinished chunked replay"),
        "{status:?}"
    );

    let resumed = db.run(&["resume", "--chunks", "5000", "--batch-size", "500"]);
    assert!(
        resumed
            .ok()
            .stdout
            .starts_with("resumed replay applied 12,010 events"),
        "{resumed:?}"
    );
    assert!(
        resumed
            .stderr
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("resume: 12,010/12,010 events in ")),
        "{}",
        resumed.stderr
    );
    assert_eq!(
        db.state().await,
        before,
        "the resumed replay rebuilt the same state"
    );
    assert!(
        db.run(&["status"])
            .ok()
            .stdout
            .contains("replay:         ready")
    );
}
