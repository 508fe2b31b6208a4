//! The audit log on PostgreSQL: [`AuditLog`] runs the query model of
//! [`events_core::audit`] against an event table, writes manual entries, lists
//! facets, serves typeahead and prunes by age.
//!
//! # How each query shape is served
//!
//! Every shape is served by an index at millions of entries (the indexes are
//! listed in [`crate::schema`]; `cargo run --release -p events-bench --bin
//! audit_queries` prints each shape's plan and latency at a million):
//!
//! - **Pages in time order**: `(occurred_at, id)` and, per filter, an index
//!   whose leading column is the filter and whose tail is `(occurred_at, id)`, so
//!   the first page of "this actor's entries, newest first" reads 51 index
//!   entries. Keyset cursors continue from `(occurred_at, id)` at the same cost
//!   however deep; numbered pages and offsets pay for the rows they skip.
//! - **Commit order**: the commit side table's `(committed_at, txid)` index,
//!   joined to the events by `txid`.
//! - **Facets and typeahead**: a skip scan (a recursive query that jumps from one
//!   distinct value to the next with one index descent each) over the index
//!   leading with the column. Nothing is maintained on insert, the answer is
//!   always exact (also after pruning), and the cost is one descent per value
//!   returned: typeahead's 5 names cost 5 descents, whatever the log's size. A
//!   side table of names maintained on insert would cost every write and go stale
//!   on pruning.
//! - **Prefix matches** are byte ranges (`action >= 'post.' AND action < 'post/'`
//!   under `COLLATE "C"`), which the action index serves in custom and generic
//!   plans alike; `%`, `_` and `\` are ordinary characters.
//! - **Counts**: see [`CountMode`](events_core::audit::CountMode).
//!
//! # Manual entries
//!
//! Stored in the event table with `action_type = 'manual'` and `version = 1`,
//! their audit context merged into the metadata (see
//! [`ValidEntry`](events_core::audit::ValidEntry)). [`AuditLog::track`] returns
//! errors; [`AuditLog::log`] never fails its caller (it logs the error with
//! `tracing` and returns `None`), for logging calls that must not break the
//! request they describe. Replay never applies them; the event readers
//! ([`PgEventStore::list_events`](crate::PgEventStore::list_events), [`PgEventStore::events_for_record`](crate::PgEventStore::events_for_record)) skip
//! them: they are not events of an action.
//!
//! # Retention
//!
//! [`AuditLog::prune`] deletes entries that occurred before a cutoff, with their
//! changes, through the owner's `<table>_prune` function (the only path past the
//! append-only guard), and records the prune as a manual entry (`audit.pruned`,
//! metadata `cutoff`, `deleted`, `deleted_actions`). On a log that can replay it
//! keeps the events of recorded actions, which replay needs;
//! [`AuditLog::prune_giving_up_replay`] deletes them too and records the cutoff
//! as the replay horizon, after which replay refuses with
//! [`ReplayError::Horizon`](events_core::ReplayError::Horizon).
//! [`AuditLog::prune_in_batches`] deletes the same in bounded batches, each
//! committed and recorded on its own ([`BatchedPrune`]), through
//! `<table>_prune_batch`: for progress, and a stop that keeps what is done.
//!
//! # Modules
//!
//! | module | owns |
//! | --- | --- |
//! | `mod.rs` | the limits ([`FACET_LIMIT`], [`SEARCH_LIMIT`]) |
//! | `log.rs` | [`AuditLog`], its constructor, [`PgEventStore::audit`](crate::PgEventStore::audit) |
//! | `write.rs` | manual entries: `track`, `track_in`, `log` |
//! | `read.rs` | `query`, `list`, `list_all`, `count`, `find`, `get`: paging and counting |
//! | `shortcuts.rs` | the one-line presets named after the reference libraries, with a table of which API each mirrors |
//! | `facets.rs` | [`Facet`], facets, `distinct_*` and typeahead (`search_actions`) |
//! | `retention.rs` | the retention period and the prunes, one-shot and batched |
//! | `prune_batches.rs` | [`BatchedPrune`]: a batched prune's state and its batches |
//! | `notify.rs` | the `LISTEN` channel (`topic`, `listen`) |
//! | `follow.rs` | [`EntryFollower`]: a query's entries in commit-safe order (`follow`) |
//! | `explain.rs` | [`Explain`] and `explain` |
//! | `select.rs` | the entries, entry and count statements of a validated query |
//! | `filters.rs` | one SQL function per filter family |
//! | `sql.rs` | the statement builder and the texts fixed per log |
//! | `decode.rs` | rows back into [`AuditEntry`](events_core::audit::AuditEntry) |

pub(crate) mod decode;
mod explain;
mod facets;
mod filters;
mod follow;
pub(crate) mod log;
mod notify;
mod prune_batches;
mod read;
mod retention;
mod scope;
mod select;
mod shortcuts;
mod sql;
mod write;

pub use explain::Explain;
pub use facets::Facet;
pub use follow::EntryFollower;
pub use prune_batches::{BatchedPrune, PruneBatch};

pub(crate) use sql::AuditSql;

use log::AuditLog;

/// Most distinct values a facet listing returns ([`AuditLog::facets`] and the
/// `distinct_*` methods).
pub const FACET_LIMIT: u64 = 1000;

/// Default number of names [`AuditLog::search_actions`] returns (HawkEx's
/// `search` default).
pub const SEARCH_LIMIT: u64 = 5;

/// A fair batch size for [`AuditLog::prune_in_batches`] (and the default of
/// `events prune --batch-size`): short enough to report progress and stop
/// often (well under a second a batch on a two-million-entry log here, where
/// batched prunes ran at 6,000 to 28,000 entries/s, as fast as one prune),
/// long enough that the per-batch work (a transaction, an `audit.pruned`
/// entry) is noise.
pub const PRUNE_BATCH_SIZE: u32 = 10_000;

/// Page size used when a method returns every match.
const ALL_BATCH: u64 = 1000;
