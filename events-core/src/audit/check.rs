//! Validation shared by queries and manual entries: lengths, NUL characters, key
//! shapes. Every failure is a typed error naming the field, found before any SQL
//! runs, so hostile input never reaches the database as a SQL error.

use serde_json::Value;
use uuid::Uuid;

use crate::{Error, Key, KeyType};

/// Longest name accepted (action, resource, mode, module, target type, request id,
/// tenant), in bytes. Stored names are limited to it too, so a longer filter could
/// never match.
pub const MAX_NAME_LEN: usize = 255;
/// Longest string key accepted (record ids, actor keys, target ids), in bytes;
/// keeps every indexed value far below PostgreSQL's B-tree entry limit.
pub const MAX_KEY_LEN: usize = 1024;
/// User agents longer than this many bytes are cut (at a character boundary) when
/// an entry is stored; nothing filters on them.
pub const MAX_USER_AGENT_LEN: usize = 1024;
/// Largest page (`per_page`, `limit`).
pub const MAX_PAGE_SIZE: u64 = 1000;
/// Most values in one list filter (`resources`, `rows`, `transactions`, ...).
pub const MAX_LIST_LEN: usize = 100;
/// Largest JSON document accepted as a metadata filter or as entry data, in bytes
/// of its serialized form.
pub const MAX_JSON_LEN: usize = 64 * 1024;

/// A filter error.
pub(crate) fn filter(field: &str, message: impl Into<String>) -> Error {
    Error::InvalidFilter {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// An entry error.
pub(crate) fn entry(field: &str, message: impl Into<String>) -> Error {
    Error::InvalidEntry {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// What is wrong with `value` as a text of at most `max` bytes, if anything.
pub(crate) fn text_problem(value: &str, max: usize) -> Option<String> {
    if value.len() > max {
        return Some(format!(
            "{} bytes long; at most {max} are accepted",
            value.len()
        ));
    }
    if value.contains('\0') {
        return Some("contains a NUL character, which PostgreSQL text cannot hold".to_owned());
    }
    None
}

/// Checks a filter string.
pub(crate) fn filter_text(field: &str, value: &str, max: usize) -> Result<(), Error> {
    match text_problem(value, max) {
        Some(problem) => Err(filter(field, problem)),
        None => Ok(()),
    }
}

/// Checks an entry string.
pub(crate) fn entry_text(field: &str, value: &str, max: usize) -> Result<(), Error> {
    match text_problem(value, max) {
        Some(problem) => Err(entry(field, problem)),
        None => Ok(()),
    }
}

/// What is wrong with a JSON value as something to store or compare, if anything:
/// too large, or a string or key with a NUL character (`jsonb` rejects `\u0000`).
pub(crate) fn json_problem(value: &Value) -> Option<String> {
    fn has_nul(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().any(has_nul),
            Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    if has_nul(value) {
        return Some(
            "contains a NUL character (\\u0000), which PostgreSQL jsonb cannot hold".to_owned(),
        );
    }
    let len = serde_json::to_string(value).map_or(usize::MAX, |s| s.len());
    if len > MAX_JSON_LEN {
        return Some(format!(
            "{len} bytes when serialized; at most {MAX_JSON_LEN} are accepted"
        ));
    }
    None
}

/// `key` in the shape of a column holding `expected` keys, for a filter or entry
/// field named `field`.
///
/// Strings are parsed: `"42"` fits an integer column, a UUID in any case fits a
/// UUID column, so keys can come straight from URLs and forms. UUIDs and integers
/// fit a string column as their text. Anything else is
/// [`Error::InvalidFilter`] naming `field`.
///
/// ```
/// use events_core::{Key, KeyType, audit::coerce_key};
/// let id = "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b";
/// assert_eq!(coerce_key("record_id", KeyType::Uuid, &Key::from(id))?, Key::Uuid(id.parse().unwrap()));
/// assert_eq!(coerce_key("record_id", KeyType::Integer, &Key::from("42"))?, Key::Integer(42));
/// assert!(coerce_key("record_id", KeyType::Uuid, &Key::from("not-a-uuid")).is_err());
/// # Ok::<(), events_core::Error>(())
/// ```
pub fn coerce_key(field: &str, expected: KeyType, key: &Key) -> Result<Key, Error> {
    coerce(expected, key).map_err(|message| filter(field, message))
}

/// [`coerce_key`] for entry fields: the error is [`Error::InvalidEntry`].
pub(crate) fn coerce_entry_key(field: &str, expected: KeyType, key: &Key) -> Result<Key, Error> {
    coerce(expected, key).map_err(|message| entry(field, message))
}

fn coerce(expected: KeyType, key: &Key) -> Result<Key, String> {
    let shown = |s: &str| -> String {
        if s.len() > 64 {
            let mut end = 64;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            format!("`{}…` ({} bytes)", &s[..end], s.len())
        } else {
            format!("`{s}`")
        }
    };
    match (expected, key) {
        (KeyType::Uuid, Key::Uuid(u)) => Ok(Key::Uuid(*u)),
        (KeyType::Uuid, Key::String(s)) => Uuid::parse_str(s.trim())
            .map(Key::Uuid)
            .map_err(|_| format!("{} is not a UUID", shown(s))),
        (KeyType::Integer, Key::Integer(i)) => Ok(Key::Integer(*i)),
        (KeyType::Integer, Key::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Key::Integer)
            .map_err(|_| format!("{} is not a 64-bit integer", shown(s))),
        (KeyType::String, Key::String(s)) => match text_problem(s, MAX_KEY_LEN) {
            Some(problem) => Err(problem),
            None => Ok(Key::String(s.clone())),
        },
        (KeyType::String, Key::Uuid(u)) => Ok(Key::String(u.to_string())),
        (KeyType::String, Key::Integer(i)) => Ok(Key::String(i.to_string())),
        (expected, other) => Err(format!(
            "{} key `{other}` does not fit a column of {expected} keys",
            other.key_type()
        )),
    }
}

/// The text a target id is stored and compared as (in the metadata key
/// `target_id`): UUIDs (also UUID-shaped strings) in lowercase hyphenated form,
/// integers in decimal, other strings as given.
///
/// ```
/// use events_core::{Key, audit::target_text};
/// assert_eq!(target_text(&Key::from("0190A5B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B")), "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b");
/// assert_eq!(target_text(&Key::from(42_i64)), "42");
/// ```
pub fn target_text(key: &Key) -> String {
    match key {
        Key::Uuid(u) => u.to_string(),
        Key::Integer(i) => i.to_string(),
        Key::String(s) => match Uuid::parse_str(s) {
            Ok(u) if s.len() == 36 => u.to_string(),
            _ => s.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coerces_strings_into_each_shape() {
        let u = Uuid::now_v7();
        assert_eq!(
            coerce(KeyType::Uuid, &Key::String(u.to_string().to_uppercase())),
            Ok(Key::Uuid(u))
        );
        assert_eq!(
            coerce(KeyType::Integer, &Key::from(" 7 ")),
            Ok(Key::Integer(7))
        );
        assert_eq!(
            coerce(KeyType::String, &Key::Integer(7)),
            Ok(Key::from("7"))
        );
        assert!(coerce(KeyType::Integer, &Key::Uuid(u)).is_err());
        assert!(coerce(KeyType::Uuid, &Key::from("' OR 1=1 --")).is_err());
        let long = "x".repeat(10_000);
        let err = coerce(KeyType::Uuid, &Key::from(long.as_str())).expect_err("not a uuid");
        assert!(err.len() < 200, "long inputs are not echoed in full: {err}");
    }

    #[test]
    fn finds_nul_characters_and_oversized_json() {
        assert!(text_problem("a\0b", 10).is_some());
        assert!(text_problem("abc", 2).is_some());
        assert!(text_problem("%_\\'", 10).is_none());
        assert!(json_problem(&serde_json::json!({"k": ["a\u{0}"]})).is_some());
        assert!(json_problem(&serde_json::json!({"a\u{0}": 1})).is_some());
        assert!(json_problem(&serde_json::json!({"k": "x".repeat(MAX_JSON_LEN)})).is_some());
        assert!(json_problem(&serde_json::json!({"k": "ok"})).is_none());
    }

    #[test]
    fn target_text_is_canonical() {
        let u = Uuid::now_v7();
        assert_eq!(
            target_text(&Key::String(u.to_string().to_uppercase())),
            u.to_string()
        );
        assert_eq!(target_text(&Key::Integer(5)), "5");
        assert_eq!(target_text(&Key::from("bob")), "bob");
    }
}
