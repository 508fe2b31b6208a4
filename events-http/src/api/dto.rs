//! What the API answers, as JSON: one struct per response body, each deriving
//! `ToSchema` so the OpenAPI document describes exactly what is sent.
//!
//! The audit model's own types (`AuditEntry`, `AuditPage`, ...) are not sent
//! as they are: their serde form is a storage format (counts tagged by kind,
//! untagged ids), and they carry no schema. These views fix the wire format
//! independently of the model: a change in `events-core` is a compile error
//! here, not a silent change for generated clients.

use chrono::{DateTime, Utc};
use events_core::audit::{
    AuditEntry, AuditPage, Changes, Count, EntryActor, EntryKind, FieldChange, Fields, Target,
};
use events_core::{EventId, Key};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// An event id: an integer on logs with integer ids, a UUID on `uuid_v7` logs.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum Id {
    /// An integer id.
    Integer(i64),
    /// A UUID id.
    Uuid(uuid::Uuid),
}

impl From<EventId> for Id {
    fn from(id: EventId) -> Id {
        match id {
            EventId::Integer(i) => Id::Integer(i),
            EventId::Uuid(u) => Id::Uuid(u),
        }
    }
}

/// A record or actor key: a UUID, an integer or a string, per the column.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum KeyView {
    /// A UUID key.
    Uuid(uuid::Uuid),
    /// An integer key.
    Integer(i64),
    /// A string key.
    String(String),
}

impl From<Key> for KeyView {
    fn from(key: Key) -> KeyView {
        match key {
            Key::Uuid(u) => KeyView::Uuid(u),
            Key::Integer(i) => KeyView::Integer(i),
            Key::String(s) => KeyView::String(s),
        }
    }
}

/// What kind of entry: a recorded action of one of three kinds, or a manual entry.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// A recorded create action.
    Create,
    /// A recorded update action.
    Update,
    /// A recorded destroy action.
    Destroy,
    /// A manual entry.
    Manual,
}

impl From<EntryKind> for Kind {
    fn from(kind: EntryKind) -> Kind {
        match kind {
            EntryKind::Create => Kind::Create,
            EntryKind::Update => Kind::Update,
            EntryKind::Destroy => Kind::Destroy,
            EntryKind::Manual => Kind::Manual,
        }
    }
}

/// Who acted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Actor {
    /// The actor column (`user_id`); filter with `actor=<column>:<key>`.
    pub(crate) column: String,
    /// The actor type stored in that column (`Admin`).
    pub(crate) actor_type: String,
    /// The actor's key.
    pub(crate) key: KeyView,
}

impl From<EntryActor> for Actor {
    fn from(a: EntryActor) -> Actor {
        Actor {
            column: a.column,
            actor_type: a.actor_type,
            key: a.key.into(),
        }
    }
}

/// Who or what an entry affected, besides its resource.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct TargetView {
    /// What kind of thing the target is (`user`), if given.
    pub(crate) kind: Option<String>,
    /// Its id, as text.
    pub(crate) id: String,
}

impl From<Target> for TargetView {
    fn from(t: Target) -> TargetView {
        TargetView {
            kind: t.kind,
            id: t.id,
        }
    }
}

/// One changed field with its value before and after.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct FieldChangeView {
    /// The field's name.
    pub(crate) field: String,
    /// The value before; absent for a create.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) from: Option<Value>,
    /// The value after; absent for a destroy.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) to: Option<Value>,
}

impl From<FieldChange> for FieldChangeView {
    fn from(c: FieldChange) -> FieldChangeView {
        FieldChangeView {
            field: c.field,
            from: c.from,
            to: c.to,
        }
    }
}

/// The values a write changed, recorded when it was written: the whole old
/// record (updates, destroys), the new values of the changed fields (updates),
/// the whole new record (creates), and the same as one list of fields.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ChangesView {
    /// The whole record before the write (updates and destroys).
    #[schema(value_type = Option<Object>)]
    pub(crate) old_values: Option<Fields>,
    /// The new values of the fields an update changed.
    #[schema(value_type = Option<Object>)]
    pub(crate) diff_values: Option<Fields>,
    /// The whole record after a create.
    #[schema(value_type = Option<Object>)]
    pub(crate) new_values: Option<Fields>,
    /// True for an update that changed no field.
    pub(crate) unchanged: bool,
    /// Each changed field, from → to: every field of a create or destroy, the
    /// changed fields of an update.
    pub(crate) fields: Vec<FieldChangeView>,
}

impl From<Changes> for ChangesView {
    fn from(c: Changes) -> ChangesView {
        let fields = c.fields().into_iter().map(Into::into).collect();
        ChangesView {
            old_values: c.old_values,
            diff_values: c.diff_values,
            new_values: c.new_values,
            unchanged: c.unchanged,
            fields,
        }
    }
}

/// One audit entry: a recorded action or a manual entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Entry {
    /// The entry's id (`GET entries/{id}`).
    pub(crate) id: Id,
    /// Recorded action kind, or manual.
    pub(crate) kind: Kind,
    /// Resource name; absent for a manual entry about no resource.
    pub(crate) resource: Option<String>,
    /// The record; absent for a manual entry about no record.
    pub(crate) record_id: Option<KeyView>,
    /// Action name.
    pub(crate) action: String,
    /// Who acted.
    pub(crate) actor: Option<Actor>,
    /// Who or what was affected.
    pub(crate) target: Option<TargetView>,
    /// The action's input, or a manual entry's data (without the fields
    /// hidden from this viewer).
    #[schema(value_type = Object)]
    pub(crate) data: Value,
    /// Caller metadata (without the keys hidden from this viewer).
    #[schema(value_type = Object)]
    pub(crate) metadata: Value,
    /// The action's version; 1 for manual entries.
    pub(crate) version: u32,
    /// Tenant.
    pub(crate) tenant: Option<String>,
    /// Client IP address.
    pub(crate) ip_address: Option<String>,
    /// Client user agent.
    pub(crate) user_agent: Option<String>,
    /// Request id.
    pub(crate) request_id: Option<String>,
    /// Mode (`auto`, `manual`).
    pub(crate) mode: Option<String>,
    /// Module.
    pub(crate) module: Option<String>,
    /// When the action ran (RFC 3339).
    pub(crate) occurred_at: DateTime<Utc>,
    /// When its transaction committed, on logs tracking commit time.
    pub(crate) committed_at: Option<DateTime<Utc>>,
    /// The writing transaction (the `transaction` filter).
    pub(crate) transaction_id: u64,
    /// The recorded values, if the writer recorded any.
    pub(crate) changes: Option<ChangesView>,
}

impl From<AuditEntry> for Entry {
    fn from(e: AuditEntry) -> Entry {
        Entry {
            id: e.id.into(),
            kind: e.kind.into(),
            resource: e.resource,
            record_id: e.record_id.map(Into::into),
            action: e.action,
            actor: e.actor.map(Into::into),
            target: e.target.map(Into::into),
            data: e.data,
            metadata: e.metadata,
            version: e.version,
            tenant: e.tenant,
            ip_address: e.ip_address,
            user_agent: e.user_agent,
            request_id: e.request_id,
            mode: e.mode,
            module: e.module,
            occurred_at: e.occurred_at,
            committed_at: e.committed_at,
            transaction_id: e.transaction_id,
            changes: e.changes.map(Into::into),
        }
    }
}

/// How a total was obtained.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TotalKind {
    /// Counted exactly.
    Exact,
    /// Counting stopped at the cap: there are at least `value` entries.
    AtLeast,
    /// The database planner's estimate; can be off either way.
    Estimated,
}

/// A number of entries, and how it was obtained (the `count` parameter).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub(crate) struct Total {
    /// The number.
    pub(crate) value: u64,
    /// Exact, a lower bound, or an estimate.
    pub(crate) kind: TotalKind,
}

impl From<Count> for Total {
    fn from(c: Count) -> Total {
        let kind = match c {
            Count::Exact(_) => TotalKind::Exact,
            Count::AtLeast(_) => TotalKind::AtLeast,
            Count::Estimated(_) => TotalKind::Estimated,
        };
        Total {
            value: c.value(),
            kind,
        }
    }
}

/// A page of entries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct EntriesPage {
    /// The entries, in the query's order.
    pub(crate) entries: Vec<Entry>,
    /// 1-based page number; absent for keyset pages (`after`), which have none.
    pub(crate) page: Option<u64>,
    /// Page size asked for.
    pub(crate) per_page: u64,
    /// Entries matching the filters, per the `count` mode; absent with
    /// `count=none` (the default for keyset and offset pages).
    pub(crate) total: Option<Total>,
    /// Pages at this size, from the total (a lower bound when it is `at_least`).
    pub(crate) total_pages: Option<u64>,
    /// Pass as `after` for the next page (whatever mode this page was read
    /// in); absent on the last page.
    pub(crate) next_cursor: Option<String>,
    /// True when more entries follow this page.
    pub(crate) has_more: bool,
}

impl From<AuditPage> for EntriesPage {
    fn from(p: AuditPage) -> EntriesPage {
        let total_pages = p.total_pages();
        let has_more = p.has_more();
        EntriesPage {
            page: p.page,
            per_page: p.per_page,
            total: p.total.map(Into::into),
            total_pages,
            next_cursor: p.next_cursor.map(|c| c.to_string()),
            has_more,
            entries: p.entries.into_iter().map(Into::into).collect(),
        }
    }
}

/// A record's history: its entries oldest first, each with its recorded
/// old, changed and new values.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct History {
    /// The resource asked for.
    pub(crate) resource: String,
    /// The record asked for, in the log's record id type.
    pub(crate) record_id: KeyView,
    /// The entries, oldest first; empty when the record has none this viewer
    /// may see (an unknown resource or record included).
    pub(crate) entries: Vec<Entry>,
    /// Pass as `after` for the next part of a long history; absent at its end.
    pub(crate) next_cursor: Option<String>,
    /// True when more entries follow.
    pub(crate) has_more: bool,
}

/// Distinct values in the log this viewer may read, for filter menus.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct FacetsView {
    /// Action names.
    pub(crate) actions: Vec<String>,
    /// Entry kinds present.
    pub(crate) kinds: Vec<Kind>,
    /// Resource names.
    pub(crate) resources: Vec<String>,
    /// Modes.
    pub(crate) modes: Vec<String>,
    /// Modules.
    pub(crate) modules: Vec<String>,
    /// Actors, per actor column in the log's order.
    pub(crate) actors: Vec<Actor>,
}

/// Action names starting with the typed text.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ActionNames {
    /// The names, bytewise ascending.
    pub(crate) actions: Vec<String>,
}

/// One event of the live stream: new entries, oldest transaction first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct StreamBatch {
    /// The entries committed since the previous event (at most `limit`).
    pub(crate) entries: Vec<Entry>,
    /// The stream's position after them, also sent as the event's `id`:
    /// reconnecting with it in `Last-Event-ID` resumes after them.
    pub(crate) position: Option<String>,
}
