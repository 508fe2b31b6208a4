//! Checking a manual entry before it is written: [`ManualEntry::validate`]
//! and what it gives, [`ValidEntry`] (parse, don't validate: stores write only
//! a `ValidEntry`).

use serde_json::Value;

use super::{Changes, ManualEntry, check};
use crate::personal::PersonalEvent;
use crate::{Error, EventLog, Key};

impl<L: EventLog> ManualEntry<L> {
    /// Checks every field and puts keys in their columns' shapes. Stores call it
    /// before writing; each failure is [`AuditError::InvalidEntry`](crate::AuditError::InvalidEntry) naming the field.
    ///
    /// ```ignore
    /// let err = ManualEntry::<AppLog>::new("").validate().unwrap_err(); // field `action`
    /// ```
    pub fn validate(&self) -> Result<ValidEntry, Error> {
        use check::{MAX_KEY_LEN, MAX_NAME_LEN, entry, entry_text};
        if self.action.trim().is_empty() {
            return Err(entry(
                "action",
                "an entry needs an action, e.g. `project.deleted`",
            ));
        }
        entry_text("action", &self.action, MAX_NAME_LEN)?;
        if self.action.chars().any(char::is_control) {
            return Err(entry("action", "contains control characters"));
        }
        for (field, value) in [
            ("resource", &self.resource),
            ("mode", &self.mode),
            ("module", &self.module),
        ] {
            if let Some(v) = value {
                entry_text(field, v, MAX_NAME_LEN)?;
            }
        }
        if self
            .resource
            .as_deref()
            .is_some_and(|r| r.trim().is_empty())
        {
            return Err(entry("resource", "a resource name cannot be empty"));
        }
        let record_id = match (&self.resource, &self.record_id) {
            (None, Some(_)) => {
                return Err(entry(
                    "record_id",
                    "a record id needs its resource: use .resource(name, id)",
                ));
            }
            (_, Some(key)) => Some(check::coerce_entry_key(
                "record_id",
                L::RECORD_ID_TYPE,
                key,
            )?),
            (_, None) => None,
        };
        let actor = match &self.actor {
            None => None,
            Some((column, key)) => {
                let Some(known) = L::ACTOR_COLUMNS.iter().find(|c| c.name == column) else {
                    let known: Vec<&str> = L::ACTOR_COLUMNS.iter().map(|c| c.name).collect();
                    return Err(entry(
                        "actor",
                        format!(
                            "`{}` is not an actor column of this log; its actor columns: {}",
                            column.chars().take(64).collect::<String>(),
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ),
                    ));
                };
                Some((
                    known.name,
                    check::coerce_entry_key(known.name, known.attribute_type, key)?,
                ))
            }
        };
        let target = match &self.target {
            None => None,
            Some((kind, key)) => {
                if let Some(kind) = kind {
                    entry_text("target", kind, MAX_NAME_LEN)?;
                }
                if let Key::String(s) = key {
                    entry_text("target", s, MAX_KEY_LEN)?;
                }
                Some((kind.clone(), check::target_text(key)))
            }
        };
        let tenant = match &self.tenant {
            None => None,
            Some(t) => {
                let text = t.to_string();
                entry_text("tenant", &text, MAX_NAME_LEN)?;
                Some(text)
            }
        };
        // Checked before anything copies them, so no code recurses through a
        // value deeper than the limit.
        for (field, value) in [("metadata", &self.metadata), ("data", &self.data)] {
            if let Some(problem) = check::stored_json_problem(value) {
                return Err(entry(field, problem));
            }
        }
        if let Some(changes) = &self.changes {
            changes.check()?;
        }
        let mut data = self.data.clone();
        let mut changes = self.changes.clone();
        let personal = match self.personal {
            None => None,
            Some(schema) => PersonalEvent::for_entry(
                schema,
                &mut data,
                changes.as_mut(),
                record_id.as_ref(),
                actor.as_ref().map(|(_, key)| key),
            )?,
        };
        let Value::Object(mut metadata) = self.metadata.clone() else {
            return Err(entry("metadata", "must be a JSON object"));
        };
        let context = [
            (
                "target_type",
                target.as_ref().and_then(|(kind, _)| kind.clone()),
            ),
            ("target_id", target.as_ref().map(|(_, id)| id.clone())),
            ("mode", self.mode.clone()),
            ("module", self.module.clone()),
        ];
        let request = self
            .request
            .stored_fields()
            .into_iter()
            .map(|(key, value)| (key, Some(value)));
        for (key, value) in context.into_iter().chain(request) {
            if let Some(value) = value {
                metadata.insert(key.to_owned(), Value::String(value));
            }
        }
        let metadata = Value::Object(metadata);
        if let Some(problem) = check::stored_metadata_problem(&metadata) {
            return Err(entry("metadata", problem));
        }
        for (field, value) in [("metadata", &metadata), ("data", &self.data)] {
            if let Some(problem) = check::json_problem(value) {
                return Err(entry(field, problem));
            }
        }
        Ok(ValidEntry {
            action: self.action.clone(),
            actor,
            resource: self.resource.clone(),
            record_id,
            tenant,
            data,
            metadata,
            changes,
            personal,
        })
    }
}

/// A manual entry that passed [`ManualEntry::validate`]: every value fits its
/// column, and the audit context (target, request context, mode, module) is in
/// the metadata under its keys (`target_type`, `target_id`, `ip_address`,
/// `user_agent`, `request_id`, `mode`, `module`), where the store's indexes and
/// the recorded actions' metadata have it too. Its personal data, if any, is
/// redacted, and the values to encrypt are out of `data` (in `personal`).
#[derive(Debug)]
pub struct ValidEntry {
    /// Action name.
    pub action: String,
    /// Actor column and key, in the column's shape.
    pub actor: Option<(&'static str, Key)>,
    /// Resource name.
    pub resource: Option<String>,
    /// Record id, in the log's record id shape.
    pub record_id: Option<Key>,
    /// Tenant text.
    pub tenant: Option<String>,
    /// Data.
    pub data: Value,
    /// Metadata object, with the audit context merged in.
    pub metadata: Value,
    /// Changes (redacted fields nulled; encrypted ones still to encrypt with
    /// `personal`'s protection).
    pub changes: Option<Changes>,
    /// The personal data to encrypt: its protection, and the encrypted
    /// fields' values, taken out of `data`.
    pub personal: Option<PersonalEvent>,
}
