//! Applying a [`PersonalSchema`] to JSON values: on the way in, redacted
//! fields nulled and encrypted ones taken out ([`PersonalEvent::prepare`]),
//! then sealed by the store with the subject's key ([`Protection::seal_data`],
//! [`Protection::seal_object`]); on the way out, envelopes opened
//! ([`open_fields`]) or read as erased.
//!
//! Every function works on the top-level fields of a JSON object: personal
//! fields are fields of the declaring struct.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

use super::crypto::{Envelope, value_aad};
use super::{
    DataKey, PersonalError, PersonalSchema, SEAL_KEY, Seal, SubjectId, SubjectSource, Treatment,
    erased,
};
use crate::Error;

/// What a store needs to encrypt the personal data of one event or manual
/// entry: the schema, the data subject and the event's seal. Its changes are
/// sealed with the same protection.
#[derive(Debug, Clone)]
pub struct Protection {
    /// The declaring type's schema.
    pub schema: &'static PersonalSchema,
    /// Whose data it is.
    pub subject: SubjectId,
    /// The event's seal, stored in its data under [`SEAL_KEY`].
    pub seal: Seal,
}

/// The personal data of one event (or manual entry) about to be written: its
/// [`Protection`] and the values of its encrypted fields, which are **not** in
/// its data: a store that ignored them would store the event without them,
/// never in plaintext. A store puts them back encrypted with
/// [`Protection::seal_data`].
pub struct PersonalEvent {
    /// Schema, subject and seal.
    pub protection: Protection,
    /// The encrypted fields' values, taken out of the data.
    pub plaintext: Vec<(&'static str, Value)>,
}

impl fmt::Debug for PersonalEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = self.plaintext.iter().map(|(name, _)| *name).collect();
        f.debug_struct("PersonalEvent")
            .field("protection", &self.protection)
            .field("fields", &fields)
            .finish()
    }
}

impl PersonalEvent {
    /// Applies `schema` to `data`, a serialized value of the declaring type:
    /// nulls its redacted fields; when it encrypts, takes its encrypted fields
    /// out (null ones stay null: there is nothing to protect) and finds the
    /// subject (`subject_of` answers for the record id and the actor). `None`
    /// when nothing is encrypted.
    pub fn prepare(
        schema: &'static PersonalSchema,
        data: &mut Value,
        subject_of: impl FnOnce(SubjectSource) -> Option<SubjectId>,
    ) -> Result<Option<PersonalEvent>, Error> {
        schema.redact(data);
        if !schema.encrypts() {
            return Ok(None);
        }
        let no_subject = |looked_in: String, fix| PersonalError::NoSubject {
            type_name: schema.type_name,
            looked_in,
            fix,
        };
        let Value::Object(map) = data else {
            return Err(no_subject(
                "the fields of a JSON object".to_owned(),
                "personal data is declared on structs with named fields",
            )
            .into());
        };
        let subject = match schema.subject {
            None => None,
            Some(SubjectSource::Field(name)) => match map.get(name).and_then(SubjectId::of_json) {
                Some(subject) => Some(subject?),
                None => None,
            },
            Some(source) => subject_of(source),
        };
        let subject = subject.ok_or_else(|| {
            let source = schema
                .subject
                .map_or("none declared".to_owned(), |s| s.to_string());
            let fix = match schema.subject {
                Some(SubjectSource::Actor) => "run the call with `.actor(&actor)`",
                Some(SubjectSource::RecordId) => "give the entry a record id",
                _ => "give the subject field a string or integer value",
            };
            no_subject(source, fix)
        })?;
        let mut plaintext = Vec::new();
        for field in schema.fields {
            if field.treatment == Treatment::Encrypted
                && let Some(value) = map.remove(field.name)
            {
                if value.is_null() {
                    map.insert(field.name.to_owned(), value);
                } else {
                    plaintext.push((field.name, value));
                }
            }
        }
        Ok(Some(PersonalEvent {
            protection: Protection {
                schema,
                subject,
                seal: Seal::generate()?,
            },
            plaintext,
        }))
    }
}

impl PersonalEvent {
    /// [`prepare`](Self::prepare) for a manual entry's `data`, whose subject
    /// may be its `record_id` or `actor`; its `changes` are redacted alike.
    pub(crate) fn for_entry(
        schema: &'static PersonalSchema,
        data: &mut Value,
        changes: Option<&mut crate::audit::Changes>,
        record_id: Option<&crate::Key>,
        actor: Option<&crate::Key>,
    ) -> Result<Option<PersonalEvent>, Error> {
        if let Some(changes) = changes {
            schema.redact_changes(changes);
        }
        PersonalEvent::prepare(schema, data, |source| {
            let key = match source {
                SubjectSource::RecordId => record_id,
                SubjectSource::Actor => actor,
                SubjectSource::Field(_) => None,
            };
            key.and_then(|k| SubjectId::new(k.to_string()).ok())
        })
    }
}

impl Protection {
    /// The data as stored: `data` with each of `plaintext` put back as an
    /// envelope encrypted with `key` (the subject's), and the seal.
    pub fn seal_data(
        &self,
        table: &str,
        key: &DataKey,
        data: &Value,
        plaintext: &[(&'static str, Value)],
    ) -> Result<Value, Error> {
        let mut map = match data {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        for (field, value) in plaintext {
            map.insert(
                (*field).to_owned(),
                self.envelope(table, key, "data", field, value)?,
            );
        }
        map.insert(SEAL_KEY.to_owned(), Value::String(self.seal.to_text()));
        Ok(Value::Object(map))
    }

    /// Redacts, then encrypts in place, the schema's fields of `map`, which is
    /// stored in `column` (`changes.old_values`, `metadata`): how recorded
    /// changes are sealed.
    pub fn seal_object(
        &self,
        table: &str,
        key: &DataKey,
        column: &str,
        map: &mut Map<String, Value>,
    ) -> Result<(), Error> {
        for field in self.schema.fields {
            let Some(value) = map.get_mut(field.name) else {
                continue;
            };
            match field.treatment {
                Treatment::Redacted => *value = Value::Null,
                Treatment::Encrypted if !value.is_null() => {
                    *value = self.envelope(table, key, column, field.name, value)?;
                }
                Treatment::Encrypted => {}
            }
        }
        Ok(())
    }

    fn envelope(
        &self,
        table: &str,
        key: &DataKey,
        column: &str,
        field: &str,
        value: &Value,
    ) -> Result<Value, Error> {
        let plaintext = zeroize::Zeroizing::new(serde_json::to_vec(value).map_err(|e| {
            PersonalError::Malformed {
                event: "a new event".to_owned(),
                location: format!("{column}.{field}"),
                message: format!("could not serialize: {e}"),
            }
        })?);
        let aad = value_aad(table, &self.seal, column, field, self.subject.as_str());
        Ok(Envelope {
            subject: self.subject.as_str().to_owned(),
            key: key.id(),
            sealed: key.encrypt(&plaintext, &aad)?,
        }
        .to_value())
    }
}

/// Adds the subject of every envelope among `values` (the fields of an
/// object: `map.values()`) to `out`.
pub fn subjects_in<'a>(values: impl IntoIterator<Item = &'a Value>, out: &mut BTreeSet<String>) {
    for v in values {
        if let Some(subject) = Envelope::subject_of(v)
            && !out.contains(subject)
        {
            out.insert(subject.to_owned());
        }
    }
}

/// What [`open_fields`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Revealed {
    /// Values decrypted.
    pub opened: u64,
    /// Values whose subject was erased, now [`erased`] markers.
    pub erased: u64,
}

/// Opens every envelope at the top level of `map`, stored in `column` of the
/// entry whose data held `seal` (`None`: the entry has no seal, so an envelope
/// there is out of place): with the key `key_of` gives for its subject, or as
/// [`erased`] when it gives none or another (the subject's key was deleted).
/// `entry`
/// names the entry in errors. A value that does not decrypt is
/// [`PersonalError::Tampered`], never garbage.
pub fn open_fields(
    table: &str,
    column: &str,
    seal: Option<&Seal>,
    map: &mut Map<String, Value>,
    key_of: &dyn Fn(&str) -> Option<DataKey>,
    entry: &dyn Fn() -> String,
) -> Result<Revealed, Error> {
    let mut done = Revealed::default();
    for (field, value) in map.iter_mut() {
        let envelope = match Envelope::parse(value) {
            None => continue,
            Some(Ok(envelope)) => envelope,
            Some(Err(message)) => {
                return Err(PersonalError::Malformed {
                    event: entry(),
                    location: format!("{column}.{field}"),
                    message,
                }
                .into());
            }
        };
        let tampered = || PersonalError::Tampered {
            event: entry(),
            location: format!("{column}.{field}"),
        };
        let Some(seal) = seal else {
            return Err(tampered().into());
        };
        // No key, or another key than the one it was encrypted with (the
        // subject was erased, and has a new key since): erased.
        let Some(key) = key_of(&envelope.subject).filter(|k| k.id() == envelope.key) else {
            *value = erased();
            done.erased += 1;
            continue;
        };
        let aad = value_aad(table, seal, column, field, &envelope.subject);
        let plaintext = key.decrypt(&envelope.sealed, &aad).ok_or_else(tampered)?;
        *value = serde_json::from_slice(&plaintext).map_err(|_| tampered())?;
        done.opened += 1;
    }
    Ok(done)
}

/// The seal of an entry's `data`, taken out of it: `Ok(None)` when it has
/// none, an error naming the entry when it is malformed.
pub fn take_seal(data: &mut Value, entry: &dyn Fn() -> String) -> Result<Option<Seal>, Error> {
    let seal = match Seal::read(data) {
        None => return Ok(None),
        Some(Ok(seal)) => seal,
        Some(Err(message)) => {
            return Err(PersonalError::Malformed {
                event: entry(),
                location: format!("data.{SEAL_KEY}"),
                message,
            }
            .into());
        }
    };
    if let Value::Object(map) = data {
        map.remove(SEAL_KEY);
    }
    Ok(Some(seal))
}
