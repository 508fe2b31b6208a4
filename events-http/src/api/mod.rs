//! The JSON API: every route under `api/`.

use std::sync::Arc;

use axum::Router;
use events_core::EventLog;

use crate::policy::ReadPolicy;
use crate::state::Shared;

/// The API's routes.
pub(crate) fn routes<L: EventLog, P: ReadPolicy>() -> Router<Arc<Shared<L, P>>> {
    Router::new()
}
