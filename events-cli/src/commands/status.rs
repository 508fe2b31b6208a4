//! `status`: what the log holds and how it is set, in one screen.

use std::io::Write;

use events_core::{EventLog, KeyType, PrimaryKeyType};
use events_postgres::consume::ConsumerStatus;
use events_postgres::replay::Checkpoint;
use events_postgres::stats::LogStats;
use serde_json::{Value, json};

use super::Ctx;
use crate::args::Format;
use crate::error::CliError;
use crate::output::{Sink, dash, table, time};
use crate::progress::{seconds, thousands};

/// Everything `status` shows.
struct Status {
    stats: LogStats,
    checkpoint: Option<Checkpoint>,
    consumers: Vec<ConsumerStatus>,
}

pub(super) async fn run<L: EventLog>(ctx: &Ctx<'_, L>) -> Result<(), CliError> {
    let stats = ctx.store.stats().await.map_err(|e| ctx.error(e))?;
    let checkpoint = ctx
        .store
        .replay_checkpoint()
        .await
        .map_err(|e| ctx.error(e))?;
    let has_consumers = stats
        .tables
        .iter()
        .any(|t| t.name.ends_with("_consumers") && t.rows.is_some_and(|n| n > 0));
    let consumers = if has_consumers {
        ctx.store
            .consumer_status()
            .await
            .map_err(|e| ctx.error(e))?
    } else {
        Vec::new()
    };
    let status = Status {
        stats,
        checkpoint,
        consumers,
    };
    match ctx.format {
        Format::Table => print_table(ctx, &status),
        Format::Json => {
            let line = serde_json::to_string(&to_json(ctx, &status))
                .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
            writeln!(std::io::stdout().lock(), "{line}")?;
            Ok(())
        }
        Format::Csv => {
            let mut sink = Sink::new(Format::Csv, &["key", "value"]);
            flatten(&mut sink, "", &to_json(ctx, &status))?;
            sink.flush()
        }
    }
}

/// What replay can do now, in a phrase.
fn replay_state<L: EventLog>(ctx: &Ctx<'_, L>, s: &Status) -> String {
    if let Some(c) = &s.checkpoint {
        return format!(
            "unfinished chunked replay: {}/{} events applied since {}; run `{} resume` to finish it",
            thousands(c.applied),
            thousands(c.total),
            time(&c.started_at),
            ctx.cli.name
        );
    }
    if let Some(h) = &s.stats.replay_horizon {
        return format!(
            "given up: retention deleted action events before {}",
            time(h)
        );
    }
    if L::CLEAR_RECORDS_FOR_REPLAY.is_none() {
        return "not possible: the event log has no clear_records_for_replay".to_owned();
    }
    format!("ready (`{} verify` checks every route)", ctx.cli.name)
}

fn retention<L: EventLog>(ctx: &Ctx<'_, L>) -> String {
    match ctx.cli.retention {
        Some(period) => {
            let keeps = if L::CLEAR_RECORDS_FOR_REPLAY.is_some() {
                "prune deletes older manual entries; action events stay for replay"
            } else {
                "prune deletes every older entry"
            };
            format!("{} ({keeps})", humanize(period))
        }
        None => "none set (prune needs --older-than)".to_owned(),
    }
}

/// A period as people say it: `365 days`, `12 hours`, `90 seconds`.
fn humanize(period: chrono::Duration) -> String {
    let secs = period.num_seconds();
    let (n, unit) = if secs != 0 && secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs != 0 && secs % 3_600 == 0 {
        (secs / 3_600, "hour")
    } else if secs != 0 && secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn id_types<L: EventLog>() -> String {
    let ids = match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => "integer",
        PrimaryKeyType::UuidV7 => "uuid_v7",
    };
    let records = match L::RECORD_ID_TYPE {
        KeyType::Uuid => "uuid",
        KeyType::Integer => "integer",
        KeyType::String => "string",
    };
    format!("{ids} event ids, {records} record ids")
}

fn bytes(n: Option<u64>) -> String {
    let Some(n) = n else {
        return "missing".to_owned();
    };
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn print_table<L: EventLog>(ctx: &Ctx<'_, L>, s: &Status) -> Result<(), CliError> {
    let st = &s.stats;
    let kinds = st
        .kinds
        .iter()
        .map(|(k, n)| format!("{k} {}", thousands(*n)))
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<Vec<String>> = [
        ("event log", format!("{} ({})", st.table, id_types::<L>())),
        ("database", ctx.target.to_string()),
        ("entries", format!("{} ({kinds})", thousands(st.entries()))),
        ("oldest", dash(st.oldest.as_ref().map(time))),
        ("newest", dash(st.newest.as_ref().map(time))),
        ("retention", retention(ctx)),
        (
            "notifications",
            if ctx.cli.notifications { "on" } else { "off" }.to_owned(),
        ),
        (
            "commit times",
            if L::TRACK_COMMIT_TIME {
                "tracked"
            } else {
                "not tracked"
            }
            .to_owned(),
        ),
        ("replay", replay_state(ctx, s)),
    ]
    .into_iter()
    .map(|(k, v)| vec![format!("{k}:"), v])
    .collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", table(None, rows))?;
    writeln!(out)?;
    let tables = st
        .tables
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.rows.map_or_else(|| "-".to_owned(), thousands),
                bytes(t.bytes),
                t.role.clone(),
            ]
        })
        .collect();
    writeln!(
        out,
        "{}",
        table(Some(&["table", "rows", "size", "holds"]), tables)
    )?;
    writeln!(out)?;
    if s.consumers.is_empty() {
        writeln!(out, "consumers: none")?;
    } else {
        let rows = s
            .consumers
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    format!("{}/{}", c.member, c.members),
                    dash(
                        c.position
                            .map(|p| format!("event {} (txid {})", p.id, p.txid)),
                    ),
                    thousands(c.handled),
                    thousands(c.lag_events),
                    seconds(c.lag),
                    time(&c.updated_at),
                ]
            })
            .collect();
        writeln!(
            out,
            "{}",
            table(
                Some(&[
                    "consumer", "member", "position", "handled", "lag", "lag age", "updated"
                ]),
                rows
            )
        )?;
    }
    Ok(())
}

fn to_json<L: EventLog>(ctx: &Ctx<'_, L>, s: &Status) -> Value {
    let st = &s.stats;
    json!({
        "table": st.table,
        "database": ctx.target.to_string(),
        "entries": st.entries(),
        "kinds": st.kinds.iter().map(|(k, n)| (k.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "oldest": st.oldest,
        "newest": st.newest,
        "retention_seconds": ctx.cli.retention.map(|p| p.num_seconds()),
        "notifications": ctx.cli.notifications,
        "commit_times": L::TRACK_COMMIT_TIME,
        "replay": {
            "state": replay_state(ctx, s),
            "horizon": st.replay_horizon,
            "checkpoint": s.checkpoint.as_ref().map(|c| json!({
                "applied": c.applied,
                "total": c.total,
                "last_event": c.last_event.map(|e| e.to_string()),
                "started_at": c.started_at,
            })),
        },
        "tables": st.tables.iter().map(|t| json!({
            "name": t.name, "rows": t.rows, "bytes": t.bytes, "holds": t.role,
        })).collect::<Vec<_>>(),
        "consumers": s.consumers.iter().map(|c| json!({
            "name": c.name,
            "member": c.member,
            "members": c.members,
            "position": c.position,
            "handled": c.handled,
            "lag_events": c.lag_events,
            "lag_seconds": c.lag.as_secs_f64(),
            "updated_at": c.updated_at,
        })).collect::<Vec<_>>(),
    })
}

/// `key,value` rows of a JSON object, nested keys joined with dots.
fn flatten(sink: &mut Sink, prefix: &str, value: &Value) -> Result<(), CliError> {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(sink, &key, v)?;
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(sink, &format!("{prefix}.{i}"), v)?;
            }
        }
        Value::String(text) => sink.row(vec![prefix.to_owned(), text.clone()], value)?,
        Value::Null => sink.row(vec![prefix.to_owned(), String::new()], value)?,
        other => sink.row(vec![prefix.to_owned(), other.to_string()], value)?,
    }
    Ok(())
}
