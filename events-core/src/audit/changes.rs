//! Changes: the values an action or a manual entry changed, captured when they
//! are written (never reconstructed when read).
//!
//! The shape follows Contember's event fields, which PhoenixKit's `field_from` /
//! `field_to` pairs are derived from:
//!
//! | kind | `old_values` | `diff_values` | `new_values` |
//! | --- | --- | --- | --- |
//! | created | | | the whole new record |
//! | updated | the whole old record | the new values of the changed fields | |
//! | destroyed | the whole old record | | |
//!
//! Values are compared field by field at the top level of their JSON objects; a
//! field missing on one side counts as `null` there.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::check;
use crate::Error;

/// A JSON object: field name → value.
pub type Fields = Map<String, Value>;

/// The values a write changed, captured when it is written. Which values each
/// kind of write carries follows Contember's event fields:
///
/// | kind | `old_values` | `diff_values` | `new_values` |
/// | --- | --- | --- | --- |
/// | created | | | the whole new record |
/// | updated | the whole old record | the new values of the changed fields | |
/// | destroyed | the whole old record | | |
///
/// Values are compared field by field at the top level of their JSON objects; a
/// field missing on one side counts as `null` there.
///
/// ```
/// use events_core::audit::Changes;
/// use serde_json::json;
///
/// let old = json!({"name": "Ada", "email": "ada@example.com", "logins": 3});
/// let new = json!({"name": "Ada L.", "email": "ada@example.com", "logins": 4});
/// let changes = Changes::updated(&old, &new)?.skip_fields(["logins"]);
/// assert_eq!(changes.diff_values, Some(json!({"name": "Ada L."}).as_object().unwrap().clone()));
/// let fields = changes.fields();
/// assert_eq!((fields[0].field.as_str(), fields[0].from.clone(), fields[0].to.clone()),
///            ("name", Some(json!("Ada")), Some(json!("Ada L."))));
/// assert!(!changes.unchanged);
/// # Ok::<(), events_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Changes {
    /// The whole record before the write (updates and destroys; Contember's
    /// `oldValues`).
    pub old_values: Option<Fields>,
    /// The whole record after a create (Contember's `newValues`).
    pub new_values: Option<Fields>,
    /// The new values of the fields an update changed (Contember's `diffValues`).
    pub diff_values: Option<Fields>,
    /// True for an update that changed no field (after [`skip_fields`](Self::skip_fields)):
    /// PhoenixKit's `log_user_change` skips these; queries can hide them
    /// ([`AuditQuery::hide_unchanged`](super::AuditQuery::hide_unchanged)).
    pub unchanged: bool,
}

/// One changed field, as PhoenixKit's `field_from` / `field_to` pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Field name.
    pub field: String,
    /// The value before; `None` for a create.
    pub from: Option<Value>,
    /// The value after; `None` for a destroy.
    pub to: Option<Value>,
}

/// Serializes `value` into a JSON object, naming `field` on failure.
fn object<T: Serialize + ?Sized>(field: &str, value: &T) -> Result<Fields, Error> {
    let value = serde_json::to_value(value)
        .map_err(|e| check::entry(field, format!("could not serialize: {e}")))?;
    if let Some(problem) = check::json_problem(&value) {
        return Err(check::entry(field, problem));
    }
    match value {
        Value::Object(map) => Ok(map),
        other => Err(check::entry(
            field,
            format!(
                "serializes to {}, not to an object with fields",
                json_type(&other)
            ),
        )),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Changes {
    /// The changes of a create: the whole new record.
    ///
    /// `new` must serialize to a JSON object ([`AuditError::InvalidEntry`](crate::AuditError::InvalidEntry) for field
    /// `changes` otherwise).
    ///
    /// ```
    /// let c = events_core::audit::Changes::created(&serde_json::json!({"name": "Ada"}))?;
    /// assert_eq!(c.fields().len(), 1);
    /// # Ok::<(), events_core::Error>(())
    /// ```
    pub fn created<T: Serialize + ?Sized>(new: &T) -> Result<Changes, Error> {
        Ok(Changes {
            new_values: Some(object("changes", new)?),
            ..Changes::default()
        })
    }

    /// The changes of an update: the whole old record, and the new values of the
    /// fields that differ. `unchanged` when none does.
    ///
    /// ```
    /// use serde_json::json;
    /// let c = events_core::audit::Changes::updated(&json!({"a": 1, "b": 2}), &json!({"a": 1, "b": 3}))?;
    /// assert_eq!(c.diff_values, Some(json!({"b": 3}).as_object().unwrap().clone()));
    /// # Ok::<(), events_core::Error>(())
    /// ```
    pub fn updated<T: Serialize + ?Sized>(old: &T, new: &T) -> Result<Changes, Error> {
        let old = object("changes", old)?;
        let new = object("changes", new)?;
        let mut diff = Fields::new();
        for (field, value) in &new {
            if old.get(field) != Some(value) {
                diff.insert(field.clone(), value.clone());
            }
        }
        for field in old.keys() {
            if !new.contains_key(field) {
                diff.insert(field.clone(), Value::Null);
            }
        }
        let unchanged = diff.is_empty();
        Ok(Changes {
            old_values: Some(old),
            new_values: None,
            diff_values: Some(diff),
            unchanged,
        })
    }

    /// The changes of a destroy: the whole old record.
    ///
    /// ```
    /// let c = events_core::audit::Changes::destroyed(&serde_json::json!({"name": "Ada"}))?;
    /// assert_eq!(c.fields()[0].to, None);
    /// # Ok::<(), events_core::Error>(())
    /// ```
    pub fn destroyed<T: Serialize + ?Sized>(old: &T) -> Result<Changes, Error> {
        Ok(Changes {
            old_values: Some(object("changes", old)?),
            ..Changes::default()
        })
    }

    /// Checks that every side can be stored and read back: the rule of
    /// [`stored_json_problem`](super::stored_json_problem) (nesting up to
    /// [`MAX_JSON_DEPTH`](super::MAX_JSON_DEPTH), no NUL character) and at most
    /// [`MAX_JSON_LEN`](super::MAX_JSON_LEN) bytes a side. The constructors check
    /// it; stores check it again before writing changes built by hand. A failure
    /// is [`AuditError::InvalidEntry`](crate::AuditError::InvalidEntry) for field `changes`.
    ///
    /// ```
    /// use events_core::audit::Changes;
    /// let mut changes = Changes::created(&serde_json::json!({"name": "Ada"}))?;
    /// assert!(changes.check().is_ok());
    /// changes.new_values.as_mut().unwrap().insert("bio".into(), "nul \u{0}".into());
    /// assert!(changes.check().is_err());
    /// # Ok::<(), events_core::Error>(())
    /// ```
    pub fn check(&self) -> Result<(), Error> {
        for side in [&self.old_values, &self.new_values, &self.diff_values]
            .into_iter()
            .flatten()
        {
            if let Some(problem) = check::fields_problem(side) {
                return Err(check::entry("changes", problem));
            }
        }
        Ok(())
    }

    /// Drops `fields` from every side (secrets, noisy counters; PhoenixKit's
    /// `skip_fields`). An update whose only changes were in them becomes
    /// `unchanged`.
    ///
    /// ```
    /// use serde_json::json;
    /// let c = events_core::audit::Changes::updated(&json!({"seen": 1}), &json!({"seen": 2}))?
    ///     .skip_fields(["seen"]);
    /// assert!(c.unchanged);
    /// # Ok::<(), events_core::Error>(())
    /// ```
    pub fn skip_fields<I, S>(mut self, fields: I) -> Changes
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for field in fields {
            let field = field.as_ref();
            for side in [
                &mut self.old_values,
                &mut self.new_values,
                &mut self.diff_values,
            ]
            .into_iter()
            .flatten()
            {
                side.remove(field);
            }
        }
        if let Some(diff) = &self.diff_values {
            self.unchanged = diff.is_empty();
        }
        self
    }

    /// The changed fields with their values before and after, in field order:
    /// every field of a create or destroy, the differing fields of an update.
    ///
    /// ```
    /// use serde_json::json;
    /// let c = events_core::audit::Changes::updated(&json!({"a": 1}), &json!({"a": 2}))?;
    /// assert_eq!(c.fields()[0].from, Some(json!(1)));
    /// # Ok::<(), events_core::Error>(())
    /// ```
    pub fn fields(&self) -> Vec<FieldChange> {
        if let Some(diff) = &self.diff_values {
            return diff
                .iter()
                .map(|(field, to)| FieldChange {
                    field: field.clone(),
                    from: Some(
                        self.old_values
                            .as_ref()
                            .and_then(|old| old.get(field))
                            .cloned()
                            .unwrap_or(Value::Null),
                    ),
                    to: Some(to.clone()),
                })
                .collect();
        }
        if let Some(new) = &self.new_values {
            return new
                .iter()
                .map(|(field, to)| FieldChange {
                    field: field.clone(),
                    from: None,
                    to: Some(to.clone()),
                })
                .collect();
        }
        self.old_values
            .iter()
            .flatten()
            .map(|(field, from)| FieldChange {
                field: field.clone(),
                from: Some(from.clone()),
                to: None,
            })
            .collect()
    }

    /// PhoenixKit's metadata pairs: `<field>_from` and `<field>_to` for every
    /// changed field (only the sides that exist).
    ///
    /// ```
    /// use serde_json::json;
    /// let c = events_core::audit::Changes::updated(&json!({"role": "user"}), &json!({"role": "admin"}))?;
    /// assert_eq!(serde_json::Value::Object(c.from_to_pairs()), json!({"role_from": "user", "role_to": "admin"}));
    /// # Ok::<(), events_core::Error>(())
    /// ```
    pub fn from_to_pairs(&self) -> Fields {
        let mut pairs = Fields::new();
        for change in self.fields() {
            if let Some(from) = change.from {
                pairs.insert(format!("{}_from", change.field), from);
            }
            if let Some(to) = change.to {
                pairs.insert(format!("{}_to", change.field), to);
            }
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_removed_field_is_a_change_to_null() -> Result<(), Error> {
        let c = Changes::updated(&json!({"a": 1, "b": 2}), &json!({"a": 1}))?;
        assert_eq!(c.diff_values, json!({"b": null}).as_object().cloned());
        assert_eq!(
            c.fields(),
            vec![FieldChange {
                field: "b".into(),
                from: Some(json!(2)),
                to: Some(Value::Null)
            }]
        );
        Ok(())
    }

    #[test]
    fn equal_records_are_unchanged() -> Result<(), Error> {
        let c = Changes::updated(&json!({"a": [1, 2]}), &json!({"a": [1, 2]}))?;
        assert!(c.unchanged);
        assert!(c.fields().is_empty());
        Ok(())
    }

    #[test]
    fn non_objects_are_refused_with_the_field() {
        let err = Changes::created(&json!([1, 2])).expect_err("an array has no fields");
        assert!(
            matches!(&err, Error::Audit(crate::AuditError::InvalidEntry { field, message }) if field == "changes" && message.contains("an array")),
            "{err}"
        );
        let err = Changes::created(&json!({"a": "nul\u{0}"})).expect_err("NUL");
        assert!(matches!(
            err,
            Error::Audit(crate::AuditError::InvalidEntry { .. })
        ));
    }
}
