//! The audit log: the event table read as an audit trail, with manual entries,
//! recorded changes, one query model, facets, typeahead and retention.
//!
//! It covers the query APIs of four audit libraries (HawkEx's `Audit`,
//! PhoenixKit's `Activity` and `AuditLog`, Contember's event log); the store
//! (`events_postgres::AuditLog`) runs it. What each part is and why:
//!
//! # Manual entries
//!
//! [`ManualEntry`] rows live in the event table itself, with
//! `action_type = 'manual'`, so one query covers recorded actions and manual
//! entries alike. Their action is free-form (`project.deleted`), their resource
//! and record id optional (the columns are nullable for manual rows only; a
//! check constraint keeps them required for recorded actions). Audit columns
//! (target kind and id, IP address, user agent, request id, mode, module) are
//! set by the builder; recorded actions fill them from the same-named keys of
//! their metadata ([`ActionCall::request`](crate::ActionCall::request) sets three
//! of them), so a request id finds both. **Manual entries are never replayed**:
//! replay selects recorded actions only. The strict writer returns the typed
//! error; the lenient one (PhoenixKit's `log`) reports failures with `tracing`
//! and returns `None`.
//!
//! # Changes
//!
//! The event row is inserted before the action body runs, so the body's results
//! cannot go into it. The body records them through its context
//! ([`ActionCtx::record_updated`](crate::ActionCtx::record_updated) and
//! friends, [`BulkCtx::record_all`](crate::BulkCtx::record_all)) into an
//! append-only side table keyed by event id, in the same transaction; see [`Changes`] for what each kind of write stores. An update
//! that changed nothing is stored with `unchanged = true`: its event already
//! exists and, the log being append-only, stays; queries can hide such entries
//! ([`AuditQuery::hide_unchanged`]). A manual entry can instead be skipped
//! altogether before it is written ([`ManualEntry::skip_if_unchanged`],
//! PhoenixKit's `log_user_change`). Replay does not write changes.
//!
//! # Queries
//!
//! [`AuditQuery`] is [`Filters`] (the union of the four references' filters)
//! plus an [`Order`], a [`Pagination`] and a [`CountMode`]. A store checks it
//! once with [`AuditQuery::validate`], which gives a [`ValidQuery`] (keys in
//! their columns' shapes, actor filters resolved to columns, the cursor typed)
//! that it builds every statement of the call from. [`Filters`] says where to
//! add a filter. Three paginations ([`Pagination`]: numbered pages with
//! totals, offset/limit, keyset cursors) and four [`CountMode`]s (none, exact,
//! capped, estimated: counting every match on every page is what makes audit
//! UIs slow at millions of rows, so numbered pages count up to 10,000 by
//! default and say "10,000+" beyond).
//! Hostile values (quotes, `%`, `_`, backslashes, very long strings, invalid
//! UUIDs) either match literally or are [`AuditError::InvalidFilter`](crate::AuditError::InvalidFilter)
//! naming the filter: values are always bound parameters, prefix matches are
//! byte ranges rather than `LIKE` patterns (so nothing needs escaping and the
//! index serves them with any plan), and lengths, NUL characters, key shapes and
//! times (from [`EARLIEST_TIME`], PostgreSQL's earliest) are checked before any
//! SQL runs.
//!
//! # Stored JSON
//!
//! One rule for every JSON value the log writes, recorded actions and manual
//! entries alike: nested at most [`MAX_JSON_DEPTH`] levels, no NUL character
//! ([`stored_json_problem`]), indexed metadata keys within their indexes' lengths
//! ([`stored_metadata_problem`]); entries, changes and filters also at most
//! [`MAX_JSON_LEN`] bytes. The request context is cleaned, never refused
//! ([`RequestContext::stored_fields`]).
//!
//! # Commit time
//!
//! Contember distinguishes when an event was created (`occurred_at` here) from
//! when its transaction committed (`appliedAt`). A deferred constraint trigger
//! records each transaction's commit time in a side table (`<table>_commits`),
//! which queries join to filter and order by commit time.
//!
//! | reference | here |
//! | --- | --- |
//! | HawkEx `track/3`, PhoenixKit `log/1`, `create_log_entry/1`, `log_password_change/1`, `log_user_change/4` | [`ManualEntry`] and its presets, stored by the store's `track` / `log` |
//! | PhoenixKit `list/1`, audit log `list_logs/1`, Contember `events(args)` | [`AuditQuery`] |
//! | HawkEx `recent/1` (`%{entries, page, per_page, total_count, total_pages}`) | [`AuditPage`] |
//! | Contember `oldValues` / `diffValues` / `newValues`, PhoenixKit `field_from` / `field_to` | [`Changes`] |
//! | PhoenixKit `action_badge_color/1`, `mode_badge_color/1` | [`action_tone`], [`mode_tone`] |
//! | PhoenixKit `resolve_resource_users/1`, `:preload` | [`resolve_records`], [`resolve_actors`] |

// What each module owns:
// - `query`: `AuditQuery`, `Order`, `Pagination`, `CountMode`;
// - `filters`: `Filters` and the filter builders;
// - `cursor`: keyset `Cursor`s and their text form;
// - `valid`: `check`, `validate` and `ValidQuery`; `rules`: their rules, one
//   named function each;
// - `check`: the limits and rules shared by queries and manual entries;
// - `entry`: what queries return; `present`: badges and resolvers;
// - `scope`: what one viewer may read (`Scope`);
// - `manual`: manual entries; `manual_valid`: their validation (`ValidEntry`); `request`: their request context;
// - `changes`: recorded changes (written through the call's scope, see
//   `crate::call`).
mod changes;
mod check;
mod cursor;
mod entry;
mod filters;
mod manual;
mod manual_valid;
mod present;
mod query;
mod request;
mod rules;
mod scope;
mod valid;

pub use changes::{Changes, FieldChange, Fields};
pub use check::{
    EARLIEST_TIME, INDEXED_METADATA_KEYS, LATEST_TIME, MAX_JSON_DEPTH, MAX_JSON_LEN, MAX_KEY_LEN,
    MAX_LIST_LEN, MAX_NAME_LEN, MAX_PAGE_SIZE, MAX_USER_AGENT_LEN, coerce_key, stored_json_problem,
    stored_metadata_problem, target_text,
};
pub use cursor::Cursor;
pub use entry::{AuditEntry, AuditPage, Count, EntryActor, EntryKind, Facets, PruneReport, Target};
pub use filters::{ActionMatch, ActorMatch, Filters, TimeRange};
pub use manual::ManualEntry;
pub use manual_valid::ValidEntry;
pub use present::{Tone, action_tone, composite_key, mode_tone, resolve_actors, resolve_records};
pub use query::{AuditQuery, CountMode, DEFAULT_COUNT_CAP, Order, Pagination};
pub use request::RequestContext;
pub use scope::{FieldPath, HiddenFields, Scope};
pub use valid::{ActorKey, ValidQuery};

/// The table holding the recorded [`Changes`] of event table `table`.
///
/// ```
/// assert_eq!(events_core::audit::changes_table("events"), "events_changes");
/// ```
pub fn changes_table(table: &str) -> String {
    format!("{table}_changes")
}

/// The table holding the commit time of each transaction that wrote to event
/// table `table`.
///
/// ```
/// assert_eq!(events_core::audit::commits_table("events"), "events_commits");
/// ```
pub fn commits_table(table: &str) -> String {
    format!("{table}_commits")
}

/// The `LISTEN` channel on which event table `table` announces each committed
/// transaction (when notifications are on; see `events_postgres::AuditLog::topic`).
///
/// ```
/// assert_eq!(events_core::audit::notify_channel("events"), "events_audit");
/// ```
pub fn notify_channel(table: &str) -> String {
    // PostgreSQL refuses channel names over 63 bytes.
    let name = format!("{table}_audit");
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}
