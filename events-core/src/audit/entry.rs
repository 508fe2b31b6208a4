//! What the audit query API returns: entries, pages, counts, facets, prune reports.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Changes, Cursor, Tone};
use crate::{ActionKind, Error, EventId, Key};

/// What kind of entry a row of the event table is: a recorded action of one of the
/// three kinds, or a manual entry (stored with `action_type = 'manual'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A recorded create action (Contember's `CREATE`).
    Create,
    /// A recorded update action (Contember's `UPDATE`).
    Update,
    /// A recorded destroy action (Contember's `DELETE`).
    Destroy,
    /// A manual entry ([`ManualEntry`](super::ManualEntry)); never replayed.
    Manual,
}

impl EntryKind {
    /// Every kind, in the order above.
    pub const ALL: [EntryKind; 4] = [
        EntryKind::Create,
        EntryKind::Update,
        EntryKind::Destroy,
        EntryKind::Manual,
    ];

    /// The value stored in the `action_type` column.
    ///
    /// ```
    /// assert_eq!(events_core::audit::EntryKind::Manual.as_str(), "manual");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryKind::Create => "create",
            EntryKind::Update => "update",
            EntryKind::Destroy => "destroy",
            EntryKind::Manual => "manual",
        }
    }

    /// The action kind of a recorded action; `None` for a manual entry.
    pub const fn action_kind(self) -> Option<ActionKind> {
        match self {
            EntryKind::Create => Some(ActionKind::Create),
            EntryKind::Update => Some(ActionKind::Update),
            EntryKind::Destroy => Some(ActionKind::Destroy),
            EntryKind::Manual => None,
        }
    }
}

impl From<ActionKind> for EntryKind {
    fn from(kind: ActionKind) -> Self {
        match kind {
            ActionKind::Create => EntryKind::Create,
            ActionKind::Update => EntryKind::Update,
            ActionKind::Destroy => EntryKind::Destroy,
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntryKind {
    type Err = Error;
    /// Parses a stored `action_type`; also accepts Contember's `CREATE`, `UPDATE`,
    /// `DELETE` in any case.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "create" => Ok(EntryKind::Create),
            "update" => Ok(EntryKind::Update),
            "destroy" | "delete" => Ok(EntryKind::Destroy),
            "manual" => Ok(EntryKind::Manual),
            _ => Err(Error::Audit(crate::AuditError::InvalidFilter {
                field: "kinds".to_owned(),
                message: format!(
                    "`{}` is not one of create, update, destroy (delete), manual",
                    s.chars().take(64).collect::<String>()
                ),
            })),
        }
    }
}

/// Who ran an action or made a manual entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryActor {
    /// The actor column (`persist_actor_primary_key` name, e.g. `user_id`).
    pub column: String,
    /// The actor type stored in that column, as written in the config (`Admin`).
    pub actor_type: String,
    /// The actor's primary key (Contember's `identityId`).
    pub key: Key,
}

impl EntryActor {
    /// Contember's `identityDescription`: the actor type and key, `Admin 0190…`.
    ///
    /// ```
    /// use events_core::{Key, audit::EntryActor};
    /// let a = EntryActor { column: "user_id".into(), actor_type: "Admin".into(), key: Key::from(7_i64) };
    /// assert_eq!(a.description(), "Admin 7");
    /// ```
    pub fn description(&self) -> String {
        format!("{} {}", self.actor_type, self.key)
    }
}

/// Who or what an entry affected, besides its resource (PhoenixKit's
/// `target_uuid`, the audit log's `target_user_uuid`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// What kind of thing the target is (`user`), if given.
    pub kind: Option<String>,
    /// Its id, as text (UUIDs lowercase hyphenated).
    pub id: String,
}

/// One row of the audit log: a recorded action or a manual entry, with its
/// commit time and, when the writer recorded them, its [`Changes`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Event id (Contember's `id`).
    pub id: EventId,
    /// Recorded action kind, or manual (Contember's `type`).
    pub kind: EntryKind,
    /// Resource name (Contember's `tableName`, PhoenixKit's `resource_type`);
    /// `None` for a manual entry about no resource.
    pub resource: Option<String>,
    /// The record (Contember's `primaryKey`, PhoenixKit's `resource_uuid`,
    /// HawkEx's `resource_id`); `None` for a manual entry about no record.
    pub record_id: Option<Key>,
    /// Action name: the action method, or a manual entry's dotted `resource.verb`.
    pub action: String,
    /// Who acted.
    pub actor: Option<EntryActor>,
    /// Who or what was affected.
    pub target: Option<Target>,
    /// The action's input; a manual entry's data (`{}` unless given).
    pub data: Value,
    /// Caller metadata (a JSON object).
    pub metadata: Value,
    /// The action's version; 1 for manual entries.
    pub version: u32,
    /// Tenant, as text (Contember's `stage` is the closest counterpart).
    pub tenant: Option<String>,
    /// Client IP address, as given.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Request id, for correlating everything one request did.
    pub request_id: Option<String>,
    /// PhoenixKit's mode (`auto`, `manual`), if given.
    pub mode: Option<String>,
    /// PhoenixKit's module (the part of the application that logged it), if given.
    pub module: Option<String>,
    /// When the action ran (Contember's `createdAt`): the database clock after the
    /// action's advisory lock, the `ctx.now()` its body saw.
    pub occurred_at: DateTime<Utc>,
    /// When its transaction committed (Contember's `appliedAt`): the database
    /// clock as the commit began, after the transaction's last statement, so
    /// transactions committing within the same few microseconds may come out in
    /// either order. `None` in the value `track` returns, which is built before
    /// the commit, and always `None` on an event log without
    /// [`track_commit_time`](crate::EventLog::TRACK_COMMIT_TIME).
    pub committed_at: Option<DateTime<Utc>>,
    /// The writing transaction (PostgreSQL `xid8`; Contember's transaction id).
    pub transaction_id: u64,
    /// The recorded old and new values, if the writer recorded any.
    pub changes: Option<Changes>,
}

impl AuditEntry {
    /// True for a manual entry.
    pub fn is_manual(&self) -> bool {
        self.kind == EntryKind::Manual
    }

    /// Contember's `oldValues` (updates and destroys).
    pub fn old_values(&self) -> Option<&super::Fields> {
        self.changes.as_ref().and_then(|c| c.old_values.as_ref())
    }

    /// Contember's `newValues` (creates).
    pub fn new_values(&self) -> Option<&super::Fields> {
        self.changes.as_ref().and_then(|c| c.new_values.as_ref())
    }

    /// Contember's `diffValues` (updates).
    pub fn diff_values(&self) -> Option<&super::Fields> {
        self.changes.as_ref().and_then(|c| c.diff_values.as_ref())
    }

    /// The badge tone of this entry's action ([`action_tone`](super::action_tone)).
    pub fn tone(&self) -> Tone {
        super::action_tone(&self.action)
    }

    /// The keyset cursor just after this entry in `order`: pass it to
    /// [`AuditQuery::after`](super::AuditQuery::after) to continue from here.
    /// `None` for the committed orders when the entry has no commit time yet.
    pub fn cursor(&self, order: super::Order) -> Option<Cursor> {
        let at = if order.by_commit() {
            self.committed_at?
        } else {
            self.occurred_at
        };
        Some(Cursor {
            order,
            at,
            id: self.id,
        })
    }
}

/// A number of entries, and how it was obtained (see [`CountMode`](super::CountMode)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Count {
    /// Counted exactly.
    Exact(u64),
    /// Counting stopped at the cap: there are at least this many.
    AtLeast(u64),
    /// The planner's estimate; can be off either way.
    Estimated(u64),
}

impl Count {
    /// The number, whatever its kind.
    ///
    /// ```
    /// assert_eq!(events_core::audit::Count::AtLeast(10_000).value(), 10_000);
    /// ```
    pub fn value(self) -> u64 {
        match self {
            Count::Exact(n) | Count::AtLeast(n) | Count::Estimated(n) => n,
        }
    }

    /// True for an exact count.
    pub fn is_exact(self) -> bool {
        matches!(self, Count::Exact(_))
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::Exact(n) => write!(f, "{n}"),
            Count::AtLeast(n) => write!(f, "{n}+"),
            Count::Estimated(n) => write!(f, "~{n}"),
        }
    }
}

/// A page of entries with what a UI needs to page on: HawkEx's
/// `%{entries, page, per_page, total_count, total_pages}`, plus a keyset cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    /// The entries, in the query's order.
    pub entries: Vec<AuditEntry>,
    /// 1-based page number; `None` for keyset pages, which have no number.
    pub page: Option<u64>,
    /// Page size asked for.
    pub per_page: u64,
    /// Entries matching the filters, counted per the query's count mode; `None`
    /// with [`CountMode::None`](super::CountMode::None).
    pub total: Option<Count>,
    /// Cursor for the next page (keyset, whatever mode this page was read in);
    /// `None` when this is the last page.
    pub next_cursor: Option<Cursor>,
}

impl AuditPage {
    /// HawkEx's `total_count`: the total's value, if counted.
    pub fn total_count(&self) -> Option<u64> {
        self.total.map(Count::value)
    }

    /// HawkEx's `total_pages`: `ceil(total_count / per_page)` (a lower bound when
    /// the total is [`Count::AtLeast`]), at least 1 when counted.
    ///
    /// ```
    /// use events_core::audit::{AuditPage, Count};
    /// let page = AuditPage { entries: vec![], page: Some(1), per_page: 50, total: Some(Count::Exact(312)), next_cursor: None };
    /// assert_eq!(page.total_pages(), Some(7));
    /// ```
    pub fn total_pages(&self) -> Option<u64> {
        let total = self.total_count()?;
        Some(total.div_ceil(self.per_page.max(1)).max(1))
    }

    /// True when more entries follow this page.
    pub fn has_more(&self) -> bool {
        self.next_cursor.is_some()
    }
}

/// Distinct values seen in the log (PhoenixKit's `list_action_types`,
/// `list_resource_types`, `list_modes`, `list_modules`), each sorted bytewise.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Facets {
    /// Action names.
    pub actions: Vec<String>,
    /// Entry kinds.
    pub kinds: Vec<EntryKind>,
    /// Resource names.
    pub resources: Vec<String>,
    /// Modes.
    pub modes: Vec<String>,
    /// Modules.
    pub modules: Vec<String>,
}

/// What a retention prune did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PruneReport {
    /// Entries deleted, manual entries and action events.
    pub deleted: u64,
    /// Of those, events of recorded actions: non-zero only when replay was given
    /// up (or the log cannot replay), and then the cutoff is the replay horizon.
    pub deleted_actions: u64,
    /// Entries that occurred before this instant were deleted
    /// ([`DateTime::<Utc>::MIN_UTC`] for a period longer than any history).
    pub cutoff: DateTime<Utc>,
    /// The manual entry (`audit.pruned`) recording this prune.
    pub entry: EventId,
}
