//! `GET stream`: server-sent events of new entries matching the filter
//! parameters, read by the viewer's scoped follower in commit-safe order.
//!
//! Each `entries` event carries at most `limit` entries and, as its `id`, the
//! follower's position after them, so a browser's `EventSource` reconnects
//! with `Last-Event-ID` and resumes exactly there: nothing committed in
//! between is lost. A `ready` event at connect carries the starting position,
//! so a client that reconnects before any entry arrived resumes from its first
//! connect too. Without `Last-Event-ID`, only entries committed after connect
//! are sent. Resuming from an `entries` event's id is exact; resuming from a
//! `ready` id never loses an entry but can also deliver entries that committed
//! shortly before the first connect (while a transaction anywhere in the
//! database cluster that began before them was still open): the position of
//! "now" is a transaction horizon, not an entry. Clients de-duplicate by
//! entry id if that matters to them.
//!
//! The reader waits between reads for the router's shared `LISTEN` connection
//! ([`Wakeups`](crate::live::Wakeups)) when the store sends notifications,
//! checking every second as well (an entry held back behind a transaction that
//! was still open becomes readable when that one ends, which announces
//! nothing); otherwise it polls every 250 ms. Comments keep idle connections
//! open through proxies. A database error ends the stream with an `error`
//! event (detail logged); the client reconnects and resumes.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use events_core::EventLog;
use events_core::audit::MAX_PAGE_SIZE;
use events_postgres::audit::EntryFollower;
use events_postgres::follow::Position;
use events_postgres::subscribe::StartAt;
use futures_util::Stream;
use tokio::sync::watch;

use super::dto::StreamBatch;
use crate::error::{ApiError, ErrorBody};
use crate::params::{Params, STREAM_PARAMS, number, shorten, store_error};
use crate::policy::{ReadPolicy, Viewer};
use crate::state::Shared;

/// Entries per event unless `limit` says otherwise.
const DEFAULT_BATCH: u64 = 100;
/// Between reads when the store sends no notifications.
const POLL: Duration = Duration::from_millis(250);
/// Between reads when it does: notifications wake the reader sooner.
const POLL_NOTIFIED: Duration = Duration::from_secs(1);
/// Between keep-alive comments on an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET stream`.
pub(crate) async fn stream<L: EventLog, P: ReadPolicy>(
    State(shared): State<Arc<Shared<L, P>>>,
    viewer: Viewer<L>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let params = Params::parse(raw.as_deref());
    let query = params.filters_only::<L>(STREAM_PARAMS)?;
    let limit = params
        .one("limit")?
        .map(|v| number("limit", v))
        .transpose()?
        .unwrap_or(DEFAULT_BATCH);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::bad_parameter(
            "limit",
            format!("{limit} is outside 1..={MAX_PAGE_SIZE}"),
        ));
    }
    let start = match headers.get("last-event-id") {
        Some(value) => StartAt::After(last_event_id(value.to_str().unwrap_or(""))?),
        None => StartAt::Now,
    };
    let follower = viewer
        .audit
        .follow(&query, start)
        .await
        .map_err(store_error)?;
    let wake = shared.wakeups.subscribe(&shared.audit);
    let reader = Reader {
        shared,
        follower,
        wake,
        limit,
        started: false,
        ended: false,
    };
    let events = futures_util::stream::unfold(reader, |mut reader| async move {
        let event = reader.next().await?;
        Some((Ok(event), reader))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// A `Last-Event-ID` header: a position the stream sent; a 400 naming it.
fn last_event_id(text: &str) -> Result<Position, ApiError> {
    text.trim().parse().map_err(|_| {
        ApiError::bad_parameter(
            "Last-Event-ID",
            format!(
                "`{}` is not a stream position: send back the `id` of the last event received",
                shorten(text)
            ),
        )
    })
}

/// One stream's reading state.
struct Reader<L: EventLog, P> {
    shared: Arc<Shared<L, P>>,
    follower: EntryFollower<L>,
    wake: Option<watch::Receiver<u64>>,
    limit: u64,
    started: bool,
    ended: bool,
}

impl<L: EventLog, P: ReadPolicy> Reader<L, P> {
    /// The next event to send; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        if !self.started {
            self.started = true;
            return Some(self.batch_event("ready", Vec::new()));
        }
        loop {
            if let Some(wake) = &mut self.wake {
                // Whatever commits from here on wakes the wait below.
                wake.mark_unchanged();
            }
            match self.follower.next_batch(self.limit).await {
                Ok(entries) if entries.is_empty() => self.wait().await,
                Ok(entries) => return Some(self.batch_event("entries", entries)),
                Err(error) => {
                    self.ended = true;
                    let error = store_error(error);
                    error.log();
                    let body = ErrorBody::from(&error);
                    return Some(
                        Event::default()
                            .event("error")
                            .json_data(&body)
                            .unwrap_or_else(|_| Event::default().event("error").data("error")),
                    );
                }
            }
        }
    }

    /// An event of `kind` carrying `entries` and the position after them.
    fn batch_event(&mut self, kind: &str, entries: Vec<events_core::audit::AuditEntry>) -> Event {
        let position = self.follower.position().map(|p| p.to_string());
        let batch = StreamBatch {
            entries: entries.into_iter().map(Into::into).collect(),
            position: position.clone(),
        };
        let mut event = Event::default().event(kind);
        if let Some(position) = position {
            event = event.id(position);
        }
        match event.json_data(&batch) {
            Ok(event) => event,
            Err(error) => {
                self.ended = true;
                tracing::error!(%error, "events-http: serializing a stream event failed");
                Event::default().event("error").data("error")
            }
        }
    }

    /// Waits for a notification or the poll interval.
    async fn wait(&mut self) {
        let Some(wake) = &mut self.wake else {
            tokio::time::sleep(POLL).await;
            return;
        };
        tokio::select! {
            changed = wake.changed() => {
                if changed.is_err() {
                    // The listener stopped as this stream joined: start another.
                    self.wake = self.shared.wakeups.subscribe(&self.shared.audit);
                }
            }
            () = tokio::time::sleep(POLL_NOTIFIED) => {}
        }
    }
}
