//! `cargo events init`: sets up the events framework in a crate.
//!
//! Installed with `cargo install --path events-init` from a checkout of the
//! framework, it is a cargo subcommand (`cargo-events`, run as `cargo events
//! init`), because what it sets up is a cargo package: it edits `Cargo.toml`.
//! The application's own command line is then `events` (`cargo run --bin
//! events`), a binary of the application, not of the installer: replay needs
//! the application's compiled actions (see the `events-cli` crate). Naming
//! the installer `cargo-events` keeps the two apart on a `PATH`.
//!
//! In the crate (the current directory, or `--dir`) it:
//!
//! 1. adds the dependencies to `Cargo.toml` (the framework's crates from the
//!    registry, or from a checkout with `--path`; sqlx, tokio, serde,
//!    serde_json, uuid, chrono), keeping any already there and the file's
//!    formatting;
//! 2. writes `src/event_log.rs`, the event log with every option documented
//!    where it is set, and declares it in `src/lib.rs` (created when the crate
//!    has none);
//! 3. writes the event log's migration as a `.sql` file in `migrations/`,
//!    sqlx's layout (`<timestamp>_events.sql`, or `.up.sql` and `.down.sql`
//!    when the folder holds reversible migrations);
//! 4. writes `src/bin/events.rs`, the application's `events` command line.
//!
//! It never overwrites a file: one that exists is left as it is and reported.
//! Running it again changes nothing.

mod manifest;
mod templates;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use manifest::Source;

/// Set up the events framework in a crate.
#[derive(Debug, Parser)]
#[command(name = "cargo events", bin_name = "cargo events", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add the dependencies, the event log module, its migration and the `events` binary to a crate; never overwrites a file.
    Init(InitArgs),
}

#[derive(Debug, clap::Args)]
struct InitArgs {
    /// The crate to set up (the directory of its Cargo.toml).
    #[arg(long, default_value = ".", value_name = "DIR")]
    dir: PathBuf,
    /// Take the framework's crates from this checkout of its workspace instead of the registry.
    #[arg(long, value_name = "WORKSPACE")]
    path: Option<PathBuf>,
    /// Where migrations go.
    #[arg(long, default_value = "migrations", value_name = "DIR")]
    migrations: PathBuf,
}

/// Why init stopped.
#[derive(Debug, thiserror::Error)]
enum InitError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `Cargo.toml` is not a package's manifest.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No crate where init was pointed.
    #[error("no Cargo.toml in {}: run `cargo new` first, or pass --dir", dir.display())]
    NoCrate {
        /// The directory.
        dir: PathBuf,
    },
    /// `--path` is not a checkout of the framework.
    #[error("{} is not a checkout of the events workspace (no events-cli/Cargo.toml there)", path.display())]
    NotAWorkspace {
        /// The path given.
        path: PathBuf,
    },
}

/// A message on one line.
pub(crate) fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn main() -> ExitCode {
    // As a cargo subcommand, cargo passes the subcommand's name first.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "events") {
        args.remove(1);
    }
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let Command::Init(init) = args.command;
    match run(&init) {
        Ok(report) => {
            for line in report {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            ExitCode::from(1)
        }
    }
}

/// What happened to one file.
enum Outcome {
    Written,
    Unchanged,
    Kept,
}

/// Writes `text` to `path` unless a file is there.
fn write_new(path: &Path, text: &str) -> Result<Outcome, InitError> {
    let io = |source| InitError::Io {
        path: path.to_owned(),
        source,
    };
    if path.exists() {
        let existing = std::fs::read_to_string(path).map_err(io)?;
        return Ok(if existing == text {
            Outcome::Unchanged
        } else {
            Outcome::Kept
        });
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)?;
    Ok(Outcome::Written)
}

fn describe(outcome: Outcome, path: &str) -> String {
    match outcome {
        Outcome::Written => format!("wrote {path}"),
        Outcome::Unchanged => format!("{path} is there already"),
        Outcome::Kept => format!("{path} exists and differs: left as it is"),
    }
}

/// Sets the crate up; returns what it did, a line each.
fn run(args: &InitArgs) -> Result<Vec<String>, InitError> {
    let dir = &args.dir;
    let manifest_path = dir.join("Cargo.toml");
    if !manifest_path.is_file() {
        return Err(InitError::NoCrate { dir: dir.clone() });
    }
    let source = match &args.path {
        Some(path) => {
            let root = std::path::absolute(path).map_err(|source| InitError::Io {
                path: path.clone(),
                source,
            })?;
            if !root.join("events-cli/Cargo.toml").is_file() {
                return Err(InitError::NotAWorkspace { path: path.clone() });
            }
            Source::Path(root)
        }
        None => Source::Registry(env!("CARGO_PKG_VERSION").to_owned()),
    };
    let mut report = Vec::new();

    let mut manifest = manifest::read(&manifest_path)?;
    let added = manifest::add_dependencies(&mut manifest.doc, &source);
    if added.is_empty() {
        report.push("Cargo.toml has every dependency already".to_owned());
    } else {
        std::fs::write(&manifest_path, manifest.doc.to_string()).map_err(|source| {
            InitError::Io {
                path: manifest_path.clone(),
                source,
            }
        })?;
        report.push(format!("added to Cargo.toml: {}", added.join(", ")));
    }

    let outcome = write_new(&dir.join("src/event_log.rs"), templates::EVENT_LOG)?;
    report.push(describe(outcome, "src/event_log.rs"));
    report.push(declare_module(dir)?);
    report.push(write_migration(dir, &args.migrations)?);
    let bin = templates::events_bin(&manifest.lib_name);
    let outcome = write_new(&dir.join("src/bin/events.rs"), &bin)?;
    report.push(describe(outcome, "src/bin/events.rs"));
    report.push(
        "next: DATABASE_URL=postgres://user@host/db cargo run --bin events -- migrate, then -- status"
            .to_owned(),
    );
    Ok(report)
}

/// `pub mod event_log;` in `src/lib.rs`, creating the file when missing.
fn declare_module(dir: &Path) -> Result<String, InitError> {
    let lib = dir.join("src/lib.rs");
    if !lib.exists() {
        write_new(&lib, templates::LIB)?;
        return Ok("wrote src/lib.rs declaring the module".to_owned());
    }
    let io = |source| InitError::Io {
        path: lib.clone(),
        source,
    };
    let text = std::fs::read_to_string(&lib).map_err(io)?;
    let declared = text.lines().any(|l| {
        let l = l.trim();
        l.starts_with("mod event_log")
            || l.starts_with("pub mod event_log")
            || l.starts_with("pub(crate) mod event_log")
    });
    if declared {
        return Ok("src/lib.rs declares the module already".to_owned());
    }
    let mut text = text;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push('\n');
    text.push_str(templates::MOD_LINE);
    std::fs::write(&lib, text).map_err(io)?;
    Ok("added `pub mod event_log;` to src/lib.rs".to_owned())
}

/// The migration, in sqlx's layout, unless one of ours is there already.
fn write_migration(dir: &Path, migrations: &Path) -> Result<String, InitError> {
    let folder = dir.join(migrations);
    let io = |source| InitError::Io {
        path: folder.clone(),
        source,
    };
    let mut reversible = false;
    if folder.is_dir() {
        for entry in std::fs::read_dir(&folder).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.ends_with(".up.sql") {
                reversible = true;
            }
            if name.ends_with(".sql")
                && std::fs::read_to_string(&path)
                    .is_ok_and(|t| t.starts_with(templates::MIGRATION_MARK))
            {
                return Ok(format!(
                    "{} holds the event log's migration already ({name})",
                    migrations.display()
                ));
            }
        }
    }
    let version = chrono::Utc::now().format("%Y%m%d%H%M%S");
    let shown = |file: &str| format!("{}/{file}", migrations.display());
    if reversible {
        let up = format!("{version}_events.up.sql");
        let down = format!("{version}_events.down.sql");
        write_new(&folder.join(&up), &templates::migration())?;
        write_new(
            &folder.join(&down),
            "-- The event log is append-only: this down migration keeps it.\n",
        )?;
        Ok(format!("wrote {} and {}", shown(&up), shown(&down)))
    } else {
        let file = format!("{version}_events.sql");
        write_new(&folder.join(&file), &templates::migration())?;
        Ok(format!("wrote {}", shown(&file)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_everything_once_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).expect("src");
        std::fs::write(
            root.join("Cargo.toml"),
            "[package]\nname = \"shop\"\nedition = \"2024\"\n",
        )
        .expect("manifest");
        std::fs::write(root.join("src/lib.rs"), "//! Shop.\npub fn hello() {}").expect("lib");
        std::fs::create_dir_all(root.join("src/bin")).expect("bin dir");
        std::fs::write(root.join("src/bin/events.rs"), "fn main() {}\n")
            .expect("a bin of the user's");
        let args = InitArgs {
            dir: root.to_owned(),
            path: None,
            migrations: PathBuf::from("migrations"),
        };
        let report = run(&args).expect("init runs").join("\n");
        assert!(
            report.contains("added to Cargo.toml: events-core, events-postgres, events-cli"),
            "{report}"
        );
        assert!(report.contains("wrote src/event_log.rs"), "{report}");
        assert!(
            report.contains("added `pub mod event_log;` to src/lib.rs"),
            "{report}"
        );
        assert!(
            report.contains("src/bin/events.rs exists and differs: left as it is"),
            "{report}"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("src/lib.rs")).expect("lib"),
            "//! Shop.\npub fn hello() {}\n\npub mod event_log;\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("src/bin/events.rs")).expect("bin"),
            "fn main() {}\n"
        );
        let migrations: Vec<_> = std::fs::read_dir(root.join("migrations"))
            .expect("a folder")
            .collect();
        assert_eq!(migrations.len(), 1);

        let snapshot = |root: &Path| -> Vec<(String, String)> {
            let mut files = Vec::new();
            for sub in [
                "Cargo.toml",
                "src/lib.rs",
                "src/event_log.rs",
                "src/bin/events.rs",
            ] {
                files.push((
                    sub.to_owned(),
                    std::fs::read_to_string(root.join(sub)).expect("a file"),
                ));
            }
            files
        };
        let before = snapshot(root);
        let again = run(&args).expect("init runs again").join("\n");
        assert!(
            again.contains("Cargo.toml has every dependency already"),
            "{again}"
        );
        assert!(
            again.contains("src/event_log.rs is there already"),
            "{again}"
        );
        assert!(
            again.contains("holds the event log's migration already"),
            "{again}"
        );
        assert_eq!(snapshot(root), before, "a second run changes nothing");
        assert_eq!(
            std::fs::read_dir(root.join("migrations"))
                .expect("a folder")
                .count(),
            1
        );
    }

    #[test]
    fn the_migration_is_the_templates_log() {
        let sql = templates::migration();
        assert!(sql.starts_with(templates::MIGRATION_MARK));
        assert!(sql.contains(r#"CREATE TABLE IF NOT EXISTS "events""#));
        assert!(templates::EVENT_LOG.contains("clear_records_for_replay = ClearState,"));
    }

    #[test]
    fn a_missing_crate_says_what_to_do() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let err = run(&InitArgs {
            dir: dir.path().to_owned(),
            path: None,
            migrations: PathBuf::from("migrations"),
        })
        .expect_err("no crate");
        assert!(err.to_string().contains("run `cargo new` first"), "{err}");
    }
}
