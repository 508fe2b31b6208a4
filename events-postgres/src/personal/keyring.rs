//! The store's data keys: the key provider, a cache of unwrapped keys, and the
//! statements that load them.
//!
//! **Writing** uses the cached key of a subject, or a fresh one (wrapped by the
//! provider) that the write's own statement stores through `<table>_use_keys`:
//! no extra round trip, even for a new subject. That statement also checks
//! that the key is the stored one; when it is not (another process created the
//! subject's key first, or erased it), nothing is written, the writer reloads
//! the keys ([`Keyring::reload`]) and encrypts again.
//!
//! **Reading** asks the database which of a page's subjects still have a key
//! (one query per page that holds encrypted values) and unwraps those it has
//! not unwrapped before: a key erased by another process is never used to read,
//! whatever this process cached.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use events_core::personal::{
    DataKey, KeyProvider, PersonalError, SubjectId, WrappedKey, key_context,
};
use events_core::{Error, EventLog};
use sqlx::PgConnection;

use crate::sql::{self, Statements};

/// Above this many cached keys the cache starts again from empty.
const CACHE_LIMIT: usize = 100_000;

/// A subject's data key, unwrapped, with the wrapped form it was stored as.
#[derive(Clone)]
pub(crate) struct SubjectKey {
    pub(crate) key: DataKey,
    pub(crate) wrapped: WrappedKey,
}

/// The key provider and the unwrapped keys of one store (shared by its clones).
pub(crate) struct Keyring {
    table: &'static str,
    provider: Arc<dyn KeyProvider>,
    /// Each subject's key, and whether it is known to be stored (loaded, or
    /// written with): a key not known to be stored is inserted by the next
    /// write, one that is is only held, never inserted again (that would bring
    /// back a key another process erased).
    /// Shared (`Arc`): a lookup on the action path clones no key material.
    cache: Mutex<HashMap<String, (Arc<SubjectKey>, bool)>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("table", &self.table)
            .field("current_key_id", &self.provider.current_key_id())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    pub(crate) fn new<L: EventLog>(provider: Arc<dyn KeyProvider>) -> Self {
        Keyring {
            table: L::TABLE,
            provider,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn provider(&self) -> &dyn KeyProvider {
        &*self.provider
    }

    fn cached(&self, subject: &str) -> Option<(Arc<SubjectKey>, bool)> {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(subject)
            .cloned()
    }

    fn remember(&self, subject: &str, key: Arc<SubjectKey>, stored: bool) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(subject.to_owned(), (key, stored));
    }

    /// Marks the keys of a write that succeeded as stored: later writes hold
    /// them and never insert them again.
    pub(crate) fn confirm(&self, keys: &WriteKeys) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        for (subject, wrapped) in keys.subjects.iter().zip(&keys.wrapped) {
            if let Some((key, stored)) = cache.get_mut(subject)
                && key.wrapped.bytes == *wrapped
            {
                *stored = true;
            }
        }
    }

    /// Forgets the cached key of `subject` (after erasing it).
    pub(crate) fn forget(&self, subject: &str) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(subject);
    }

    /// The key to encrypt `subject`'s values with, and whether the write must
    /// store it: the cached one, else a fresh one, wrapped, which the write's
    /// statement stores.
    pub(crate) async fn for_write(
        &self,
        subject: &SubjectId,
    ) -> Result<(Arc<SubjectKey>, bool), Error> {
        if let Some((key, stored)) = self.cached(subject.as_str()) {
            return Ok((key, !stored));
        }
        let key = DataKey::generate()?;
        let context = key_context(self.table, subject.as_str());
        let wrapped = self.provider.wrap(&key, &context).await?;
        let fresh = Arc::new(SubjectKey { key, wrapped });
        self.remember(subject.as_str(), Arc::clone(&fresh), false);
        Ok((fresh, true))
    }

    /// Unwraps `wrapped`, the stored key of `subject`: a wrong master key is
    /// [`PersonalError::WrongMasterKey`], never a wrong key.
    pub(crate) async fn unwrap(
        &self,
        subject: &str,
        wrapped: WrappedKey,
    ) -> Result<SubjectKey, Error> {
        let context = key_context(self.table, subject);
        let key = self
            .provider
            .unwrap(&wrapped, &context)
            .await?
            .ok_or_else(|| PersonalError::WrongMasterKey {
                id: wrapped.master_key_id.clone(),
                subject: subject.to_owned(),
            })?;
        Ok(SubjectKey { key, wrapped })
    }

    /// The stored keys of `subjects`, unwrapped (from the cache when the stored
    /// bytes are the cached ones); subjects without a key (erased, or never
    /// written) are absent, and forgotten. One query.
    pub(crate) async fn load(
        &self,
        conn: &mut PgConnection,
        statements: &Statements,
        subjects: &BTreeSet<String>,
    ) -> Result<HashMap<String, DataKey>, Error> {
        let mut found = HashMap::new();
        if subjects.is_empty() {
            return Ok(found);
        }
        let rows = sql::query(&statements.personal.load_keys)
            .bind(subjects.iter().collect::<Vec<_>>())
            .fetch_all(conn)
            .await
            .map_err(|e| Error::from_sqlx("reading data subjects' keys", e))?;
        for row in &rows {
            let subject: String = sql::get(row, (0, "subject"))?;
            let wrapped = WrappedKey {
                bytes: sql::get(row, (1, "wrapped_key"))?,
                master_key_id: sql::get(row, (2, "master_key_id"))?,
            };
            match self.cached(&subject) {
                // Known and stored as cached: nothing to remember again.
                Some((cached, true)) if cached.wrapped == wrapped => {
                    found.insert(subject, cached.key.clone());
                }
                Some((cached, false)) if cached.wrapped == wrapped => {
                    found.insert(subject.clone(), cached.key.clone());
                    self.remember(&subject, cached, true);
                }
                _ => {
                    let key = Arc::new(self.unwrap(&subject, wrapped).await?);
                    found.insert(subject.clone(), key.key.clone());
                    self.remember(&subject, key, true);
                }
            }
        }
        for subject in subjects {
            if !found.contains_key(subject) {
                self.forget(subject);
            }
        }
        Ok(found)
    }

    /// The key of `subject` that a write of this transaction holds (its append
    /// stored or held it): the cached one, else the stored one. An error when
    /// there is none (the append never held it).
    pub(crate) async fn held_key(
        &self,
        conn: &mut PgConnection,
        statements: &Statements,
        subject: &SubjectId,
    ) -> Result<DataKey, Error> {
        if let Some((key, true)) = self.cached(subject.as_str()) {
            return Ok(key.key.clone());
        }
        let subjects = BTreeSet::from([subject.as_str().to_owned()]);
        let mut found = self.load(conn, statements, &subjects).await?;
        found.remove(subject.as_str()).ok_or_else(|| {
            PersonalError::KeyMissing {
                subject: subject.to_string(),
                what: "recording the changes of its action".to_owned(),
            }
            .into()
        })
    }

    /// After a write found its keys changed: forgets them and loads the stored
    /// ones, so the retry encrypts with those (or with fresh keys for subjects
    /// erased meanwhile).
    pub(crate) async fn reload(
        &self,
        conn: &mut PgConnection,
        statements: &Statements,
        subjects: &BTreeSet<String>,
    ) -> Result<(), Error> {
        for subject in subjects {
            self.forget(subject);
        }
        self.load(conn, statements, subjects).await.map(drop)
    }
}

/// The keys one write stores or holds, deduplicated, as the arrays
/// `<table>_use_keys` takes: subjects, wrapped keys, master key ids, and
/// whether to insert each (a fresh key) or only hold it.
#[derive(Debug, Default)]
pub(crate) struct WriteKeys {
    /// The index of each subject in the arrays.
    index: HashMap<String, usize>,
    subjects: Vec<String>,
    wrapped: Vec<Vec<u8>>,
    master_ids: Vec<String>,
    fresh: Vec<bool>,
}

impl WriteKeys {
    /// Adds `subject`'s key, once; `fresh` ones are inserted.
    pub(crate) fn add(&mut self, subject: &SubjectId, (key, fresh): &(Arc<SubjectKey>, bool)) {
        if !self.index.contains_key(subject.as_str()) {
            self.index
                .insert(subject.as_str().to_owned(), self.subjects.len());
            self.subjects.push(subject.as_str().to_owned());
            self.wrapped.push(key.wrapped.bytes.clone());
            self.master_ids.push(key.wrapped.master_key_id.clone());
            self.fresh.push(*fresh);
        }
    }

    /// The subjects, for [`Keyring::reload`].
    pub(crate) fn subjects(&self) -> BTreeSet<String> {
        self.subjects.iter().cloned().collect()
    }

    /// Binds the four arrays.
    pub(crate) fn bind(&self, q: sql::PgQuery) -> sql::PgQuery {
        q.bind(self.subjects.clone())
            .bind(self.wrapped.clone())
            .bind(self.master_ids.clone())
            .bind(self.fresh.clone())
    }
}
