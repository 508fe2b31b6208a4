//! Printing data in the format asked for: an aligned table for a terminal,
//! JSON lines (one object per line, for `jq` and other programs) or CSV. Data
//! goes to stdout, everything else (progress, hints, errors) to stderr.

use std::io::{Stdout, Write};

use comfy_table::{ContentArrangement, Table, presets::NOTHING};
use events_core::audit::AuditEntry;
use serde::Serialize;

use crate::args::Format;
use crate::error::CliError;

/// Rows of one kind of record, printed as they come (JSON, CSV) or aligned
/// when flushed (table).
pub(crate) struct Sink {
    format: Format,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    csv: Option<csv::Writer<Stdout>>,
    header_shown: bool,
}

impl Sink {
    /// A sink of records with these column names.
    pub(crate) fn new(format: Format, header: &[&str]) -> Self {
        Sink {
            format,
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            csv: (format == Format::Csv).then(|| csv::Writer::from_writer(std::io::stdout())),
            header_shown: false,
        }
    }

    /// One record: its cells (table and CSV, in header order) and its JSON form.
    pub(crate) fn row(
        &mut self,
        cells: Vec<String>,
        json: &impl Serialize,
    ) -> Result<(), CliError> {
        match self.format {
            Format::Table => self.rows.push(cells),
            Format::Json => {
                let line = serde_json::to_string(json)
                    .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}")?;
            }
            Format::Csv => {
                let header_shown = self.header_shown;
                if let Some(w) = self.csv.as_mut() {
                    if !header_shown {
                        w.write_record(&self.header).map_err(csv_error)?;
                    }
                    w.write_record(&cells).map_err(csv_error)?;
                }
                self.header_shown = true;
            }
        }
        Ok(())
    }

    /// Prints what is buffered: the table so far (with the header the first
    /// time), or flushes the CSV writer.
    pub(crate) fn flush(&mut self) -> Result<(), CliError> {
        match self.format {
            Format::Table if !self.rows.is_empty() => {
                let rows = std::mem::take(&mut self.rows);
                let header: Vec<&str> = self.header.iter().map(String::as_str).collect();
                let text = table((!self.header_shown).then_some(header.as_slice()), rows);
                self.header_shown = true;
                let mut out = std::io::stdout().lock();
                writeln!(out, "{text}")?;
                out.flush()?;
            }
            Format::Table => {}
            Format::Json => std::io::stdout().lock().flush()?,
            Format::Csv => {
                if let Some(w) = self.csv.as_mut() {
                    w.flush()?;
                }
            }
        }
        Ok(())
    }
}

fn csv_error(e: csv::Error) -> CliError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => CliError::Output(io),
        other => CliError::Output(std::io::Error::other(format!("{other:?}"))),
    }
}

/// An aligned, borderless table, one line per row, no wrapping.
pub(crate) fn table(header: Option<&[&str]>, rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_style(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    if let Some(header) = header {
        t.set_header(header.iter().map(|h| h.to_uppercase()));
    }
    for row in rows {
        t.add_row(row);
    }
    t.lines()
        .map(|l| l.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// How entries are laid out in one output: every field in CSV; in a table,
/// one line each, the tenant column only when some entry has a tenant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryLayout {
    format: Format,
    tenant: bool,
}

impl EntryLayout {
    /// The layout of `entries` (and of later ones, for `tail -f`) in
    /// `format`; `tenant` forces the tenant column.
    pub(crate) fn of(format: Format, entries: &[AuditEntry], tenant: bool) -> Self {
        EntryLayout {
            format,
            tenant: tenant || entries.iter().any(|e| e.tenant.is_some()),
        }
    }

    /// The column names.
    pub(crate) fn header(&self) -> Vec<&'static str> {
        match self.format {
            Format::Csv => vec![
                "id",
                "occurred_at",
                "committed_at",
                "kind",
                "resource",
                "record_id",
                "action",
                "actor_column",
                "actor",
                "tenant",
                "version",
                "transaction_id",
                "data",
                "metadata",
                "changes",
            ],
            _ => {
                let mut h = vec![
                    "id",
                    "occurred_at",
                    "kind",
                    "resource",
                    "record_id",
                    "action",
                    "actor",
                ];
                if self.tenant {
                    h.push("tenant");
                }
                h.push("data");
                h
            }
        }
    }

    /// A sink with this layout's header.
    pub(crate) fn sink(&self) -> Sink {
        Sink::new(self.format, &self.header())
    }

    /// An entry's cells (its JSON form is the entry itself).
    pub(crate) fn cells(&self, e: &AuditEntry) -> Vec<String> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        match self.format {
            Format::Csv => vec![
                e.id.to_string(),
                e.occurred_at.to_rfc3339(),
                e.committed_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                e.kind.to_string(),
                opt(&e.resource),
                e.record_id
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                e.action.clone(),
                e.actor
                    .as_ref()
                    .map(|a| a.column.clone())
                    .unwrap_or_default(),
                e.actor
                    .as_ref()
                    .map(|a| a.key.to_string())
                    .unwrap_or_default(),
                opt(&e.tenant),
                e.version.to_string(),
                e.transaction_id.to_string(),
                e.data.to_string(),
                e.metadata.to_string(),
                e.changes
                    .as_ref()
                    .and_then(|c| serde_json::to_string(c).ok())
                    .unwrap_or_default(),
            ],
            _ => {
                let mut cells = vec![
                    e.id.to_string(),
                    time(&e.occurred_at),
                    e.kind.to_string(),
                    dash(e.resource.clone()),
                    dash(e.record_id.as_ref().map(ToString::to_string)),
                    e.action.clone(),
                    dash(e.actor.as_ref().map(|a| format!("{}={}", a.column, a.key))),
                ];
                if self.tenant {
                    cells.push(dash(e.tenant.clone()));
                }
                cells.push(clip(&e.data.to_string(), 40));
                cells
            }
        }
    }
}

/// A time for a table: UTC, to the second.
pub(crate) fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `-` for nothing.
pub(crate) fn dash(v: Option<String>) -> String {
    v.filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".to_owned())
}

/// At most `n` characters, `…` marking a cut.
pub(crate) fn clip(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(n.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_without_borders() {
        let t = table(
            Some(&["id", "action"]),
            vec![
                vec!["1".into(), "register".into()],
                vec!["10".into(), "delete".into()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(lines[0].starts_with(" ID"), "{t}");
        assert_eq!(lines[1].find("register"), lines[2].find("delete"), "{t}");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
