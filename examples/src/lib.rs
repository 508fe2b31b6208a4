//! Support code for the runnable examples: finding a PostgreSQL to run against,
//! and printing events as a table.
//!
//! [`connect`] tries, in order: `DATABASE_URL` (unless it is the workspace's
//! default, `postgres://postgres@127.0.0.1:5432/postgres`, which cargo sets for the
//! tests); a server at `127.0.0.1:5432`
//! (user `postgres`, trust auth); a throwaway cluster started from the PostgreSQL
//! binaries installed on the machine (removed when the [`Database`] drops). If
//! none works, the error says what to install or set.
//!
//! [`app`] is the quickstart's application as a library, which the example
//! `events` command line (`src/bin/events.rs`) operates.

pub mod app;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use events_core::Event;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

/// Why no database could be had.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `DATABASE_URL` is set but unusable.
    #[error(
        "DATABASE_URL `{url}` is not usable: {source}; fix it or unset it to use 127.0.0.1:5432"
    )]
    BadUrl {
        /// The URL as set.
        url: String,
        /// Why it failed.
        #[source]
        source: sqlx::Error,
    },
    /// No server was reachable and none could be started.
    #[error(
        "no PostgreSQL to run against: DATABASE_URL is unset, nothing answers at 127.0.0.1:5432, \
         and {reason}. Set DATABASE_URL, start PostgreSQL, or install it (Debian/Ubuntu: \
         `apt-get install postgresql`)"
    )]
    NoServer {
        /// Why a throwaway cluster could not be started.
        reason: String,
    },
    /// A database operation failed after connecting.
    #[error("database error while {context}: {source}")]
    Database {
        /// What was being done.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
}

/// A connection pool to a fresh database, and the throwaway cluster behind it, if any.
pub struct Database {
    /// Pool on the example's own, freshly created database.
    pub pool: PgPool,
    /// Where the server came from, for the example to print.
    pub source: String,
    _cluster: Option<TempCluster>,
}

/// The URL `.cargo/config.toml` gives the tests when `DATABASE_URL` is unset.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Connects to PostgreSQL (see the crate docs for the order tried) and returns a
/// pool on a freshly created database called `name`.
pub async fn connect(name: &str) -> Result<Database, SetupError> {
    let explicit = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| url != DEFAULT_URL);
    let (admin, source, cluster) = match explicit {
        Some(url) => {
            let opts = PgConnectOptions::from_str(&url).map_err(|source| SetupError::BadUrl {
                url: url.clone(),
                source,
            })?;
            (opts, format!("DATABASE_URL ({url})"), None)
        }
        None => {
            let local = PgConnectOptions::new()
                .host("127.0.0.1")
                .port(5432)
                .username("postgres")
                .database("postgres");
            if try_connect(&local).await {
                (local, "PostgreSQL at 127.0.0.1:5432".to_owned(), None)
            } else {
                let cluster =
                    TempCluster::start().map_err(|reason| SetupError::NoServer { reason })?;
                let opts = PgConnectOptions::new()
                    .host("127.0.0.1")
                    .port(cluster.port)
                    .username("postgres")
                    .database("postgres");
                let source = format!(
                    "a throwaway cluster on port {} (removed on exit)",
                    cluster.port
                );
                (opts, source, Some(cluster))
            }
        }
    };
    let mut conn = admin
        .connect()
        .await
        .map_err(|source| SetupError::Database {
            context: "connecting as administrator",
            source,
        })?;
    // The name is the example's own constant; quote it anyway.
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .map_err(|source| SetupError::Database {
        context: "dropping the previous run's database",
        source,
    })?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
        .execute(&mut conn)
        .await
        .map_err(|source| SetupError::Database {
            context: "creating the example's database",
            source,
        })?;
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(admin.database(name))
        .await
        .map_err(|source| SetupError::Database {
            context: "connecting to the example's database",
            source,
        })?;
    Ok(Database {
        pool,
        source,
        _cluster: cluster,
    })
}

async fn try_connect(opts: &PgConnectOptions) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(3), opts.connect()).await,
        Ok(Ok(_))
    )
}

/// A PostgreSQL cluster in a temporary directory, stopped and removed on drop.
struct TempCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl TempCluster {
    fn start() -> Result<TempCluster, String> {
        let bin = find_bindir().ok_or("no PostgreSQL binaries (initdb, pg_ctl) were found")?;
        let dir = tempfile::Builder::new()
            .prefix("events-pg-")
            .tempdir()
            .map_err(|e| format!("no temporary directory: {e}"))?;
        // PostgreSQL refuses to run as root: run it as the `postgres` user then.
        let as_postgres = is_root();
        if as_postgres {
            let uid = user_id("postgres")
                .ok_or("running as root and there is no `postgres` user to run the server as")?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(uid))
                .map_err(|e| format!("cannot hand the cluster directory to postgres: {e}"))?;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("no free port: {e}"))?;
        let cluster = TempCluster {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = cluster.dir.path().join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                &path_str(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
        )?;
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            path_str(cluster.dir.path())
        );
        let log = cluster.dir.path().join("server.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                &path_str(&data),
                "-l",
                &path_str(&log),
                "-o",
                &opts,
                "-w",
                "start",
            ],
        )?;
        Ok(cluster)
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .output()
            .map_err(|e| format!("{tool} could not start: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let data = path_str(&self.dir.path().join("data"));
        if let Err(e) = self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]) {
            tracing::warn!(error = %e, "stopping the throwaway cluster failed");
        }
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `pg_config --bindir`, else the newest `/usr/lib/postgresql/<version>/bin`, else `initdb` on PATH.
fn find_bindir() -> Option<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_tools(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, d)| has_tools(d))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).find(|d| has_tools(d)))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn user_id(name: &str) -> Option<u32> {
    let out = Command::new("id").args(["-u", name]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The tail of a long id (UUIDv7s share their time prefix, so the tail tells them apart).
fn short(id: &str) -> String {
    match id.char_indices().rev().nth(7) {
        Some((i, _)) if id.len() > 12 => format!("…{}", &id[i..]),
        _ => id.to_owned(),
    }
}

/// Renders events as a table: id, resource, record, action, type, version, actor,
/// data and metadata.
pub fn events_table(events: &[Event]) -> Table {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(160)
        .set_header([
            "id", "resource", "record", "action", "type", "v", "actor", "data", "metadata",
        ]);
    for e in events {
        let record = e.record_id.to_string();
        let actor = e.actor.as_ref().map_or_else(
            || "-".to_owned(),
            |(col, key)| format!("{col}={}", short(&key.to_string())),
        );
        let meta = if e.metadata.as_object().is_some_and(|m| m.is_empty()) {
            String::new()
        } else {
            e.metadata.to_string()
        };
        table.add_row([
            e.id.to_string(),
            e.resource.clone(),
            short(&record),
            e.action.clone(),
            e.action_type.to_string(),
            e.version.to_string(),
            actor,
            e.data.to_string(),
            meta,
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keeps_the_tail_of_long_ids() {
        assert_eq!(short("01a20937-4254-725e-9727-54d4a7c004eb"), "…a7c004eb");
        assert_eq!(short("csv-importer"), "csv-importer");
    }

    /// The last fallback of `connect`: a cluster from the installed binaries.
    #[tokio::test]
    async fn a_throwaway_cluster_starts_accepts_connections_and_stops() {
        let Some(_) = find_bindir() else {
            eprintln!("no PostgreSQL binaries here; nothing to test");
            return;
        };
        let cluster = TempCluster::start().expect("the cluster starts");
        let port = cluster.port;
        let opts = PgConnectOptions::new()
            .host("127.0.0.1")
            .port(port)
            .username("postgres")
            .database("postgres");
        let mut conn = opts.connect().await.expect("it accepts connections");
        let (one,): (i32,) = sqlx::query_as("SELECT 1")
            .fetch_one(&mut conn)
            .await
            .expect("it answers");
        assert_eq!(one, 1);
        drop(conn);
        let dir = cluster.dir.path().to_owned();
        drop(cluster);
        assert!(!dir.exists(), "the directory is removed");
        assert!(!try_connect(&opts).await, "the server is stopped");
    }
}
