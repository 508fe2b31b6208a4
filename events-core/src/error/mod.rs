//! Typed errors of the framework.
//!
//! Every variant names what it concerns (resource, action, event, column) and its
//! message says what to do. Database errors are classified by SQLSTATE, never by
//! message text: see [`Error::from_sqlx`].

use std::borrow::Cow;

mod audit;
mod personal;
mod replay;

pub use audit::AuditError;
pub use personal::PersonalError;
pub use replay::ReplayError;

/// Boxed error of user code (an action body, a hook, a clear-records implementation).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// SQLSTATE raised by the event table's append-only trigger.
pub const APPEND_ONLY_SQLSTATE: &str = "EV001";

/// SQLSTATE of a statement cancelled by `statement_timeout` or a cancel request.
const QUERY_CANCELED_SQLSTATE: &str = "57014";

/// SQLSTATE of a session ended by `idle_in_transaction_session_timeout`.
const IDLE_IN_TRANSACTION_TIMEOUT_SQLSTATE: &str = "25P03";

/// The second half of [`Error::Timeout`]'s message: who ended the work, and
/// what to do.
fn timeout_advice(after: &Option<std::time::Duration>) -> String {
    match after {
        Some(deadline) => format!(
            "did not finish within its deadline of {deadline:?}: the database is unreachable or \
             overloaded, or a lock is held too long; raise the deadline (`with_deadline(..)` on \
             the store, `.deadline(..)` on the call) if the work is legitimately slow"
        ),
        None => "was ended by the database: a statement ran longer than `statement_timeout` or \
                 was cancelled, or the transaction sat idle longer than \
                 `idle_in_transaction_session_timeout`; find the slow statement or the lock it \
                 waited for, or raise those settings"
            .to_owned(),
    }
}

/// Names a stored event in errors: `event 42 (User.create v2)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRef {
    /// The event's id.
    pub id: crate::EventId,
    /// Resource recorded in the event.
    pub resource: String,
    /// Action recorded in the event.
    pub action: String,
    /// Version recorded in the event.
    pub version: u32,
}

impl EventRef {
    /// The reference of a stored event.
    pub fn of(event: &crate::Event) -> Box<EventRef> {
        Box::new(EventRef {
            id: event.id,
            resource: event.resource.clone(),
            action: event.action.clone(),
            version: event.version,
        })
    }
}

impl std::fmt::Display for EventRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "event {} ({}.{} v{})",
            self.id, self.resource, self.action, self.version
        )
    }
}

/// Errors of the events framework.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Replay refused or failed; see [`ReplayError`].
    #[error(transparent)]
    Replay(#[from] ReplayError),

    /// An audit query or manual entry was refused; see [`AuditError`].
    #[error(transparent)]
    Audit(#[from] AuditError),

    /// Personal data could not be protected or revealed; see [`PersonalError`].
    #[error(transparent)]
    Personal(#[from] PersonalError),

    /// A database operation failed.
    #[error("database error while {context}: {source}")]
    Database {
        /// What the framework was doing.
        context: Cow<'static, str>,
        /// The driver's error.
        source: sqlx::Error,
    },

    /// Something tried to update, delete or truncate stored events.
    #[error(
        "{message}; retention pruning and erasure are the only paths that remove or rewrite events"
    )]
    AppendOnly {
        /// PostgreSQL's message: the rejected operation and the table.
        message: String,
        /// The event table, as PostgreSQL reported it.
        table: Option<String>,
    },

    /// A value given to the store does not fit the event table: a key of the wrong
    /// type, an unknown actor column, an out-of-range version, a foreign cursor.
    #[error("invalid value for `{column}`: {message}")]
    InvalidValue {
        /// The column the value was meant for.
        column: String,
        /// What is wrong and what fits.
        message: String,
    },

    /// A create action whose record id the framework cannot generate ran without one.
    #[error(
        "action `{resource}.{action}` needs a record id: the event log's record_id_type is \
         {record_id_type}, so call `.record_id(..)` on the action before `.run(..)`"
    )]
    MissingRecordId {
        /// Resource name.
        resource: &'static str,
        /// Action name.
        action: &'static str,
        /// The configured record id type.
        record_id_type: crate::KeyType,
    },

    /// A bulk call was given a number of record ids other than its number of inputs.
    #[error(
        "bulk call of `{resource}.{action}` has {inputs} inputs but {record_ids} record ids: \
         give one record id per input, in the same order"
    )]
    BulkRecordIds {
        /// Resource name.
        resource: &'static str,
        /// Action name.
        action: &'static str,
        /// Number of inputs.
        inputs: usize,
        /// Number of record ids given.
        record_ids: usize,
    },

    /// An action's input could not be serialized into the event's data.
    #[error("could not serialize the input of `{resource}.{action}` into event data: {source}")]
    SerializeInput {
        /// Resource name.
        resource: &'static str,
        /// Action name.
        action: &'static str,
        /// The serializer's error.
        source: serde_json::Error,
    },

    /// The default advisory lock key generator cannot derive a key from this tenant.
    #[error(
        "cannot derive an advisory lock key from tenant `{tenant}`: the default generator \
         takes integer and UUID tenants; set `advisory_lock_key_generator = YourType` on the \
         event log to handle other tenants"
    )]
    UnsupportedTenant {
        /// The tenant as given.
        tenant: String,
    },

    /// A custom advisory lock key generator failed.
    #[error("advisory lock key generator failed for `{resource}.{action}`: {message}")]
    LockKey {
        /// Resource name.
        resource: &'static str,
        /// Action name.
        action: &'static str,
        /// What went wrong.
        message: String,
    },

    /// `run_in` called an action of another event log, or outside an action.
    #[error(
        "`{resource}.{action}` was run with `run_in` from an action of another event log; \
         nested actions share the caller's transaction and log: call `.run(&its_store)` instead"
    )]
    NestedOtherLog {
        /// Resource of the nested action.
        resource: &'static str,
        /// The nested action.
        action: &'static str,
    },

    /// A body run by [`each`](crate::each) ran another action with `run_in`.
    #[error(
        "`{resource}.{action}` was run with `run_in` from a body run by `each(..)`: its event \
         would follow all of that call's events, not its caller's, and replay would apply it \
         out of order; run it as a call of its own, or run the caller with `.run(..)`"
    )]
    NestedInEach {
        /// Resource of the nested action.
        resource: &'static str,
        /// The nested action.
        action: &'static str,
    },

    /// A lifecycle hook registered by an action body failed.
    #[error("after_action hook of `{resource}.{action}` failed: {source}")]
    Hook {
        /// Resource name.
        resource: &'static str,
        /// Action name.
        action: &'static str,
        /// The hook's error.
        source: BoxError,
    },

    /// An action ran while a chunked replay of its event log is unfinished: the
    /// state is half rebuilt, and a write now would be overwritten by a later
    /// chunk. Nothing was written.
    #[error(
        "event log `{table}` has an unfinished chunked replay, so its state is half rebuilt and \
         actions are refused (nothing was written); retry once the replay has finished, or \
         finish an interrupted one with resume_replay()"
    )]
    ChunkedReplayUnfinished {
        /// The event table.
        table: &'static str,
    },

    /// A recorded action ran without an actor on an event log whose actor column
    /// does not allow nil.
    #[error(
        "`{resource}.{action}` needs an actor: actor column `{column}` of the event log has \
         allow_nil = false; call `.actor(&actor)` on the action before `.run(..)`, or declare \
         the column with allow_nil = true"
    )]
    MissingActor {
        /// Resource name.
        resource: &'static str,
        /// Action name.
        action: &'static str,
        /// The actor column that must be set.
        column: &'static str,
    },

    /// A call did not finish within its deadline (see
    /// [`EventStore::deadline`](crate::EventStore::deadline)): its connection was
    /// closed, and `context` says whether anything of it may be stored. Or the
    /// database ended a statement or transaction on a timeout of its own
    /// (`after` is `None`).
    #[error("{context} {}", timeout_advice(.after))]
    Timeout {
        /// What was being done and, for a call, what became of it: rolled back,
        /// or its `COMMIT` in flight (then it may have been applied).
        context: Cow<'static, str>,
        /// The deadline that passed; `None` when the database ended the work
        /// itself: `statement_timeout` or a cancel request (SQLSTATE `57014`),
        /// `idle_in_transaction_session_timeout` (`25P03`).
        after: Option<std::time::Duration>,
        /// The database's error, when it ended the work itself.
        source: Option<sqlx::Error>,
    },

    /// A stored row could not be read back into the event model.
    #[error("event table row is malformed ({column}): {message}")]
    MalformedRow {
        /// The offending column.
        column: String,
        /// What is wrong with it.
        message: String,
    },

    /// An action body recorded its changes twice; each event has one set of changes.
    #[error(
        "changes of `{resource}.{action}` (event {event}) were already recorded; record them \
         once per action, with the full old and new values"
    )]
    ChangesAlreadyRecorded {
        /// Resource name.
        resource: &'static str,
        /// Action name.
        action: &'static str,
        /// The action's event.
        event: crate::EventId,
    },
}

impl Error {
    /// Wraps a driver error with what the framework was doing, classifying by
    /// SQLSTATE: the append-only trigger's (`EV001`) is [`Error::AppendOnly`];
    /// a cancelled statement (`57014`: `statement_timeout`, or a cancel request)
    /// and a terminated idle transaction (`25P03`:
    /// `idle_in_transaction_session_timeout`) are [`Error::Timeout`].
    ///
    /// ```
    /// use events_core::Error;
    ///
    /// let e = Error::from_sqlx("appending an event", sqlx::Error::PoolTimedOut);
    /// assert!(matches!(e, Error::Database { .. }));
    /// ```
    pub fn from_sqlx(context: impl Into<Cow<'static, str>>, source: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &source {
            match db.code().as_deref() {
                Some(APPEND_ONLY_SQLSTATE) => {
                    return Error::AppendOnly {
                        message: db.message().to_owned(),
                        table: db.table().map(str::to_owned),
                    };
                }
                Some(QUERY_CANCELED_SQLSTATE | IDLE_IN_TRANSACTION_TIMEOUT_SQLSTATE) => {
                    return Error::Timeout {
                        context: context.into(),
                        after: None,
                        source: Some(source),
                    };
                }
                _ => {}
            }
        }
        Error::Database {
            context: context.into(),
            source,
        }
    }

    /// True when this is the append-only guard rejecting a change.
    pub fn is_append_only(&self) -> bool {
        matches!(self, Error::AppendOnly { .. })
    }

    /// The SQLSTATE of the database error behind this one, if there is one:
    /// a [`Database`](Error::Database) error, a [`Timeout`](Error::Timeout) the
    /// database ended (`57014`, `25P03`), or the append-only guard (`EV001`).
    ///
    /// ```
    /// let err = events_core::Error::AppendOnly { message: "DELETE rejected".into(), table: None };
    /// assert_eq!(err.sqlstate().as_deref(), Some(events_core::APPEND_ONLY_SQLSTATE));
    /// ```
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            Error::Database { source, .. }
            | Error::Timeout {
                source: Some(source),
                ..
            } => source
                .as_database_error()
                .and_then(|db| db.code())
                .map(|code| code.into_owned()),
            Error::AppendOnly { .. } => Some(APPEND_ONLY_SQLSTATE.to_owned()),
            _ => None,
        }
    }
}

/// Lets `?` on sqlx calls inside action bodies produce this error.
impl From<sqlx::Error> for Error {
    fn from(source: sqlx::Error) -> Self {
        Error::from_sqlx("running a query", source)
    }
}
