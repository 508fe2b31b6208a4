//! `GET entries` (the audit query: every filter, order, numbered or keyset
//! pages, count modes) and `GET entries/{id}` (one entry).
//!
//! An entry outside the viewer's scope and an entry that does not exist get
//! the same 404, so ids do not reveal what exists elsewhere.

use axum::Json;
use axum::extract::{Path, RawQuery};
use events_core::EventLog;

use super::dto::{EntriesPage, Entry};
use crate::error::ApiError;
use crate::params::{Params, event_id, store_error};
use crate::policy::Viewer;

/// `GET entries`: one page of the query the parameters describe.
pub(crate) async fn list<L: EventLog>(
    viewer: Viewer<L>,
    RawQuery(raw): RawQuery,
) -> Result<Json<EntriesPage>, ApiError> {
    let query = Params::parse(raw.as_deref()).query::<L>(&[])?;
    let page = viewer.audit.query(&query).await.map_err(store_error)?;
    Ok(Json(page.into()))
}

/// `GET entries/{id}`: one entry, or 404 (absent and out of scope alike).
pub(crate) async fn one<L: EventLog>(
    viewer: Viewer<L>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Entry>, ApiError> {
    Params::parse(raw.as_deref()).refuse_unknown(&[])?;
    let id = event_id::<L>(&id)?;
    match viewer.audit.find(id).await.map_err(store_error)? {
        Some(entry) => Ok(Json(entry.into())),
        None => Err(ApiError::NotFound {
            what: format!("entry {id}"),
        }),
    }
}
