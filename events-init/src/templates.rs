//! What `cargo events init` writes: the event log module, the `events` binary,
//! the library root when the crate has none, and the migration of the event
//! log exactly as the module declares it.

/// `src/event_log.rs`: the event log, every option documented where it is
/// set. Keep [`TemplateLog`] in step: the migration is generated from it.
pub(crate) const EVENT_LOG: &str = r#"//! The application's event log: every create, update and destroy action of a
//! resource joined to it is recorded in one table, in the same transaction as
//! the change it describes. Written by `cargo events init`; it is yours to edit.
//!
//! A resource joins the log with `#[events]` on its `impl` block; its methods
//! marked `#[create]`, `#[update]` or `#[destroy]` are its actions:
//!
//! ```ignore
//! use events_core::{events, ActionCtx, Error};
//!
//! #[events(event_log = crate::event_log::EventLog)]
//! impl User {
//!     #[create]
//!     pub async fn register(ctx: &mut ActionCtx<'_>, input: Register) -> Result<User, Error> {
//!         // write with ctx.conn(): the same transaction as the event
//!     }
//! }
//!
//! // let store = events_postgres::PgEventStore::<EventLog>::new(pool);
//! // User::register(input).run(&store).await?;
//! ```
//!
//! Options that shape the table (`table`, `primary_key_type`, `record_id_type`,
//! `persist_actor_primary_key`, `track_commit_time`) need a migration of their
//! own after a change: `cargo run --bin events -- migrate --print` prints it.

use events_core::{ClearRecords, Error, event_log};

/// The event log. Every option is optional; the commented ones show their
/// default or an example.
#[event_log(
    // The event table. "audit.trail" puts it (and its side tables) in schema `audit`.
    // table = "events",
    //
    // Event ids: `integer` (a bigint identity) or `uuid_v7`.
    // primary_key_type = integer,
    //
    // Record ids, what `ctx.record_id()` returns: `uuid` (generated for creates),
    // `integer` or `string` (given with `.record_id(..)`).
    // record_id_type = uuid,
    //
    // Which actions wait for each other's advisory lock: `global` (all),
    // `tenant` (per tenant) or `record` (per record).
    // advisory_lock_scope = tenant,
    //
    // One column per actor type, repeatable; the type implements `events_core::Actor`
    // and actions name it with `.actor(&user)`. `allow_nil = false` makes it required.
    // persist_actor_primary_key(user_id, crate::User),
    //
    // Record each transaction's commit time, for audit queries by commit time
    // (costs about a fifth of the write throughput of small actions).
    // track_commit_time = true,
    //
    // Old versions of an action replayed by another action:
    // replay_override(User, register, versions = [1], route_to(User, register_v1)),
    //
    // What replay clears before it rebuilds the state; without it `events replay` refuses.
    clear_records_for_replay = ClearState,
)]
pub struct EventLog;

/// Deletes the state replay rebuilds, on the replay's own transaction.
pub struct ClearState;

impl ClearRecords for ClearState {
    async fn clear_records(conn: &mut sqlx::PgConnection) -> Result<(), Error> {
        // Delete the rows of every table the actions write, for example:
        // sqlx::query("DELETE FROM users").execute(&mut *conn).await?;
        let _ = conn;
        Ok(())
    }
}
"#;

/// The event log [`EVENT_LOG`] declares, as the installer compiles it to
/// generate the migration.
#[events_core::event_log(clear_records_for_replay = ClearState)]
pub(crate) struct TemplateLog;

/// The template's `ClearRecords`.
pub(crate) struct ClearState;

impl events_core::ClearRecords for ClearState {
    async fn clear_records(_: &mut sqlx::PgConnection) -> Result<(), events_core::Error> {
        Ok(())
    }
}

/// `src/bin/events.rs` for the library crate `lib`.
pub(crate) fn events_bin(lib: &str) -> String {
    format!(
        r#"//! This application's `events` command line: `cargo run --bin events -- --help`.
//! Written by `cargo events init`; the options are the `events-cli` crate's `Cli`.
//!
//! Replay and its preflight run the application's own actions, so this binary
//! links the library that defines them.

fn main() -> std::process::ExitCode {{
    events_cli::Cli::<{lib}::event_log::EventLog>::new()
        // What `events prune` deletes by default: entries older than this.
        .retention(chrono::Duration::days(365))
        // The application's tables, if `events migrate` should create them too:
        // .app_schema(include_str!("../../migrations/0002_app.sql"))
        .run()
}}
"#
    )
}

/// `src/lib.rs` for a crate that had none.
pub(crate) const LIB: &str = "//! The application's library: what its binaries share.

pub mod event_log;
";

/// The line that declares the module in an existing `src/lib.rs`.
pub(crate) const MOD_LINE: &str = "pub mod event_log;\n";

/// The first line of the migration file; how a second run finds it.
pub(crate) const MIGRATION_MARK: &str =
    "-- events: the event log's migration, written by `cargo events init`";

/// The migration file's text.
pub(crate) fn migration() -> String {
    format!(
        "{MIGRATION_MARK}\n\
         -- for src/event_log.rs as written then. It is re-runnable, and `events migrate` runs the\n\
         -- same statements. After changing an option that shapes the table, add a migration\n\
         -- with the output of `cargo run --bin events -- migrate --print`.\n\n{}",
        events_postgres::schema::migration_sql::<TemplateLog>()
    )
}
