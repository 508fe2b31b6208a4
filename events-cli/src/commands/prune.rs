//! `prune`: retention, previewed (`--dry-run`) or run, with a spinner (the
//! prune is one statement in the database: its progress cannot be counted)
//! and a clean stop on Ctrl-C (the statement rolls back with its connection).

use std::time::Instant;

use events_core::EventLog;
use serde_json::json;

use super::{Ctx, until_ctrl_c};
use crate::args::PruneArgs;
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
    let progress = Progress::spinner(
        ctx.progress,
        &format!("prune: deleting {what} older than {cutoff}"),
    );
    let started = Instant::now();
    let work = async {
        if args.give_up_replay {
            audit.prune_giving_up_replay(period).await
        } else {
            audit.prune(period).await
        }
    };
    let outcome = until_ctrl_c(work).await;
    match &outcome {
        Some(Ok(_)) => progress.finish(),
        _ => progress.abandon(),
    }
    let report = match outcome {
        Some(result) => result.map_err(|e| ctx.error(e))?,
        None => {
            return Err(CliError::Interrupted {
                message: "the prune was rolled back; nothing was deleted".to_owned(),
            });
        }
    };
    ctx.report(
        &format!(
            "deleted {} entries ({} action events) older than {} in {}; recorded as entry {}",
            thousands(report.deleted),
            thousands(report.deleted_actions),
            if report.cutoff == chrono::DateTime::<chrono::Utc>::MIN_UTC {
                "the beginning of time".to_owned()
            } else {
                time(&report.cutoff)
            },
            seconds(started.elapsed()),
            report.entry
        ),
        json!({
            "deleted": report.deleted,
            "deleted_actions": report.deleted_actions,
            "cutoff": (report.cutoff != chrono::DateTime::<chrono::Utc>::MIN_UTC).then_some(report.cutoff),
            "entry": report.entry.to_string(),
        }),
    )
}
