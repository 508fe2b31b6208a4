//! One entry's page (`entries/{id}`): who did what to which record, when, in
//! which transaction and request, the fields it changed (before → after), and
//! its data and metadata as pretty-printed JSON. Every detail that names
//! something links to the feed filtered by it.
//!
//! An entry the viewer may not read is "not found", like one that does not
//! exist, so its existence does not leak.

use askama::Template;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::response::Response;
use events_core::EventLog;

use super::mount::Mount;
use super::page::{self, Nonce};
use super::view::{self, Detail, FieldRow, Row};
use crate::error::ApiError;
use crate::params::event_id;
use crate::policy::Viewer;

/// The entry page.
#[derive(Template)]
#[template(path = "entry.html")]
struct EntryPage<'a> {
    nonce: &'a str,
    home: String,
    title: String,
    row: Row,
    details: Vec<Detail>,
    changes: Vec<FieldRow>,
    unchanged: bool,
    data: String,
    metadata: String,
}

/// `GET /entries/{id}`.
pub(crate) async fn page<L: EventLog>(
    viewer: Result<Viewer<L>, ApiError>,
    mount: Mount,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    match render(viewer, &mount, id).await {
        Ok(response) => response,
        Err(e) => page::error(&mount, e),
    }
}

async fn render<L: EventLog>(
    viewer: Result<Viewer<L>, ApiError>,
    mount: &Mount,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let viewer = viewer?;
    let Path(text) = id.map_err(|e| ApiError::bad_parameter("id", e.body_text()))?;
    let id = event_id::<L>(&text)?;
    let entry = viewer
        .audit
        .find(id)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: format!("entry {id}"),
        })?;
    let nonce = Nonce::new();
    let row = Row::new(&entry, mount);
    let view = EntryPage {
        nonce: nonce.as_str(),
        home: mount.feed(),
        title: format!("{} · Activity", entry.action),
        details: view::details(&entry, mount),
        changes: view::field_rows(&entry),
        unchanged: view::unchanged(&entry),
        data: view::pretty(&entry.data),
        metadata: view::pretty(&entry.metadata),
        row,
    };
    Ok(page::html(StatusCode::OK, &nonce, &view))
}
