//! Running the binary on a test's database, and reading what it printed.

use std::process::{Child, Command, Stdio};

use events_examples::app::{self, EventLog};
use events_postgres::PgEventStore;
use sqlx::PgPool;

/// A test's database: its URL for the binary, a pool and a store for the test.
pub struct Db {
    pub url: String,
    pub pool: PgPool,
    pub store: PgEventStore<EventLog>,
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `DATABASE_URL` (or the default) pointing at database `name` instead.
fn url_of(name: &str) -> String {
    let base = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let (before_query, query) = match base.split_once('?') {
        Some((b, q)) => (b.to_owned(), format!("?{q}")),
        None => (base.clone(), String::new()),
    };
    let authority_end = before_query
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| before_query[start..].find('/').map(|j| start + j))
        .unwrap_or(before_query.len());
    format!("{}/{name}{query}", &before_query[..authority_end])
}

impl Db {
    /// The database of `#[sqlx::test]`'s pool.
    pub fn new(pool: PgPool) -> Db {
        let name = pool
            .connect_options()
            .get_database()
            .expect("sqlx::test names its database")
            .to_owned();
        Db {
            url: url_of(&name),
            store: PgEventStore::new(pool.clone()),
            pool,
        }
    }

    /// The binary with this database, stdin closed, no terminal.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_events"));
        cmd.args(args)
            .env("DATABASE_URL", &self.url)
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs the binary to its end.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = assert_cmd::Command::from_std(self.command(args))
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .expect("the binary runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts the binary with piped output.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts")
    }

    /// `events migrate`, checked.
    pub fn migrate(&self) {
        self.run(&["migrate"]).ok();
    }

    /// Migrated, with the quickstart's story written.
    pub async fn with_story(&self) -> app::Story {
        self.migrate();
        app::story(&self.store).await.expect("the story runs")
    }

    /// The application's state: users and projects.
    pub async fn state(&self) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT id::text, email FROM users UNION ALL SELECT id::text, name FROM projects ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await
        .expect("the state reads")
    }
}

impl Run {
    /// Asserts success; returns the run.
    #[track_caller]
    pub fn ok(&self) -> &Run {
        assert_eq!(self.code, 0, "expected success, got {self:#?}");
        self
    }

    /// Asserts a failure with `code` whose stderr is one line, `error: ..`,
    /// containing `needle`.
    #[track_caller]
    pub fn fails(&self, code: i32, needle: &str) -> &Run {
        assert_eq!(self.code, code, "expected exit {code}, got {self:#?}");
        assert_one_line_error(&self.stderr, needle);
        self
    }

    /// The stdout lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The stdout JSON lines.
    #[track_caller]
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("`{l}` is not JSON: {e}")))
            .collect()
    }
}

/// Stderr is exactly one line, `error: ...` containing `needle`, and no panic.
#[track_caller]
pub fn assert_one_line_error(stderr: &str, needle: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "`{needle}` not in: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

/// Sends SIGINT (Ctrl-C) to a child.
pub fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// `n` more users, registered in bulk.
pub async fn seed(db: &Db, n: u64) {
    app::seed_users(&db.store, 0, n).await.expect("seeded");
}
