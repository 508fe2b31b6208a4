//! Sealing what is written and revealing what is read: the store's side of
//! [`events_core::personal`], over the keyring.

use std::collections::{BTreeSet, HashMap};

use events_core::audit::{AuditEntry, Changes, Fields, ValidEntry};
use events_core::personal::{DataKey, Protection, open_fields, subjects_in, take_seal};
use events_core::store::NewEvent;
use events_core::{Error, Event, EventLog};
use serde_json::Value;
use sqlx::PgConnection;

use super::{Keyring, WriteKeys, no_provider};
use crate::PgEventStore;

/// The three sides of a changes row, with the column each is stored in.
fn sides(changes: &mut Changes) -> [(&'static str, Option<&mut Fields>); 3] {
    [
        ("changes.old_values", changes.old_values.as_mut()),
        ("changes.new_values", changes.new_values.as_mut()),
        ("changes.diff_values", changes.diff_values.as_mut()),
    ]
}

impl<L: EventLog> PgEventStore<L> {
    /// Encrypts a manual entry's personal data in place (its data, and its
    /// changes' fields of the same names) with its subject's key; returns the
    /// key the insert must store or hold. Nothing to do without personal data;
    /// [`PersonalError::NoKeyProvider`](events_core::PersonalError::NoKeyProvider)
    /// without a provider.
    pub(crate) async fn seal_entry(&self, valid: &mut ValidEntry) -> Result<WriteKeys, Error> {
        let mut keys = WriteKeys::default();
        let Some(personal) = &valid.personal else {
            return Ok(keys);
        };
        let keyring = self
            .keyring()
            .ok_or_else(|| no_provider(format!("recording audit entry `{}`", valid.action)))?;
        let protection = &personal.protection;
        let key = keyring.for_write(&protection.subject).await?;
        valid.data =
            protection.seal_data(L::TABLE, &key.0.key, &valid.data, &personal.plaintext)?;
        if let Some(changes) = &mut valid.changes {
            seal_changes(L::TABLE, protection, &key.0.key, changes)?;
        }
        keys.add(&protection.subject, &key);
        Ok(keys)
    }

    /// The data of `events` as stored: each event with personal data gets its
    /// encrypted fields back, encrypted with its subject's key, and its seal
    /// (`None` for the others: their data is stored as it is); and the keys
    /// the append stores or holds. No round trip: the keys come from the
    /// keyring's cache, or are fresh ones the append stores.
    pub(crate) async fn seal_events(
        &self,
        keyring: &Keyring,
        events: &[NewEvent<'_>],
    ) -> Result<(Vec<Option<Value>>, WriteKeys), Error> {
        let mut keys = WriteKeys::default();
        let mut sealed = Vec::with_capacity(events.len());
        for event in events {
            let Some(personal) = event.personal else {
                sealed.push(None);
                continue;
            };
            let protection = &personal.protection;
            let key = keyring.for_write(&protection.subject).await?;
            sealed.push(Some(protection.seal_data(
                L::TABLE,
                &key.0.key,
                event.data,
                &personal.plaintext,
            )?));
            keys.add(&protection.subject, &key);
        }
        Ok((sealed, keys))
    }

    /// Encrypts the fields of `changes[i]` that event `i`'s input declares
    /// encrypted, with the key and seal its event was sealed with
    /// (`protections[i]`; empty: nothing to do). The call's append holds those
    /// keys until the commit, so they are the stored ones.
    pub(crate) async fn seal_recorded_changes(
        &self,
        conn: &mut PgConnection,
        changes: &mut [Changes],
        protections: &[Option<Protection>],
    ) -> Result<(), Error> {
        if protections.iter().all(Option::is_none) {
            return Ok(());
        }
        let keyring = self
            .keyring()
            .ok_or_else(|| no_provider("recording the changes of an action with personal data"))?;
        for (changes, protection) in changes.iter_mut().zip(protections) {
            if let Some(protection) = protection {
                let key = keyring
                    .held_key(conn, self.statements(), &protection.subject)
                    .await?;
                seal_changes(L::TABLE, protection, &key, changes)?;
            }
        }
        Ok(())
    }

    /// Decrypts the encrypted values of `events` (data and metadata) in
    /// place, with one key query for the whole page; a value whose subject was
    /// erased reads as `{"$erased": true}`. Without a key provider the values
    /// stay sealed, as stored, unless `replaying` (replay needs the values:
    /// [`PersonalError::NoKeyProvider`](events_core::PersonalError::NoKeyProvider));
    /// the seal is taken out of the data either way.
    pub(crate) async fn reveal_events(
        &self,
        events: &mut [Event],
        replaying: bool,
    ) -> Result<(), Error> {
        let mut subjects = BTreeSet::new();
        for e in events.iter() {
            for value in [&e.data, &e.metadata] {
                if let Value::Object(map) = value {
                    subjects_in(map.values(), &mut subjects);
                }
            }
        }
        if subjects.is_empty() {
            return Ok(());
        }
        let keys = match self.page_keys(&subjects).await? {
            Some(keys) => Some(keys),
            None if replaying => {
                let event = events.first().map_or(String::new(), |e| e.id.to_string());
                return Err(no_provider(format!(
                    "replaying events with encrypted personal data (from event {event})"
                )));
            }
            None => None,
        };
        for e in events.iter_mut() {
            let id = e.id;
            let name = move || format!("event {id}");
            let seal = take_seal(&mut e.data, &name)?;
            let Some(keys) = &keys else { continue };
            let key_of = |subject: &str| keys.get(subject).cloned();
            for (column, value) in [("data", &mut e.data), ("metadata", &mut e.metadata)] {
                if let Value::Object(map) = value {
                    open_fields(L::TABLE, column, seal.as_ref(), map, &key_of, &name)?;
                }
            }
        }
        Ok(())
    }

    /// Decrypts every encrypted value of `entries` in place, with one key query
    /// for the whole page: data, metadata and changes. A value whose subject
    /// was erased reads as `{"$erased": true}`. Without a key provider the
    /// values stay sealed, as stored.
    pub(crate) async fn reveal_entries(&self, entries: &mut [AuditEntry]) -> Result<(), Error> {
        let mut subjects = BTreeSet::new();
        for e in entries.iter() {
            for value in [&e.data, &e.metadata] {
                if let Value::Object(map) = value {
                    subjects_in(map.values(), &mut subjects);
                }
            }
            if let Some(c) = &e.changes {
                for side in [&c.old_values, &c.new_values, &c.diff_values]
                    .into_iter()
                    .flatten()
                {
                    subjects_in(side.values(), &mut subjects);
                }
            }
        }
        if subjects.is_empty() {
            return Ok(());
        }
        let Some(keys) = self.page_keys(&subjects).await? else {
            return Ok(());
        };
        for e in entries.iter_mut() {
            reveal_entry(L::TABLE, &keys, e)?;
        }
        Ok(())
    }

    /// The keys of a page's `subjects` that are still stored, with one query
    /// on a connection of the pool ([`Keyring::load`]); `None` without a key
    /// provider.
    async fn page_keys(
        &self,
        subjects: &BTreeSet<String>,
    ) -> Result<Option<HashMap<String, DataKey>>, Error> {
        let Some(keyring) = self.keyring() else {
            return Ok(None);
        };
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(|e| Error::from_sqlx("connecting to read data subjects' keys", e))?;
        keyring
            .load(&mut conn, self.statements(), subjects)
            .await
            .map(Some)
    }
}

/// Encrypts the schema's fields on every side of `changes`, bound to `table`.
pub(crate) fn seal_changes(
    table: &str,
    protection: &Protection,
    key: &DataKey,
    changes: &mut Changes,
) -> Result<(), Error> {
    for (column, side) in sides(changes) {
        if let Some(side) = side {
            protection.seal_object(table, key, column, side)?;
        }
    }
    Ok(())
}

/// Opens one entry's envelopes with `keys`.
fn reveal_entry(
    table: &str,
    keys: &HashMap<String, DataKey>,
    e: &mut AuditEntry,
) -> Result<(), Error> {
    let id = e.id;
    let name = move || format!("entry {id}");
    let seal = take_seal(&mut e.data, &name)?;
    let key_of = |subject: &str| keys.get(subject).cloned();
    if let Value::Object(map) = &mut e.data {
        open_fields(table, "data", seal.as_ref(), map, &key_of, &name)?;
    }
    if let Value::Object(map) = &mut e.metadata {
        open_fields(table, "metadata", seal.as_ref(), map, &key_of, &name)?;
    }
    if let Some(changes) = &mut e.changes {
        for (column, side) in sides(changes) {
            if let Some(side) = side {
                open_fields(table, column, seal.as_ref(), side, &key_of, &name)?;
            }
        }
    }
    Ok(())
}
