//! `cargo events init` on a fresh `cargo new` crate: the crate builds, and its
//! `events migrate` then `events status` succeed on a fresh database; its
//! migration file is one sqlx's migrator runs; a second init changes nothing.
//!
//! The crate takes the framework from this checkout (`--path`) and this
//! workspace's `Cargo.lock`, and builds offline with this workspace's build
//! directory (`CARGO_BUILD_BUILD_DIR`), so it reuses the compiled
//! dependencies; its own binaries go to a target directory of its own, where
//! its `events` cannot replace the example's.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sqlx::PgPool;

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // What `cargo test` set for this crate must not leak into the new one's build.
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_MANIFEST_DIR",
        "CARGO_PKG_NAME",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[track_caller]
fn ok(out: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The build directory this test binary was built in (`<dir>/debug/deps/init-..`).
fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    exe.ancestors().nth(3).expect("<dir>/debug/deps").to_owned()
}

/// `DATABASE_URL` (or the default) pointing at database `name`.
fn url_of(name: &str) -> String {
    let base = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let start = base.find("://").map_or(0, |i| i + 3);
    let end = base[start..].find('/').map_or(base.len(), |j| start + j);
    let query = base
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{}/{name}{query}", &base[..end])
}

fn snapshot(root: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("a dir") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).expect("a file");
                files.push((path, text));
            }
        }
    }
    files.sort();
    files
}

#[sqlx::test]
async fn init_on_a_fresh_crate_builds_and_its_events_migrate_then_status_succeed(pool: PgPool) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace");
    let tmp = tempfile::tempdir().expect("a temp dir");
    ok(
        cargo()
            .args(["new", "--quiet", "--vcs", "none", "--bin", "shop"])
            .current_dir(tmp.path())
            .output()
            .expect("cargo new"),
        "cargo new",
    );
    let shop = tmp.path().join("shop");
    let init = || {
        Command::new(env!("CARGO_BIN_EXE_cargo-events"))
            .args(["events", "init", "--path"])
            .arg(workspace)
            .current_dir(&shop)
            .output()
            .expect("cargo events init")
    };
    let first = ok(init(), "init");
    for line in [
        "added to Cargo.toml: events-core, events-postgres, events-cli",
        "wrote src/event_log.rs",
        "wrote src/lib.rs declaring the module",
        "wrote migrations/",
        "wrote src/bin/events.rs",
    ] {
        assert!(first.contains(line), "`{line}` in:\n{first}");
    }
    let files = snapshot(&shop);
    let second = ok(init(), "init again");
    assert!(
        second.contains("Cargo.toml has every dependency already"),
        "{second}"
    );
    assert_eq!(snapshot(&shop), files, "a second init changes nothing");

    // Build it offline, on this workspace's lockfile and build directory.
    std::fs::copy(workspace.join("Cargo.lock"), shop.join("Cargo.lock")).expect("the lockfile");
    let target = tmp.path().join("target");
    ok(
        cargo()
            .args(["build", "--offline", "--quiet", "--bin", "events"])
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_BUILD_BUILD_DIR", build_dir())
            .current_dir(&shop)
            .output()
            .expect("cargo build"),
        "building the new crate",
    );

    let name = pool
        .connect_options()
        .get_database()
        .expect("sqlx::test names its database")
        .to_owned();
    let events = |args: &[&str]| {
        Command::new(target.join("debug/events"))
            .args(args)
            .env("DATABASE_URL", url_of(&name))
            .output()
            .expect("events runs")
    };
    let migrated = ok(events(&["migrate"]), "events migrate");
    assert!(migrated.contains("event log `events` in "), "{migrated}");
    assert!(migrated.trim_end().ends_with(": created"), "{migrated}");
    let status = ok(events(&["status"]), "events status");
    assert!(
        status.contains("entries:        0 (create 0, update 0, destroy 0, manual 0)"),
        "{status}"
    );
    assert!(status.contains("retention:      365 days"), "{status}");
    ok(events(&["verify"]), "events verify");

    // The migration file is one sqlx runs (re-runnable over the same schema).
    let migrator = sqlx::migrate::Migrator::new(shop.join("migrations"))
        .await
        .expect("sqlx reads the migrations folder");
    assert_eq!(migrator.iter().count(), 1);
    migrator.run(&pool).await.expect("sqlx runs the migration");
    // And the file is what the crate's own `migrate --print` says.
    let printed = ok(events(&["migrate", "--print"]), "events migrate --print");
    let file = files
        .iter()
        .find(|(p, _)| p.extension().is_some_and(|e| e == "sql"))
        .map(|(_, t)| t.clone())
        .expect("a migration");
    assert!(
        file.ends_with(&printed),
        "the file holds the log's migration as declared"
    );
}
