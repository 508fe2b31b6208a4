//! Errors of replay: what refused it before anything changed, and what failed
//! while it ran.

use super::{BoxError, Error, EventRef};

/// Why a replay, its preflight or its resumption refused or failed: reached
/// through [`Error::Replay`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// Stored event data does not fit the input type of the action it routes to.
    #[error(
        "{event} has data that does not fit the input of `{target}` at field `{field}`: {source}; \
         route this version to an action that takes this shape with a replay_override"
    )]
    Decode {
        /// The stored event.
        event: Box<EventRef>,
        /// The `resource.action` whose input was expected.
        target: String,
        /// Path of the offending field in the data (`(top level)` for the whole value).
        field: String,
        /// The deserializer's error.
        source: serde_json::Error,
    },

    /// An action body failed while replaying its event.
    #[error("replaying {event} with `{target}` failed: {source}")]
    Body {
        /// The event being replayed.
        event: Box<EventRef>,
        /// The `resource.action` whose body failed.
        target: String,
        /// The body's error.
        source: BoxError,
    },

    /// Replay needs `clear_records_for_replay` on the event log.
    #[error(
        "event log `{log}` has no clear_records_for_replay, so replay cannot clear the state it \
         rebuilds; add `clear_records_for_replay = YourType` to #[event_log(...)]"
    )]
    NoClearRecords {
        /// The event log's type name.
        log: &'static str,
    },

    /// Replay found stored events it has no body for; nothing was cleared or applied.
    #[error("replay refused, nothing was changed: {} stored (resource, action, version) have no route:\n  {}", missing.len(), missing.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    MissingRoutes {
        /// Every triple without a route.
        missing: Vec<crate::replay::MissingRoute>,
    },

    /// `Replay::up_to_event` named an event that is not in the log.
    #[error("event {id} is not in the event log; replay up to an existing event id")]
    UnknownEvent {
        /// The id asked for.
        id: crate::EventId,
    },

    /// A chunked replay failed part-way: the chunks before it are committed.
    #[error(
        "chunked replay stopped after {applied} events (state is rebuilt up to {}); fix the \
         cause and call resume_replay(), or run the replay again: {source}",
        last_event.map_or_else(|| "no event".to_owned(), |id| format!("event {id}"))
    )]
    Partial {
        /// Events applied and committed before the failure.
        applied: u64,
        /// The last committed event; `None` when no chunk committed.
        last_event: Option<crate::EventId>,
        /// What failed.
        source: Box<Error>,
    },

    /// `resume_replay` found no unfinished chunked replay, or one with another selection.
    #[error("{message}")]
    NothingToResume {
        /// What was found instead.
        message: String,
    },

    /// Another replay of this event log is running, in this process or another.
    /// Replays exclude each other (two at once would apply every event twice); this
    /// one changed nothing.
    #[error(
        "another replay of event log `{table}` is running (in this or another process), so this \
         one changed nothing; wait for it to finish and retry, or, if it was a chunked replay \
         that was interrupted, continue it with resume_replay()"
    )]
    InProgress {
        /// The event table.
        table: &'static str,
    },

    /// Retention deleted recorded action events that replay needs: the state
    /// before `before` can no longer be rebuilt from the log. Replay and
    /// `verify_replayable` refuse (nothing is changed) rather than rebuild a
    /// partial state.
    #[error(
        "replay refused, nothing was changed: retention ran with `give_up_replay` on {pruned_at} \
         and deleted recorded action events before {before}, so state cannot be rebuilt from \
         event log `{table}`; restore the log from a backup taken before that prune to replay"
    )]
    Horizon {
        /// The event table.
        table: &'static str,
        /// Recorded action events before this time were deleted.
        before: chrono::DateTime<chrono::Utc>,
        /// When that prune ran.
        pruned_at: chrono::DateTime<chrono::Utc>,
    },
}
