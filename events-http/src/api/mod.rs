//! The JSON API: every route under `api/`, each reading only through the
//! request's [`Viewer`](crate::policy::Viewer), so the policy's scope is in
//! every statement it runs.
//!
//! | route | answers | module |
//! | --- | --- | --- |
//! | `GET entries` | a page of the audit query (every filter, order, numbered or keyset pages, count modes) | `entries` |
//! | `GET entries/{id}` | one entry; 404 when absent or outside the scope alike | `entries` |
//! | `GET records/{resource}/{record_id}/history` | a record's entries oldest first, with old, changed and new values | `history` |
//! | `GET facets` | distinct actions, kinds, resources, modes, modules, actors | `facets` |
//! | `GET actions?q=&limit=` | typeahead over action names | `facets` |
//! | `GET stream` | server-sent events of new entries matching the filters | `stream` |
//! | `GET openapi.json` | the OpenAPI document of all of the above | `openapi` |
//!
//! Response bodies are the types of `dto`; errors are
//! [`ApiError`](crate::ApiError)'s JSON body.

mod dto;
mod entries;
mod facets;
mod history;
mod openapi;
mod stream;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use events_core::EventLog;

use crate::error::ApiError;
use crate::policy::ReadPolicy;
use crate::state::Shared;

/// The API's routes.
pub(crate) fn routes<L: EventLog, P: ReadPolicy>() -> Router<Arc<Shared<L, P>>> {
    Router::new()
        .route("/entries", get(entries::list::<L>))
        .route("/entries/{id}", get(entries::one::<L>))
        .route(
            "/records/{resource}/{record_id}/history",
            get(history::history::<L>),
        )
        .route("/facets", get(facets::facets::<L>))
        .route("/actions", get(facets::actions::<L>))
        .route("/stream", get(stream::stream::<L, P>))
        .route("/openapi.json", get(openapi::serve::<L>))
        // A route, not a fallback: fallbacks of a router nested twice (under
        // `api/`, then under the application's mount) are not reached.
        .route("/{*rest}", get(no_route))
}

/// Any other path under `api/`: a JSON 404 like every other refusal.
async fn no_route() -> ApiError {
    ApiError::NotFound {
        what: "API route".to_owned(),
    }
}
