//! `migrate`, `status`, `grants`, and bad input of every kind.

use events_core::{BoxError, BoxFuture};
use events_postgres::consume::Consumer;
use events_postgres::subscribe::Delivery;
use sqlx::{PgConnection, PgPool};

use crate::support::{Db, assert_one_line_error};

/// A consumer that handles events by doing nothing: its position is what
/// `status` shows.
struct Mailer;

impl Consumer for Mailer {
    fn name(&self) -> &str {
        "mailer"
    }

    fn handle<'a>(
        &'a self,
        _tx: &'a mut PgConnection,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async { Ok(()) })
    }
}

#[sqlx::test]
async fn migrate_creates_the_log_and_the_app_tables_and_status_reports_them(pool: PgPool) {
    let db = Db::new(pool);
    db.run(&["status"])
        .fails(1, "the event log is not set up")
        .fails(1, "run `events migrate` first");
    let printed = db.run(&["migrate", "--print"]);
    printed.ok();
    assert!(
        printed
            .stdout
            .contains(r#"CREATE TABLE IF NOT EXISTS "events""#)
    );
    assert!(printed.stdout.contains("CREATE TABLE IF NOT EXISTS users"));
    let first = db.run(&["migrate"]);
    assert!(
        first
            .ok()
            .stdout
            .contains(": created, with the application's tables"),
        "{first:?}"
    );
    let again = db.run(&["migrate"]);
    assert!(
        again.ok().stdout.contains("was set up already"),
        "{again:?}"
    );
    let status = db.run(&["status"]);
    for needle in [
        "entries:        0 (create 0, update 0, destroy 0, manual 0)",
        "retention:      365 days",
        "notifications:  off",
        "replay:         ready",
        "consumers: none",
    ] {
        assert!(
            status.ok().stdout.contains(needle),
            "`{needle}` in {}",
            status.stdout
        );
    }

    db.with_story().await;
    let json = db.run(&["status", "--format", "json"]).ok().json();
    assert_eq!(json.len(), 1);
    let s = &json[0];
    assert_eq!(s["entries"], 11);
    assert_eq!(s["kinds"]["create"], 6);
    assert_eq!(s["kinds"]["manual"], 1);
    assert_eq!(s["retention_seconds"], 365 * 86_400);
    assert!(s["oldest"].is_string() && s["newest"].is_string());
    let tables = s["tables"].as_array().expect("tables");
    assert_eq!(tables[0]["name"], "events");
    assert_eq!(tables[0]["rows"], 11);
    assert!(tables[0]["bytes"].as_u64().is_some_and(|b| b > 0));
    assert_eq!(s["consumers"].as_array().map(Vec::len), Some(0));

    // Once a consumer runs, status shows its position and lag.
    db.store
        .consume(Mailer)
        .run_until(|handled| handled >= 3)
        .await
        .expect("the consumer runs");
    let status = db.run(&["status"]);
    let consumers = status
        .ok()
        .stdout
        .lines()
        .skip_while(|l| !l.contains("CONSUMER"))
        .collect::<Vec<_>>();
    assert_eq!(consumers.len(), 2, "{}", status.stdout);
    assert!(
        consumers[0].contains("POSITION") && consumers[0].contains("LAG"),
        "{}",
        status.stdout
    );
    assert!(
        consumers[1].trim_start().starts_with("mailer") && consumers[1].contains("event 3 (txid "),
        "{}",
        status.stdout
    );
    let json = db.run(&["status", "--format", "json"]).ok().json();
    let mailer = &json[0]["consumers"][0];
    assert_eq!(mailer["name"], "mailer");
    assert_eq!(mailer["handled"], 3);
    assert_eq!(mailer["lag_events"], 7, "ten events, three handled");

    let csv = db.run(&["status", "--format", "csv"]);
    assert!(csv.ok().stdout.starts_with("key,value\n"), "{csv:?}");
    assert!(csv.stdout.contains("kinds.update,2\n"), "{csv:?}");
}

#[sqlx::test]
async fn grants_print_the_roles_sql_and_apply_needs_the_roles(pool: PgPool) {
    let db = Db::new(pool);
    // Printing needs no database at all.
    let printed = db.run(&[
        "grants",
        "--app",
        "shop",
        "--retention",
        "janitor",
        "--database-url",
        "",
    ]);
    assert!(
        printed
            .ok()
            .stdout
            .contains(r#"GRANT SELECT, INSERT ON "events", "events_changes" TO "shop";"#)
    );
    assert!(printed.stdout.contains(r#"TO "janitor";"#));
    db.migrate();
    db.run(&[
        "grants",
        "--apply",
        "--app",
        "no_such_role_x1",
        "--retention",
        "no_such_role_x2",
    ])
    .fails(1, "role \"no_such_role_x1\" does not exist");
}

#[sqlx::test]
async fn bad_input_is_one_line_with_the_usage_or_failure_code(pool: PgPool) {
    let db = Db::new(pool);
    db.migrate();
    db.run(&["history", "Invoice", "01900000-0000-7000-8000-000000000000"])
        .fails(
            2,
            "unknown resource `Invoice`; resources of this log: User, projects.project",
        );
    db.run(&["history", "User", "not-a-uuid"]).fails(
        2,
        "`not-a-uuid` is not a record id: this log's record ids are UUIDs",
    );
    db.run(&["query", "--resource", "Nope"])
        .fails(2, "unknown resource `Nope`");
    db.run(&["query", "--since", "last tuesday"])
        .fails(2, "`last tuesday` is not a time");
    db.run(&["tail", "--until", "2024-13-45"])
        .fails(2, "is not a time");
    db.run(&["replay", "--up-to-event", "x1", "--yes"])
        .fails(2, "`x1` is not an event id");
    db.run(&["query", "--after", "garbage"])
        .fails(2, "is not a cursor of this log");
    db.run(&["query", "--limit", "0"])
        .fails(2, "--limit 0 is outside 1..=1000");
    db.run(&["prune", "--older-than", "soon", "--dry-run"])
        .fails(2, "`soon` is not a period");
    db.run(&["frobnicate"])
        .fails(2, "unrecognized subcommand 'frobnicate'");
    db.run(&["status", "--verbose"])
        .fails(2, "unexpected argument '--verbose'");
    db.run(&["query", "--kind", "created"])
        .fails(2, "invalid value 'created'");
    db.run(&["status", "--database-url", "mysql://localhost/x"])
        .fails(2, "not a PostgreSQL URL");
    let no_url = db
        .command(&["status"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("runs");
    assert_eq!(no_url.status.code(), Some(2));
    assert_one_line_error(
        &String::from_utf8_lossy(&no_url.stderr),
        "set DATABASE_URL or pass --database-url",
    );
    // A port nothing listens on, on this machine.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let url = format!("postgres://postgres:secret@127.0.0.1:{port}/app");
    let down = db.run(&["status", "--database-url", &url]);
    down.fails(
        1,
        &format!("cannot connect to PostgreSQL at 127.0.0.1:{port}/app"),
    );
    assert!(
        !down.stderr.contains("secret"),
        "the password is never printed"
    );
    let missing_db = db
        .url
        .rsplit_once('/')
        .map(|(base, _)| format!("{base}/no_such_db_here"))
        .expect("a url");
    db.run(&["status", "--database-url", &missing_db])
        .fails(1, "database `no_such_db_here` does not exist");
    // Help and version are not errors.
    let help = db.run(&["replay", "--help"]);
    assert!(help.ok().stdout.contains("--up-to-event <ID>"), "{help:?}");
    assert!(help.stdout.contains("--chunks <N>"));
    db.run(&["--version"]).ok();
    assert_eq!(
        db.run(&[]).code,
        2,
        "no subcommand: help, and the usage code"
    );
}
