//! Errors of the audit log: queries and manual entries refused before any SQL
//! runs, and entries not found.

/// Why an audit query or manual entry was refused, or an entry not found:
/// reached through [`Error::Audit`](super::Error::Audit).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// An audit query has a filter value that cannot match or cannot be sent: an
    /// invalid UUID or integer for a key, a string that is too long or contains a
    /// NUL character, a page number of 0, a cursor of another query.
    #[error("invalid audit filter `{field}`: {message}")]
    InvalidFilter {
        /// The filter at fault, as named on [`AuditQuery`](crate::audit::AuditQuery).
        field: String,
        /// What is wrong and what fits.
        message: String,
    },

    /// An audit query filters or orders by commit time on an event log that does
    /// not record it.
    #[error(
        "audit query uses `{used}`, but event log `{table}` does not record commit times: \
         add `track_commit_time = true` to its #[event_log(..)] and run `migrate()` (commit \
         times are recorded from then on), or filter and order by `occurred_at` instead"
    )]
    CommitTimeNotTracked {
        /// The event table.
        table: &'static str,
        /// The filter or order that needs commit times.
        used: &'static str,
    },

    /// A manual audit entry has a value that cannot be stored.
    #[error("invalid audit entry field `{field}`: {message}")]
    InvalidEntry {
        /// The field at fault, as named on [`ManualEntry`](crate::audit::ManualEntry).
        field: String,
        /// What is wrong and what fits.
        message: String,
    },

    /// No audit entry has this id (PhoenixKit's `get_entry!` / `get_log!` raising).
    #[error("audit entry {id} not found")]
    EntryNotFound {
        /// The id asked for.
        id: crate::EventId,
    },
}
