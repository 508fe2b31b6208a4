//! The audit side of a call: a body records the changes of its writes through
//! its context, stored with its event by the store
//! ([`EventStore::insert_changes`](crate::EventStore::insert_changes)) in the
//! call's transaction. See [`crate::audit`].

use serde::Serialize;

use super::Scope;
use crate::audit::Changes;
use crate::{ActionCtx, BulkCtx, Error, EventId};

impl Scope<'_> {
    /// Stores `changes[i]` with `event_ids[i]`, once per call. Does nothing on
    /// replay (the original run stored them) and without events (an ignored
    /// action has none).
    async fn store_changes(
        &mut self,
        event_ids: &[EventId],
        mut changes: Vec<Changes>,
    ) -> Result<(), Error> {
        let (resource, action) = (self.resource(), self.action().name);
        let (Some(store), Some(&first)) = (self.store, event_ids.first()) else {
            return Ok(());
        };
        if self.changes_recorded {
            return Err(Error::ChangesAlreadyRecorded {
                resource,
                action,
                event: first,
            });
        }
        if changes.len() != event_ids.len() {
            return Err(Error::InvalidValue {
                column: "changes".to_owned(),
                message: format!(
                    "bulk call of `{resource}.{action}` has {} events but {} changes: give one `Changes` per input, in input order",
                    event_ids.len(),
                    changes.len()
                ),
            });
        }
        // Changes built by hand skipped the constructors' check.
        for c in &mut changes {
            c.check()?;
            // The input's personal fields are personal in its changes too.
            if let Some(schema) = self.personal {
                schema.redact_changes(c);
            }
        }
        // Cloned, not taken: a body may record again after a failed attempt,
        // and those changes must be sealed too.
        let protections = self.protections.clone();
        store
            .store()
            .insert_changes(
                self.conn(),
                resource,
                action,
                event_ids,
                changes,
                protections,
            )
            .await?;
        self.changes_recorded = true;
        Ok(())
    }
}

impl<Id> ActionCtx<'_, Id> {
    /// Records the changes of a create: the whole new record. See
    /// [`record`](Self::record).
    ///
    /// ```no_run
    /// # async fn body(ctx: &mut events_core::ActionCtx<'_>) -> Result<(), events_core::Error> {
    /// let user = serde_json::json!({"name": "Ada", "email": "ada@example.com"});
    /// ctx.record_created(&user).await?;
    /// # Ok(()) }
    /// ```
    pub async fn record_created<T: Serialize + ?Sized>(&mut self, new: &T) -> Result<(), Error> {
        self.record(Changes::created(new)?).await
    }

    /// Records the changes of an update: the whole old record and the new values
    /// of the fields that differ. Returns whether any field differs, the same
    /// live and on replay. An update that changed nothing is stored as
    /// `unchanged`, which queries can hide
    /// ([`AuditQuery::hide_unchanged`](crate::audit::AuditQuery::hide_unchanged)):
    /// its event was written before the body ran and stays, as every event does.
    ///
    /// ```no_run
    /// # #[derive(serde::Serialize)] struct User { name: String }
    /// # async fn body(ctx: &mut events_core::ActionCtx<'_>, old: User, new: User) -> Result<(), events_core::Error> {
    /// if !ctx.record_updated(&old, &new).await? {
    ///     tracing::debug!("nothing changed");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn record_updated<T: Serialize + ?Sized>(
        &mut self,
        old: &T,
        new: &T,
    ) -> Result<bool, Error> {
        let changes = Changes::updated(old, new)?;
        let changed = !changes.unchanged;
        self.record(changes).await?;
        Ok(changed)
    }

    /// Records the changes of a destroy: the whole old record. See
    /// [`record`](Self::record).
    ///
    /// ```no_run
    /// # async fn body(ctx: &mut events_core::ActionCtx<'_>) -> Result<(), events_core::Error> {
    /// ctx.record_destroyed(&serde_json::json!({"name": "Ada"})).await?;
    /// # Ok(()) }
    /// ```
    pub async fn record_destroyed<T: Serialize + ?Sized>(&mut self, old: &T) -> Result<(), Error> {
        self.record(Changes::destroyed(old)?).await
    }

    /// Stores `changes` with this action's event, in the action's transaction,
    /// in the append-only changes table (`<table>_changes`, keyed by event id):
    /// the event row itself is inserted before the body runs, so the body's
    /// results cannot go into it.
    ///
    /// Once per action ([`Error::ChangesAlreadyRecorded`] the second time). Does
    /// nothing on replay (the original run stored them) and for ignored actions
    /// (they have no event).
    ///
    /// ```no_run
    /// # async fn body(ctx: &mut events_core::ActionCtx<'_>) -> Result<(), events_core::Error> {
    /// use events_core::audit::Changes;
    /// let old = serde_json::json!({"name": "Ada", "password_hash": "x"});
    /// let new = serde_json::json!({"name": "Ada L.", "password_hash": "y"});
    /// ctx.record(Changes::updated(&old, &new)?.skip_fields(["password_hash"])).await?;
    /// # Ok(()) }
    /// ```
    pub async fn record(&mut self, changes: Changes) -> Result<(), Error> {
        match self.event_id() {
            Some(id) => self.store_changes(&[id], vec![changes]).await,
            None => Ok(()),
        }
    }
}

impl<Id> BulkCtx<'_, Id> {
    /// Stores the changes of every input with its event, in input order, with one
    /// statement: the bulk form of [`ActionCtx::record`] (build each with
    /// [`Changes::created`], [`updated`](Changes::updated) or
    /// [`destroyed`](Changes::destroyed)).
    ///
    /// Once per call ([`Error::ChangesAlreadyRecorded`] the second time); one
    /// `Changes` per input ([`Error::InvalidValue`] otherwise). Does nothing for
    /// an ignored action.
    ///
    /// ```no_run
    /// # async fn body(ctx: &mut events_core::BulkCtx<'_>, old: Vec<serde_json::Value>, new: Vec<serde_json::Value>) -> Result<(), events_core::Error> {
    /// use events_core::audit::Changes;
    /// let changes = old
    ///     .iter()
    ///     .zip(&new)
    ///     .map(|(o, n)| Changes::updated(o, n))
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// ctx.record_all(changes).await?;
    /// # Ok(()) }
    /// ```
    pub async fn record_all(&mut self, changes: Vec<Changes>) -> Result<(), Error> {
        let (scope, event_ids) = self.scope_and_events();
        scope.store_changes(event_ids, changes).await
    }
}
