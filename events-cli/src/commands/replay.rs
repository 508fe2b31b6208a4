//! `verify` (the replay preflight), `replay` (atomic or chunked) and `resume`,
//! with progress and a clean stop on Ctrl-C.

use std::sync::Arc;
use std::time::Instant;

use events_core::replay::{Replay, ReplayReport, Replayable, Selection};
use events_core::{Error, EventLog, ReplayError};
use serde_json::json;

use super::{Ctx, until_ctrl_c};
use crate::args::{ReplayArgs, ResumeArgs, SelectionArgs};
use crate::error::CliError;
use crate::output::Sink;
use crate::parse;
use crate::progress::{Progress, seconds, thousands};

/// The selection the flags name.
fn selection<L: EventLog>(args: &SelectionArgs) -> Result<Selection, CliError> {
    if let Some(id) = &args.up_to_event {
        let id = parse::event_id(id, L::PRIMARY_KEY_TYPE).map_err(CliError::usage)?;
        return Ok(Selection::UpToEvent(id));
    }
    Ok(match args.up_to_time {
        // Replay::up_to_time clamps times before PostgreSQL's earliest.
        Some(t) => Replay::up_to_time(t).selection,
        None => Selection::All,
    })
}

/// A replay request of `selection`.
fn request(selection: &Selection) -> Replay {
    match selection {
        Selection::All => Replay::all(),
        Selection::UpToEvent(id) => Replay::up_to_event(*id),
        Selection::UpToTime(t) => Replay::up_to_time(*t),
    }
}

/// The selection in words.
fn describe(selection: &Selection) -> String {
    match selection {
        Selection::All => "every event".to_owned(),
        Selection::UpToEvent(id) => format!("every event up to event {id}"),
        Selection::UpToTime(t) => format!("every event up to {}", crate::output::time(t)),
    }
}

/// Refuses a replay the log cannot do at all.
fn require_clear_records<L: EventLog>() -> Result<(), CliError> {
    if L::CLEAR_RECORDS_FOR_REPLAY.is_none() {
        return Err(CliError::Log(Error::Replay(ReplayError::NoClearRecords {
            log: std::any::type_name::<L>(),
        })));
    }
    Ok(())
}

/// The preflight: the number of events (and of those with erased personal
/// data), or the missing routes printed as data and a one-line error.
async fn preflight<L: EventLog>(
    ctx: &Ctx<'_, L>,
    selection: &Selection,
) -> Result<Replayable, CliError> {
    match ctx.store.verify_replayable(selection).await {
        Ok(found) => Ok(found),
        Err(Error::Replay(ReplayError::MissingRoutes { missing })) => {
            let mut sink = Sink::new(
                ctx.format,
                &["resource", "action", "version", "events", "reason"],
            );
            for m in &missing {
                sink.row(
                    vec![
                        m.resource.clone(),
                        m.action.clone(),
                        m.version.to_string(),
                        thousands(m.events),
                        m.reason.clone(),
                    ],
                    &json!({
                        "resource": m.resource,
                        "action": m.action,
                        "version": m.version,
                        "events": m.events,
                        "reason": m.reason,
                    }),
                )?;
            }
            sink.flush()?;
            Err(CliError::failed(format!(
                "replay would refuse: {} stored (resource, action, version) {} no route (listed on stdout); \
                 add a replay_override routing {} to an action, or restore the action, then run `{} verify` again",
                missing.len(),
                if missing.len() == 1 { "has" } else { "have" },
                if missing.len() == 1 { "it" } else { "them" },
                ctx.cli.name
            )))
        }
        Err(e) => Err(ctx.error(e)),
    }
}

/// `verify`.
pub(super) async fn verify<L: EventLog>(
    ctx: &Ctx<'_, L>,
    args: SelectionArgs,
) -> Result<(), CliError> {
    let selection = selection::<L>(&args)?;
    let found = preflight(ctx, &selection).await?;
    require_clear_records::<L>()?;
    let erased = match found.with_erased_fields {
        0 => String::new(),
        n => format!(
            "; {} carry personal data of erased subjects and replay without it",
            thousands(n)
        ),
    };
    ctx.report(
        &format!(
            "replayable: {} events ({}), every stored (resource, action, version) has a route{erased}",
            thousands(found.events),
            describe(&selection)
        ),
        json!({
            "replayable": true,
            "events": found.events,
            "with_erased_fields": found.with_erased_fields,
        }),
    )
}

/// `replay`.
pub(super) async fn replay<L: EventLog>(
    ctx: &Ctx<'_, L>,
    args: ReplayArgs,
) -> Result<(), CliError> {
    let selection = selection::<L>(&args.selection)?;
    require_clear_records::<L>()?;
    if let Some(c) = ctx
        .store
        .replay_checkpoint()
        .await
        .map_err(|e| ctx.error(e))?
    {
        eprintln!(
            "note: an unfinished chunked replay ({}/{} applied) will be discarded; `{} resume` would continue it instead",
            thousands(c.applied),
            thousands(c.total),
            ctx.cli.name
        );
    }
    let total = preflight(ctx, &selection).await?.events;
    ctx.confirm(
        args.yes,
        &format!(
            "Replay clears the application's state in {} and rebuilds it from {} events. Continue?",
            ctx.target,
            thousands(total)
        ),
        "replay clears the application's state before rebuilding it",
    )?;
    let mut replay = request(&selection).batch_size(args.batch_size);
    if let Some(n) = args.chunks {
        replay = replay.in_chunks(n);
    }
    let chunked = args.chunks.is_some();
    run(ctx, replay, total, 0, chunked, false).await
}

/// `resume`.
pub(super) async fn resume<L: EventLog>(
    ctx: &Ctx<'_, L>,
    args: ResumeArgs,
) -> Result<(), CliError> {
    let Some(checkpoint) = ctx
        .store
        .replay_checkpoint()
        .await
        .map_err(|e| ctx.error(e))?
    else {
        return Err(CliError::failed(format!(
            "there is no unfinished chunked replay to resume; start one with `{} replay --chunks N`",
            ctx.cli.name
        )));
    };
    let replay = request(&checkpoint.selection)
        .batch_size(args.batch_size)
        .in_chunks(args.chunks);
    run(
        ctx,
        replay,
        checkpoint.total,
        checkpoint.applied,
        true,
        true,
    )
    .await
}

/// Runs a replay (or its resumption) with progress, until it ends or Ctrl-C.
async fn run<L: EventLog>(
    ctx: &Ctx<'_, L>,
    replay: Replay,
    total: u64,
    already: u64,
    chunked: bool,
    resuming: bool,
) -> Result<(), CliError> {
    let label = if resuming { "resume" } else { "replay" };
    let progress = Arc::new(Progress::counter(ctx.progress, label, "events", total));
    progress.start_at(already);
    let reporter = Arc::clone(&progress);
    let replay = replay.on_progress(move |p| reporter.update(p.applied, p.total));
    let started = Instant::now();
    let work = async {
        if resuming {
            ctx.store.resume_replay(replay).await
        } else {
            ctx.store.replay(replay).await
        }
    };
    let outcome = until_ctrl_c(work).await;
    match &outcome {
        Some(Ok(_)) => progress.finish(),
        _ => progress.abandon(),
    }
    match outcome {
        Some(Ok(report)) => done(ctx, &report, started, label),
        Some(Err(e)) => Err(ctx.error(e)),
        None if chunked => {
            // The chunk in flight rolled back with its connection; the
            // checkpoint of the last committed one stays.
            let message = match ctx.store.replay_checkpoint().await {
                Ok(Some(c)) => format!(
                    "{}/{} events are applied and committed (up to event {}); run `{} resume` to continue",
                    thousands(c.applied),
                    thousands(c.total),
                    c.last_event
                        .map_or_else(|| "-".to_owned(), |id| id.to_string()),
                    ctx.cli.name
                ),
                Ok(None) => "no chunk had committed: the state is as before".to_owned(),
                Err(e) => format!(
                    "the last checkpoint could not be read ({}); `{} status` shows it",
                    crate::error::one_line(&e.to_string()),
                    ctx.cli.name
                ),
            };
            Err(CliError::Interrupted { message })
        }
        None => Err(CliError::Interrupted {
            message: "the replay was rolled back; the state is as before".to_owned(),
        }),
    }
}

fn done<L: EventLog>(
    ctx: &Ctx<'_, L>,
    report: &ReplayReport,
    started: Instant,
    label: &str,
) -> Result<(), CliError> {
    let elapsed = started.elapsed();
    let verb = if label == "resume" {
        "resumed replay applied"
    } else {
        "replayed"
    };
    ctx.report(
        &format!(
            "{verb} {} events in {} ({} commit{}){}",
            thousands(report.applied),
            seconds(elapsed),
            report.commits,
            if report.commits == 1 { "" } else { "s" },
            report
                .last_event
                .map_or_else(String::new, |id| format!(", up to event {id}"))
        ),
        json!({
            "applied": report.applied,
            "commits": report.commits,
            "last_event": report.last_event.map(|id| id.to_string()),
            "seconds": elapsed.as_secs_f64(),
        }),
    )
}
