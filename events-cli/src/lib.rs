//! The `events` command line: operate an event log from a terminal.
//!
//! Replay and its preflight need the application's compiled actions (the
//! bodies that rebuild state, registered by `#[events]`), so the command line
//! is not a prebuilt tool but a library entry point generic over the event log:
//! an application makes it its own `events` binary with one file,
//! `src/bin/events.rs`:
//!
//! ```no_run
//! // src/bin/events.rs of the application `shop`
//! # mod shop { pub mod event_log { #[events_core::event_log] pub struct EventLog; } }
//! fn main() -> std::process::ExitCode {
//!     events_cli::Cli::<shop::event_log::EventLog>::new()
//!         .retention(chrono::Duration::days(365)) // what `prune` applies by default
//!         .run()
//! }
//! ```
//!
//! `cargo run --bin events -- status`, or `cargo install --path .` and `events
//! status`. `cargo events init` (the `events-init` crate) writes that file, the
//! event log module and its migration into a crate; `examples/src/bin/events.rs`
//! is the one of the workspace's example application.
//!
//! # Commands
//!
//! | command | what it does |
//! | --- | --- |
//! | `migrate [--print]` | creates the event table and its side tables (and the application's tables given to [`Cli::app_schema`]), or prints the SQL |
//! | `status` | entries by kind, table sizes, oldest and newest entry, retention, notifications, replay state, each consumer's position and lag |
//! | `tail [-n N] [-f]` | the latest entries, then (`-f`) each new one as its transaction commits, in commit-safe order |
//! | `query` | entries matching filters: a page (`--limit`, `--page`, `--after CURSOR`), every one (`--all`, an export) or their count (`--count`) |
//! | `history <resource> <id>` | one record's trail, with the old and new value of each changed field |
//! | `verify` | the replay preflight: lists every stored (resource, action, version) without a route |
//! | `replay [--up-to-event ID \| --up-to-time T] [--chunks N]` | rebuilds the state, atomically or in committed chunks |
//! | `resume` | continues an interrupted chunked replay from its checkpoint |
//! | `prune [--older-than D] [--dry-run] [--batch-size N]` | retention: deletes old entries (manual ones only on a log that replays), oldest first, in committed batches |
//! | `grants [--app ROLE] [--retention ROLE]` | the least-privilege `GRANT`s for the application and retention roles |
//!
//! `tail` and `query` take the audit filters: `--actor KEY` (or
//! `COLUMN=KEY`), `--action NAME` or `--action 'post.*'`, `--resource`,
//! `--record ID`, `--tenant`, `--kind`, `--since` and `--until` (RFC 3339, a
//! date, or an age such as `2h` or `7d`).
//!
//! # Conventions
//!
//! - The database is `--database-url`, else `DATABASE_URL`.
//! - `--format table|json|csv` where the output is data; `json` is one object
//!   per line (JSON lines). Data goes to stdout; progress, hints and errors to
//!   stderr.
//! - Exit codes: `0` success, `1` failure (database, replay, no migration yet),
//!   `2` usage (unknown flag, malformed id or time, unknown resource, no
//!   database URL), `130` stopped by Ctrl-C. An error is one line on stderr,
//!   `error: <what happened>; <what to do>`, never a panic or a backtrace.
//! - Long work (replay, chunked replay, resume, prune, `query --all`) shows a
//!   bar with rate and ETA on a terminal, and a plain line every 10% or 10
//!   seconds otherwise (`--progress` chooses). Ctrl-C stops it cleanly: an
//!   atomic replay rolls back, a chunked one keeps its last checkpoint, which
//!   `resume` continues from, and a prune stops after its batch in flight,
//!   keeping what its committed batches deleted (running it again continues;
//!   a second Ctrl-C stops at once, rolling the batch in flight back).
//! - Destructive commands (`replay`, `prune`) ask on a terminal and need
//!   `--yes` otherwise.

mod args;
mod commands;
mod connect;
mod error;
mod output;
mod parse;
mod progress;

use std::ffi::OsString;
use std::marker::PhantomData;
use std::process::ExitCode;

use clap::Parser;
use events_core::EventLog;

pub use error::{CliError, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE};

/// The `events` command line of event log `L`: configure it, then
/// [`run`](Self::run) it from `main`.
///
/// ```no_run
/// # #[events_core::event_log] pub struct EventLog;
/// fn main() -> std::process::ExitCode {
///     events_cli::Cli::<EventLog>::new()
///         .app_schema("CREATE TABLE IF NOT EXISTS users (id uuid PRIMARY KEY, email text NOT NULL)")
///         .retention(chrono::Duration::days(90))
///         .notifications(true)
///         .run()
/// }
/// ```
pub struct Cli<L: EventLog> {
    name: String,
    app_schema: Option<String>,
    retention: Option<chrono::Duration>,
    notifications: bool,
    _log: PhantomData<fn() -> L>,
}

impl<L: EventLog> Default for Cli<L> {
    fn default() -> Self {
        Cli {
            name: "events".to_owned(),
            app_schema: None,
            retention: None,
            notifications: false,
            _log: PhantomData,
        }
    }
}

impl<L: EventLog> std::fmt::Debug for Cli<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cli")
            .field("log", &std::any::type_name::<L>())
            .field("name", &self.name)
            .field("retention", &self.retention)
            .field("notifications", &self.notifications)
            .finish_non_exhaustive()
    }
}

impl<L: EventLog> Cli<L> {
    /// The command line of `L`, named `events`, with no retention period and
    /// notifications off.
    pub fn new() -> Self {
        Self::default()
    }

    /// The name the binary is called by in help and in messages that say what
    /// to run next (`run `events migrate` first`); default `events`.
    #[must_use = "`name` returns the configured command line"]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// SQL creating the application's own tables (those replay rebuilds),
    /// which `migrate` runs after the event log's migration, and `migrate
    /// --print` prints after it. Make it re-runnable
    /// (`CREATE TABLE IF NOT EXISTS`). Leave it out when another migration
    /// tool owns those tables.
    #[must_use = "`app_schema` returns the configured command line"]
    pub fn app_schema(mut self, sql: impl Into<String>) -> Self {
        self.app_schema = Some(sql.into());
        self
    }

    /// The application's retention period: what `prune` applies unless
    /// `--older-than` says otherwise, and what `status` shows (the
    /// application's [`AuditLog::with_retention`](events_postgres::AuditLog::with_retention)).
    #[must_use = "`retention` returns the configured command line"]
    pub fn retention(mut self, period: chrono::Duration) -> Self {
        self.retention = Some(period);
        self
    }

    /// Whether the application's stores announce commits
    /// ([`PgEventStore::with_notifications`](events_postgres::PgEventStore::with_notifications)):
    /// `status` shows it, and the command line's own store is set the same
    /// way. Off by default.
    #[must_use = "`notifications` returns the configured command line"]
    pub fn notifications(mut self, on: bool) -> Self {
        self.notifications = on;
        self
    }

    /// Runs the command line on the process's arguments and returns the exit
    /// code: `0` success, `1` failure, `2` usage, `130` Ctrl-C. Errors are
    /// printed to stderr as one line.
    pub fn run(self) -> ExitCode {
        self.run_from(std::env::args_os())
    }

    /// Runs the command line on `args` (the first is the binary's name).
    pub fn run_from<I, T>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args = match args::Args::try_parse_from(args) {
            Ok(args) => args,
            Err(e) => return usage_error(&e, &self.name),
        };
        // A bug must still end in one line, not a backtrace.
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".to_owned());
            eprintln!(
                "error: internal error ({}); please report it",
                error::one_line(&message)
            );
        }));
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                return ExitCode::from(EXIT_FAILURE);
            }
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(commands::run(&self, args))
        }));
        // Do not wait for background tasks (a connection closing) past the end.
        runtime.shutdown_background();
        match result {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(e)) if e.is_broken_pipe() => ExitCode::SUCCESS,
            Ok(Err(e)) => {
                eprintln!("error: {e}");
                e.exit()
            }
            Err(_) => ExitCode::from(EXIT_FAILURE),
        }
    }
}

/// Prints clap's error (help and version as they are; usage errors as one
/// line) and returns its exit code.
fn usage_error(e: &clap::Error, name: &str) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            eprintln!(
                "error: {}; see `{name} --help`",
                clap_one_line(&e.render().to_string())
            );
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// clap's error text as one line: its message and tips, without the usage
/// block and the pointer to `--help`.
fn clap_one_line(text: &str) -> String {
    let mut parts = Vec::new();
    let mut in_usage = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            in_usage = false;
            continue;
        }
        if line.starts_with("Usage:") {
            in_usage = true;
            continue;
        }
        if (in_usage && line.starts_with(char::is_whitespace))
            || line.starts_with("For more information")
        {
            continue;
        }
        in_usage = false;
        parts.push(line.trim().trim_start_matches("error: ").to_owned());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_become_one_line() {
        let text = "error: unexpected argument '--foo' found\n\n  tip: to pass '--foo' as a value, use '-- --foo'\n\nUsage: events status\n\nFor more information, try '--help'.\n";
        assert_eq!(
            clap_one_line(text),
            "unexpected argument '--foo' found; tip: to pass '--foo' as a value, use '-- --foo'"
        );
    }
}
