//! Keys: the one value shape shared by record ids, actor primary keys and tenants.
//!
//! Record ids, actor keys and tenants are each "a UUID, an integer or a string"
//! (AshEvents' `record_id_type`, `attribute_type` and tenant ids). One enum, [`Key`],
//! carries any of them at runtime; [`KeyType`] names which shape a column holds, and
//! [`KeyValue`] ties the Rust types [`Uuid`], [`i64`] and [`String`] to their shape.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Which shape a key column holds: the `record_id_type` of an event log, the
/// `attribute_type` of an actor column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// A UUID, stored as `uuid`.
    Uuid,
    /// A 64-bit integer, stored as `bigint`.
    Integer,
    /// Free text, stored as `text`.
    String,
}

impl KeyType {
    /// The option value that selects this type in the macros (`uuid`, `integer`, `string`).
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyType::Uuid => "uuid",
            KeyType::Integer => "integer",
            KeyType::String => "string",
        }
    }

    /// The PostgreSQL column type that stores this key.
    pub const fn sql_type(self) -> &'static str {
        match self {
            KeyType::Uuid => "uuid",
            KeyType::Integer => "bigint",
            KeyType::String => "text",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record id, actor primary key or tenant: a UUID, an integer or a string.
///
/// ```
/// use events_core::Key;
/// let k: Key = 42_i64.into();
/// assert_eq!(k.to_string(), "42");
/// assert_eq!(Key::from("acme").key_type(), events_core::KeyType::String);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Key {
    /// A UUID key.
    Uuid(Uuid),
    /// An integer key.
    Integer(i64),
    /// A string key.
    String(String),
}

impl Key {
    /// The shape of this key.
    pub fn key_type(&self) -> KeyType {
        match self {
            Key::Uuid(_) => KeyType::Uuid,
            Key::Integer(_) => KeyType::Integer,
            Key::String(_) => KeyType::String,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Uuid(u) => write!(f, "{u}"),
            Key::Integer(i) => write!(f, "{i}"),
            Key::String(s) => f.write_str(s),
        }
    }
}

impl From<Uuid> for Key {
    fn from(v: Uuid) -> Self {
        Key::Uuid(v)
    }
}
impl From<i64> for Key {
    fn from(v: i64) -> Self {
        Key::Integer(v)
    }
}
impl From<i32> for Key {
    fn from(v: i32) -> Self {
        Key::Integer(v.into())
    }
}
impl From<String> for Key {
    fn from(v: String) -> Self {
        Key::String(v)
    }
}
impl From<&str> for Key {
    fn from(v: &str) -> Self {
        Key::String(v.to_owned())
    }
}

/// Reads back a tenant stored as text: an integer, else a UUID, else the string.
///
/// Tenants are stored as text; replay gives bodies the tenant with the shape it most
/// likely had. A string tenant that looks like an integer or a UUID comes back as one.
pub(crate) fn parse_tenant(text: &str) -> Key {
    if let Ok(i) = text.parse::<i64>() {
        return Key::Integer(i);
    }
    if let Ok(u) = Uuid::parse_str(text) {
        return Key::Uuid(u);
    }
    Key::String(text.to_owned())
}

/// A Rust type that is one of the three key shapes: [`Uuid`], [`i64`] or [`String`].
///
/// An event log's `record_id_type` selects its [`EventLog::RecordId`](crate::EventLog::RecordId)
/// among these, and an [`Actor`](crate::Actor)'s primary key is one of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a key type",
    note = "record ids and actor primary keys are `uuid::Uuid`, `i64` or `String`"
)]
pub trait KeyValue: Clone + fmt::Debug + Send + Sync + Sized + 'static {
    /// The shape this type has.
    const TYPE: KeyType;
    /// Wraps the value in a [`Key`].
    fn into_key(self) -> Key;
    /// Unwraps a [`Key`] of this shape; `None` for another shape.
    fn from_key(key: Key) -> Option<Self>;
    /// A fresh value for a new record, where the framework can make one
    /// (a UUIDv7 for [`Uuid`]); `None` where the caller must supply it.
    fn generate() -> Option<Self> {
        None
    }
}

impl KeyValue for Uuid {
    const TYPE: KeyType = KeyType::Uuid;
    fn into_key(self) -> Key {
        Key::Uuid(self)
    }
    fn from_key(key: Key) -> Option<Self> {
        match key {
            Key::Uuid(u) => Some(u),
            _ => None,
        }
    }
    fn generate() -> Option<Self> {
        Some(Uuid::now_v7())
    }
}

impl KeyValue for i64 {
    const TYPE: KeyType = KeyType::Integer;
    fn into_key(self) -> Key {
        Key::Integer(self)
    }
    fn from_key(key: Key) -> Option<Self> {
        match key {
            Key::Integer(i) => Some(i),
            _ => None,
        }
    }
}

impl KeyValue for String {
    const TYPE: KeyType = KeyType::String;
    fn into_key(self) -> Key {
        Key::String(self)
    }
    fn from_key(key: Key) -> Option<Self> {
        match key {
            Key::String(s) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_each_shape() {
        let u = Uuid::now_v7();
        assert_eq!(Uuid::from_key(u.into_key()), Some(u));
        assert_eq!(i64::from_key(7_i64.into_key()), Some(7));
        assert_eq!(
            String::from_key("a".to_owned().into_key()).as_deref(),
            Some("a")
        );
        assert_eq!(i64::from_key(Key::from("7")), None);
        assert!(Uuid::generate().is_some());
        assert!(i64::generate().is_none());
    }
}
