//! The feed's live updates (`stream?<filters>`): a server-sent-events stream
//! of the entries committed after it opened that match the feed's filters,
//! each as the feed's own row, rendered and escaped here (`event: entry`,
//! `data: <tr …>`). The page's script only inserts what it receives, so there
//! is one template for a row and no client-side rendering to keep in step.
//!
//! Entries come from [`AuditLog::follow`](events_postgres::AuditLog::follow)
//! through the viewer's scoped log, so the stream shows exactly what the
//! viewer's feed would. It is commit-safe: an entry whose transaction commits
//! late is delivered late, never skipped; the price is that an open
//! transaction anywhere in the cluster holds every follower back until it
//! ends. The follower is polled every [`POLL`] while idle. Each event's id is
//! the follower's position after it, so a browser that reconnects (sending
//! `Last-Event-ID`) resumes where it was instead of from "now".

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use events_core::EventLog;
use events_core::audit::AuditEntry;
use events_postgres::audit::EntryFollower;
use events_postgres::follow::Position;
use events_postgres::subscribe::StartAt;
use futures_util::stream;

use super::mount::Mount;
use super::view::Row;
use crate::error::ApiError;
use crate::params::Params;
use crate::policy::Viewer;

/// How long an idle stream waits before asking for new entries again.
const POLL: Duration = Duration::from_millis(500);

/// Entries read per poll.
const BATCH: u64 = 100;

/// One row of the feed, alone: what each event carries.
#[derive(Template)]
#[template(path = "row.html")]
struct RowFragment<'a> {
    row: &'a Row,
}

/// `GET /stream?<filters>`.
pub(crate) async fn events<L: EventLog>(
    viewer: Result<Viewer<L>, ApiError>,
    mount: Mount,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    match open(viewer, mount, raw.as_deref(), &headers).await {
        Ok(response) => response,
        // An EventSource shows no body: the status is what counts.
        Err(e) => {
            e.log();
            (e.status(), e.public_message()).into_response()
        }
    }
}

async fn open<L: EventLog>(
    viewer: Result<Viewer<L>, ApiError>,
    mount: Mount,
    raw: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let viewer = viewer?;
    let query = Params::parse(raw).filters_only::<L>(&[])?;
    let start = match headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::parse::<Position>)
    {
        Some(Ok(position)) => StartAt::After(position),
        Some(Err(_)) => {
            return Err(ApiError::bad_parameter(
                "Last-Event-ID",
                "not a position of this stream",
            ));
        }
        None => StartAt::Now,
    };
    let follower = viewer.audit.follow(&query, start).await?;
    let state = Live {
        follower,
        mount,
        pending: VecDeque::new(),
    };
    let events = stream::unfold(state, |mut live| async move {
        let event = live.next().await?;
        Some((Ok::<_, Infallible>(event), live))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Proxies such as nginx would otherwise hold events back in a buffer.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// A running stream: the follower and the entries read but not sent yet.
struct Live<L: EventLog> {
    follower: EntryFollower<L>,
    mount: Mount,
    pending: VecDeque<AuditEntry>,
}

impl<L: EventLog> Live<L> {
    /// The next event; `None` ends the stream (the browser reconnects and
    /// resumes from the last event's id).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(entry) = self.pending.pop_front() {
                return Some(self.event(&entry));
            }
            match self.follower.next_batch(BATCH).await {
                Ok(batch) if batch.is_empty() => tokio::time::sleep(POLL).await,
                Ok(batch) => self.pending.extend(batch),
                Err(e) => {
                    tracing::error!(error = %e, "events-http: the console's live stream failed");
                    return None;
                }
            }
        }
    }

    fn event(&self, entry: &AuditEntry) -> Event {
        let row = Row::new(entry, &self.mount);
        let html = RowFragment { row: &row }.render().unwrap_or_else(|e| {
            tracing::error!(error = %e, "events-http: rendering a live row failed");
            String::new()
        });
        let position = Position {
            txid: entry.transaction_id,
            id: entry.id,
        };
        Event::default()
            .event("entry")
            .id(position.to_string())
            .data(html)
    }
}
