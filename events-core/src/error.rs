//! Typed errors of the framework.
//!
//! Every variant names what it concerns (resource, action, event, column) and its
//! message says what to do. Database errors are classified by SQLSTATE, never by
//! message text: see [`Error::from_sqlx`].

use std::borrow::Cow;

/// Boxed error of user code (an action body, a hook, a clear-records implementation).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// SQLSTATE raised by the event table's append-only trigger.
pub const APPEND_ONLY_SQLSTATE: &str = "EV001";

/// Errors of the events framework.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A database operation failed.
    #[error("database error while {context}: {source}")]
    Database {
        /// What the framework was doing.
        context: Cow<'static, str>,
        /// The driver's error.
        #[source]
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

    /// An action's input could not be serialized into the event's data.
    #[error("could not serialize the input of `{resource}.{action}` into event data: {source}")]
    SerializeInput {
        /// Resource name.
        resource: &'static str,
        /// Action name.
        action: &'static str,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },

    /// Stored event data does not fit the input type of the action it routes to.
    #[error(
        "event {event_id} ({resource}.{action} v{version}) has data that does not fit \
         the input of `{target}`: {source}"
    )]
    DecodeEvent {
        /// The stored event's id.
        event_id: String,
        /// Resource recorded in the event.
        resource: String,
        /// Action recorded in the event.
        action: String,
        /// Version recorded in the event.
        version: u32,
        /// The `resource.action` whose input was expected.
        target: String,
        /// The deserializer's error; its message names the field.
        #[source]
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

    /// A lifecycle hook registered by an action body failed.
    #[error("after_action hook of `{resource}.{action}` failed: {source}")]
    Hook {
        /// Resource name.
        resource: &'static str,
        /// Action name.
        action: &'static str,
        /// The hook's error.
        #[source]
        source: BoxError,
    },

    /// An action body failed while replaying its event.
    #[error("replaying event {event_id} ({resource}.{action} v{version}) failed: {source}")]
    Replay {
        /// The event being replayed.
        event_id: String,
        /// Resource of the body that failed.
        resource: String,
        /// Action of the body that failed.
        action: String,
        /// Version recorded in the event.
        version: u32,
        /// The body's error.
        #[source]
        source: BoxError,
    },

    /// A stored row could not be read back into the event model.
    #[error("event table row is malformed ({column}): {message}")]
    MalformedRow {
        /// The offending column.
        column: String,
        /// What is wrong with it.
        message: String,
    },
}

impl Error {
    /// Wraps a driver error with what the framework was doing, classifying
    /// the append-only trigger's SQLSTATE as [`Error::AppendOnly`].
    pub fn from_sqlx(context: impl Into<Cow<'static, str>>, source: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &source
            && db.code().as_deref() == Some(APPEND_ONLY_SQLSTATE)
        {
            return Error::AppendOnly {
                message: db.message().to_owned(),
                table: db.table().map(str::to_owned),
            };
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
}

/// Lets `?` on sqlx calls inside action bodies produce this error.
impl From<sqlx::Error> for Error {
    fn from(source: sqlx::Error) -> Self {
        Error::from_sqlx("running a query", source)
    }
}
