//! Master keys: the [`KeyProvider`] a store wraps and unwraps data keys with,
//! and [`EnvKeyProvider`], master keys given in an environment variable or a
//! file.
//!
//! The provider wraps and unwraps; it never hands a master key to the store.
//! That is what a KMS offers (encrypt and decrypt a data key under an
//! encryption context, the master key staying inside), so a KMS provider is a
//! thin implementation of this trait, and a local one, like [`EnvKeyProvider`],
//! is AES-256-GCM under the same context.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::{DataKey, PersonalError};
use crate::BoxFuture;

/// A data key wrapped by a master key: what the keys table stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The id of the master key that wrapped it.
    pub master_key_id: String,
    /// The wrapped key.
    pub bytes: Vec<u8>,
}

/// Wraps data keys with a master key that stays outside the database, and
/// unwraps them. Implement it over a KMS; [`EnvKeyProvider`] is built in.
///
/// `context` binds a wrapped key to its log and subject: a KMS passes it as
/// the encryption context (or associated data), so a wrapped key copied to
/// another subject does not unwrap.
pub trait KeyProvider: Send + Sync + 'static {
    /// The id of the master key new data keys are wrapped with. Keys wrapped
    /// with another id are re-wrapped by `rotate_master_key`.
    fn current_key_id(&self) -> &str;

    /// Wraps `key` with the current master key.
    fn wrap<'a>(
        &'a self,
        key: &'a DataKey,
        context: &'a [u8],
    ) -> BoxFuture<'a, Result<WrappedKey, PersonalError>>;

    /// Unwraps `wrapped` with the master key it names. `Ok(None)` when it does
    /// not unwrap (a wrong master key under that id, an altered key): never a
    /// wrong key. [`PersonalError::UnknownMasterKey`] when the provider has no
    /// key of that id.
    fn unwrap<'a>(
        &'a self,
        wrapped: &'a WrappedKey,
        context: &'a [u8],
    ) -> BoxFuture<'a, Result<Option<DataKey>, PersonalError>>;
}

/// Master keys held in memory, read from an environment variable or a file:
/// one or more `id:base64` entries (32 bytes each, base64), separated by
/// commas or new lines. The first is the current key; the others are older
/// keys, kept to read and re-wrap data keys during a rotation. A single entry
/// may omit its id (`base64` alone): its id is then `default`.
///
/// ```
/// use events_core::personal::{EnvKeyProvider, KeyProvider};
/// // e.g. `openssl rand -base64 32`
/// let provider = EnvKeyProvider::parse("k2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,\
///                                       k1:HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=")?;
/// assert_eq!(provider.current_key_id(), "k2");
/// assert!(EnvKeyProvider::parse("k1:c2hvcnQ=").is_err()); // not 32 bytes
/// # Ok::<(), events_core::Error>(())
/// ```
pub struct EnvKeyProvider {
    /// Current first.
    keys: Vec<(String, DataKey)>,
}

impl std::fmt::Debug for EnvKeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("EnvKeyProvider").field("ids", &ids).finish()
    }
}

impl EnvKeyProvider {
    /// The master keys in environment variable `var`. A missing or malformed
    /// variable is an error naming it: check it at start-up.
    pub fn from_env(var: &str) -> Result<EnvKeyProvider, crate::Error> {
        let text = std::env::var(var).map_err(|_| PersonalError::KeyProvider {
            message: format!(
                "environment variable `{var}` is not set (or not UTF-8): set it to `id:<32 bytes \
                 in base64>`, e.g. the output of `openssl rand -base64 32` after `k1:`"
            ),
        })?;
        Self::parse(&text).map_err(|e| match e {
            crate::Error::Personal(PersonalError::KeyProvider { message }) => {
                PersonalError::KeyProvider {
                    message: format!("environment variable `{var}`: {message}"),
                }
                .into()
            }
            other => other,
        })
    }

    /// The master keys in the file at `path` (a secret mounted by the
    /// orchestrator, say).
    pub fn from_file(path: impl AsRef<Path>) -> Result<EnvKeyProvider, crate::Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| PersonalError::KeyProvider {
            message: format!("cannot read master key file `{}`: {e}", path.display()),
        })?;
        Self::parse(&text)
    }

    /// The master keys in `text` (see the [type docs](Self) for the form).
    pub fn parse(text: &str) -> Result<EnvKeyProvider, crate::Error> {
        let entries: Vec<&str> = text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        let bad = |message: String| crate::Error::from(PersonalError::KeyProvider { message });
        if entries.is_empty() {
            return Err(bad(
                "no master key: give `id:<32 bytes in base64>`".to_owned()
            ));
        }
        let mut keys = Vec::new();
        for entry in &entries {
            let (id, b64) = match entry.split_once(':') {
                Some((id, b64)) => (id.trim(), b64.trim()),
                None if entries.len() == 1 => ("default", *entry),
                None => {
                    return Err(bad(
                        "with several master keys, write each as `id:<base64>`".to_owned()
                    ));
                }
            };
            if id.is_empty() || keys.iter().any(|(known, _)| known == id) {
                return Err(bad(format!("master key id `{id}` is empty or repeated")));
            }
            let key = B64
                .decode(b64)
                .ok()
                .and_then(|bytes| DataKey::from_bytes(&zeroize::Zeroizing::new(bytes)))
                .ok_or_else(|| {
                    bad(format!(
                        "master key `{id}` is not 32 bytes in base64 (`openssl rand -base64 32` makes one)"
                    ))
                })?;
            keys.push((id.to_owned(), key));
        }
        Ok(EnvKeyProvider { keys })
    }

    /// A provider with one master key, `id`, from its bytes (tests, tools).
    pub fn new(id: impl Into<String>, key: DataKey) -> EnvKeyProvider {
        EnvKeyProvider {
            keys: vec![(id.into(), key)],
        }
    }

    /// The same provider with `key` as an older master key `id`, to read and
    /// re-wrap data keys wrapped with it.
    #[must_use = "`with_old_key` returns the provider"]
    pub fn with_old_key(mut self, id: impl Into<String>, key: DataKey) -> EnvKeyProvider {
        self.keys.push((id.into(), key));
        self
    }

    fn key(&self, id: &str) -> Option<&DataKey> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }
}

/// The associated data of a wrapped key: the context and the master key id.
fn wrap_aad(context: &[u8], id: &str) -> Vec<u8> {
    let mut aad = context.to_vec();
    aad.extend_from_slice(b"\0master:");
    aad.extend_from_slice(id.as_bytes());
    aad
}

impl KeyProvider for EnvKeyProvider {
    fn current_key_id(&self) -> &str {
        self.keys.first().map_or("default", |(id, _)| id.as_str())
    }

    fn wrap<'a>(
        &'a self,
        key: &'a DataKey,
        context: &'a [u8],
    ) -> BoxFuture<'a, Result<WrappedKey, PersonalError>> {
        Box::pin(async move {
            let Some((id, master)) = self.keys.first() else {
                return Err(PersonalError::KeyProvider {
                    message: "no master key".to_owned(),
                });
            };
            Ok(WrappedKey {
                master_key_id: id.clone(),
                bytes: master.encrypt(key.as_bytes(), &wrap_aad(context, id))?,
            })
        })
    }

    fn unwrap<'a>(
        &'a self,
        wrapped: &'a WrappedKey,
        context: &'a [u8],
    ) -> BoxFuture<'a, Result<Option<DataKey>, PersonalError>> {
        Box::pin(async move {
            let id = &wrapped.master_key_id;
            let master = self
                .key(id)
                .ok_or_else(|| PersonalError::UnknownMasterKey { id: id.clone() })?;
            Ok(master
                .decrypt(&wrapped.bytes, &wrap_aad(context, id))
                .and_then(|bytes| DataKey::from_bytes(&bytes)))
        })
    }
}
