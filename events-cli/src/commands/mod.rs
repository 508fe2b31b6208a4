//! The subcommands, one module per concern, and what they share: the
//! connection and the log's handles ([`Ctx`]), errors of the log told apart
//! (no server, no migration), the audit filters as a query, confirmation of
//! destructive work, Ctrl-C, and one-record reports.
//!
//! | module | commands |
//! | --- | --- |
//! | `migrate` | `migrate`, `grants` |
//! | `status` | `status` |
//! | `entries` | `tail`, `query`, `history` |
//! | `replay` | `verify`, `replay`, `resume` |
//! | `prune` | `prune` |

mod entries;
mod migrate;
mod prune;
mod replay;
mod status;

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};

use events_core::audit::{AuditQuery, EntryKind};
use events_core::store::registered_resources;
use events_core::{Error, EventLog};
use events_postgres::{AuditLog, PgEventStore};
use serde_json::Value;

use crate::Cli;
use crate::args::{Args, Command, Filters, Format, Kind, ProgressMode};
use crate::connect::{self, Target};
use crate::error::CliError;
use crate::output::Sink;
use crate::parse;

/// What a command runs with: the configuration, the global flags, the store
/// on the connected database.
pub(crate) struct Ctx<'a, L: EventLog> {
    pub(crate) cli: &'a Cli<L>,
    pub(crate) format: Format,
    pub(crate) progress: ProgressMode,
    pub(crate) store: PgEventStore<L>,
    pub(crate) target: Target,
}

/// Parses nothing more, connects when the command needs the database, and
/// runs it.
pub(crate) async fn run<L: EventLog>(cli: &Cli<L>, args: Args) -> Result<(), CliError> {
    // Commands that only print SQL need no database.
    match &args.command {
        Command::Migrate(m) if m.print => return migrate::print(cli),
        Command::Grants(g) if !g.apply => return migrate::print_grants(cli, g),
        _ => {}
    }
    let (opts, target) = connect::options(args.database_url.as_deref())?;
    let pool = connect::pool(opts, &target).await?;
    let ctx = Ctx {
        cli,
        format: args.format,
        progress: args.progress,
        store: PgEventStore::<L>::new(pool).with_notifications(cli.notifications),
        target,
    };
    if let Command::Migrate(_) = &args.command {
        return migrate::run(&ctx).await;
    }
    ctx.require_migrated().await?;
    match args.command {
        Command::Migrate(_) => Ok(()),
        Command::Grants(g) => migrate::apply_grants(&ctx, &g).await,
        Command::Status => status::run(&ctx).await,
        Command::Tail(a) => entries::tail(&ctx, a).await,
        Command::Query(a) => entries::query(&ctx, a).await,
        Command::History(a) => entries::history(&ctx, a).await,
        Command::Verify(a) => replay::verify(&ctx, a).await,
        Command::Replay(a) => replay::replay(&ctx, a).await,
        Command::Resume(a) => replay::resume(&ctx, a).await,
        Command::Prune(a) => prune::run(&ctx, a).await,
    }
}

impl<L: EventLog> Ctx<'_, L> {
    /// The audit log, with the application's retention period.
    pub(crate) fn audit(&self) -> AuditLog<L> {
        let audit = self.store.audit();
        match self.cli.retention {
            Some(period) => audit.with_retention(period),
            None => audit,
        }
    }

    /// Refuses with [`CliError::NotMigrated`] when the event table is missing.
    pub(crate) async fn require_migrated(&self) -> Result<(), CliError> {
        if self.store.is_migrated().await.map_err(|e| self.error(e))? {
            Ok(())
        } else {
            Err(self.not_migrated())
        }
    }

    fn not_migrated(&self) -> CliError {
        CliError::NotMigrated {
            database: self.target.database.clone(),
            table: L::TABLE,
            bin: self.cli.name.clone(),
        }
    }

    /// An error of the log, told apart: a lost connection, a missing table
    /// or function (no migration, or an older one), or the log's own.
    pub(crate) fn error(&self, e: Error) -> CliError {
        if let Error::Database { source, .. } = &e {
            if connect::is_connection_error(source) {
                return connect::unreachable(source, &self.target);
            }
            if let sqlx::Error::Database(db) = source
                && matches!(db.code().as_deref(), Some("42P01" | "42883"))
            {
                return self.not_migrated();
            }
        }
        CliError::Log(e)
    }

    /// Every resource name the log knows: registered by `#[events]` in this
    /// binary, or stored in its entries (manual entries name any resource).
    pub(crate) async fn known_resources(&self) -> Result<BTreeSet<String>, CliError> {
        let mut known: BTreeSet<String> = registered_resources::<L>()
            .map(|r| r.name.to_owned())
            .collect();
        known.extend(
            self.audit()
                .distinct_resources()
                .await
                .map_err(|e| self.error(e))?,
        );
        Ok(known)
    }

    /// Refuses a resource the log does not know, naming the ones it does.
    pub(crate) async fn check_resources(&self, names: &[String]) -> Result<(), CliError> {
        if names.is_empty() {
            return Ok(());
        }
        let known = self.known_resources().await?;
        for name in names {
            if !known.contains(name) {
                let list = if known.is_empty() {
                    "this log has no resources yet".to_owned()
                } else {
                    format!(
                        "resources of this log: {}",
                        known.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                };
                return Err(CliError::usage(format!(
                    "unknown resource `{}`; {list}",
                    parse::shorten(name)
                )));
            }
        }
        Ok(())
    }

    /// The audit query of `filters`, its values parsed against the log.
    pub(crate) async fn query(&self, f: &Filters) -> Result<AuditQuery<L>, CliError> {
        self.check_resources(&f.resource).await?;
        let mut q = AuditQuery::<L>::new().resources(f.resource.iter().cloned());
        if let Some(record) = &f.record {
            let key = parse::record_id(record, L::RECORD_ID_TYPE).map_err(CliError::usage)?;
            q = match f.resource.as_slice() {
                [resource] => q.record(resource.clone(), key),
                _ => q.record_id(key),
            };
        }
        for actor in &f.actor {
            q = match actor.split_once('=') {
                Some((column, key)) => q.actor_key(column.trim(), key.trim()),
                None => q.identity(actor.as_str()),
            };
        }
        for action in &f.action {
            q = q.action_pattern(action);
        }
        if let Some(tenant) = &f.tenant {
            q = q.tenant(tenant.as_str());
        }
        q = q.kinds(f.kind.iter().map(|k| match k {
            Kind::Create => EntryKind::Create,
            Kind::Update => EntryKind::Update,
            Kind::Destroy => EntryKind::Destroy,
            Kind::Manual => EntryKind::Manual,
        }));
        if let Some(since) = f.since {
            q = q.since(since);
        }
        if let Some(until) = f.until {
            q = q.until(until);
        }
        // Checked now, so a bad filter is a usage error before any output.
        q.check().map_err(CliError::Log)?;
        Ok(q)
    }

    /// Asks `question` on a terminal; elsewhere `--yes` must have been given.
    pub(crate) fn confirm(
        &self,
        yes: bool,
        question: &str,
        flag_hint: &str,
    ) -> Result<(), CliError> {
        if yes {
            return Ok(());
        }
        if !std::io::stdin().is_terminal() {
            return Err(CliError::usage(format!(
                "{flag_hint}: pass --yes to confirm"
            )));
        }
        eprint!("{question} [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            Ok(())
        } else {
            Err(CliError::failed("not confirmed; nothing was changed"))
        }
    }

    /// Prints the result of a command: a sentence for a table, the object as a
    /// JSON line, or a header and one CSV row of its top-level fields.
    pub(crate) fn report(&self, sentence: &str, json: Value) -> Result<(), CliError> {
        match self.format {
            Format::Table => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{sentence}")?;
                Ok(())
            }
            Format::Json | Format::Csv => {
                let Value::Object(fields) = &json else {
                    return Err(CliError::failed("a report is an object"));
                };
                let header: Vec<&str> = fields.keys().map(String::as_str).collect();
                let cells = fields
                    .values()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    })
                    .collect();
                let mut sink = Sink::new(self.format, &header);
                sink.row(cells, &json)?;
                sink.flush()
            }
        }
    }
}

/// Runs `work` until it ends or Ctrl-C; `None` after Ctrl-C (the work is
/// dropped: its transaction rolls back, its connection closes).
pub(crate) async fn until_ctrl_c<T>(work: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        out = work => Some(out),
        _ = tokio::signal::ctrl_c() => None,
    }
}
