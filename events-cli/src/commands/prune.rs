//! `prune`: retention, previewed (`--dry-run`) or run in batches
//! (`--batch-size`, 10,000 entries by default), oldest first, each batch
//! committed and recorded as its own `audit.pruned` entry
//! ([`BatchedPrune`]). Progress counts the entries deleted against the
//! preview's count: a bar with rate and ETA on a terminal, a line every 10%
//! or 10 seconds otherwise.
//!
//! Ctrl-C stops after the batch in flight: what the committed batches deleted
//! stays deleted and recorded, the rest stays, and running the same `prune`
//! again continues. A second Ctrl-C stops at once (a batch waiting on a lock,
//! say, behind a running replay): the batch in flight rolls back with its
//! transaction, unless its commit was already sent. Either way the exit code
//! is 130.

use std::pin::pin;
use std::time::Instant;

use events_core::{Error, EventLog};
use events_postgres::audit::BatchedPrune;
use serde_json::json;

use super::Ctx;
use crate::args::{ProgressMode, PruneArgs};
use crate::error::CliError;
use crate::output::time;
use crate::progress::{Progress, seconds, thousands};

pub(super) async fn run<L: EventLog>(ctx: &Ctx<'_, L>, args: PruneArgs) -> Result<(), CliError> {
    let period = args.older_than.or(ctx.cli.retention).ok_or_else(|| {
        CliError::usage(
            "no retention period: pass --older-than (30d, 12h, 1year); the application sets none",
        )
    })?;
    let audit = ctx.audit();
    let preview = audit
        .prune_preview(period, args.give_up_replay)
        .await
        .map_err(|e| ctx.error(e))?;
    let cutoff = preview
        .cutoff
        .as_ref()
        .map_or_else(|| "the beginning of time".to_owned(), time);
    let what = if preview.gives_up_replay {
        format!(
            "{} entries ({} of them action events, giving up replay)",
            thousands(preview.entries),
            thousands(preview.actions)
        )
    } else {
        format!(
            "{} manual {}",
            thousands(preview.entries),
            if preview.entries == 1 {
                "entry"
            } else {
                "entries"
            }
        )
    };
    if args.dry_run {
        return ctx.report(
            &format!("would delete {what} older than {cutoff}"),
            json!({
                "dry_run": true,
                "cutoff": preview.cutoff,
                "entries": preview.entries,
                "actions": preview.actions,
                "gives_up_replay": preview.gives_up_replay,
            }),
        );
    }
    ctx.confirm(
        args.yes,
        &format!("Delete {what} older than {cutoff} from {}?", ctx.target),
        "prune deletes entries",
    )?;
    let start = if args.give_up_replay {
        audit
            .prune_in_batches_giving_up_replay(period, args.batch_size)
            .await
    } else {
        audit.prune_in_batches(period, args.batch_size).await
    };
    let mut prune = start.map_err(|e| ctx.error(e))?;
    let progress = Progress::counter(ctx.progress, "prune", "entries", preview.entries);
    if ctx.progress != ProgressMode::Off {
        progress.note(&format!(
            "prune: deleting {what} older than {cutoff}, in batches of up to {}",
            thousands(u64::from(args.batch_size))
        ));
    }
    let started = Instant::now();
    let outcome = batches(&mut prune, &progress, preview.entries).await;
    match &outcome {
        Ok(Ended::Done) => progress.finish(),
        _ => progress.abandon(),
    }
    let deleted = prune.report().map_or(0, |r| r.deleted);
    let batches = prune.batches();
    let again = format!("run the same `{} prune` again to continue", ctx.cli.name);
    match outcome {
        Ok(Ended::Done) => {}
        Ok(Ended::Stopped) => {
            return Err(CliError::Interrupted {
                message: format!(
                    "stopped after batch {batches}: {} of {} entries deleted, each batch \
                     recorded as an audit.pruned entry; the rest stays: {again}",
                    thousands(deleted),
                    thousands(preview.entries.max(deleted)),
                ),
            });
        }
        Ok(Ended::Abandoned) => {
            return Err(CliError::Interrupted {
                message: format!(
                    "stopped during batch {}, which rolls back unless it was committing; \
                     the {} entries of the {batches} committed batches stay deleted: {again}",
                    batches + 1,
                    thousands(deleted),
                ),
            });
        }
        Err(e) if batches == 0 => return Err(ctx.error(e)),
        Err(e) => {
            return Err(CliError::failed(format!(
                "{}; before it, {batches} committed batches deleted {} entries, which stay \
                 deleted: {again}",
                ctx.error(e),
                thousands(deleted),
            )));
        }
    }
    let Some(report) = prune.report() else {
        return Err(CliError::failed(format!("the prune ran no batch; {again}")));
    };
    ctx.report(
        &format!(
            "deleted {} entries ({} action events) older than {} in {}: {} of up to {}, \
             each recorded as an audit.pruned entry (the last is {})",
            thousands(report.deleted),
            thousands(report.deleted_actions),
            if report.cutoff == chrono::DateTime::<chrono::Utc>::MIN_UTC {
                "the beginning of time".to_owned()
            } else {
                time(&report.cutoff)
            },
            seconds(started.elapsed()),
            if batches == 1 {
                "1 batch".to_owned()
            } else {
                format!("{} batches", thousands(batches))
            },
            thousands(u64::from(args.batch_size)),
            report.entry
        ),
        json!({
            "deleted": report.deleted,
            "deleted_actions": report.deleted_actions,
            "cutoff": (report.cutoff != chrono::DateTime::<chrono::Utc>::MIN_UTC).then_some(report.cutoff),
            "entry": report.entry.to_string(),
            "batches": batches,
            "batch_size": args.batch_size,
        }),
    )
}

/// How the batches ended.
enum Ended {
    /// The last batch ran: nothing before the cutoff remains.
    Done,
    /// Ctrl-C, then the batch in flight committed.
    Stopped,
    /// Ctrl-C twice: the batch in flight was dropped.
    Abandoned,
}

/// Runs the batches with progress until the last, or until Ctrl-C: the
/// first lets the batch in flight finish, a second drops it.
async fn batches<L: EventLog>(
    prune: &mut BatchedPrune<L>,
    progress: &Progress,
    total: u64,
) -> Result<Ended, Error> {
    let mut ctrl_c = pin!(tokio::signal::ctrl_c());
    loop {
        let mut next = pin!(prune.next_batch());
        let (batch, stopping) = tokio::select! {
            batch = &mut next => (batch?, false),
            _ = &mut ctrl_c => {
                progress.note("stopping after the batch in flight; Ctrl-C again to stop now");
                tokio::select! {
                    batch = &mut next => (batch?, true),
                    _ = tokio::signal::ctrl_c() => return Ok(Ended::Abandoned),
                }
            }
        };
        let Some(batch) = batch else {
            return Ok(Ended::Done);
        };
        let done = batch.total_deleted;
        progress.update(done, total.max(done));
        if !batch.more {
            return Ok(Ended::Done);
        }
        if stopping {
            return Ok(Ended::Stopped);
        }
    }
}
