//! `prune`: previewed, confirmed, run in batches with progress lines; action
//! events stay on a log that replays; Ctrl-C stops after the batch in flight,
//! keeping what is deleted, and running it again continues.

use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::support::{Db, interrupt};

/// `n` manual entries `user.seen`, a day old (written as the owner, directly).
async fn seen_yesterday(db: &Db, n: i32) {
    sqlx::query(
        "INSERT INTO events (action, action_type, version, occurred_at) \
         SELECT 'user.seen', 'manual', 1, now() - interval '1 day' FROM generate_series(1, $1)",
    )
    .bind(n)
    .execute(&db.pool)
    .await
    .expect("entries written");
}

/// The prunes' own records: how many, and the entries they say they deleted.
async fn pruned_records(db: &Db) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*), coalesce(sum((metadata ->> 'deleted')::bigint), 0)::bigint \
         FROM events WHERE action = 'audit.pruned'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("the records read")
}

/// `1,234` as 1234.
fn number(text: &str) -> u64 {
    text.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("`{text}` is not a number"))
}

#[sqlx::test]
async fn prune_previews_asks_and_deletes_old_manual_entries_only(pool: PgPool) {
    let db = Db::new(pool);
    db.with_story().await;
    // The retention period (365 days) is longer than this log's history.
    let nothing = db.run(&["prune", "--dry-run"]);
    assert!(
        nothing
            .ok()
            .stdout
            .starts_with("would delete 0 manual entries older than "),
        "{nothing:?}"
    );
    let preview = db
        .run(&[
            "prune",
            "--older-than",
            "0s",
            "--dry-run",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(preview[0]["entries"], 1);
    assert_eq!(preview[0]["actions"], 0);
    assert_eq!(preview[0]["gives_up_replay"], false);
    let give_up = db
        .run(&[
            "prune",
            "--older-than",
            "0s",
            "--give-up-replay",
            "--dry-run",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(give_up[0]["entries"], 11);
    assert_eq!(give_up[0]["actions"], 10);

    db.run(&["prune", "--older-than", "0s"])
        .fails(2, "prune deletes entries: pass --yes to confirm");
    let pruned = db.run(&["prune", "--older-than", "0s", "--yes"]);
    assert!(
        pruned
            .ok()
            .stdout
            .starts_with("deleted 1 entries (0 action events) older than "),
        "{pruned:?}"
    );
    assert!(
        pruned
            .stderr
            .starts_with("prune: deleting 1 manual entry older than "),
        "{}",
        pruned.stderr
    );
    assert!(
        pruned
            .stderr
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("prune: 1/1 entries in ")),
        "{}",
        pruned.stderr
    );
    // The action events stay; the prune recorded itself.
    let counts = db.run(&["query", "--count", "--kind", "manual"]);
    assert_eq!(
        counts.ok().stdout.trim(),
        "1",
        "only the prune's own entry: {counts:?}"
    );
    assert!(
        db.run(&["query", "--action", "audit.pruned"])
            .ok()
            .stdout
            .contains("audit.pruned")
    );
    assert!(
        db.run(&["verify"])
            .ok()
            .stdout
            .contains("replayable: 10 events")
    );
}

#[sqlx::test]
async fn prune_deletes_in_batches_with_progress_lines(pool: PgPool) {
    let db = Db::new(pool);
    db.with_story().await;
    seen_yesterday(&db, 35).await;
    db.run(&["prune", "--older-than", "0s", "--yes", "--batch-size", "0"])
        .fails(2, "invalid value '0' for '--batch-size <N>'");

    let pruned = db.run(&[
        "prune",
        "--older-than",
        "0s",
        "--yes",
        "--batch-size",
        "3",
        "--progress",
        "lines",
    ]);
    let stdout = &pruned.ok().stdout;
    assert!(
        stdout.starts_with("deleted 36 entries (0 action events) older than "),
        "{pruned:?}"
    );
    assert!(
        stdout.contains(
            ": 12 batches of up to 3, each recorded as an audit.pruned entry (the last is "
        ),
        "{pruned:?}"
    );
    // Not a terminal: what is deleted, a line at each tenth, then a summary.
    let lines: Vec<&str> = pruned.stderr.lines().collect();
    assert!(
        lines[0].starts_with("prune: deleting 36 manual entries older than ")
            && lines[0].ends_with(", in batches of up to 3"),
        "{}",
        pruned.stderr
    );
    let progress: Vec<u64> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| {
            assert!(
                l.starts_with("prune: ") && l.contains("/36 entries (") && l.contains(" entries/s"),
                "{l}"
            );
            number(&l["prune: ".len()..l.find('/').unwrap_or(0)])
        })
        .collect();
    assert!(
        progress.len() >= 8,
        "a line at each tenth: {}",
        pruned.stderr
    );
    assert!(
        progress.windows(2).all(|w| w[0] < w[1]) && progress.iter().all(|n| n % 3 == 0),
        "{progress:?}"
    );
    assert!(
        lines[lines.len() - 1].starts_with("prune: 36/36 entries in "),
        "{}",
        pruned.stderr
    );
    assert_eq!(pruned_records(&db).await, (12, 36), "each batch recorded");

    // The twelve records are manual entries too: a second prune deletes them
    // (and records itself), in JSON.
    let again = db
        .run(&[
            "prune",
            "--older-than",
            "0s",
            "--yes",
            "--batch-size",
            "5",
            "--format",
            "json",
            "--progress",
            "off",
        ])
        .ok()
        .json();
    assert_eq!(again[0]["deleted"], 12);
    assert_eq!(again[0]["batches"], 3);
    assert_eq!(again[0]["batch_size"], 5);
    assert!(again[0]["entry"].is_string(), "{again:?}");
    assert_eq!(pruned_records(&db).await, (3, 12));
    assert!(
        db.run(&["verify"])
            .ok()
            .stdout
            .contains("replayable: 10 events")
    );
}

#[sqlx::test]
async fn ctrl_c_stops_a_prune_after_its_batch_and_running_it_again_continues(pool: PgPool) {
    let db = Db::new(pool);
    db.with_story().await;
    seen_yesterday(&db, 20_000).await;
    let args = [
        "prune",
        "--older-than",
        "1h",
        "--yes",
        "--batch-size",
        "2",
        "--progress",
        "lines",
    ];
    let child = db.spawn(&args);
    let started = Instant::now();
    while pruned_records(&db).await.0 < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no batch committed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    interrupt(&child);
    let out = child.wait_with_output().expect("it ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l == "stopping after the batch in flight; Ctrl-C again to stop now"),
        "{stderr}"
    );
    // The message says how far it got, exactly as the records do.
    let last = stderr.lines().last().unwrap_or_default();
    let rest = last
        .strip_prefix("error: interrupted: stopped after batch ")
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        rest.ends_with(
            "entries deleted, each batch recorded as an audit.pruned entry; the rest stays: \
             run the same `events prune` again to continue"
        ),
        "{stderr}"
    );
    let (batches, rest) = rest.split_once(": ").unwrap_or_else(|| panic!("{stderr}"));
    let (deleted, rest) = rest
        .split_once(" of ")
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(rest.starts_with("20,000 entries deleted"), "{stderr}");
    let (batches, deleted) = (number(batches), number(deleted));
    assert!(deleted < 20_000, "stopped before the end: {stderr}");
    assert_eq!(deleted, batches * 2, "{stderr}");
    let (records, recorded) = pruned_records(&db).await;
    assert_eq!(
        (records, recorded),
        (
            i64::try_from(batches).unwrap_or(-1),
            i64::try_from(deleted).unwrap_or(-1)
        )
    );

    // Running it again deletes the rest.
    let args = [
        "prune",
        "--older-than",
        "1h",
        "--yes",
        "--batch-size",
        "5000",
    ];
    let again = db.run(&args);
    let rest_deleted = again
        .ok()
        .stdout
        .strip_prefix("deleted ")
        .and_then(|s| s.split_once(" entries "))
        .map(|(n, _)| number(n));
    assert_eq!(rest_deleted, Some(20_000 - deleted), "{again:?}");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE action = 'user.seen'")
        .fetch_one(&db.pool)
        .await
        .expect("counted");
    assert_eq!(left, 0);
}
