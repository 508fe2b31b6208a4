//! The audit side of running an action: an action body records its changes
//! through its [`ActionCtx`], and a caller attaches the request context to an
//! [`ActionCall`].

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Changes, RequestContext, changes_table, quote_ident};
use crate::{ActionCall, ActionCtx, Error, EventId, Resource};

impl<Id: Clone> ActionCtx<'_, Id> {
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
    /// ([`AuditQuery::hide_unchanged`](super::AuditQuery::hide_unchanged)): its
    /// event was written before the body ran and stays, as every event does.
    ///
    /// ```no_run
    /// # #[derive(serde::Serialize)] struct User { name: String }
    /// # async fn body(ctx: &mut events_core::ActionCtx<'_>, old: User, new: User) -> Result<(), events_core::Error> {
    /// if !ctx.record_changes(&old, &new).await? {
    ///     tracing::debug!("nothing changed");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn record_changes<T: Serialize + ?Sized>(
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
        let resource = self.resource();
        let action = self.action().name;
        let Some((conn, table, event_id, recorded)) = self.changes_sink() else {
            return Ok(());
        };
        if *recorded {
            return Err(Error::ChangesAlreadyRecorded {
                resource,
                action,
                event: event_id,
            });
        }
        insert_changes(conn, table, &[event_id], vec![changes], || {
            format!("recording the changes of {resource}.{action} (event {event_id})")
        })
        .await?;
        *recorded = true;
        Ok(())
    }
}

/// Inserts one row of changes per event into `table`'s changes side table, with
/// one statement; `context` names what was being done in a database error.
pub(crate) async fn insert_changes(
    conn: &mut sqlx::PgConnection,
    table: &str,
    event_ids: &[EventId],
    changes: Vec<Changes>,
    context: impl FnOnce() -> String,
) -> Result<(), Error> {
    // Changes built by hand skipped the constructors' check.
    for c in &changes {
        c.check()?;
    }
    let integer_ids = matches!(event_ids.first(), Some(EventId::Integer(_)));
    let sql = format!(
        "INSERT INTO {} (event_id, old_values, new_values, diff_values, unchanged) \
         SELECT * FROM unnest($1::{}[], $2::jsonb[], $3::jsonb[], $4::jsonb[], $5::bool[])",
        quote_ident(&changes_table(table)),
        if integer_ids { "int8" } else { "uuid" },
    );
    // Built from the event log's compile-time table name, quoted.
    let q = sqlx::query(sqlx::AssertSqlSafe(sql));
    let q = if integer_ids {
        q.bind(
            event_ids
                .iter()
                .map(|id| match id {
                    EventId::Integer(i) => Some(*i),
                    EventId::Uuid(_) => None,
                })
                .collect::<Vec<_>>(),
        )
    } else {
        q.bind(
            event_ids
                .iter()
                .map(|id| match id {
                    EventId::Uuid(u) => Some(*u),
                    EventId::Integer(_) => None,
                })
                .collect::<Vec<_>>(),
        )
    };
    let mut old = Vec::with_capacity(changes.len());
    let mut new = Vec::with_capacity(changes.len());
    let mut diff = Vec::with_capacity(changes.len());
    let mut unchanged = Vec::with_capacity(changes.len());
    for c in changes {
        old.push(c.old_values.map(Value::Object));
        new.push(c.new_values.map(Value::Object));
        diff.push(c.diff_values.map(Value::Object));
        unchanged.push(c.unchanged);
    }
    q.bind(old)
        .bind(new)
        .bind(diff)
        .bind(unchanged)
        .execute(conn)
        .await
        .map_err(|e| Error::from_sqlx(context(), e))?;
    Ok(())
}

impl<R: Resource, I, Ret> ActionCall<R, I, Ret> {
    /// Adds the request context to the event's metadata (keys `ip_address`,
    /// `user_agent`, `request_id`), from where the store also copies it into the
    /// event table's audit columns, so queries by request id find recorded
    /// actions and manual entries alike. Call it after
    /// [`metadata`](Self::metadata), which replaces the metadata.
    ///
    /// ```ignore
    /// let request = RequestContext::new().request_id("req-7f3a").ip_address(ip);
    /// User::create(input).actor(&admin).request(&request).run(&store).await?;
    /// ```
    pub fn request(mut self, request: &RequestContext) -> Self {
        add_request(self.metadata_mut(), request);
        self
    }
}

impl<R: Resource, I, Ret> crate::BulkCall<R, I, Ret> {
    /// Adds the request context to every event's metadata, as
    /// [`ActionCall::request`] does. Call it after
    /// [`metadata`](Self::metadata), which replaces the metadata.
    pub fn request(mut self, request: &RequestContext) -> Self {
        add_request(self.metadata_mut(), request);
        self
    }
}

/// Puts the request context into `metadata` (made an object if it is not one),
/// cleaned as [`RequestContext::stored_fields`] says, the same as for manual
/// entries: a request context never fails the action.
fn add_request(metadata: &mut Value, request: &RequestContext) {
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    if let Value::Object(map) = metadata {
        for (key, value) in request.stored_fields() {
            map.insert(key.to_owned(), Value::String(value));
        }
    }
}
