//! `tail`, `tail -f`, `query` and `history`.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use events_examples::app::{Register, User};
use sqlx::PgPool;

use crate::support::{Db, interrupt};

#[sqlx::test]
async fn tail_prints_the_latest_entries_oldest_first(pool: PgPool) {
    let db = Db::new(pool);
    db.with_story().await;
    let table = db.run(&["tail", "-n", "3"]);
    let lines = table.ok().lines();
    assert_eq!(
        lines.len(),
        4,
        "a header and three entries: {}",
        table.stdout
    );
    assert!(lines[0].trim_start().starts_with("ID"), "{}", table.stdout);
    assert!(lines[1].contains("archive") && lines[2].contains("delete"));
    assert!(lines[3].contains("login.failed") && lines[3].contains("manual"));

    let json = db.run(&["tail", "--format", "json"]).ok().json();
    assert_eq!(json.len(), 11, "every entry of the story, fewer than 20");
    assert_eq!(json[0]["action"], "register");
    assert_eq!(json[10]["action"], "login.failed");
    let ids: Vec<i64> = json.iter().map(|e| e["id"].as_i64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");

    let users = db.run(&[
        "tail",
        "--resource",
        "User",
        "--action",
        "change*",
        "--format",
        "json",
    ]);
    let users = users.ok().json();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["action"], "change_email");
}

#[sqlx::test]
async fn tail_follow_prints_new_entries_as_they_commit_and_stops_on_ctrl_c(pool: PgPool) {
    let db = Db::new(pool);
    db.with_story().await;
    let mut child = db.spawn(&[
        "tail",
        "-f",
        "-n",
        "1",
        "--interval",
        "50ms",
        "--format",
        "json",
        "--resource",
        "User",
    ]);
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the latest entry");
    assert!(first.contains(r#""action":"delete""#), "{first}");
    // New entries: one of the filtered resource, one manual entry (filtered out).
    db.store
        .audit()
        .track(events_core::audit::ManualEntry::new("noise.ignored"))
        .await
        .expect("tracked");
    User::register(Register {
        email: "late@example.com".into(),
    })
    .run(&db.store)
    .await
    .expect("registered");
    let next = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the new entry");
    assert!(next.contains("late@example.com"), "{next}");
    interrupt(&child);
    let out = child.wait_with_output().expect("it ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "Ctrl-C ends tail -f successfully: {out:?}"
    );
    assert!(rx.try_recv().is_err(), "nothing else was printed");
}

#[sqlx::test]
async fn query_filters_pages_counts_and_exports(pool: PgPool) {
    let db = Db::new(pool);
    let story = db.with_story().await;
    let count = |args: &[&str]| -> u64 {
        let mut all = vec!["query", "--count", "--format", "json"];
        all.extend_from_slice(args);
        let json = db.run(&all).ok().json();
        assert_eq!(json[0]["exact"], true);
        json[0]["count"].as_u64().expect("a count")
    };
    assert_eq!(count(&[]), 11);
    assert_eq!(count(&["--resource", "User"]), 7);
    assert_eq!(count(&["--kind", "manual"]), 1);
    assert_eq!(count(&["--kind", "update", "--kind", "destroy"]), 4);
    assert_eq!(count(&["--actor", "csv-importer"]), 5);
    assert_eq!(count(&["--actor", &format!("admin_id={}", story.admin)]), 5);
    assert_eq!(count(&["--action", "register"]), 5);
    assert_eq!(
        count(&["--resource", "User", "--record", &story.grace.to_string()]),
        2
    );
    assert_eq!(count(&["--record", &story.project.to_string()]), 3);
    assert_eq!(count(&["--since", "1h"]), 11);
    assert_eq!(count(&["--until", "2000-01-01"]), 0);
    assert_eq!(
        count(&["--since", "2000-01-01T00:00:00Z", "--until", "now"]),
        11
    );
    assert_eq!(count(&["--tenant", "acme"]), 0);

    // Keyset pages: the cursor printed after a page continues it.
    let first = db.run(&[
        "query", "--limit", "4", "--order", "oldest", "--format", "json",
    ]);
    let page = first.ok().json();
    assert_eq!(page.len(), 4);
    assert_eq!(page[0]["id"], 1);
    let cursor = first
        .stderr
        .trim()
        .strip_prefix("more: add --after ")
        .unwrap_or_else(|| panic!("a cursor hint: {}", first.stderr))
        .to_owned();
    let second = db.run(&[
        "query", "--limit", "4", "--order", "oldest", "--format", "json", "--after", &cursor,
    ]);
    assert_eq!(second.ok().json()[0]["id"], 5);
    // Numbered pages say where they are.
    let numbered = db.run(&["query", "--page", "3", "--limit", "4"]);
    assert!(
        numbered.ok().stderr.contains("page 3 of 3 (11 entries)"),
        "{numbered:?}"
    );
    assert_eq!(
        numbered.lines().len(),
        4,
        "a header and the last three: {}",
        numbered.stdout
    );

    // CSV: a header and one row per entry, JSON columns as text.
    let csv = db.run(&[
        "query",
        "--format",
        "csv",
        "--resource",
        "projects.project",
        "--order",
        "oldest",
    ]);
    let lines = csv.ok().lines();
    assert!(lines[0].starts_with(
        "id,occurred_at,committed_at,kind,resource,record_id,action,actor_column,actor"
    ));
    assert_eq!(lines.len(), 4);
    assert!(
        lines[1].contains(",create,projects.project,")
            && lines[1].contains(r#""{""name"":""Analytical Engine"""#),
        "{}",
        lines[1]
    );

    // An export: every match, JSON lines, progress on stderr as plain lines.
    crate::support::seed(&db, 2_500).await;
    let export = db.run(&["query", "--all", "--format", "json", "--order", "oldest"]);
    let all = export.ok().json();
    assert_eq!(all.len(), 2_511);
    assert!(
        export.stderr.contains("export: 1,000/2,511 entries (39%)"),
        "{}",
        export.stderr
    );
    assert!(
        export.stderr.contains("export: 2,511/2,511 entries in"),
        "{}",
        export.stderr
    );
}

#[sqlx::test]
async fn history_shows_each_fields_old_and_new_value(pool: PgPool) {
    let db = Db::new(pool);
    let story = db.with_story().await;
    let grace = story.grace.to_string();
    let table = db.run(&["history", "User", &grace]);
    let lines = table.ok().lines();
    assert_eq!(lines.len(), 3, "{}", table.stdout);
    assert!(lines[0].contains("FIELD") && lines[0].contains("OLD") && lines[0].contains("NEW"));
    assert!(lines[1].contains("register") && lines[1].contains(r#""grace@example.com""#));
    assert!(
        lines[2].contains("change_email")
            && lines[2].contains(r#""grace@example.com"  "grace.hopper@example.com""#),
        "{}",
        table.stdout
    );
    let json = db
        .run(&["history", "User", &grace, "--format", "json"])
        .ok()
        .json();
    assert_eq!(json.len(), 2);
    assert_eq!(json[1]["changes"][0]["field"], "email");
    assert_eq!(json[1]["changes"][0]["from"], "grace@example.com");
    assert_eq!(json[1]["changes"][0]["to"], "grace.hopper@example.com");
    // A destroyed project: its rename's old and new name, its archive's input.
    let project = db.run(&[
        "history",
        "projects.project",
        &story.project.to_string(),
        "--format",
        "csv",
    ]);
    let csv = project.ok().lines();
    assert_eq!(csv[0], "id,occurred_at,kind,action,actor,field,old,new");
    assert!(
        csv.iter().any(|l| l.contains(r#",rename,"#)
            && l.ends_with(r#",name,"""Analytical Engine""","""Difference Engine""""#)),
        "{}",
        project.stdout
    );
    assert!(
        csv.iter()
            .any(|l| l.contains(",archive,") && l.contains(",(input),")),
        "{}",
        project.stdout
    );
    // No entries is an answer, not an error.
    let none = db.run(&["history", "User", "01900000-0000-7000-8000-000000000000"]);
    assert!(none.ok().stdout.is_empty());
    assert!(
        none.stderr
            .contains("no entries for User 01900000-0000-7000-8000-000000000000")
    );
}
