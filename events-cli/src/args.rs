//! The command line: every subcommand, flag and its help text (clap derive).
//!
//! Values whose shape depends on the event log (record ids, event ids) are
//! taken as text here and parsed by the command against the log's
//! configuration ([`crate::parse`]); times and durations are parsed here.

use chrono::{DateTime, Utc};
use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

use crate::parse;

/// Operate an event log from a terminal: read it, check it, replay it, prune it.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    long_about = "Operate an event log from a terminal: read it, check it, replay it, prune it.\n\n\
                  Exit codes: 0 success, 1 failure (database, replay, missing migration), \
                  2 usage (bad flag or value), 130 interrupted by Ctrl-C.",
    disable_help_subcommand = true,
    max_term_width = 100
)]
pub(crate) struct Args {
    /// PostgreSQL URL of the application's database, as postgres://user[:password]@host[:port]/dbname.
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) database_url: Option<String>,

    /// How data is printed: an aligned table for people, JSON lines or CSV for other programs.
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    pub(crate) format: Format,

    /// How long work reports progress on stderr: a bar on a terminal, periodic lines otherwise.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto, global = true)]
    pub(crate) progress: ProgressMode,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Output formats of commands that print data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// One JSON object per line (JSON lines), for piping into jq and friends.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// How progress is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProgressMode {
    /// A bar when stderr is a terminal, plain lines otherwise.
    Auto,
    /// A bar with rate and ETA (drawn only when stderr is a terminal).
    Bar,
    /// Plain lines every 10% or 10 seconds, for logs.
    Lines,
    /// Nothing.
    Off,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the event table, its side tables and functions (and the application's tables, if given), or print the SQL.
    Migrate(MigrateArgs),
    /// Entries by kind, table sizes, oldest and newest entry, retention, notifications, replay state, consumers.
    Status,
    /// The latest entries, oldest first; with -f, then every new one as it commits.
    Tail(TailArgs),
    /// Entries matching filters, a page at a time, all of them (--all), or their count (--count).
    Query(QueryArgs),
    /// One record's audit trail: every entry, oldest first, with the old and new value of each changed field.
    History(HistoryArgs),
    /// The replay preflight: check that every stored (resource, action, version) has a route; list the missing ones.
    Verify(SelectionArgs),
    /// Rebuild the application's state from the log (clears it first); atomic, or in committed chunks.
    Replay(ReplayArgs),
    /// Continue an interrupted chunked replay from its checkpoint.
    Resume(ResumeArgs),
    /// Delete entries older than the retention period (manual entries only on a log that replays).
    Prune(PruneArgs),
    /// Print the least-privilege GRANT statements for the application and retention roles.
    Grants(GrantsArgs),
}

/// `migrate`.
#[derive(Debug, ClapArgs)]
pub(crate) struct MigrateArgs {
    /// Print the SQL instead of running it (to save as a migration of your own tool).
    #[arg(long)]
    pub(crate) print: bool,
}

/// The audit filters shared by `tail` and `query`.
#[derive(Debug, Clone, Default, ClapArgs)]
pub(crate) struct Filters {
    /// Entries by this actor: a key (in any actor column it fits) or column=key.
    #[arg(long, value_name = "KEY|COLUMN=KEY")]
    pub(crate) actor: Vec<String>,
    /// Entries of this action, or of every action starting with a prefix: post.* (repeatable).
    #[arg(long, value_name = "NAME|PREFIX*")]
    pub(crate) action: Vec<String>,
    /// Entries of this resource (repeatable).
    #[arg(long, value_name = "NAME")]
    pub(crate) resource: Vec<String>,
    /// Entries of this record id (of the --resource given, else of any resource).
    #[arg(long, value_name = "ID")]
    pub(crate) record: Option<String>,
    /// Entries of this tenant.
    #[arg(long, value_name = "TENANT")]
    pub(crate) tenant: Option<String>,
    /// Entries of this kind (repeatable).
    #[arg(long, value_enum, value_name = "KIND")]
    pub(crate) kind: Vec<Kind>,
    /// Entries that occurred at or after this time: RFC 3339, a date (2024-05-01), or an age (15m, 2h, 7d).
    #[arg(long, value_parser = parse::time, value_name = "TIME")]
    pub(crate) since: Option<DateTime<Utc>>,
    /// Entries that occurred before this time: RFC 3339, a date (2024-05-01), or an age (15m, 2h, 7d).
    #[arg(long, value_parser = parse::time, value_name = "TIME")]
    pub(crate) until: Option<DateTime<Utc>>,
}

/// Entry kinds, as filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Kind {
    /// Recorded create actions.
    Create,
    /// Recorded update actions.
    Update,
    /// Recorded destroy actions.
    Destroy,
    /// Manual audit entries.
    Manual,
}

/// `tail`.
#[derive(Debug, ClapArgs)]
pub(crate) struct TailArgs {
    /// How many of the latest entries to print first.
    #[arg(short = 'n', long, default_value_t = 20, value_name = "N")]
    pub(crate) lines: u64,
    /// Keep printing new entries as their transactions commit, until Ctrl-C.
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// How often to look for new entries with -f.
    #[arg(long, value_parser = parse::duration, default_value = "1s", value_name = "DURATION")]
    pub(crate) interval: std::time::Duration,
    #[command(flatten)]
    pub(crate) filters: Filters,
}

/// Entry order for `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OrderArg {
    /// Newest first.
    Newest,
    /// Oldest first.
    Oldest,
}

/// `query`.
#[derive(Debug, ClapArgs)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    pub(crate) filters: Filters,
    /// Entries per page (1 to 1000).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub(crate) limit: u64,
    /// Numbered page, from 1 (cost grows with depth; prefer --after for deep pages).
    #[arg(long, value_name = "N", conflicts_with_all = ["after", "all"])]
    pub(crate) page: Option<u64>,
    /// Continue after this cursor (printed on stderr after each page that has more).
    #[arg(long, value_name = "CURSOR", conflicts_with = "all")]
    pub(crate) after: Option<String>,
    /// Every matching entry, read in pages of 1000 (an export), with progress on stderr.
    #[arg(long)]
    pub(crate) all: bool,
    /// Print how many entries match instead of the entries.
    #[arg(long, conflicts_with_all = ["page", "after", "all"])]
    pub(crate) count: bool,
    /// Entry order.
    #[arg(long, value_enum, default_value_t = OrderArg::Newest)]
    pub(crate) order: OrderArg,
}

/// `history`.
#[derive(Debug, ClapArgs)]
pub(crate) struct HistoryArgs {
    /// The resource, as stored in events (User, projects.project).
    pub(crate) resource: String,
    /// The record's id.
    pub(crate) record_id: String,
}

/// What a replay or its preflight selects.
#[derive(Debug, Clone, ClapArgs)]
pub(crate) struct SelectionArgs {
    /// Up to and including this event, in replay order.
    #[arg(long, value_name = "ID", conflicts_with = "up_to_time")]
    pub(crate) up_to_event: Option<String>,
    /// Up to this time (events that occurred at or before it): RFC 3339, a date, or an age (2h).
    #[arg(long, value_parser = parse::time, value_name = "TIME")]
    pub(crate) up_to_time: Option<DateTime<Utc>>,
}

/// `replay`.
#[derive(Debug, ClapArgs)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    pub(crate) selection: SelectionArgs,
    /// Commit every N events with a checkpoint instead of one transaction (not all-or-nothing; see `resume`).
    #[arg(long, value_name = "N")]
    pub(crate) chunks: Option<u64>,
    /// Events read per round trip.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub(crate) batch_size: usize,
    /// Do not ask: replay clears the application's state before rebuilding it.
    #[arg(long, short)]
    pub(crate) yes: bool,
}

/// `resume`.
#[derive(Debug, ClapArgs)]
pub(crate) struct ResumeArgs {
    /// Events per committed chunk from here on.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub(crate) chunks: u64,
    /// Events read per round trip.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub(crate) batch_size: usize,
}

/// `prune`.
#[derive(Debug, ClapArgs)]
pub(crate) struct PruneArgs {
    /// Delete entries older than this (30d, 12h, 1year); default: the application's retention period.
    #[arg(long, value_parser = parse::age, value_name = "DURATION")]
    pub(crate) older_than: Option<chrono::Duration>,
    /// Only count what would be deleted.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Also delete the events of recorded actions: replay is impossible afterwards.
    #[arg(long)]
    pub(crate) give_up_replay: bool,
    /// Entries deleted per transaction, oldest first; each batch commits and is recorded on its own, and Ctrl-C stops after the current one.
    #[arg(
        long,
        default_value_t = events_postgres::audit::PRUNE_BATCH_SIZE,
        value_parser = clap::value_parser!(u32).range(1..),
        value_name = "N"
    )]
    pub(crate) batch_size: u32,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub(crate) yes: bool,
}

/// `grants`.
#[derive(Debug, ClapArgs)]
pub(crate) struct GrantsArgs {
    /// The role the application connects as (runs actions, reads, replays).
    #[arg(long, default_value = "app", value_name = "ROLE")]
    pub(crate) app: String,
    /// The role that prunes (retention).
    #[arg(long, default_value = "ops", value_name = "ROLE")]
    pub(crate) retention: String,
    /// Run the statements (as the tables' owner) instead of printing them.
    #[arg(long)]
    pub(crate) apply: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed_and_every_flag_has_help() {
        Args::command().debug_assert();
        let cmd = Args::command();
        for sub in cmd.get_subcommands() {
            assert!(sub.get_about().is_some(), "{} has no help", sub.get_name());
            for arg in sub.get_arguments() {
                assert!(
                    arg.get_help().is_some(),
                    "{} {} has no help",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
    }
}
