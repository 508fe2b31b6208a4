//! The event model: what is stored for each recorded action.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Key;

/// The kind of state change an action makes (AshEvents' `action_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Creates a record.
    Create,
    /// Changes a record.
    Update,
    /// Removes a record.
    Destroy,
}

impl ActionKind {
    /// The name stored in the `action_type` column.
    pub const fn as_str(self) -> &'static str {
        match self {
            ActionKind::Create => "create",
            ActionKind::Update => "update",
            ActionKind::Destroy => "destroy",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ActionKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "create" => Ok(ActionKind::Create),
            "update" => Ok(ActionKind::Update),
            "destroy" => Ok(ActionKind::Destroy),
            other => Err(crate::Error::MalformedRow {
                column: "action_type".into(),
                message: format!("`{other}` is not one of create, update, destroy"),
            }),
        }
    }
}

/// The primary key type of the event table (`primary_key_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrimaryKeyType {
    /// `bigint` identity: ids are assigned by the database in insertion order.
    Integer,
    /// UUIDv7 assigned by the framework: time-ordered, unique across databases.
    UuidV7,
}

impl PrimaryKeyType {
    /// The option value that selects this type (`integer`, `uuid_v7`).
    pub const fn as_str(self) -> &'static str {
        match self {
            PrimaryKeyType::Integer => "integer",
            PrimaryKeyType::UuidV7 => "uuid_v7",
        }
    }
}

/// The id of a stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventId {
    /// With `primary_key_type = integer`.
    Integer(i64),
    /// With `primary_key_type = uuid_v7`.
    Uuid(Uuid),
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventId::Integer(i) => write!(f, "{i}"),
            EventId::Uuid(u) => write!(f, "{u}"),
        }
    }
}

/// A stored event, as read back from the event table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id of the event.
    pub id: EventId,
    /// Name of the resource whose action was recorded.
    pub resource: String,
    /// The record the action wrote.
    pub record_id: Key,
    /// Name of the action.
    pub action: String,
    /// Kind of the action.
    pub action_type: ActionKind,
    /// The actor that ran the action: column name and key, if one was given.
    pub actor: Option<(String, Key)>,
    /// The action's input, as JSON.
    pub data: serde_json::Value,
    /// Caller-supplied metadata, as JSON.
    pub metadata: serde_json::Value,
    /// Version of the action when it ran.
    pub version: u32,
    /// Tenant the action ran for, as text.
    pub tenant: Option<String>,
    /// When the action ran: the `ctx.now()` its body saw (database clock, taken
    /// after the action's advisory lock was granted).
    pub occurred_at: DateTime<Utc>,
}

/// An event about to be appended; built by the action runner.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// Resource name.
    pub resource: &'static str,
    /// Record id.
    pub record_id: &'a Key,
    /// Action name.
    pub action: &'static str,
    /// Action kind.
    pub action_type: ActionKind,
    /// The actor, if any.
    pub actor: Option<&'a crate::ActorRef>,
    /// Input data.
    pub data: &'a serde_json::Value,
    /// Metadata.
    pub metadata: &'a serde_json::Value,
    /// Action version.
    pub version: u32,
    /// Tenant.
    pub tenant: Option<&'a Key>,
    /// The personal data of the event: the values of its input's encrypted
    /// fields, which are **not** in `data`, with their data subject and the
    /// event's seal. The store encrypts them with the subject's key and puts
    /// them back into the stored data; a store that cannot (no key provider)
    /// fails the append. `None` when the input encrypts nothing. See
    /// [`crate::personal`].
    pub personal: Option<&'a crate::personal::PersonalEvent>,
}

impl NewEvent<'_> {
    /// Checks that the event's data and metadata can be stored and read back:
    /// [`stored_json_problem`](crate::audit::stored_json_problem) for both (nesting
    /// up to [`MAX_JSON_DEPTH`](crate::audit::MAX_JSON_DEPTH), no NUL character),
    /// and short enough text at the indexed metadata keys
    /// ([`stored_metadata_problem`](crate::audit::stored_metadata_problem)). A
    /// store calls it before any SQL of the append; a failure is
    /// [`Error::InvalidValue`](crate::Error::InvalidValue) naming the column
    /// (`data` or `metadata`) and the event's action.
    ///
    /// ```
    /// use events_core::store::NewEvent;
    /// use events_core::{ActionKind, Error, Key};
    /// let (record_id, metadata) = (Key::Integer(1), serde_json::json!({}));
    /// let data = serde_json::json!({"name": "nul \u{0}"});
    /// let event = NewEvent {
    ///     resource: "User", record_id: &record_id, action: "create",
    ///     action_type: ActionKind::Create, actor: None, data: &data,
    ///     metadata: &metadata, version: 1, tenant: None, personal: None,
    /// };
    /// assert!(matches!(event.check_json(), Err(Error::InvalidValue { ref column, .. }) if column == "data"));
    /// ```
    pub fn check_json(&self) -> Result<(), crate::Error> {
        let refuse = |column: &str, problem: String| crate::Error::InvalidValue {
            column: column.to_owned(),
            message: format!(
                "the {column} of {}.{}: {problem}",
                self.resource, self.action
            ),
        };
        if let Some(problem) = crate::audit::stored_json_problem(self.data) {
            return Err(refuse("data", problem));
        }
        if let Some(problem) = crate::audit::stored_metadata_problem(self.metadata) {
            return Err(refuse("metadata", problem));
        }
        // Text columns cannot hold NUL; keys in text columns are checked where
        // they are bound.
        if let Some(tenant) = self.tenant
            && tenant.to_string().contains('\0')
        {
            return Err(refuse(
                "tenant",
                "contains a NUL character, which PostgreSQL text cannot hold; remove it".into(),
            ));
        }
        Ok(())
    }
}

/// What the store reports for an appended event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The new event's id.
    pub id: EventId,
    /// Its `occurred_at`, taken from the database clock after the advisory lock was
    /// granted: the `ctx.now()` its body sees. Taking it under the lock makes
    /// timestamps of events sharing a lock key increase in commit order, which is
    /// what makes a point-in-time replay cut consistent.
    pub occurred_at: DateTime<Utc>,
}

/// What the store reports for the events of a bulk call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedMany {
    /// The new events' ids, in the order they were given (ascending).
    pub ids: Vec<EventId>,
    /// Their shared `occurred_at`: the database clock once every advisory lock of
    /// the call was granted.
    pub occurred_at: DateTime<Utc>,
}
