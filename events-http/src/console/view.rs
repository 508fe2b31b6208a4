//! What the templates show of an entry, computed once in Rust: display texts,
//! badge tones, the links of each part, and changes as before/after values.
//! Templates only print these fields, and askama escapes every one of them:
//! nothing here is HTML, so nothing here can be markup.

use chrono::{DateTime, Utc};
use events_core::audit::{AuditEntry, FieldChange, Tone};
use serde_json::Value;

use super::mount::Mount;

/// A text with a link.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    /// What is shown.
    pub(crate) text: String,
    /// Where it leads.
    pub(crate) href: String,
    /// The full value, when `text` shortens it.
    pub(crate) title: String,
}

/// The record an entry is about.
#[derive(Debug, Clone)]
pub(crate) struct RecordRef {
    /// Resource name.
    pub(crate) resource: String,
    /// Record id, shortened when it is a UUID.
    pub(crate) id: String,
    /// The full record id.
    pub(crate) title: String,
    /// The record's history; `None` for a manual entry about a resource type
    /// and no record.
    pub(crate) href: Option<String>,
}

/// One entry as a row of the feed (and the head of the entry and history
/// pages).
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// The row's element id, `entry-<id>`: the live feed skips rows it has.
    pub(crate) dom_id: String,
    /// The entry's page.
    pub(crate) href: String,
    /// When it occurred, RFC 3339, for `<time datetime>`.
    pub(crate) at_iso: String,
    /// When it occurred, for people.
    pub(crate) at_text: String,
    /// Who acted, linking to the feed of their entries.
    pub(crate) actor: Option<Link>,
    /// The action.
    pub(crate) action: String,
    /// The feed of this action.
    pub(crate) action_href: String,
    /// The badge's CSS class.
    pub(crate) tone: &'static str,
    /// The fields an update changed, comma-separated.
    pub(crate) changed: String,
    /// What the entry is about.
    pub(crate) record: Option<RecordRef>,
    /// Tenant, linking to the feed of that tenant.
    pub(crate) tenant: Option<Link>,
}

impl Row {
    /// The row of `entry`, its links under `mount`.
    pub(crate) fn new(entry: &AuditEntry, mount: &Mount) -> Row {
        let actor = entry.actor.as_ref().map(|a| {
            let key = a.key.to_string();
            let filter = format!("{}:{key}", a.column);
            Link {
                text: format!("{} {}", a.actor_type, short(&key)),
                href: mount.feed_filtered(&[("actor", &filter)]),
                title: filter,
            }
        });
        let record = match (&entry.resource, &entry.record_id) {
            (Some(resource), Some(id)) => Some(RecordRef {
                resource: resource.clone(),
                id: short(&id.to_string()),
                title: id.to_string(),
                href: Some(mount.record(resource, id)),
            }),
            (Some(resource), None) => Some(RecordRef {
                resource: resource.clone(),
                id: String::new(),
                title: String::new(),
                href: None,
            }),
            _ => None,
        };
        let changed = match &entry.changes {
            Some(c) if c.diff_values.is_some() => c
                .fields()
                .into_iter()
                .map(|f| f.field)
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        Row {
            dom_id: format!("entry-{}", entry.id),
            href: mount.entry(&entry.id),
            at_iso: entry.occurred_at.to_rfc3339(),
            at_text: when(entry.occurred_at),
            actor,
            action: entry.action.clone(),
            action_href: mount.feed_filtered(&[("action", &entry.action)]),
            tone: tone_class(entry.tone()),
            changed,
            record,
            tenant: entry.tenant.as_ref().map(|t| Link {
                text: t.clone(),
                href: mount.feed_filtered(&[("tenant", t)]),
                title: t.clone(),
            }),
        }
    }
}

/// A value as shown in a diff or a detail: its text and how to style it.
#[derive(Debug, Clone)]
pub(crate) struct Shown {
    /// The text: a string as itself, other JSON compact, objects and arrays
    /// pretty-printed.
    pub(crate) text: String,
    /// `str`, `json`, `null` or `absent`.
    pub(crate) class: &'static str,
    /// True for pretty-printed JSON, shown in a `<pre>`.
    pub(crate) block: bool,
}

impl Shown {
    fn of(value: Option<&Value>) -> Shown {
        let (text, class, block) = match value {
            None => ("(none)".to_owned(), "absent", false),
            Some(Value::Null) => ("null".to_owned(), "null", false),
            Some(Value::String(s)) => (s.clone(), "str", false),
            Some(v @ (Value::Object(_) | Value::Array(_))) if !is_empty(v) => {
                (pretty(v), "json", true)
            }
            Some(v) => (v.to_string(), "json", false),
        };
        Shown { text, class, block }
    }
}

/// One changed field: its value before and after.
#[derive(Debug, Clone)]
pub(crate) struct FieldRow {
    /// Field name.
    pub(crate) field: String,
    /// Before (absent for a create).
    pub(crate) from: Shown,
    /// After (absent for a destroy).
    pub(crate) to: Shown,
}

/// The changed fields of `entry`, in field order.
pub(crate) fn field_rows(entry: &AuditEntry) -> Vec<FieldRow> {
    entry
        .changes
        .as_ref()
        .map(|c| c.fields().iter().map(field_row).collect())
        .unwrap_or_default()
}

fn field_row(change: &FieldChange) -> FieldRow {
    FieldRow {
        field: change.field.clone(),
        from: Shown::of(change.from.as_ref()),
        to: Shown::of(change.to.as_ref()),
    }
}

/// True when `entry` is an update that changed no field.
pub(crate) fn unchanged(entry: &AuditEntry) -> bool {
    entry.changes.as_ref().is_some_and(|c| c.unchanged)
}

/// One line of an entry's details.
#[derive(Debug, Clone)]
pub(crate) struct Detail {
    /// What it is.
    pub(crate) label: &'static str,
    /// Its value.
    pub(crate) value: String,
    /// A feed or page it links to.
    pub(crate) href: Option<String>,
}

/// The details of `entry`, those it has, in reading order.
pub(crate) fn details(entry: &AuditEntry, mount: &Mount) -> Vec<Detail> {
    let mut out = Vec::new();
    let mut add = |label, value: Option<String>, href: Option<String>| {
        if let Some(value) = value {
            out.push(Detail { label, value, href });
        }
    };
    add("Id", Some(entry.id.to_string()), None);
    add("Kind", Some(entry.kind.to_string()), None);
    add("Occurred", Some(when(entry.occurred_at)), None);
    add("Committed", entry.committed_at.map(when), None);
    let txid = entry.transaction_id.to_string();
    let tx_href = mount.feed_filtered(&[("transaction", &txid)]);
    add("Transaction", Some(txid), Some(tx_href));
    if let Some(a) = &entry.actor {
        let filter = format!("{}:{}", a.column, a.key);
        let href = mount.feed_filtered(&[("actor", &filter)]);
        add(
            "Actor",
            Some(format!("{} {} ({})", a.actor_type, a.key, a.column)),
            Some(href),
        );
    }
    if let Some(t) = &entry.target {
        let text = match &t.kind {
            Some(kind) => format!("{kind} {}", t.id),
            None => t.id.clone(),
        };
        add(
            "Target",
            Some(text),
            Some(mount.feed_filtered(&[("target", &t.id)])),
        );
    }
    if let Some(t) = &entry.tenant {
        add(
            "Tenant",
            Some(t.clone()),
            Some(mount.feed_filtered(&[("tenant", t)])),
        );
    }
    if let Some(r) = &entry.request_id {
        add(
            "Request",
            Some(r.clone()),
            Some(mount.feed_filtered(&[("request_id", r)])),
        );
    }
    add("IP address", entry.ip_address.clone(), None);
    add("User agent", entry.user_agent.clone(), None);
    add("Mode", entry.mode.clone(), None);
    add("Module", entry.module.clone(), None);
    add("Version", Some(entry.version.to_string()), None);
    out
}

/// Pretty-printed JSON.
pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A time for people: to the second, in UTC.
pub(crate) fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A UUID shortened to its last 8 digits (the title keeps it whole: version
/// 7 UUIDs made in the same millisecond share their first 12); any other text
/// as it is.
fn short(text: &str) -> String {
    match text.get(28..) {
        Some(tail) if text.len() == 36 && uuid::Uuid::parse_str(text).is_ok() => {
            format!("…{tail}")
        }
        _ => text.to_owned(),
    }
}

/// The badge class of a tone.
fn tone_class(tone: Tone) -> &'static str {
    match tone {
        Tone::Success => "ok",
        Tone::Info => "info",
        Tone::Warning => "warn",
        Tone::Error => "bad",
        Tone::Neutral => "plain",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_shown_as_text_by_kind() {
        let s = Shown::of(Some(&json!("<b>x</b>")));
        assert_eq!(
            (s.text.as_str(), s.class, s.block),
            ("<b>x</b>", "str", false)
        );
        assert_eq!(Shown::of(None).class, "absent");
        assert_eq!(Shown::of(Some(&Value::Null)).text, "null");
        assert_eq!(Shown::of(Some(&json!(3))).text, "3");
        assert!(Shown::of(Some(&json!({"a": 1}))).block);
        assert_eq!(Shown::of(Some(&json!({}))).text, "{}");
    }

    #[test]
    fn only_uuids_are_shortened() {
        assert_eq!(short("0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"), "…2e3f4a5b");
        assert_eq!(
            short("<img src=x onerror=alert(1)>"),
            "<img src=x onerror=alert(1)>"
        );
        assert_eq!(short("csv-importer"), "csv-importer");
    }
}
