//! `prune`: previewed, confirmed, run; action events stay on a log that replays.

use sqlx::PgPool;

use crate::support::Db;

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
            .is_some_and(|l| l.ends_with(": done after 0.0s") || l.contains(": done after ")),
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
