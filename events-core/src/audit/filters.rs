//! What an audit query matches: [`Filters`], the plain record of every filter,
//! and the builder methods of [`AuditQuery`] that set them.
//!
//! Filters of different kinds combine with AND; values within one list filter
//! (several resources, several actors, ...) combine with OR. Builder methods never
//! fail: values are checked once, by [`AuditQuery::validate`], and a value that
//! cannot match or cannot be sent is [`AuditError::InvalidFilter`](crate::AuditError::InvalidFilter)
//! naming the filter.
//!
//! # Adding a filter
//!
//! Four places, each next to its siblings:
//!
//! 1. a field of [`Filters`] and its builder method below (`Filters::default()`
//!    must mean "not set", which makes [`AuditQuery::is_unfiltered`] right by
//!    itself);
//! 2. its rule in `valid.rs` (lengths and NUL characters through the shared
//!    rules, or a named rule of its own; key coercion into
//!    [`ValidQuery`](super::ValidQuery) when it holds keys);
//! 3. its SQL family function in the store (`events_postgres`'s
//!    `audit/filters.rs`), called from `filters` there, with an index that
//!    serves it;
//! 4. a test that matches and one that refuses
//!    (`tests/tests/integration/audit/model.rs`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{AuditQuery, EntryKind};
use crate::{Actor, Key, PersistsActor};

/// Every filter of an [`AuditQuery`]; the default sets none. Filters of
/// different kinds combine with AND, values within one list with OR.
///
/// ```
/// use events_core::audit::{AuditQuery, Filters};
/// let q = AuditQuery::<()>::new().resource("article").tenant("acme");
/// assert_eq!(q.filters.resources, ["article"]);
/// assert_ne!(q.filters, Filters::default());
/// assert!(AuditQuery::<()>::new().page(3, 20).is_unfiltered());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// Resource names (Contember's `tables`, PhoenixKit's `resource_type`).
    pub resources: Vec<String>,
    /// Records: (resource, record id) (Contember's `rows`; composite keys via
    /// [`composite_key`](super::composite_key)).
    pub rows: Vec<(String, Key)>,
    /// Record ids under any resource (HawkEx's `for_account`, which matches
    /// `resource_id`).
    pub record_ids: Vec<Key>,
    /// Action names, exact or prefix (PhoenixKit's `action`, the audit log's
    /// `action`).
    pub actions: Vec<ActionMatch>,
    /// HawkEx's `search`: action names starting with this text.
    pub search: Option<String>,
    /// Entry kinds (Contember's `types`).
    pub kinds: Vec<EntryKind>,
    /// Actors (PhoenixKit's `actor_uuid`, the audit log's `admin_user_uuid`,
    /// Contember's `identities`).
    pub actors: Vec<ActorMatch>,
    /// Target ids (PhoenixKit's `target_uuid`, the audit log's `target_user_uuid`).
    pub targets: Vec<Key>,
    /// Target kind.
    pub target_kind: Option<String>,
    /// Entries a user took part in, as actor or as target (the audit log's
    /// `list_logs_for_user`).
    pub for_user: Option<Key>,
    /// Tenant (Contember's `stage` is the closest counterpart).
    pub tenant: Option<Key>,
    /// Transaction ids (Contember's `transactions`).
    pub transactions: Vec<u64>,
    /// `occurred_at` range (PhoenixKit's `since` / `until`, the audit log's
    /// `from_date` / `to_date`, Contember's `createdAt`).
    pub occurred: TimeRange,
    /// Commit time range (Contember's `appliedAt`).
    pub committed: TimeRange,
    /// Entries whose metadata contains this JSON object (`@>`).
    pub metadata: Option<Value>,
    /// Request id.
    pub request_id: Option<String>,
    /// PhoenixKit's mode.
    pub mode: Option<String>,
    /// PhoenixKit's module.
    pub module: Option<String>,
    /// Hide updates whose recorded changes are empty (see
    /// [`hide_unchanged`](AuditQuery::hide_unchanged)).
    pub hide_unchanged: bool,
}

/// A half-open time range, `from <= t < to`; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    /// Inclusive lower bound.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub to: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// True when neither end is set.
    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

/// How an action name matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionMatch {
    /// The whole name.
    Exact(String),
    /// Names starting with these characters, compared bytewise: `%`, `_` and `\`
    /// are plain characters, not patterns.
    Prefix(String),
}

impl ActionMatch {
    /// PhoenixKit's action filter: `"post.*"` matches names starting with `post.`,
    /// anything else matches exactly.
    ///
    /// ```
    /// use events_core::audit::ActionMatch;
    /// assert_eq!(ActionMatch::pattern("post.*"), ActionMatch::Prefix("post.".into()));
    /// assert_eq!(ActionMatch::pattern("post.created"), ActionMatch::Exact("post.created".into()));
    /// ```
    pub fn pattern(pattern: &str) -> ActionMatch {
        match pattern.strip_suffix('*') {
            Some(prefix) => ActionMatch::Prefix(prefix.to_owned()),
            None => ActionMatch::Exact(pattern.to_owned()),
        }
    }
}

/// An actor filter: a key in one actor column, or in any actor column whose key
/// type fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorMatch {
    /// The actor column (`user_id`); `None` for every column the key fits.
    pub column: Option<String>,
    /// The actor's key; strings are parsed to the column's key type.
    pub key: Key,
}

/// The filter builders: each sets or adds to one field of [`Filters`].
impl<L> AuditQuery<L> {
    /// Entries of this resource (repeatable: any of them).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.filters.resources.push(resource.into());
        self
    }

    /// Entries of any of these resources (Contember's `tables`).
    pub fn resources<I, S>(mut self, resources: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.filters
            .resources
            .extend(resources.into_iter().map(Into::into));
        self
    }

    /// Entries of one record (repeatable: any of them). The id may be a string
    /// to be parsed to the log's record id type.
    pub fn record(mut self, resource: impl Into<String>, record_id: impl Into<Key>) -> Self {
        self.filters.rows.push((resource.into(), record_id.into()));
        self
    }

    /// Entries about this record id, whatever the resource (HawkEx's
    /// `for_account`, which matches `resource_id`).
    pub fn record_id(mut self, record_id: impl Into<Key>) -> Self {
        self.filters.record_ids.push(record_id.into());
        self
    }

    /// Entries whose action is exactly `action` (repeatable: any of them).
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.filters.actions.push(ActionMatch::Exact(action.into()));
        self
    }

    /// Entries whose action starts with `prefix` (`"post."`), compared bytewise.
    pub fn action_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.filters
            .actions
            .push(ActionMatch::Prefix(prefix.into()));
        self
    }

    /// PhoenixKit's action filter: exact, or a prefix with a trailing `*`
    /// (`"post.*"`); see [`ActionMatch::pattern`].
    pub fn action_pattern(mut self, pattern: &str) -> Self {
        self.filters.actions.push(ActionMatch::pattern(pattern));
        self
    }

    /// HawkEx's `search` option: entries whose action starts with `term`.
    pub fn search(mut self, term: impl Into<String>) -> Self {
        self.filters.search = Some(term.into());
        self
    }

    /// Entries of this kind (repeatable: any of them).
    pub fn kind(mut self, kind: EntryKind) -> Self {
        self.filters.kinds.push(kind);
        self
    }

    /// Entries of any of these kinds (Contember's `types`).
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = EntryKind>) -> Self {
        self.filters.kinds.extend(kinds);
        self
    }

    /// Entries whose actor is `actor` (repeatable: any of them). Only actor types
    /// the log persists compile.
    pub fn actor<A: Actor>(mut self, actor: &A) -> Self
    where
        L: PersistsActor<A>,
    {
        self.filters.actors.push(ActorMatch {
            column: Some(<L as PersistsActor<A>>::COLUMN.to_owned()),
            key: crate::KeyValue::into_key(actor.primary_key()),
        });
        self
    }

    /// Entries whose actor column `column` holds `key` (for keys from requests;
    /// strings are parsed to the column's type).
    pub fn actor_key(mut self, column: impl Into<String>, key: impl Into<Key>) -> Self {
        self.filters.actors.push(ActorMatch {
            column: Some(column.into()),
            key: key.into(),
        });
        self
    }

    /// Entries whose actor is `key` in any actor column it fits (Contember's
    /// `identities`; repeatable).
    pub fn identity(mut self, key: impl Into<Key>) -> Self {
        self.filters.actors.push(ActorMatch {
            column: None,
            key: key.into(),
        });
        self
    }

    /// Entries affecting this target id (repeatable: any of them).
    pub fn target(mut self, id: impl Into<Key>) -> Self {
        self.filters.targets.push(id.into());
        self
    }

    /// Entries whose target is of this kind.
    pub fn target_kind(mut self, kind: impl Into<String>) -> Self {
        self.filters.target_kind = Some(kind.into());
        self
    }

    /// Entries `user` took part in: as the actor (any actor column the key fits)
    /// or as the target.
    pub fn for_user(mut self, user: impl Into<Key>) -> Self {
        self.filters.for_user = Some(user.into());
        self
    }

    /// Entries of this tenant.
    pub fn tenant(mut self, tenant: impl Into<Key>) -> Self {
        self.filters.tenant = Some(tenant.into());
        self
    }

    /// Entries written by this transaction (repeatable: any of them).
    pub fn transaction(mut self, id: u64) -> Self {
        self.filters.transactions.push(id);
        self
    }

    /// Entries that occurred at or after `from` (PhoenixKit's `since`).
    pub fn since(mut self, from: DateTime<Utc>) -> Self {
        self.filters.occurred.from = Some(from);
        self
    }

    /// Entries that occurred before `to` (PhoenixKit's `until`).
    pub fn until(mut self, to: DateTime<Utc>) -> Self {
        self.filters.occurred.to = Some(to);
        self
    }

    /// Entries whose transaction committed at or after `from`. Needs
    /// [`EventLog::TRACK_COMMIT_TIME`](crate::EventLog::TRACK_COMMIT_TIME).
    pub fn committed_since(mut self, from: DateTime<Utc>) -> Self {
        self.filters.committed.from = Some(from);
        self
    }

    /// Entries whose transaction committed before `to`. Needs
    /// [`EventLog::TRACK_COMMIT_TIME`](crate::EventLog::TRACK_COMMIT_TIME).
    pub fn committed_until(mut self, to: DateTime<Utc>) -> Self {
        self.filters.committed.to = Some(to);
        self
    }

    /// Entries whose metadata contains `object` (`metadata @> object`).
    pub fn metadata_contains(mut self, object: Value) -> Self {
        self.filters.metadata = Some(object);
        self
    }

    /// Entries of this request.
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.filters.request_id = Some(request_id.into());
        self
    }

    /// Entries logged in this mode.
    pub fn mode(mut self, mode: impl Into<String>) -> Self {
        self.filters.mode = Some(mode.into());
        self
    }

    /// Entries logged by this module.
    pub fn module(mut self, module: impl Into<String>) -> Self {
        self.filters.module = Some(module.into());
        self
    }

    /// Hides updates whose recorded changes are empty (an update that changed
    /// nothing still has its event, written before the body ran; its changes row
    /// marks it). PhoenixKit's `log_user_change` skip, applied when reading.
    pub fn hide_unchanged(mut self) -> Self {
        self.filters.hide_unchanged = true;
        self
    }
}
