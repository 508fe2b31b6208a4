//! Personal data in the PostgreSQL store: the key provider a store is built
//! with, sealing what is written, revealing what is read, erasure, export and
//! master key rotation. The model is [`events_core::personal`].
//!
//! - [`PgEventStore::with_key_provider`](crate::PgEventStore::with_key_provider) gives the store its master keys.
//!   Without one, writing an encrypted field is
//!   [`PersonalError::NoKeyProvider`] (nothing is written) and readers return
//!   encrypted values as they are stored, sealed.
//! - Readers with the provider ([`AuditLog`](crate::AuditLog) queries, `find`,
//!   `follow`) decrypt every envelope of a page with one key query; a value
//!   whose subject was erased reads as `{"$erased": true}`; a value that does
//!   not decrypt (altered, or copied from another event) is
//!   [`PersonalError::Tampered`].
//! - [`AuditLog::erase_subject`](crate::AuditLog::erase_subject) deletes a
//!   subject's key through the owner's `<table>_erase_subject` and records
//!   `personal.erased`; [`AuditLog::export_subject`](crate::AuditLog::export_subject)
//!   returns every entry holding the subject's data, decrypted.
//! - [`PgEventStore::rotate_master_key`](crate::PgEventStore::rotate_master_key) re-wraps every data key with the
//!   provider's current master key; no event is touched.
//!   [`PgEventStore::check_master_key`](crate::PgEventStore::check_master_key) tells at start-up whether the provider
//!   opens the stored keys.

mod api;
mod keyring;
mod reveal;

use std::sync::Arc;

use events_core::EventLog;
use events_core::personal::PersonalError;

pub use api::{Erasure, Rotation, SubjectExport};
pub(crate) use keyring::{Keyring, WriteKeys};

use crate::sql::names::Names;

/// The fixed texts of personal data.
#[derive(Debug)]
pub(crate) struct PersonalSql {
    /// `$1` subjects: their stored keys.
    pub(crate) load_keys: Arc<str>,
    /// `$1` subject (`$2` the entry's id for `uuid_v7`): erases it.
    pub(crate) erase: Arc<str>,
    /// `$1` subjects, `$2` old wrapped, `$3` new wrapped, `$4` master key ids
    /// (`$5` the entry id on a uuid_v7 log).
    pub(crate) rewrap: Arc<str>,
    /// `$1` after this subject, `$2` limit: a page of keys in subject order.
    pub(crate) key_page: Arc<str>,
    /// One stored key per master key id.
    pub(crate) key_per_master: Arc<str>,
}

impl PersonalSql {
    pub(crate) fn new<L: EventLog>(names: &Names) -> Self {
        let keys = &names.keys;
        PersonalSql {
            load_keys: format!(
                "SELECT subject, wrapped_key, master_key_id FROM {keys} WHERE subject = ANY($1::text[])"
            )
            .into(),
            erase: format!(
                "SELECT out_erased, out_entry FROM {}($1{})",
                names.erase_fn,
                match L::PRIMARY_KEY_TYPE {
                    events_core::PrimaryKeyType::Integer => "",
                    events_core::PrimaryKeyType::UuidV7 => ", $2",
                }
            )
            .into(),
            rewrap: format!(
                "SELECT {}($1, $2, $3, $4{}) AS rewrapped",
                names.rewrap_fn,
                match L::PRIMARY_KEY_TYPE {
                    events_core::PrimaryKeyType::Integer => "",
                    events_core::PrimaryKeyType::UuidV7 => ", $5",
                }
            )
            .into(),
            key_page: format!(
                "SELECT subject, wrapped_key, master_key_id FROM {keys} \
                 WHERE subject > $1 ORDER BY subject LIMIT $2"
            )
            .into(),
            key_per_master: format!(
                "SELECT DISTINCT ON (master_key_id) subject, wrapped_key, master_key_id, \
                 count(*) OVER (PARTITION BY master_key_id) FROM {keys} ORDER BY master_key_id, subject"
            )
            .into(),
        }
    }
}

/// The error of a store without a key provider asked to do `what`.
pub(crate) fn no_provider(what: impl Into<String>) -> events_core::Error {
    PersonalError::NoKeyProvider { what: what.into() }.into()
}
