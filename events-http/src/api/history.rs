//! `GET records/{resource}/{record_id}/history`: one record's entries, oldest
//! first, each with the values its write recorded (old, changed, new, and the
//! changed fields from → to).
//!
//! A record with no entry the viewer may see answers 200 with an empty list,
//! whether its resource is unknown, the record never existed, or its entries
//! are outside the viewer's scope: resource names are free-form (manual
//! entries name any), so "unknown" is not a property of a name, and one answer
//! for all three cases reveals nothing about the others. A record id that is
//! not of the log's record id type is a 400 naming `record_id`.
//!
//! Long histories come in parts of up to 1,000 entries, continued with
//! `after`, like any keyset page (one indexed read per part, however long).

use axum::Json;
use axum::extract::{Path, RawQuery};
use events_core::audit::{AuditQuery, CountMode, Cursor, MAX_PAGE_SIZE, Order, coerce_key};
use events_core::{EventLog, Key};

use super::dto::History;
use crate::error::ApiError;
use crate::params::{HISTORY_PARAMS, Params, number, store_error};
use crate::policy::Viewer;

/// `GET records/{resource}/{record_id}/history`.
pub(crate) async fn history<L: EventLog>(
    viewer: Viewer<L>,
    Path((resource, record_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Json<History>, ApiError> {
    let params = Params::parse(raw.as_deref());
    params.refuse_unknown(&[HISTORY_PARAMS])?;
    let key =
        coerce_key("record_id", L::RECORD_ID_TYPE, &Key::String(record_id)).map_err(store_error)?;
    let after = params
        .one("after")?
        .map(|text| {
            text.parse::<Cursor>().map_err(|_| {
                ApiError::bad_parameter(
                    "after",
                    "not a cursor: pass the `next_cursor` of the previous part unchanged",
                )
            })
        })
        .transpose()?;
    let limit = params
        .one("limit")?
        .map(|v| number("limit", v))
        .transpose()?
        .unwrap_or(MAX_PAGE_SIZE);
    let query = AuditQuery::<L>::new()
        .record(resource.clone(), key.clone())
        .order(Order::OccurredAsc)
        .after(after)
        .limit(limit)
        .count_mode(CountMode::None);
    let page = viewer.audit.query(&query).await.map_err(store_error)?;
    let has_more = page.has_more();
    Ok(Json(History {
        resource,
        record_id: key.into(),
        next_cursor: page.next_cursor.map(|c| c.to_string()),
        has_more,
        entries: page.entries.into_iter().map(Into::into).collect(),
    }))
}
