//! The cryptography of personal data: data keys, the event seal, the envelope
//! an encrypted value is stored as, and the associated data every ciphertext
//! is bound to. AES-256-GCM (RustCrypto `aes-gcm`), a fresh random 96-bit nonce
//! per value; keys are zeroed when dropped.

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::{PersonalError, SEAL_KEY};

/// The envelope version this build writes and reads.
const VERSION: &str = "v1";

/// Length of a nonce, in bytes.
const NONCE_LEN: usize = 12;

/// Random bytes from the system's generator.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], PersonalError> {
    <[u8; N]>::try_generate().map_err(|e| PersonalError::Random {
        message: e.to_string(),
    })
}

/// A 256-bit data key (one per data subject), or a master key; zeroed when
/// dropped, never printed. It carries its id, a fingerprint that reveals
/// nothing of it (the GCM tag of an empty message), which every envelope
/// stores: a value encrypted under a subject's earlier key (erased since, and
/// replaced) reads as erased, not as tampered.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>, [u8; 8]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Result<DataKey, PersonalError> {
        Ok(Self::with_id(Zeroizing::new(random::<32>()?)))
    }

    /// A key from its 32 bytes; `None` for another length.
    pub fn from_bytes(bytes: &[u8]) -> Option<DataKey> {
        let bytes: [u8; 32] = bytes.try_into().ok()?;
        Some(Self::with_id(Zeroizing::new(bytes)))
    }

    fn with_id(bytes: Zeroizing<[u8; 32]>) -> DataKey {
        let key: &[u8; 32] = &bytes;
        let tag = Aes256Gcm::new(key.into())
            .encrypt(
                &Nonce::from([0; NONCE_LEN]),
                Payload {
                    msg: b"",
                    aad: b"events.pd.key-id.v1",
                },
            )
            .unwrap_or_default();
        let mut id = [0; 8];
        for (slot, byte) in id.iter_mut().zip(tag) {
            *slot = byte;
        }
        DataKey(bytes, id)
    }

    /// The key's id (see the type docs), as envelopes store it.
    pub fn id(&self) -> String {
        B64.encode(self.1)
    }

    /// The key's bytes (to wrap it).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> Aes256Gcm {
        let key: &[u8; 32] = &self.0;
        Aes256Gcm::new(key.into())
    }

    /// Encrypts `plaintext` bound to `aad`: a fresh nonce, then the ciphertext
    /// with its tag.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, PersonalError> {
        let nonce = random::<NONCE_LEN>()?;
        let mut out = nonce.to_vec();
        let sealed = self
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| PersonalError::Random {
                message: "AES-GCM refused the value (too long)".to_owned(),
            })?;
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts what [`encrypt`](Self::encrypt) gave for the same `aad`; `None`
    /// when the key, the associated data or the bytes differ.
    pub fn decrypt(&self, sealed: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.cipher()
            .decrypt(&Nonce::from(nonce), Payload { msg: body, aad })
            .ok()
            .map(Zeroizing::new)
    }
}

/// An event's seal: 16 random bytes stored in its data under
/// [`SEAL_KEY`], which every ciphertext of the event is bound to, so that a
/// ciphertext copied into another event does not decrypt there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seal([u8; 16]);

impl Seal {
    /// A fresh random seal.
    pub fn generate() -> Result<Seal, PersonalError> {
        Ok(Seal(random::<16>()?))
    }

    /// The seal as stored (base64).
    pub fn to_text(self) -> String {
        B64.encode(self.0)
    }

    /// The seal stored in `data`, if any; malformed is an error.
    pub(crate) fn read(data: &Value) -> Option<Result<Seal, String>> {
        let text = data.as_object()?.get(SEAL_KEY)?;
        Some(
            text.as_str()
                .and_then(|t| B64.decode(t).ok())
                .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
                .map(Seal)
                .ok_or_else(|| format!("the event seal `{SEAL_KEY}` is not 16 bytes of base64")),
        )
    }

    /// The seal's bytes.
    pub(crate) fn bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

/// The associated data of a value: a domain tag, then the log table, the
/// event seal, the column, the field and the subject, each length-prefixed so
/// no two places share one.
pub(crate) fn value_aad(
    table: &str,
    seal: &Seal,
    column: &str,
    field: &str,
    subject: &str,
) -> Vec<u8> {
    let mut aad = b"events.pd.value.v1".to_vec();
    for part in [
        table.as_bytes(),
        seal.bytes(),
        column.as_bytes(),
        field.as_bytes(),
        subject.as_bytes(),
    ] {
        aad.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

/// The context a data key is wrapped under: the log table and the subject, so
/// a wrapped key copied to another subject's row does not unwrap.
pub fn key_context(table: &str, subject: &str) -> Vec<u8> {
    let mut context = b"events.pd.key.v1".to_vec();
    for part in [table.as_bytes(), subject.as_bytes()] {
        context.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        context.extend_from_slice(part);
    }
    context
}

/// An encrypted value as stored in place of the value:
/// `{"$pd": "v1", "s": subject, "k": key id, "n": nonce, "c": ciphertext}`.
pub(crate) struct Envelope {
    pub(crate) subject: String,
    /// The id of the data key ([`DataKey::id`]).
    pub(crate) key: String,
    /// Nonce, then ciphertext and tag.
    pub(crate) sealed: Vec<u8>,
}

impl Envelope {
    /// The stored form.
    pub(crate) fn to_value(&self) -> Value {
        let (nonce, body) = self.sealed.split_at(NONCE_LEN.min(self.sealed.len()));
        let mut map = Map::new();
        map.insert(SEAL_KEY.to_owned(), Value::String(VERSION.to_owned()));
        map.insert("s".to_owned(), Value::String(self.subject.clone()));
        map.insert("k".to_owned(), Value::String(self.key.clone()));
        map.insert("n".to_owned(), Value::String(B64.encode(nonce)));
        map.insert("c".to_owned(), Value::String(B64.encode(body)));
        Value::Object(map)
    }

    /// The subject of the envelope `value` seems to be, without decoding it
    /// (a malformed one is reported when it is opened).
    pub(crate) fn subject_of(value: &Value) -> Option<&str> {
        let map = value.as_object()?;
        map.get(SEAL_KEY)?;
        map.get("s")?.as_str()
    }

    /// The envelope `value` is, `None` when it is not one (no `$pd` key), an
    /// error message when it has the key but not the shape.
    pub(crate) fn parse(value: &Value) -> Option<Result<Envelope, String>> {
        let map = value.as_object()?;
        let version = map.get(SEAL_KEY)?;
        let text = |key: &str| map.get(key).and_then(Value::as_str);
        Some((|| {
            if version.as_str() != Some(VERSION) {
                return Err(format!(
                    "envelope version {version} is not `{VERSION}`, the one this build reads"
                ));
            }
            let subject = text("s").ok_or("no subject `s`")?.to_owned();
            let key = text("k").ok_or("no key id `k`")?.to_owned();
            let mut sealed = text("n")
                .and_then(|n| B64.decode(n).ok())
                .filter(|n| n.len() == NONCE_LEN)
                .ok_or("no 12-byte base64 nonce `n`")?;
            let body = text("c")
                .and_then(|c| B64.decode(c).ok())
                .ok_or("no base64 ciphertext `c`")?;
            sealed.extend_from_slice(&body);
            Ok(Envelope {
                subject,
                key,
                sealed,
            })
        })())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_with_its_key_and_place() -> Result<(), PersonalError> {
        let key = DataKey::generate()?;
        let seal = Seal::generate()?;
        let aad = value_aad("events", &seal, "data", "email", "7");
        let sealed = key.encrypt(b"\"ada@example.com\"", &aad)?;
        let opened = key.decrypt(&sealed, &aad).map(|p| p.to_vec());
        assert_eq!(opened.as_deref(), Some(&b"\"ada@example.com\""[..]));
        let elsewhere = value_aad("events", &seal, "data", "name", "7");
        assert!(key.decrypt(&sealed, &elsewhere).is_none());
        let other_event = value_aad("events", &Seal::generate()?, "data", "email", "7");
        assert!(key.decrypt(&sealed, &other_event).is_none());
        assert!(DataKey::generate()?.decrypt(&sealed, &aad).is_none());
        assert_ne!(key.id(), DataKey::generate()?.id());
        assert_eq!(
            DataKey::from_bytes(key.as_bytes()).map(|k| k.id()),
            Some(key.id())
        );
        // Two encryptions of one value differ (fresh nonces).
        assert_ne!(sealed, key.encrypt(b"\"ada@example.com\"", &aad)?);
        Ok(())
    }

    #[test]
    fn envelopes_round_trip_and_refuse_other_shapes() -> Result<(), PersonalError> {
        let key = DataKey::generate()?;
        let sealed = key.encrypt(b"1", b"")?;
        let value = Envelope {
            subject: "u".into(),
            key: key.id(),
            sealed: sealed.clone(),
        }
        .to_value();
        let parsed = Envelope::parse(&value)
            .and_then(Result::ok)
            .map(|e| e.sealed);
        assert_eq!(parsed, Some(sealed));
        assert!(Envelope::parse(&serde_json::json!({"email": 1})).is_none());
        assert!(matches!(
            Envelope::parse(&serde_json::json!({"$pd": "v9"})),
            Some(Err(_))
        ));
        Ok(())
    }
}
