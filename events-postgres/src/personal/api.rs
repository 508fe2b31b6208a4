//! The public calls of personal data: erasure and export on the audit log,
//! master key checks and rotation on the store.

use events_core::audit::AuditEntry;
use events_core::personal::{KeyProvider, PersonalError, SubjectId, SubjectKey, WrappedKey};
use events_core::{Error, EventId, EventLog, PrimaryKeyType};

use super::no_provider;
use crate::audit::decode::decode_entry;
use crate::sql;
use crate::{AuditLog, PgEventStore};

/// What [`AuditLog::erase_subject`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// The subject erased.
    pub subject: SubjectId,
    /// False when the subject had no key (never written, or already erased).
    pub erased: bool,
    /// The manual entry (`personal.erased`) recording the erasure.
    pub entry: EventId,
}

/// What the log holds about one data subject ([`AuditLog::export_subject`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectExport {
    /// The subject.
    pub subject: SubjectId,
    /// True when its key is gone: its values read as erased.
    pub erased: bool,
    /// Every entry holding a value of the subject (data, metadata or changes),
    /// decrypted, and its erasures, in `(occurred_at, id)` order.
    pub entries: Vec<AuditEntry>,
}

/// What [`PgEventStore::rotate_master_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rotation {
    /// Data keys re-wrapped with the current master key.
    pub rewrapped: u64,
    /// Data keys already wrapped with it.
    pub current: u64,
}

/// Keys re-wrapped per transaction by a rotation.
const ROTATION_BATCH: i64 = 500;

impl<L: EventLog> AuditLog<L> {
    /// Erases data subject `subject` (GDPR art. 17): deletes its data key,
    /// through the owner's `<table>_erase_subject`, and records the erasure as
    /// the manual entry `personal.erased` (metadata `target_type = "subject"`,
    /// `target_id`, `erased`), which names the subject and nothing of its data.
    /// From then on every value encrypted for it, in events, changes and
    /// metadata, reads as `{"$erased": true}` in every reader, in this database
    /// and in any copy made from now on; replay gives the bodies the fields'
    /// placeholders. A write holding the key when the erasure starts commits
    /// first and is erased with the rest. Needs no key provider.
    ///
    /// Copies made before the erasure still hold the wrapped key: rotate the
    /// master key ([`PgEventStore::rotate_master_key`]) and retire the old one
    /// to make them unreadable too.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>, user_id: uuid::Uuid) -> Result<(), events_core::Error> {
    /// let erasure = audit.erase_subject(user_id).await?;
    /// assert!(erasure.erased);
    /// # Ok(()) }
    /// ```
    pub async fn erase_subject(&self, subject: impl SubjectKey) -> Result<Erasure, Error> {
        let subject = subject.subject_id()?;
        let q = sql::query(&self.store().statements().personal.erase).bind(subject.as_str());
        let q = match L::PRIMARY_KEY_TYPE {
            PrimaryKeyType::Integer => q,
            PrimaryKeyType::UuidV7 => q.bind(uuid::Uuid::now_v7()),
        };
        let row = q
            .fetch_one(self.store().pool())
            .await
            .map_err(|e| Error::from_sqlx(format!("erasing data subject `{subject}`"), e))?;
        if let Some(keyring) = self.store().keyring() {
            keyring.forget(subject.as_str());
        }
        tracing::info!(subject = %subject, "data subject erased");
        Ok(Erasure {
            erased: sql::get(&row, (0, "out_erased"))?,
            entry: sql::get_id::<L>(&row, (1, "out_entry"))?,
            subject,
        })
    }

    /// Everything the log holds about data subject `subject` (GDPR art. 15):
    /// every entry with a value encrypted for it, in its data, metadata or
    /// changes, decrypted, and the erasures recorded for it, as this handle's
    /// scope allows. Reads the whole log (exports are rare). Needs the key
    /// provider.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>, user_id: uuid::Uuid) -> Result<(), events_core::Error> {
    /// let export = audit.export_subject(user_id).await?;
    /// let json = serde_json::to_string_pretty(&export.entries).map_err(|e| events_core::Error::InvalidValue {
    ///     column: "export".into(), message: e.to_string() })?;
    /// # Ok(()) }
    /// ```
    pub async fn export_subject(&self, subject: impl SubjectKey) -> Result<SubjectExport, Error> {
        let subject = subject.subject_id()?;
        let keyring = self
            .store()
            .keyring()
            .ok_or_else(|| no_provider(format!("exporting data subject `{subject}`")))?;
        let rows = self
            .sql()
            .subject_entries(subject.as_str(), self.scope())?
            .query()
            .fetch_all(self.store().pool())
            .await
            .map_err(|e| Error::from_sqlx(format!("exporting data subject `{subject}`"), e))?;
        let mut entries = rows
            .iter()
            .map(decode_entry::<L>)
            .collect::<Result<Vec<_>, _>>()?;
        self.store().reveal_entries(&mut entries).await?;
        let mut conn = self
            .store()
            .pool()
            .acquire()
            .await
            .map_err(|e| Error::from_sqlx("connecting to read a data subject's key", e))?;
        let one = [subject.as_str().to_owned()].into_iter().collect();
        let held = keyring
            .load(&mut conn, self.store().statements(), &one)
            .await?;
        Ok(SubjectExport {
            erased: held.is_empty(),
            subject,
            entries,
        })
    }
}

impl<L: EventLog> PgEventStore<L> {
    /// Checks that the key provider opens the stored data keys: unwraps one key
    /// of each master key id in the keys table. Run it at start-up: a wrong
    /// master key is [`PersonalError::WrongMasterKey`], one the provider lacks
    /// [`PersonalError::UnknownMasterKey`], before any request reads garbage
    /// (none could: a wrong key never decrypts). Returns the number of data
    /// keys.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) -> Result<(), events_core::Error> {
    /// store.check_master_key().await?;
    /// # Ok(()) }
    /// ```
    pub async fn check_master_key(&self) -> Result<u64, Error> {
        let keyring = self
            .keyring()
            .ok_or_else(|| no_provider("checking the master key"))?;
        let rows = sql::query(&self.statements().personal.key_per_master)
            .fetch_all(self.pool())
            .await
            .map_err(|e| Error::from_sqlx("reading one data key per master key", e))?;
        let mut total = 0;
        for row in &rows {
            let subject: String = sql::get(row, (0, "subject"))?;
            let wrapped = WrappedKey {
                bytes: sql::get(row, (1, "wrapped_key"))?,
                master_key_id: sql::get(row, (2, "master_key_id"))?,
            };
            keyring.unwrap(&subject, wrapped).await?;
            total += sql::get::<i64>(row, (3, "count"))?.unsigned_abs();
        }
        Ok(total)
    }

    /// Re-wraps every data key not wrapped with the provider's current master
    /// key, in batches of 500, one transaction each; events are not touched.
    /// The provider must still have the old keys (as older keys of an
    /// [`EnvKeyProvider`](events_core::personal::EnvKeyProvider), say). Once it
    /// returns, retire the old master key: copies of the database made before
    /// (backups) can then no longer open any data key, erased subjects'
    /// included. Safe to run again, and beside writers.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) -> Result<(), events_core::Error> {
    /// let rotation = store.rotate_master_key().await?;
    /// println!("{} data keys re-wrapped", rotation.rewrapped);
    /// # Ok(()) }
    /// ```
    pub async fn rotate_master_key(&self) -> Result<Rotation, Error> {
        let keyring = self
            .keyring()
            .ok_or_else(|| no_provider("rotating the master key"))?;
        let provider: &dyn KeyProvider = keyring.provider();
        let current = provider.current_key_id().to_owned();
        let statements = self.statements();
        let mut done = Rotation::default();
        let mut after = String::new();
        loop {
            let rows = sql::query(&statements.personal.key_page)
                .bind(&after)
                .bind(ROTATION_BATCH)
                .fetch_all(self.pool())
                .await
                .map_err(|e| Error::from_sqlx("reading data keys to rotate", e))?;
            let Some(last) = rows.last() else { break };
            after = sql::get(last, (0, "subject"))?;
            let (mut subjects, mut old, mut new, mut ids) = (vec![], vec![], vec![], vec![]);
            for row in &rows {
                let subject: String = sql::get(row, (0, "subject"))?;
                let wrapped = WrappedKey {
                    bytes: sql::get(row, (1, "wrapped_key"))?,
                    master_key_id: sql::get(row, (2, "master_key_id"))?,
                };
                if wrapped.master_key_id == current {
                    done.current += 1;
                    continue;
                }
                let key = keyring.unwrap(&subject, wrapped.clone()).await?;
                let context = events_core::personal::key_context(L::TABLE, &subject);
                let rewrapped = provider.wrap(&key.key, &context).await?;
                if rewrapped.master_key_id != current {
                    return Err(PersonalError::KeyProvider {
                        message: format!(
                            "wrapped with master key `{}`, not the current `{current}`",
                            rewrapped.master_key_id
                        ),
                    }
                    .into());
                }
                subjects.push(subject);
                old.push(wrapped.bytes);
                new.push(rewrapped.bytes);
                ids.push(rewrapped.master_key_id);
            }
            if subjects.is_empty() {
                continue;
            }
            let mut rewrap = sql::query(&statements.personal.rewrap)
                .bind(subjects)
                .bind(old)
                .bind(new)
                .bind(ids);
            if L::PRIMARY_KEY_TYPE == events_core::PrimaryKeyType::UuidV7 {
                rewrap = rewrap.bind(uuid::Uuid::now_v7());
            }
            let row = rewrap
                .fetch_one(self.pool())
                .await
                .map_err(|e| Error::from_sqlx("re-wrapping data keys", e))?;
            done.rewrapped += sql::get::<i64>(&row, (0, "rewrapped"))?.unsigned_abs();
        }
        tracing::info!(rewrapped = done.rewrapped, current = %current, "master key rotated");
        Ok(done)
    }
}
