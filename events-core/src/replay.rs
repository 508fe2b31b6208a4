//! Replay: what to replay, how events find the body that applies them, and what
//! a replay reports.
//!
//! The store runs the replay (see `events_postgres::PgEventStore::replay`); this
//! module holds what does not depend on the database:
//!
//! - [`Replay`]: the selection (all events, up to an event, up to a point in time)
//!   and options (batch size, progress callback, chunked mode).
//! - The registry: `#[events]` registers every resource with its event log at link
//!   time, so replay finds each resource's bodies without a hand-kept list.
//! - [`RouteTable`]: for each stored (resource, action, version), the bodies that
//!   apply it: a matching `replay_override`'s `route_to` targets, else the event's
//!   own action. Built once before anything is cleared, so a missing route is found
//!   up front ([`MissingRoute`]), never half-way through.
//!
//! # Order
//!
//! Events are applied in `(txid, id)` order: by the transaction that wrote them,
//! then by id within it. An action takes its advisory lock before its first write,
//! so for actions sharing a lock key this is the order they committed in; actions
//! with different keys do not conflict, so their relative order does not change
//! the result. `Replay::up_to_event(e)` applies every event up to and including `e`
//! in that order. `Replay::up_to_time(t)` applies the events with
//! `occurred_at <= t`; `occurred_at` is read from the database clock after the lock
//! is granted, so among events sharing a key it grows in the same order, and the
//! cut is a prefix of each key's history: a state that existed.

use std::any::TypeId;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::{ActionInfo, EventId, EventLog, ReplayFn};

/// A resource as registered by `#[events]`: enough to dispatch its events.
#[derive(Debug)]
pub struct ResourceEntry {
    /// The resource's event log.
    pub log: fn() -> TypeId,
    /// Name stored in events.
    pub name: &'static str,
    /// Its actions.
    pub actions: &'static [ActionInfo],
    /// The replay entry point of an action, by name.
    pub replay_fn: fn(&str) -> Option<ReplayFn>,
}

inventory::collect!(ResourceEntry);

/// `TypeId::of::<T>`, as a function pointer a `ResourceEntry` can hold.
pub fn type_id_of<T: 'static>() -> TypeId {
    TypeId::of::<T>()
}

/// Every resource registered with event log `L`.
pub fn registered_resources<L: EventLog>() -> impl Iterator<Item = &'static ResourceEntry> {
    let log = TypeId::of::<L>();
    inventory::iter::<ResourceEntry>
        .into_iter()
        .filter(move |entry| (entry.log)() == log)
}

/// Which events a replay applies.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "at", rename_all = "snake_case")]
pub enum Selection {
    /// Every event.
    All,
    /// Every event up to and including this one, in replay order.
    UpToEvent(EventId),
    /// Every event with `occurred_at` at or before this instant.
    UpToTime(DateTime<Utc>),
}

/// Progress of a running replay, reported after every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayProgress {
    /// Events applied so far.
    pub applied: u64,
    /// Events the replay will apply in all.
    pub total: u64,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(ReplayProgress) + Send + Sync>;

/// A replay request: the selection and its options.
///
/// ```
/// use events_core::replay::Replay;
/// let everything = Replay::all();
/// let until_then = Replay::up_to_time(chrono::Utc::now()).batch_size(500);
/// let chunked = Replay::all().in_chunks(50_000).on_progress(|p| eprintln!("{}/{}", p.applied, p.total));
/// # let _ = (everything, until_then, chunked);
/// ```
#[derive(Clone)]
pub struct Replay {
    /// Which events to apply.
    pub selection: Selection,
    /// Events read per round trip; memory stays bounded by it (default 1,000).
    pub batch_size: usize,
    /// `Some(n)`: commit every `n` events with a checkpoint (see [`Replay::in_chunks`]).
    pub chunk_size: Option<u64>,
    /// Called after every batch.
    pub progress: Option<ProgressFn>,
}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay")
            .field("selection", &self.selection)
            .field("batch_size", &self.batch_size)
            .field("chunk_size", &self.chunk_size)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Replay {
    fn new(selection: Selection) -> Self {
        Replay {
            selection,
            batch_size: 1_000,
            chunk_size: None,
            progress: None,
        }
    }

    /// Replays every event.
    pub fn all() -> Self {
        Self::new(Selection::All)
    }

    /// Replays every event up to and including `id`, in replay order.
    pub fn up_to_event(id: impl Into<EventId>) -> Self {
        Self::new(Selection::UpToEvent(id.into()))
    }

    /// Replays every event that occurred at or before `at`.
    ///
    /// A time before [`EARLIEST_TIME`](crate::audit::EARLIEST_TIME), the earliest
    /// PostgreSQL's `timestamptz` holds, is clamped to it: no event occurred
    /// before it either, so the replay applies the same events (none) instead of
    /// failing in SQL. Every later `DateTime<Utc>` fits as it is; "up to the end of
    /// time" is `DateTime::<Utc>::MAX_UTC`.
    ///
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use events_core::{audit::EARLIEST_TIME, replay::{Replay, Selection}};
    /// assert_eq!(Replay::up_to_time(DateTime::<Utc>::MIN_UTC).selection, Selection::UpToTime(EARLIEST_TIME));
    /// let end = DateTime::<Utc>::MAX_UTC;
    /// assert_eq!(Replay::up_to_time(end).selection, Selection::UpToTime(end));
    /// ```
    pub fn up_to_time(at: DateTime<Utc>) -> Self {
        Self::new(Selection::UpToTime(at.max(crate::audit::EARLIEST_TIME)))
    }

    /// Reads `n` events per round trip (at least 1).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Calls `f` after every batch with the events applied so far and the total.
    pub fn on_progress(mut self, f: impl Fn(ReplayProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Commits every `n` events instead of once at the end, recording a checkpoint
    /// with each commit, for logs too large for one transaction.
    ///
    /// **Not all-or-nothing**: if a chunk fails, the committed chunks stay (the
    /// state is half rebuilt, and readers can see it) and the error
    /// ([`ReplayError::Partial`](crate::ReplayError::Partial)) says so. A checkpoint
    /// row records where it stopped: the store's `resume_replay` continues from it,
    /// and a new replay starts over and discards it.
    ///
    /// While the checkpoint row exists (between chunks, and after a failure until
    /// the replay is resumed or superseded), actions on the log are refused with
    /// [`Error::ChunkedReplayUnfinished`](crate::Error::ChunkedReplayUnfinished):
    /// a write to the half-rebuilt state would be overwritten by a later chunk.
    /// During each chunk, appends wait, as they do for an atomic replay.
    pub fn in_chunks(mut self, n: u64) -> Self {
        self.chunk_size = Some(n.max(1));
        self
    }
}

impl From<i64> for EventId {
    fn from(id: i64) -> Self {
        EventId::Integer(id)
    }
}

impl From<uuid::Uuid> for EventId {
    fn from(id: uuid::Uuid) -> Self {
        EventId::Uuid(id)
    }
}

/// What a finished replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Events applied.
    pub applied: u64,
    /// The last event applied, if any.
    pub last_event: Option<EventId>,
    /// Transactions committed (1 unless chunked).
    pub commits: u64,
}

/// A stored (resource, action, version) that replay has no body for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingRoute {
    /// Resource stored in the events.
    pub resource: String,
    /// Action stored in the events.
    pub action: String,
    /// Version stored in the events.
    pub version: u32,
    /// How many selected events have this triple.
    pub events: u64,
    /// Why there is no route, and what to do.
    pub reason: String,
}

impl fmt::Display for MissingRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{} v{} ({} events): {}",
            self.resource, self.action, self.version, self.events, self.reason
        )
    }
}

/// One body an event is applied with.
#[derive(Clone, Copy)]
pub struct Target {
    /// The target resource's name.
    pub resource: &'static str,
    /// The target action's name.
    pub action: &'static str,
    /// Its replay entry point.
    pub apply: ReplayFn,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.resource, self.action)
    }
}

/// Targets by resource, then action, then version.
type Routes = HashMap<String, HashMap<String, HashMap<u32, Vec<Target>>>>;

/// The bodies each stored (resource, action, version) is applied with.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Routes,
}

impl RouteTable {
    /// Resolves every triple: a matching `replay_override`'s targets, else the
    /// event's own action on a registered resource of `L`. Returns every triple
    /// without a route at once.
    ///
    /// `triples` maps (resource, action, version) to the number of events.
    pub fn resolve<L: EventLog>(
        triples: &BTreeMap<(String, String, u32), u64>,
    ) -> Result<RouteTable, Vec<MissingRoute>> {
        let mut by_name: HashMap<&'static str, Vec<&'static ResourceEntry>> = HashMap::new();
        for entry in registered_resources::<L>() {
            by_name.entry(entry.name).or_default().push(entry);
        }
        let mut routes: Routes = HashMap::new();
        let mut insert = |resource: &str, action: &str, version: u32, targets: Vec<Target>| {
            routes
                .entry(resource.to_owned())
                .or_default()
                .entry(action.to_owned())
                .or_default()
                .insert(version, targets);
        };
        let mut missing = Vec::new();
        for ((resource, action, version), &events) in triples {
            let miss = |reason: String| MissingRoute {
                resource: resource.clone(),
                action: action.clone(),
                version: *version,
                events,
                reason,
            };
            if let Some(o) = L::REPLAY_OVERRIDES
                .iter()
                .find(|o| o.matches(resource, action, *version))
            {
                let targets = o
                    .routes
                    .iter()
                    .map(|r| Target {
                        resource: r.resource,
                        action: r.action,
                        apply: r.apply,
                    })
                    .collect();
                insert(resource, action, *version, targets);
                continue;
            }
            let entries = by_name
                .get(resource.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            let entry = match entries {
                [] => {
                    let known: Vec<&str> = by_name.keys().copied().collect();
                    missing.push(miss(format!(
                        "no resource named `{resource}` is registered with this event log (registered: {}); \
                         link the crate that declares it, or add a replay_override routing it",
                        if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                    )));
                    continue;
                }
                [one] => *one,
                _ => {
                    missing.push(miss(format!(
                        "{} resources are named `{resource}`; give each a distinct `name = \"..\"` in #[events]",
                        entries.len()
                    )));
                    continue;
                }
            };
            let Some(info) = entry.actions.iter().find(|a| a.name == action) else {
                let known: Vec<&str> = entry.actions.iter().map(|a| a.name).collect();
                missing.push(miss(format!(
                    "`{resource}` has no action `{action}` (actions: {}); keep the old action (in ignore_actions) \
                     or add `replay_override({resource}, {action}, versions = [{version}], route_to(..))`",
                    known.join(", ")
                )));
                continue;
            };
            if *version > info.version && info.recorded {
                missing.push(miss(format!(
                    "the event is newer than this code: `{resource}.{action}` is at version {}; \
                     replay with the code that wrote version {version}",
                    info.version
                )));
                continue;
            }
            match (entry.replay_fn)(action) {
                Some(apply) => {
                    insert(
                        resource,
                        action,
                        *version,
                        vec![Target {
                            resource: entry.name,
                            action: info.name,
                            apply,
                        }],
                    );
                }
                None => missing.push(miss(format!(
                    "`{resource}.{action}` has no replay entry point"
                ))),
            }
        }
        if missing.is_empty() {
            Ok(RouteTable { routes })
        } else {
            Err(missing)
        }
    }

    /// The targets of a stored triple; empty if it was not resolved.
    pub fn targets(&self, resource: &str, action: &str, version: u32) -> &[Target] {
        self.routes
            .get(resource)
            .and_then(|actions| actions.get(action))
            .and_then(|versions| versions.get(&version))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}
