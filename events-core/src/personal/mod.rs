//! Personal data: which fields of an input are personal, whose they are (the data
//! subject), and how they are kept out of the database in plaintext.
//!
//! A type declares its personal fields with `#[derive(PersonalData)]`, which
//! implements [`PersonalData`] with a [`PersonalSchema`]:
//!
//! - a field marked **redacted** is never stored: it is written as `null`
//!   (AshEvents' `sensitive`);
//! - a field marked **encrypted** is stored encrypted with a key of its data
//!   subject (Axon's data protection): AES-256-GCM, a fresh nonce per value, the
//!   ciphertext bound to its log, event, column, field and subject, so it cannot
//!   be moved to another place and still decrypt.
//!
//! The same schema applies to a manual entry's data and to its changes
//! (fields of the same names in `old_values`, `new_values`, `diff_values`):
//! [`ManualEntry::personal_data`](crate::audit::ManualEntry::personal_data).
//!
//! **Where it applies.** An action's input type that derives [`PersonalData`]
//! is protected in its events, whether the action runs alone, in bulk
//! (`#[bulk]`) or under [`each`](crate::each): the `#[events]` wrappers find
//! the schema at compile time, the call takes the encrypted fields out of the
//! event's data before anything reaches the store, and the store puts them
//! back encrypted. The changes the body records
//! ([`ActionCtx::record_updated`](crate::ActionCtx::record_updated) and
//! friends) follow the same schema, sealed with the event's subject and seal.
//! Replay hands the body the plaintext, or, for a field whose subject was
//! erased (or a redacted one), the field's `erased` placeholder (`None` for an
//! `Option`).
//!
//! # Keys
//!
//! Each data subject has a data key of its own, stored in the log's keys table
//! wrapped (encrypted) by a master key that never enters the database: a
//! [`KeyProvider`] wraps and unwraps data keys ([`EnvKeyProvider`] holds master
//! keys given in an environment variable or a file; a KMS is the application's
//! own provider). **Erasing a subject deletes its data key**: from then on every
//! encrypted value of that subject, in every row and every copy of the rows,
//! reads as [erased](ERASED_KEY), and rotating the master key
//! re-wraps the remaining data keys without touching a single event.
//!
//! # What is stored
//!
//! An encrypted field's value is replaced by an envelope,
//! `{"$pd": "v1", "s": "<subject>", "k": "<key id>", "n": "<nonce>", "c": "<ciphertext>"}`
//! (key id, nonce and ciphertext in base64), and the event's data gets a random
//! 16-byte seal under [`SEAL_KEY`] that every ciphertext of the event is bound
//! to. Readers that have the provider get the plaintext back, those without see
//! the envelopes, and a value whose subject was erased reads as
//! `{"$erased": true}` ([`erased`], [`is_erased`]).
//!
//! The subject id itself is stored in plaintext (in the keys table, and in each
//! envelope): use an opaque identifier (a user's UUID), never personal data.

mod apply;
mod crypto;
mod provider;

use std::fmt;

use serde_json::{Map, Value};

pub use apply::{PersonalEvent, Protection, Revealed, open_fields, subjects_in, take_seal};
pub use crypto::{DataKey, Seal, key_context};
pub use provider::{EnvKeyProvider, KeyProvider, WrappedKey};

pub use crate::error::PersonalError;
use crate::{Error, Key};
/// Derives [`PersonalData`](trait@PersonalData): see the [module docs](self).
///
/// On the struct, `#[personal(subject = <field> | record_id | actor)]` names the
/// data subject (needed when a field is encrypted; a field's type must be a
/// [`SubjectKey`]). On a field, `#[personal(encrypted)]` or
/// `#[personal(redacted)]`, with `erased = <expr>` (a value of the field's type)
/// unless the field is an `Option`. Fields are named as serialized
/// (`#[serde(rename = "..")]` is followed, `rename_all` is refused).
///
/// ```
/// use events_core::personal::{PersonalData, SubjectSource, Treatment};
///
/// #[derive(serde::Serialize, PersonalData)]
/// #[personal(subject = actor)]
/// struct Signup {
///     #[personal(encrypted, erased = String::from("[erased]"))]
///     name: String,
///     #[personal(redacted)]
///     password: Option<String>,
/// }
///
/// assert_eq!(Signup::SCHEMA.subject, Some(SubjectSource::Actor));
/// assert_eq!(Signup::SCHEMA.fields[1].treatment, Treatment::Redacted);
/// ```
#[cfg(feature = "macros")]
pub use events_macros::PersonalData;

/// The key of the event seal in the data of an event with encrypted fields.
pub const SEAL_KEY: &str = "$pd";

/// The key of the marker an erased value reads as: `{"$erased": true}`.
pub const ERASED_KEY: &str = "$erased";

/// What an encrypted value whose subject was erased reads as:
/// `{"$erased": true}`.
///
/// ```
/// use events_core::personal::{erased, is_erased};
/// assert!(is_erased(&erased()));
/// assert!(!is_erased(&serde_json::json!({"$erased": false})));
/// ```
pub fn erased() -> Value {
    let mut marker = Map::new();
    marker.insert(ERASED_KEY.to_owned(), Value::Bool(true));
    Value::Object(marker)
}

/// True when `value` is the [`erased`] marker.
pub fn is_erased(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|o| o.len() == 1 && o.get(ERASED_KEY) == Some(&Value::Bool(true)))
}

/// True when `value` is an encrypted envelope: what a reader without the key
/// provider sees in place of a value.
///
/// ```
/// let sealed = serde_json::json!({"$pd": "v1", "s": "7", "n": "", "c": ""});
/// assert!(events_core::personal::is_sealed(&sealed));
/// ```
pub fn is_sealed(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|o| o.get(SEAL_KEY).is_some_and(Value::is_string) && o.contains_key("c"))
}

/// How a personal field is kept out of the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Treatment {
    /// Stored encrypted with a key of the data subject; unreadable once the
    /// subject is erased.
    Encrypted,
    /// Never stored: written as `null`.
    Redacted,
}

/// Where the data subject of a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectSource {
    /// A field of the value (its serialized name).
    Field(&'static str),
    /// The record id of the action (or of the manual entry).
    RecordId,
    /// The actor of the action (or of the manual entry).
    Actor,
}

impl fmt::Display for SubjectSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectSource::Field(name) => write!(f, "field `{name}`"),
            SubjectSource::RecordId => f.write_str("the record id"),
            SubjectSource::Actor => f.write_str("the actor"),
        }
    }
}

/// One personal field of a type.
#[derive(Debug, Clone, Copy)]
pub struct PersonalField {
    /// Its name in the serialized value.
    pub name: &'static str,
    /// Encrypted or redacted.
    pub treatment: Treatment,
    /// The value replay gives the body when the field is gone (redacted, or its
    /// subject erased), as JSON; `None`: `null` (an `Option` field).
    pub erased: Option<fn() -> Value>,
}

/// The personal fields of a type and its data subject: what
/// `#[derive(PersonalData)]` declares.
#[derive(Debug)]
pub struct PersonalSchema {
    /// The declaring type's name, for errors.
    pub type_name: &'static str,
    /// Where the data subject comes from; required when a field is encrypted.
    pub subject: Option<SubjectSource>,
    /// The personal fields.
    pub fields: &'static [PersonalField],
}

impl PersonalSchema {
    /// The field named `name`, if it is personal.
    pub fn field(&self, name: &str) -> Option<&PersonalField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// True when some field is encrypted (the value then needs a subject).
    pub fn encrypts(&self) -> bool {
        self.fields
            .iter()
            .any(|f| f.treatment == Treatment::Encrypted)
    }

    /// What replay gives for field `field` when it is gone: its placeholder, or
    /// `null`.
    pub fn placeholder(&self, field: &PersonalField) -> Value {
        field.erased.map_or(Value::Null, |f| f())
    }

    /// Puts every redacted field of `value` (a JSON object) to `null`.
    pub fn redact(&self, value: &mut Value) {
        let Value::Object(map) = value else { return };
        for field in self.fields {
            if field.treatment == Treatment::Redacted
                && let Some(v) = map.get_mut(field.name)
            {
                *v = Value::Null;
            }
        }
    }

    /// Puts every redacted field to `null` on every side of `changes`.
    pub fn redact_changes(&self, changes: &mut crate::audit::Changes) {
        for side in [
            &mut changes.old_values,
            &mut changes.new_values,
            &mut changes.diff_values,
        ]
        .into_iter()
        .flatten()
        {
            for field in self.fields {
                if field.treatment == Treatment::Redacted
                    && let Some(value) = side.get_mut(field.name)
                {
                    *value = Value::Null;
                }
            }
        }
    }

    /// For replay: `data` (a JSON object, decrypted) with every field that is
    /// gone (redacted, or [erased](is_erased)) replaced by its placeholder, so
    /// the input deserializes; any other erased value becomes `null`.
    ///
    /// ```
    /// use events_core::personal::{PersonalField, PersonalSchema, Treatment, erased};
    /// static SCHEMA: PersonalSchema = PersonalSchema {
    ///     type_name: "Signup",
    ///     subject: None,
    ///     fields: &[PersonalField { name: "name", treatment: Treatment::Redacted, erased: Some(|| "?".into()) }],
    /// };
    /// let mut data = serde_json::json!({"name": null, "note": erased()});
    /// SCHEMA.fill_gone(&mut data);
    /// assert_eq!(data, serde_json::json!({"name": "?", "note": null}));
    /// ```
    pub fn fill_gone(&self, data: &mut Value) {
        let Value::Object(map) = data else { return };
        for field in self.fields {
            let gone = match map.get(field.name) {
                None | Some(Value::Null) => field.treatment == Treatment::Redacted,
                Some(v) => is_erased(v),
            };
            if gone {
                map.insert(field.name.to_owned(), self.placeholder(field));
            }
        }
        fill_erased_with_null(data);
    }
}

/// True when a top-level value of `data` (a JSON object) is [erased](is_erased):
/// an event whose encrypted fields' subject was erased.
///
/// ```
/// use events_core::personal::{erased, has_erased};
/// assert!(has_erased(&serde_json::json!({"email": erased(), "plan": "pro"})));
/// assert!(!has_erased(&serde_json::json!({"plan": "pro"})));
/// ```
pub fn has_erased(data: &Value) -> bool {
    data.as_object()
        .is_some_and(|map| map.values().any(is_erased))
}

/// Replaces every top-level [erased](is_erased) value of `data` by `null`.
pub fn fill_erased_with_null(data: &mut Value) {
    if let Value::Object(map) = data {
        for v in map.values_mut() {
            if is_erased(v) {
                *v = Value::Null;
            }
        }
    }
}

/// A type with personal fields: implemented by `#[derive(PersonalData)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` declares no personal data",
    label = "not a type with personal fields",
    note = "add `#[derive(PersonalData)]` to `{Self}` and mark its fields `#[personal(encrypted)]` or `#[personal(redacted)]`"
)]
pub trait PersonalData {
    /// The personal fields and the data subject.
    const SCHEMA: &'static PersonalSchema;
}

/// The id of a data subject, as stored: a UUID in its hyphenated form, an
/// integer in decimal, a string as it is. One subject has one id across the
/// log, whichever resource names it, so integer subjects must be unique across
/// every kind of subject of the log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectId(String);

impl SubjectId {
    /// A subject id from its text: not empty, at most
    /// [`MAX_KEY_LEN`](crate::audit::MAX_KEY_LEN) bytes, no NUL.
    ///
    /// ```
    /// use events_core::personal::SubjectId;
    /// assert_eq!(SubjectId::new("user-7")?.as_str(), "user-7");
    /// assert!(SubjectId::new("").is_err());
    /// # Ok::<(), events_core::Error>(())
    /// ```
    pub fn new(text: impl Into<String>) -> Result<SubjectId, Error> {
        let text = text.into();
        let problem = if text.is_empty() {
            Some("a subject id cannot be empty".to_owned())
        } else if text.len() > crate::audit::MAX_KEY_LEN {
            Some(format!(
                "a subject id is at most {} bytes, got {}",
                crate::audit::MAX_KEY_LEN,
                text.len()
            ))
        } else if text.contains('\0') {
            Some("a subject id cannot contain a NUL character".to_owned())
        } else {
            None
        };
        match problem {
            Some(message) => Err(PersonalError::InvalidSubject { message }.into()),
            None => Ok(SubjectId(text)),
        }
    }

    /// The subject of a serialized field's value: a string as it is, a number
    /// in decimal; `None` for anything else.
    pub(crate) fn of_json(value: &Value) -> Option<Result<SubjectId, Error>> {
        match value {
            Value::String(s) => Some(SubjectId::new(s.clone())),
            Value::Number(n) => Some(SubjectId::new(n.to_string())),
            _ => None,
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A type that can name a data subject: the type of a `subject = <field>`, and
/// what [`erase_subject`](../../events_postgres/struct.PgEventStore.html) and
/// friends take.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot name a data subject",
    label = "not a subject id type",
    note = "a data subject is named by a `Uuid`, an integer (`i64`, `i32`, `u32`, `u64`) or a `String`; declare `subject = <field>` on a field of one of those types, or use `subject = record_id` / `subject = actor`"
)]
pub trait SubjectKey {
    /// The subject's id.
    fn subject_id(&self) -> Result<SubjectId, Error>;
}

macro_rules! subject_key_by_display {
    ($($t:ty),*) => {$(
        impl SubjectKey for $t {
            fn subject_id(&self) -> Result<SubjectId, Error> {
                SubjectId::new(self.to_string())
            }
        }
    )*};
}
subject_key_by_display!(uuid::Uuid, i64, i32, u32, u64, String, str, Key);

impl SubjectKey for SubjectId {
    fn subject_id(&self) -> Result<SubjectId, Error> {
        Ok(self.clone())
    }
}

impl<T: SubjectKey + ?Sized> SubjectKey for &T {
    fn subject_id(&self) -> Result<SubjectId, Error> {
        (**self).subject_id()
    }
}
