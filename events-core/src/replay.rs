//! Replay: what to replay, how events find the body that applies them, and what
//! a replay reports.
//!
//! The store runs the replay (see `events_postgres::PgEventStore::replay`); this
//! module holds what does not depend on the database:
//!
//! - [`Replay`]: the selection (all events, up to an event, up to a point in time)
//!   and options (batch size, progress callback, chunked mode).
//! - [`MissingRoute`]: a stored (resource, action, version) without a body,
//!   found before anything is cleared.
//!
//! How events find their bodies (the registry `#[events]` fills at link time and
//! the route table built from it before anything is cleared) is for stores:
//! [`store::RouteTable`](crate::store::RouteTable).
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

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::EventId;

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

/// What a replay preflight found
/// ([`verify_replayable`](../../events_postgres/struct.PgEventStore.html#method.verify_replayable)):
/// every event of the selection has a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Replayable {
    /// Events the selection holds.
    pub events: u64,
    /// Of those, events carrying an encrypted personal value whose data
    /// subject was erased: replay hands each such field to its body as the
    /// field's `erased` placeholder (`None` for an `Option`), so the rebuilt
    /// rows lack it. See [`crate::personal`].
    pub with_erased_fields: u64,
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
