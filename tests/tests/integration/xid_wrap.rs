//! Transaction ids crossing a power of ten on a real cluster: a throwaway
//! PostgreSQL started from the installed binaries, its next transaction id set
//! just below 1,000,000 with `pg_resetwal -x`, written across the boundary. Text
//! order puts `'1000000'` before `'999999'`; replay and followers must not.
//!
//! The cluster runs on its own port and socket directory and is stopped at the
//! end; the shared server is not touched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use events_core::replay::{Replay, Selection};
use events_postgres::PgEventStore;
use events_tests::app::{self, EventLog, UpdateUser, User};
use events_tests::snapshot;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The directory of the newest installed PostgreSQL's binaries.
fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists() && p.join("pg_resetwal").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// Runs a PostgreSQL binary as the `postgres` user when we are root (the server
/// refuses to run as root), as ourselves otherwise.
fn run(bin: &Path, tool: &str, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let program = bin.join(tool);
    let output = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&program)
            .args(args)
            .output()?
    } else {
        Command::new(&program).args(args).output()?
    };
    if !output.status.success() {
        return Err(format!(
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A throwaway cluster, stopped (immediately) when dropped.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    fn start(next_xid: u64) -> Result<Cluster, Box<dyn std::error::Error>> {
        let bin = pg_bin().ok_or("no PostgreSQL binaries under /usr/lib/postgresql")?;
        let dir = tempfile::Builder::new().prefix("events-xid-").tempdir()?;
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()?;
            if !status.success() {
                return Err("chown of the cluster directory failed".into());
            }
        }
        let data = dir.path().join("data");
        let data_str = data.to_str().ok_or("non-UTF-8 temp path")?;
        let socket = dir.path().to_str().ok_or("non-UTF-8 temp path")?;
        run(
            &bin,
            "initdb",
            &["-D", data_str, "-U", "postgres", "--auth=trust", "-N"],
        )?;
        run(
            &bin,
            "pg_resetwal",
            &["-x", &next_xid.to_string(), "-D", data_str],
        )?;
        // The commit log must have the page of the new next id: initdb writes only
        // the pages it used. Zeroes read as "in progress" for ids never used. One
        // segment (32 pages of 8 KiB, 4 ids a byte) covers ids up to 1,048,575.
        if next_xid >= 1_048_576 - 1_000 {
            return Err("the padded commit-log segment covers ids below 1,047,576".into());
        }
        std::fs::OpenOptions::new()
            .write(true)
            .open(data.join("pg_xact").join("0000"))?
            .set_len(32 * 8192)?;
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            listener.local_addr()?.port()
        };
        let options = format!(
            "-p {port} -k {socket} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=20"
        );
        let log = dir.path().join("log");
        run(
            &bin,
            "pg_ctl",
            &[
                "-D",
                data_str,
                "-o",
                &options,
                "-l",
                log.to_str().ok_or("non-UTF-8 temp path")?,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        Ok(Cluster { bin, dir, port })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(data) = self.dir.path().join("data").to_str() {
            let _ = run(
                &self.bin,
                "pg_ctl",
                &["-D", data, "-m", "immediate", "stop"],
            );
        }
    }
}

#[tokio::test]
async fn replay_and_followers_cross_a_power_of_ten_transaction_id() -> TestResult {
    let cluster = Cluster::start(999_990)?;
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(cluster.port)
        .username("postgres")
        .database("postgres");
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await?;
    let store: PgEventStore<EventLog> = app::store(&pool).await?;

    // One transaction per action: a create and an update each, until the
    // transaction ids have crossed 1,000,000 by a few.
    let mut users = Vec::new();
    loop {
        let user = User::create(app::create_input("Ada")).run(&store).await?;
        User::update(
            user.id,
            UpdateUser {
                name: format!("Ada {}", users.len()),
            },
        )
        .run(&store)
        .await?;
        users.push(user.id);
        let last: String = sqlx::query_scalar("SELECT max(txid)::text FROM events")
            .fetch_one(&pool)
            .await?;
        if last.parse::<u64>()? > 1_000_004 {
            break;
        }
        if users.len() > 100 {
            return Err(format!("transaction ids did not reach 1,000,005: {last}").into());
        }
    }
    let below: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE txid < '1000000'::xid8")
        .fetch_one(&pool)
        .await?;
    assert!(below > 0, "events on both sides of the boundary");
    let events = 2 * users.len() as u64;
    let live = snapshot(&pool).await?;
    let ids: Vec<_> = store
        .list_events(None, 1000)
        .await?
        .iter()
        .map(|e| e.id)
        .collect();

    assert_eq!(
        store.verify_replayable(&Selection::All).await?.events,
        events
    );
    for replay in [
        Replay::all(),
        Replay::all().batch_size(1),
        Replay::up_to_event(*ids.last().ok_or("events")?).batch_size(3),
        Replay::up_to_time(chrono::Utc::now()),
        Replay::all().in_chunks(3),
    ] {
        let report = store.replay(replay).await?;
        assert_eq!(report.applied, events);
        assert_eq!(snapshot(&pool).await?, live);
    }

    let mut cursor = None;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < ids.len() && tokio::time::Instant::now() < deadline {
        let page = store.read_committed(cursor, 3).await?;
        seen.extend(page.events.iter().map(|e| e.id));
        cursor = page.cursor;
    }
    assert_eq!(seen, ids, "every event once, in order");
    pool.close().await;
    drop(cluster);
    Ok(())
}
