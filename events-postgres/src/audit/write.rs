//! Writing manual entries: [`AuditLog::track`] (typed errors),
//! [`AuditLog::track_in`] (on the caller's connection) and [`AuditLog::log`]
//! (never fails its caller). The entry is checked by
//! [`ManualEntry::validate`] before any SQL runs; its insert text is fixed per
//! log (`AuditSql::manual_insert`).

use chrono::{DateTime, Utc};
use events_core::audit::{AuditEntry, EntryActor, EntryKind, ManualEntry, Target, ValidEntry};
use events_core::{Error, EventLog};
use serde_json::Value;
use sqlx::PgConnection;

use super::AuditLog;
use crate::personal::WriteKeys;
use crate::sql::columns::bind_entry;
use crate::sql::{self, get, get_id, get_txid};

impl<L: EventLog> AuditLog<L> {
    /// Stores a manual entry and returns it (`committed_at` unset: it is known
    /// once the insert commits). `Ok(None)` when the entry is skipped: it is
    /// marked [`skip_if_unchanged`](ManualEntry::skip_if_unchanged) and its
    /// changes changed nothing. Invalid fields are [`AuditError::InvalidEntry`](events_core::AuditError::InvalidEntry).
    ///
    /// HawkEx's `track`, PhoenixKit's `create_log_entry` and `log_password_change`.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), events_core::Error> {
    /// use events_core::audit::ManualEntry;
    /// let entry = audit.track(ManualEntry::new("settings.updated").resource_type("settings")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn track(&self, entry: ManualEntry<L>) -> Result<Option<AuditEntry>, Error> {
        let mut conn = self
            .store
            .pool()
            .acquire()
            .await
            .map_err(|e| Error::from_sqlx("connecting to record an audit entry", e))?;
        self.track_in(&mut conn, entry).await
    }

    /// [`track`](Self::track) on a connection of the caller's, e.g. inside an
    /// action body (`ctx.conn()`), so the entry commits or rolls back with it.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>, conn: &mut sqlx::PgConnection) -> Result<(), events_core::Error> {
    /// use events_core::audit::ManualEntry;
    /// audit.track_in(conn, ManualEntry::new("invoice.sent")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn track_in(
        &self,
        conn: &mut PgConnection,
        entry: ManualEntry<L>,
    ) -> Result<Option<AuditEntry>, Error> {
        if entry.is_skipped() {
            tracing::debug!(action = %entry.action, "audit entry skipped: nothing changed");
            return Ok(None);
        }
        let mut valid = entry.validate()?;
        // What the caller gets back: the values as readers reveal them.
        let (shown_data, shown_changes) = shown(&valid);
        let mut attempt = 0;
        let row = loop {
            attempt += 1;
            let keys = self.store.seal_entry(&mut valid).await?;
            let subjects = keys.subjects();
            let row = self.insert_entry(conn, &valid, &keys).await?;
            match row {
                Some(row) => {
                    if let Some(keyring) = self.store.keyring() {
                        keyring.confirm(&keys);
                    }
                    break row;
                }
                // Another writer stored another key for the subject first, or
                // it was erased: load the stored keys and encrypt again.
                None if attempt == 1 && !subjects.is_empty() => {
                    if let Some(keyring) = self.store.keyring() {
                        keyring
                            .reload(conn, self.store.statements(), &subjects)
                            .await?;
                    }
                    valid = entry.validate()?;
                }
                None => {
                    return Err(Error::MalformedRow {
                        column: "id".to_owned(),
                        message: format!(
                            "recording audit entry `{}` inserted no row: its data subject's key \
                             changed twice while it was written; retry",
                            valid.action
                        ),
                    });
                }
            }
        };
        let id = get_id::<L>(&row, "id")?;
        let occurred_at: DateTime<Utc> = get(&row, "occurred_at")?;
        tracing::debug!(entry_id = %id, action = %valid.action, "audit entry recorded");
        let text = |key: &str| match valid.metadata.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        Ok(Some(AuditEntry {
            id,
            kind: EntryKind::Manual,
            resource: valid.resource.clone(),
            record_id: valid.record_id.clone(),
            action: valid.action.clone(),
            actor: valid.actor.as_ref().and_then(|(column, key)| {
                L::ACTOR_COLUMNS
                    .iter()
                    .find(|c| c.name == *column)
                    .map(|c| EntryActor {
                        column: c.name.to_owned(),
                        actor_type: c.destination.to_owned(),
                        key: key.clone(),
                    })
            }),
            target: text("target_id").map(|id| Target {
                kind: text("target_type"),
                id,
            }),
            data: shown_data,
            version: 1,
            tenant: valid.tenant.clone(),
            ip_address: text("ip_address"),
            user_agent: text("user_agent"),
            request_id: text("request_id"),
            mode: text("mode"),
            module: text("module"),
            metadata: valid.metadata,
            occurred_at,
            committed_at: None,
            transaction_id: get_txid(&row, "txid")?,
            changes: shown_changes,
        }))
    }

    /// Inserts `valid` (its personal data sealed, holding `keys`); `None` when
    /// the keys are not the stored ones, and nothing was inserted.
    async fn insert_entry(
        &self,
        conn: &mut PgConnection,
        valid: &ValidEntry,
        keys: &WriteKeys,
    ) -> Result<Option<sqlx::postgres::PgRow>, Error> {
        let statements = self.store.statements();
        let mut q = bind_entry::<L>(
            sql::query(&self.sql().manual_insert),
            &statements.columns,
            valid,
        )?;
        let changes = valid.changes.clone();
        let object = |fields: Option<events_core::audit::Fields>| fields.map(Value::Object);
        q = q
            .bind(changes.is_some())
            .bind(changes.as_ref().and_then(|c| object(c.old_values.clone())))
            .bind(changes.as_ref().and_then(|c| object(c.new_values.clone())))
            .bind(changes.as_ref().and_then(|c| object(c.diff_values.clone())))
            .bind(changes.as_ref().is_some_and(|c| c.unchanged));
        keys.bind(q)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| Error::from_sqlx(format!("recording audit entry `{}`", valid.action), e))
    }

    /// [`track`](Self::track) that never fails its caller (PhoenixKit's `log`:
    /// "failures are logged but never crash"): an error is reported with
    /// `tracing::warn!` and gives `None`.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) {
    /// use events_core::audit::ManualEntry;
    /// audit.log(ManualEntry::new("post.created").metadata(serde_json::json!({"title": "Hello"}))).await;
    /// # }
    /// ```
    pub async fn log(&self, entry: ManualEntry<L>) -> Option<AuditEntry> {
        let action = entry.action.clone();
        match self.track(entry).await {
            Ok(entry) => entry,
            Err(error) => {
                tracing::warn!(%error, action = %action.chars().take(255).collect::<String>(), "audit entry not recorded");
                None
            }
        }
    }
}

/// An entry's data and changes as readers reveal them: its encrypted values
/// back in place (redacted ones stay `null`).
fn shown(valid: &ValidEntry) -> (Value, Option<events_core::audit::Changes>) {
    let mut data = valid.data.clone();
    if let (Some(personal), Value::Object(map)) = (&valid.personal, &mut data) {
        for (field, value) in &personal.plaintext {
            map.insert((*field).to_owned(), value.clone());
        }
    }
    (data, valid.changes.clone())
}
