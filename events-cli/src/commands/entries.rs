//! Reading entries: `tail` (the latest, then each new one in commit-safe
//! order), `query` (a page, an export, a count) and `history` (one record's
//! trail with its field changes).

use std::collections::HashSet;

use events_core::audit::{AuditEntry, AuditQuery, Cursor, MAX_PAGE_SIZE, Order};
use events_core::{EventId, EventLog};
use events_postgres::audit::EntryFollower;
use events_postgres::subscribe::StartAt;
use serde_json::json;

use super::{Ctx, until_ctrl_c};
use crate::args::{Format, HistoryArgs, OrderArg, QueryArgs, TailArgs};
use crate::error::CliError;
use crate::output::{EntryLayout, Sink, clip, dash, time};
use crate::parse;
use crate::progress::{Progress, thousands};

/// Page size of exports and of following.
const BATCH: u64 = 1000;

/// `tail [-n N] [-f]`.
pub(super) async fn tail<L: EventLog>(ctx: &Ctx<'_, L>, args: TailArgs) -> Result<(), CliError> {
    let query = ctx.query(&args.filters).await?;
    let audit = ctx.audit();
    // Follow from before the latest entries are read: an entry committing in
    // between is either among them or delivered after, and printed once.
    let mut follower = if args.follow {
        Some(
            audit
                .follow(&query, StartAt::Now)
                .await
                .map_err(|e| ctx.error(e))?,
        )
    } else {
        None
    };
    let mut latest = Vec::new();
    let mut page = query
        .clone()
        .order(Order::OccurredDesc)
        .after(None)
        .limit(args.lines.clamp(1, MAX_PAGE_SIZE));
    while (latest.len() as u64) < args.lines {
        let got = audit.query(&page).await.map_err(|e| ctx.error(e))?;
        latest.extend(got.entries);
        match got.next_cursor {
            Some(c) => page = page.after(Some(c)),
            None => break,
        }
    }
    latest.truncate(usize::try_from(args.lines).unwrap_or(usize::MAX));
    latest.reverse();
    let layout = EntryLayout::of(ctx.format, &latest, args.filters.tenant.is_some());
    let mut sink = layout.sink();
    let printed: HashSet<EventId> = latest.iter().map(|e| e.id).collect();
    for e in &latest {
        sink.row(layout.cells(e), e)?;
    }
    sink.flush()?;
    let Some(follower) = follower.as_mut() else {
        return Ok(());
    };
    let follow = follow(ctx, follower, (layout, &mut sink), &printed, args.interval);
    // Ctrl-C is how `tail -f` ends: success.
    until_ctrl_c(follow).await.unwrap_or(Ok(()))
}

/// Prints each new entry as its transaction commits, until an error.
async fn follow<L: EventLog>(
    ctx: &Ctx<'_, L>,
    follower: &mut EntryFollower<L>,
    (layout, sink): (EntryLayout, &mut Sink),
    printed: &HashSet<EventId>,
    interval: std::time::Duration,
) -> Result<(), CliError> {
    loop {
        let batch = follower.next_batch(BATCH).await.map_err(|e| ctx.error(e))?;
        let full = batch.len() as u64 >= BATCH;
        for e in batch.iter().filter(|e| !printed.contains(&e.id)) {
            sink.row(layout.cells(e), e)?;
        }
        sink.flush()?;
        if !full {
            tokio::time::sleep(interval).await;
        }
    }
}

/// `query`.
pub(super) async fn query<L: EventLog>(ctx: &Ctx<'_, L>, args: QueryArgs) -> Result<(), CliError> {
    let order = match args.order {
        OrderArg::Newest => Order::OccurredDesc,
        OrderArg::Oldest => Order::OccurredAsc,
    };
    let query = ctx.query(&args.filters).await?.order(order);
    let audit = ctx.audit();
    if args.count {
        let count = audit.count(&query).await.map_err(|e| ctx.error(e))?;
        return ctx.report(
            &thousands(count.value()),
            json!({ "count": count.value(), "exact": count.is_exact() }),
        );
    }
    if args.all {
        return export(ctx, query).await;
    }
    if !(1..=MAX_PAGE_SIZE).contains(&args.limit) {
        return Err(CliError::usage(format!(
            "--limit {} is outside 1..={MAX_PAGE_SIZE}; use --all to read every entry",
            args.limit
        )));
    }
    let query = match (args.page, &args.after) {
        (Some(0), _) => return Err(CliError::usage("--page counts from 1")),
        (Some(page), _) => query.page(page, args.limit),
        (None, Some(cursor)) => {
            let cursor: Cursor = cursor.trim().parse().map_err(|_| {
                CliError::usage(format!(
                    "`{}` is not a cursor of this log: pass the one printed after `--after` unchanged",
                    parse::shorten(cursor)
                ))
            })?;
            query.after(Some(cursor)).limit(args.limit)
        }
        (None, None) => query.after(None).limit(args.limit),
    };
    let page = audit.query(&query).await.map_err(|e| ctx.error(e))?;
    let layout = EntryLayout::of(ctx.format, &page.entries, false);
    let mut sink = layout.sink();
    for e in &page.entries {
        sink.row(layout.cells(e), e)?;
    }
    sink.flush()?;
    if let (Some(n), Some(total)) = (page.page, page.total) {
        eprintln!(
            "page {n} of {} ({total} entries)",
            page.total_pages().unwrap_or(1)
        );
    }
    if let (None, Some(next)) = (page.page, page.next_cursor) {
        eprintln!("more: add --after {next}");
    }
    Ok(())
}

/// `query --all`: every match in keyset pages, with progress, stoppable.
async fn export<L: EventLog>(ctx: &Ctx<'_, L>, query: AuditQuery<L>) -> Result<(), CliError> {
    let audit = ctx.audit();
    let total = audit.count(&query).await.map_err(|e| ctx.error(e))?.value();
    let progress = Progress::counter(ctx.progress, "export", "entries", total);
    let layout = EntryLayout::of(ctx.format, &[], true);
    let mut sink = layout.sink();
    let mut written = 0;
    let mut page = query.after(None).limit(BATCH);
    let work = async {
        loop {
            let got = audit.query(&page).await.map_err(|e| ctx.error(e))?;
            for e in &got.entries {
                sink.row(layout.cells(e), e)?;
            }
            written += got.entries.len() as u64;
            if ctx.format != Format::Table {
                // Tables align over every row; other formats stream.
                sink.flush()?;
            }
            progress.update(written, total.max(written));
            match got.next_cursor {
                Some(c) => page = page.after(Some(c)),
                None => return Ok::<(), CliError>(()),
            }
        }
    };
    let outcome = until_ctrl_c(work).await;
    match &outcome {
        Some(Ok(())) => progress.finish(),
        _ => progress.abandon(),
    }
    match outcome {
        Some(result) => {
            result?;
            sink.flush()
        }
        None => {
            sink.flush()?;
            Err(CliError::Interrupted {
                message: format!(
                    "the export stopped after {} of {} entries",
                    thousands(written),
                    thousands(total)
                ),
            })
        }
    }
}

/// `history <resource> <record-id>`.
pub(super) async fn history<L: EventLog>(
    ctx: &Ctx<'_, L>,
    args: HistoryArgs,
) -> Result<(), CliError> {
    ctx.check_resources(std::slice::from_ref(&args.resource))
        .await?;
    let key = parse::record_id(&args.record_id, L::RECORD_ID_TYPE).map_err(CliError::usage)?;
    let entries = ctx
        .audit()
        .history(&args.resource, key.clone())
        .await
        .map_err(|e| ctx.error(e))?;
    if entries.is_empty() {
        eprintln!("no entries for {} {key}", args.resource);
        return Ok(());
    }
    let mut sink = Sink::new(
        ctx.format,
        &[
            "id",
            "occurred_at",
            "kind",
            "action",
            "actor",
            "field",
            "old",
            "new",
        ],
    );
    for e in &entries {
        history_rows(&mut sink, e, ctx.format)?;
    }
    sink.flush()
}

/// One entry of a trail: a row per changed field (the input when no changes
/// were recorded); in JSON, the entry with its field changes.
fn history_rows(sink: &mut Sink, e: &AuditEntry, format: Format) -> Result<(), CliError> {
    let fields = e.changes.as_ref().map(|c| c.fields()).unwrap_or_default();
    let json = json!({
        "id": e.id,
        "occurred_at": e.occurred_at,
        "kind": e.kind,
        "action": e.action,
        "actor": e.actor,
        "changes": fields,
        "data": e.data,
        "metadata": e.metadata,
    });
    let actor = dash(e.actor.as_ref().map(|a| format!("{}={}", a.column, a.key)));
    let value = |v: &Option<serde_json::Value>| match (v, format) {
        (None, Format::Table) => "-".to_owned(),
        (None, _) => String::new(),
        (Some(v), Format::Table) => clip(&v.to_string(), 40),
        (Some(v), _) => v.to_string(),
    };
    let head = |first: bool| {
        if first || format != Format::Table {
            vec![
                e.id.to_string(),
                time(&e.occurred_at),
                e.kind.to_string(),
                e.action.clone(),
                actor.clone(),
            ]
        } else {
            vec![String::new(); 5]
        }
    };
    if fields.is_empty() {
        let mut cells = head(true);
        cells.extend([
            "(input)".to_owned(),
            value(&None),
            value(&Some(e.data.clone())),
        ]);
        return sink.row(cells, &json);
    }
    if format == Format::Json {
        // One line per entry, not per field.
        return sink.row(Vec::new(), &json);
    }
    for (i, f) in fields.iter().enumerate() {
        let mut cells = head(i == 0);
        cells.extend([f.field.clone(), value(&f.from), value(&f.to)]);
        sink.row(cells, &json)?;
    }
    Ok(())
}
