//! What the relay publishes: one JetStream message per event, its body the
//! event as JSON ([`RelayedEvent`]), its headers the fields a consumer filters
//! or routes on without parsing the body.
//!
//! | header | value |
//! |---|---|
//! | `Nats-Msg-Id` | the event id: JetStream drops a re-send within its duplicate window |
//! | `Events-Position` | `<txid>:<event id>`, the event's place in the log's commit order |
//! | `Events-Resource` | the resource, e.g. `Post` |
//! | `Events-Action` | the action, e.g. `publish` |
//! | `Events-Action-Type` | `create`, `update` or `destroy` |
//! | `Events-Version` | the action's version when it ran |
//! | `Events-Record-Id` | the record's id |
//! | `Events-Tenant` | the tenant, when there is one |
//! | `Events-Actor` | `<actor column>:<key>`, when there is an actor |
//! | `Content-Type` | `application/json` |

use async_nats::HeaderMap;
use chrono::{DateTime, Utc};
use events_core::{ActionKind, Error, Event, EventId, Key};
use events_postgres::follow::Position;
use events_postgres::subscribe::Delivery;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The header naming an event's position in the log.
pub const POSITION: &str = "Events-Position";
/// The header naming an event's resource.
pub const RESOURCE: &str = "Events-Resource";
/// The header naming an event's action.
pub const ACTION: &str = "Events-Action";
/// The header naming an event's action type.
pub const ACTION_TYPE: &str = "Events-Action-Type";
/// The header naming an event's action version.
pub const VERSION: &str = "Events-Version";
/// The header naming an event's record id.
pub const RECORD_ID: &str = "Events-Record-Id";
/// The header naming an event's tenant (absent without one).
pub const TENANT: &str = "Events-Tenant";
/// The header naming an event's actor, `<column>:<key>` (absent without one).
pub const ACTOR: &str = "Events-Actor";

/// The body of a relayed message: the event's columns, as JSON.
///
/// A consumer on another machine reads it with
/// [`from_payload`](Self::from_payload) and the action's input with
/// [`decode`](Self::decode):
///
/// ```
/// # use events_nats::RelayedEvent;
/// #[derive(serde::Deserialize)]
/// struct Publish { title: String }
///
/// let payload = br#"{"id":7,"position":{"txid":812,"id":7},"resource":"Post",
///   "record_id":3,"action":"publish","action_type":"update","version":1,
///   "tenant":null,"actor":{"column":"user_id","key":9},
///   "data":{"title":"Hello"},"metadata":{},"occurred_at":"2026-11-30T07:00:00Z"}"#;
/// let event = RelayedEvent::from_payload(payload)?;
/// assert_eq!((event.resource.as_str(), event.action.as_str()), ("Post", "publish"));
/// let input: Publish = event.decode()?;
/// assert_eq!(input.title, "Hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayedEvent {
    /// The event id (also the message's `Nats-Msg-Id`).
    pub id: EventId,
    /// The event's place in the log's commit order.
    pub position: Position,
    /// The resource whose action was recorded.
    pub resource: String,
    /// The record the action wrote.
    pub record_id: Key,
    /// The action.
    pub action: String,
    /// The action's kind.
    pub action_type: ActionKind,
    /// The action's version when it ran.
    pub version: u32,
    /// The tenant, as text.
    pub tenant: Option<String>,
    /// Who ran the action.
    pub actor: Option<Actor>,
    /// The action's input.
    pub data: serde_json::Value,
    /// The caller's metadata.
    pub metadata: serde_json::Value,
    /// When the action ran.
    pub occurred_at: DateTime<Utc>,
}

/// The actor of a [`RelayedEvent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// The actor column (`persist_actor_primary_key`), e.g. `user_id`.
    pub column: String,
    /// The actor's key.
    pub key: Key,
}

impl RelayedEvent {
    /// The event a subscription delivered.
    pub fn from_delivery(delivery: &Delivery) -> Self {
        let Event {
            id,
            resource,
            record_id,
            action,
            action_type,
            actor,
            data,
            metadata,
            version,
            tenant,
            occurred_at,
        } = delivery.event.clone();
        RelayedEvent {
            id,
            position: delivery.position,
            resource,
            record_id,
            action,
            action_type,
            version,
            tenant,
            actor: actor.map(|(column, key)| Actor { column, key }),
            data,
            metadata,
            occurred_at,
        }
    }

    /// Reads a relayed message's body.
    pub fn from_payload(payload: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(payload)
    }

    /// The event's data as `T` (the action's input type), naming the field
    /// that does not fit.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        events_core::__private::decode_input(&self.to_event(), &self.resource, &self.action, None)
    }

    /// The event, as the log's readers return it.
    pub fn to_event(&self) -> Event {
        Event {
            id: self.id,
            resource: self.resource.clone(),
            record_id: self.record_id.clone(),
            action: self.action.clone(),
            action_type: self.action_type,
            actor: self.actor.clone().map(|a| (a.column, a.key)),
            data: self.data.clone(),
            metadata: self.metadata.clone(),
            version: self.version,
            tenant: self.tenant.clone(),
            occurred_at: self.occurred_at,
        }
    }

    /// The message's headers (see the [module docs](self)); `Nats-Msg-Id` is
    /// set by the publisher.
    pub fn headers(&self) -> HeaderMap {
        headers(self.position, &self.to_event())
    }
}

/// The headers of the message of `event` at `position`.
pub(crate) fn headers(position: Position, event: &Event) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Content-Type", "application/json");
    headers.insert(POSITION, position.to_string().as_str());
    headers.insert(RESOURCE, event.resource.as_str());
    headers.insert(ACTION, event.action.as_str());
    headers.insert(ACTION_TYPE, event.action_type.as_str());
    headers.insert(VERSION, event.version.to_string().as_str());
    headers.insert(RECORD_ID, event.record_id.to_string().as_str());
    if let Some(tenant) = &event.tenant {
        headers.insert(TENANT, tenant.as_str());
    }
    if let Some((column, key)) = &event.actor {
        headers.insert(ACTOR, format!("{column}:{key}").as_str());
    }
    headers
}

/// The body of the message of a delivery: a [`RelayedEvent`], serialized
/// from the delivery without copying it.
pub(crate) fn body(delivery: &Delivery) -> Result<Vec<u8>, serde_json::Error> {
    /// [`RelayedEvent`], borrowed: the same fields in the same order.
    #[derive(Serialize)]
    struct Wire<'a> {
        id: &'a EventId,
        position: &'a Position,
        resource: &'a str,
        record_id: &'a Key,
        action: &'a str,
        action_type: ActionKind,
        version: u32,
        tenant: Option<&'a str>,
        actor: Option<WireActor<'a>>,
        data: &'a serde_json::Value,
        metadata: &'a serde_json::Value,
        occurred_at: &'a DateTime<Utc>,
    }
    /// [`Actor`], borrowed.
    #[derive(Serialize)]
    struct WireActor<'a> {
        column: &'a str,
        key: &'a Key,
    }
    let e = &delivery.event;
    serde_json::to_vec(&Wire {
        id: &e.id,
        position: &delivery.position,
        resource: &e.resource,
        record_id: &e.record_id,
        action: &e.action,
        action_type: e.action_type,
        version: e.version,
        tenant: e.tenant.as_deref(),
        actor: e
            .actor
            .as_ref()
            .map(|(column, key)| WireActor { column, key }),
        data: &e.data,
        metadata: &e.metadata,
        occurred_at: &e.occurred_at,
    })
}

/// One token of a subject: letters, digits, `_` and `-` as they are, every
/// other byte as `%XX`, so a value can never add a token or a wildcard.
pub(crate) fn token(value: &str, out: &mut String) {
    if value.is_empty() {
        out.push('%');
        return;
    }
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// The subject of an event: `<prefix>.<resource>.<action>`, or with the
/// tenant `<prefix>.<tenant>.<resource>.<action>` (`_` without one).
pub(crate) fn subject(prefix: &str, with_tenant: bool, event: &Event) -> String {
    let mut subject = String::with_capacity(prefix.len() + 32);
    subject.push_str(prefix);
    if with_tenant {
        subject.push('.');
        match event.tenant.as_deref() {
            None => subject.push('_'),
            Some("_") => subject.push_str("%5F"),
            Some(tenant) => token(tenant, &mut subject),
        }
    }
    subject.push('.');
    token(&event.resource, &mut subject);
    subject.push('.');
    token(&event.action, &mut subject);
    subject
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(tenant: Option<&str>) -> Event {
        Event {
            id: EventId::Integer(1),
            resource: "Post".into(),
            record_id: Key::Integer(1),
            action: "change_title".into(),
            action_type: ActionKind::Update,
            actor: None,
            data: serde_json::json!({}),
            metadata: serde_json::json!({}),
            version: 1,
            tenant: tenant.map(str::to_owned),
            occurred_at: Utc::now(),
        }
    }

    #[test]
    fn the_body_is_a_relayed_event() -> Result<(), Box<dyn std::error::Error>> {
        let mut e = event(Some("acme"));
        e.actor = Some(("user_id".into(), Key::Integer(9)));
        e.data = serde_json::json!({"title": "Hello", "tags": ["a"]});
        let delivery = Delivery {
            position: Position {
                txid: 812,
                id: EventId::Integer(1),
            },
            event: e,
        };
        let relayed = RelayedEvent::from_payload(&body(&delivery)?)?;
        assert_eq!(relayed, RelayedEvent::from_delivery(&delivery));
        assert_eq!(relayed.to_event(), delivery.event);
        let headers = relayed.headers();
        assert_eq!(headers.get(ACTOR).map(|v| v.as_str()), Some("user_id:9"));
        assert_eq!(headers.get(POSITION).map(|v| v.as_str()), Some("812:1"));
        Ok(())
    }

    #[test]
    fn subjects_escape_what_would_add_a_token_or_a_wildcard() {
        assert_eq!(
            subject("events", false, &event(None)),
            "events.Post.change_title"
        );
        assert_eq!(
            subject("app.events", true, &event(None)),
            "app.events._.Post.change_title"
        );
        assert_eq!(
            subject("events", true, &event(Some("acme.eu *>"))),
            "events.acme%2Eeu%20%2A%3E.Post.change_title"
        );
        assert_eq!(
            subject("events", true, &event(Some("_"))),
            "events.%5F.Post.change_title"
        );
        assert_eq!(
            subject("events", true, &event(Some(""))),
            "events.%.Post.change_title"
        );
    }
}
