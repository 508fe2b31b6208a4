//! A record's history (`records/{resource}/{record_id}`): every entry about
//! one record, oldest first, each change as a table of fields with their value
//! before and after, so a reader follows the record from creation to its
//! latest state. Long histories come in keyset pages (`after`, `limit`).

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use events_core::audit::{AuditQuery, Cursor, Order};
use events_core::{EventLog, Key};

use super::mount::{Mount, encode_query};
use super::page::{self, Nonce};
use super::view::{self, FieldRow, Row};
use crate::error::ApiError;
use crate::params::{Params, number};
use crate::policy::Viewer;

/// The history page's parameters.
const RECORD_PARAMS: &[(&str, &str)] = &[
    (
        "after",
        "keyset cursor: the Later link of the previous page",
    ),
    ("limit", "entries per page, 1 to 1000 (default 100)"),
];

/// Entries per history page unless `limit` says otherwise.
const DEFAULT_LIMIT: u64 = 100;

/// One entry of a history.
struct Step {
    row: Row,
    changes: Vec<FieldRow>,
    unchanged: bool,
}

/// The history page.
#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage<'a> {
    nonce: &'a str,
    home: String,
    title: String,
    resource: String,
    record_id: String,
    feed: String,
    steps: Vec<Step>,
    start: Option<String>,
    later: Option<String>,
}

/// `GET /records/{resource}/{record_id}`.
pub(crate) async fn page<L: EventLog>(
    viewer: Result<Viewer<L>, ApiError>,
    mount: Mount,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    match render(viewer, &mount, path, raw.as_deref()).await {
        Ok(response) => response,
        Err(e) => page::error(&mount, e),
    }
}

async fn render<L: EventLog>(
    viewer: Result<Viewer<L>, ApiError>,
    mount: &Mount,
    path: Result<Path<(String, String)>, PathRejection>,
    raw: Option<&str>,
) -> Result<Response, ApiError> {
    let viewer = viewer?;
    let Path((resource, record_id)) =
        path.map_err(|e| ApiError::bad_parameter("record_id", e.body_text()))?;
    let params = Params::parse(raw);
    params.refuse_unknown(&[RECORD_PARAMS])?;
    let limit = params
        .one("limit")?
        .map(|v| number("limit", v))
        .transpose()?
        .unwrap_or(DEFAULT_LIMIT);
    let after = params
        .one("after")?
        .map(|text| {
            text.parse::<Cursor>().map_err(|_| {
                ApiError::bad_parameter("after", "not a cursor: use the Later link unchanged")
            })
        })
        .transpose()?;
    let key = Key::String(record_id.clone());
    let query = AuditQuery::<L>::new()
        .record(resource.clone(), key.clone())
        .order(Order::OccurredAsc)
        .after(after)
        .limit(limit);
    let page = viewer
        .audit
        .query(&query)
        .await
        .map_err(|e| rename(ApiError::from(e)))?;
    let limit_text = limit.to_string();
    let query_with = |cursor: Option<&str>| {
        let limit = (limit != DEFAULT_LIMIT).then_some(("limit", limit_text.as_str()));
        encode_query(limit.into_iter().chain(cursor.map(|c| ("after", c))))
    };
    let later = page
        .next_cursor
        .map(|c| mount.record_query(&resource, &key, &query_with(Some(&c.to_string()))));
    let start = after.map(|_| mount.record_query(&resource, &key, &query_with(None)));
    let steps = page
        .entries
        .iter()
        .map(|e| Step {
            row: Row::new(e, mount),
            changes: view::field_rows(e),
            unchanged: view::unchanged(e),
        })
        .collect();
    let nonce = Nonce::new();
    let view = RecordPage {
        nonce: nonce.as_str(),
        home: mount.feed(),
        title: format!("History of {resource} {record_id} · Activity"),
        feed: mount.feed_filtered(&[("resource", &resource), ("record_id", &record_id)]),
        resource,
        record_id,
        steps,
        start,
        later,
    };
    Ok(page::html(StatusCode::OK, &nonce, &view))
}

/// The page's name for the filter a store error names.
fn rename(error: ApiError) -> ApiError {
    match error {
        ApiError::BadParameter { parameter, message } => {
            let parameter = match parameter.as_str() {
                "rows" | "record_ids" => "record_id",
                "resources" => "resource",
                "cursor" => "after",
                "pagination" => "limit",
                other => other,
            }
            .to_owned();
            ApiError::BadParameter { parameter, message }
        }
        other => other,
    }
}
