//! The activity console: server-rendered HTML pages at the router's root, for
//! people reading the log in a browser, on a desk or a phone.
//!
//! Pages are askama templates (`events-http/templates/`), compiled into the
//! crate and auto-escaping everything they print, so a payload in an entry's
//! data, metadata, actor, action or ids is shown as text. There is no
//! JavaScript build step: the only script is the feed's inline live-update
//! loop (a few dozen lines), which inserts rows the server rendered. Each page
//! carries a Content-Security-Policy allowing only its own inline style and
//! script, by a per-response nonce ([`page`]).
//!
//! | route | page |
//! | --- | --- |
//! | `/` | the feed: filters as a GET form, keyset pages both ways ([`feed`]), live updates on the first page |
//! | `/entries/{id}` | one entry: details, changes before → after, data and metadata ([`entry`]) |
//! | `/records/{resource}/{record_id}` | a record's history as a diff per entry ([`record`]) |
//! | `/stream?<filters>` | the feed's live updates: server-sent rendered rows ([`stream`]) |
//!
//! Every read goes through the request's [`Viewer`](crate::policy::Viewer),
//! the log scoped by the application's policy, and errors are pages with the
//! API's statuses. URLs are absolute paths under the mount prefix ([`mount`]),
//! so the router works nested anywhere.

mod entry;
mod feed;
mod links;
mod mount;
mod page;
mod record;
mod stream;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use events_core::EventLog;

use crate::policy::ReadPolicy;
use crate::state::Shared;

/// The console's routes.
pub(crate) fn routes<L: EventLog, P: ReadPolicy>() -> Router<Arc<Shared<L, P>>> {
    Router::new()
        .route("/", get(feed::page::<L>))
        .route("/entries/{id}", get(entry::page::<L>))
        .route("/records/{resource}/{record_id}", get(record::page::<L>))
        .route("/stream", get(stream::events::<L>))
}
