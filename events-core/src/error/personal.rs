//! Errors of personal data: declarations that cannot be applied to a value,
//! keys that are missing or wrong, ciphertexts that do not open.

/// Why personal data could not be protected or revealed: reached through
/// [`Error::Personal`](super::Error::Personal). None of them carries a
/// plaintext value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersonalError {
    /// A value has encrypted fields, or a reader needs to decrypt some, and the
    /// store was built without a key provider.
    #[error(
        "{what} needs the master key, but the store has no key provider: build it with \
         `PgEventStore::with_key_provider(..)` (e.g. `EnvKeyProvider::from_env(\"EVENTS_MASTER_KEY\")`); \
         nothing was written"
    )]
    NoKeyProvider {
        /// What needed it: `writing User.create`, `replaying event 42`.
        what: String,
    },

    /// A value with encrypted fields has no data subject to encrypt them for.
    #[error(
        "the personal data of `{type_name}` needs its data subject ({looked_in}), which is \
         missing: {fix}"
    )]
    NoSubject {
        /// The declaring type (or `manual entry`).
        type_name: &'static str,
        /// Where the subject was looked for: `field user_id`, `the actor`.
        looked_in: String,
        /// What to do.
        fix: &'static str,
    },

    /// A write of the subject's data found no key for it where its own
    /// transaction stored or held one: the keys table was changed outside the
    /// owner's functions. Nothing was written; retry the call.
    #[error(
        "data subject `{subject}` has no data key while {what}: its key was removed outside \
         `erase_subject`; nothing was written, retry"
    )]
    KeyMissing {
        /// The subject.
        subject: String,
        /// What was being written.
        what: String,
    },

    /// A subject id that cannot be stored: empty, too long, or with a NUL.
    #[error("invalid data subject id: {message}")]
    InvalidSubject {
        /// What is wrong.
        message: String,
    },

    /// The key provider failed: a missing or malformed master key, an
    /// unreachable KMS.
    #[error("key provider failed: {message}")]
    KeyProvider {
        /// The provider's message, which says what to fix.
        message: String,
    },

    /// A data key wrapped with master key `id` does not unwrap: the provider's
    /// key of that id is not the one it was wrapped with, or the wrapped key was
    /// altered. Nothing is decrypted with a wrong key.
    #[error(
        "the data key of subject `{subject}` does not unwrap with master key `{id}`: the \
         provider's key `{id}` is not the key that wrapped it (check the key's value, or give \
         the old key under its id while rotating), or the stored key was altered"
    )]
    WrongMasterKey {
        /// The master key id stored with the data key.
        id: String,
        /// The subject whose key failed.
        subject: String,
    },

    /// A data key is wrapped with a master key the provider does not have.
    #[error(
        "data keys are wrapped with master key `{id}`, which the key provider does not have: \
         give it that key (as an older key, to read and rotate) or restore it"
    )]
    UnknownMasterKey {
        /// The master key id stored with the data key.
        id: String,
    },

    /// An encrypted value does not decrypt with its subject's key: it was altered,
    /// or copied from another event, column or field (each ciphertext is bound
    /// to its log, event, column, field and subject).
    #[error(
        "the encrypted value at {location} of {event} does not decrypt with the key of its \
         subject: it was altered, or copied from another event, column or field; restore the \
         row from a backup"
    )]
    Tampered {
        /// The entry: `event 42`.
        event: String,
        /// Column and field: `data.email`.
        location: String,
    },

    /// A stored value looks encrypted but does not have the envelope's shape.
    #[error("the encrypted value at {location} of {event} is malformed: {message}")]
    Malformed {
        /// The entry: `event 42`.
        event: String,
        /// Column and field: `data.email`.
        location: String,
        /// What is wrong.
        message: String,
    },

    /// The system's random number generator failed.
    #[error("the system random number generator failed: {message}")]
    Random {
        /// The generator's error.
        message: String,
    },
}
