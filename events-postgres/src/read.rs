//! Reading events back: keyset pages over the whole log and one record's history.
//!
//! A minimal reader for tests and tools; filtered queries are the audit log's
//! ([`AuditLog`](crate::AuditLog)), commit-ordered following is
//! [`follow`](crate::follow)'s. Rows are mapped into [`Event`] by `decode_event`,
//! which replay and the follower use too; a row that does not fit is
//! [`Error::MalformedRow`] naming the column, never a panic. Every reader
//! decrypts the personal data of a page of events with one key query
//! ([`crate::personal`]).

use std::str::FromStr;

use events_core::{ActionKind, Error, Event, EventId, EventLog, Key};
use sqlx::postgres::PgRow;

use crate::PgEventStore;
use crate::sql::{self, EVENT_COLUMNS, bind};

impl<L: EventLog> PgEventStore<L> {
    /// Up to `limit` events with ids after `after` (from the start with `None`), in
    /// id order. Pass the last id of a page as `after` to get the next one; a
    /// `limit` of zero or less returns nothing without a query.
    ///
    /// Keyset paging on the primary key: each page costs the same however deep it
    /// is. Ids are in insertion order, which is not always commit order: a follower
    /// that must not miss late commits needs the commit-safe reader (planned).
    ///
    /// `after` must be the kind of id this log's `primary_key_type` gives; another is
    /// [`Error::MalformedRow`] for column `id`.
    ///
    /// ```no_run
    /// # use events_core::Error;
    /// # #[events_core::event_log] pub struct AppLog;
    /// # async fn run(store: events_postgres::PgEventStore<AppLog>) -> Result<(), Error> {
    /// let mut after = None;
    /// loop {
    ///     let page = store.list_events(after, 500).await?;
    ///     let Some(last) = page.last() else { break };
    ///     after = Some(last.id);
    ///     for event in &page {
    ///         tracing::info!(id = %event.id, resource = %event.resource, action = %event.action);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_events(
        &self,
        after: Option<EventId>,
        limit: i64,
    ) -> Result<Vec<Event>, Error> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let sql = self.statements();
        let q = match after {
            None => sql::query(&sql.list_first),
            Some(id) => sql::query(&sql.list_after).bind(bind::event_id::<L>("id", id)?),
        };
        let rows = q
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .map_err(|e| Error::from_sqlx("listing events", e))?;
        self.decode_events(&rows, false).await
    }

    /// Every event of one record, in id order (served by the
    /// `(resource, record_id, id)` index).
    ///
    /// `record_id` must have this log's `record_id_type`; another shape is
    /// [`Error::InvalidValue`] for column `record_id`.
    ///
    /// ```no_run
    /// # use events_core::Error;
    /// # #[events_core::event_log] pub struct AppLog;
    /// # async fn run(store: events_postgres::PgEventStore<AppLog>, user_id: uuid::Uuid) -> Result<(), Error> {
    /// let history = store.events_for_record("User", user_id).await?;
    /// let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    /// # Ok(()) }
    /// ```
    pub fn events_for_record<'a>(
        &'a self,
        resource: &'a str,
        record_id: impl Into<Key>,
    ) -> impl Future<Output = Result<Vec<Event>, Error>> + Send + 'a {
        let record_id = record_id.into();
        async move {
            let rows = sql::query(&self.statements().for_record)
                .bind(resource)
                .bind(bind::key("record_id", L::RECORD_ID_TYPE, &record_id)?)
                .fetch_all(self.pool())
                .await
                .map_err(|e| {
                    Error::from_sqlx(format!("reading the events of {resource} {record_id}"), e)
                })?;
            self.decode_events(&rows, false).await
        }
    }
}

impl<L: EventLog> PgEventStore<L> {
    /// A page of event rows as [`Event`]s, their personal data decrypted with
    /// one key query ([`reveal_events`](Self::reveal_events); `replaying`
    /// refuses envelopes without a key provider).
    pub(crate) async fn decode_events(
        &self,
        rows: &[PgRow],
        replaying: bool,
    ) -> Result<Vec<Event>, Error> {
        let mut events = rows
            .iter()
            .map(decode_event::<L>)
            .collect::<Result<Vec<_>, _>>()?;
        self.reveal_events(&mut events, replaying).await?;
        Ok(events)
    }
}

/// Maps one row of an event `SELECT` (columns [`EVENT_COLUMNS`], then the actor
/// columns) into an [`Event`].
pub(crate) fn decode_event<L: EventLog>(row: &PgRow) -> Result<Event, Error> {
    let [
        id,
        resource,
        record_id,
        action,
        action_type,
        data,
        metadata,
        version,
        tenant,
        occurred_at,
    ] = EVENT_COLUMNS;
    let event_id = sql::get_id::<L>(row, (0, id))?;
    let stored_version: i32 = sql::get(row, (7, version))?;
    let mut actor = None;
    for (i, column) in L::ACTOR_COLUMNS.iter().enumerate() {
        let index = EVENT_COLUMNS.len() + i;
        if let Some(key) = sql::get_opt_key(row, (index, column.name), column.attribute_type)? {
            actor = Some((column.name.to_owned(), key));
            break;
        }
    }
    Ok(Event {
        id: event_id,
        resource: sql::get(row, (1, resource))?,
        record_id: sql::get_key(row, (2, record_id), L::RECORD_ID_TYPE)?,
        action: sql::get(row, (3, action))?,
        action_type: ActionKind::from_str(sql::get(row, (4, action_type))?)?,
        actor,
        data: sql::get_json(row, (5, data))?,
        metadata: sql::get_json(row, (6, metadata))?,
        version: u32::try_from(stored_version).map_err(|_| Error::MalformedRow {
            column: version.to_owned(),
            message: format!("negative version {stored_version}"),
        })?,
        tenant: sql::get(row, (8, tenant))?,
        occurred_at: sql::get(row, (9, occurred_at))?,
    })
}
