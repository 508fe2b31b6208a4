//! A permission-gated HTTP read API and activity console over an event log,
//! as an axum [`Router`] the application mounts into its own app, under any
//! path.
//!
//! - **JSON API** under `api/`: the audit query with every filter, order,
//!   numbered pages with count modes and keyset cursors; one entry; a record's
//!   history with old, diff and new values; facets and typeahead; a
//!   server-sent-events stream of new entries; and its OpenAPI document.
//! - **Activity console** at the root: a feed with filters and keyset paging,
//!   an entry page, a record's history as a readable diff, live updates.
//!   Server-rendered HTML, no JavaScript build step.
//! - **Permissions**: the application's [`ReadPolicy`] turns each request into
//!   the viewer's [`Scope`](events_core::audit::Scope). Deny by default: a
//!   router built without a policy answers every request with 403. The scope
//!   is applied inside the SQL of every read, so counts, pages and facets stay
//!   correct and hidden fields are never loaded.
//!
//! ```no_run
//! # async fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) -> std::io::Result<()> {
//! use axum::http::request::Parts;
//! use events_core::audit::Scope;
//! use events_http::{Denied, EventsHttp, ReadPolicy};
//!
//! struct AdminsOnly;
//! impl ReadPolicy for AdminsOnly {
//!     async fn scope(&self, request: &Parts) -> Result<Scope, Denied> {
//!         // Your auth layer's extension, session or token goes here.
//!         match request.headers.get("x-admin") {
//!             Some(_) => Ok(Scope::everything()),
//!             None => Err(Denied::unauthenticated("sign in as an admin")),
//!         }
//!     }
//! }
//!
//! let app = axum::Router::new().nest("/activity", EventsHttp::new(store).policy(AdminsOnly).router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

mod api;
mod console;
mod error;
mod live;
mod params;
mod policy;
mod state;

use std::sync::Arc;

use axum::Router;
use events_core::EventLog;
use events_postgres::{AuditLog, PgEventStore};

pub use error::ApiError;
pub use policy::{Denied, DenyAll, ReadPolicy};

use state::Shared;

/// Builds the router: the store to read, and the policy deciding who reads what.
///
/// ```no_run
/// # fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) {
/// // Without a policy, every request is refused with 403.
/// let closed: axum::Router = events_http::EventsHttp::new(store).router();
/// # }
/// ```
pub struct EventsHttp<L: EventLog, P = DenyAll> {
    audit: AuditLog<L>,
    policy: P,
}

impl<L: EventLog> EventsHttp<L, DenyAll> {
    /// A router over `store`'s audit log, refusing every request until a
    /// [`policy`](Self::policy) is set.
    pub fn new(store: PgEventStore<L>) -> Self {
        EventsHttp {
            audit: store.audit(),
            policy: DenyAll,
        }
    }
}

impl<L: EventLog, P: ReadPolicy> EventsHttp<L, P> {
    /// Sets the read policy: every request is answered within the scope it
    /// returns, or refused with its [`Denied`].
    pub fn policy<Q: ReadPolicy>(self, policy: Q) -> EventsHttp<L, Q> {
        EventsHttp {
            audit: self.audit,
            policy,
        }
    }

    /// The router: the JSON API under `api/`, the console at the root. Mount it
    /// with [`Router::nest`] under any path; its links are relative.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let shared = Arc::new(Shared {
            audit: self.audit,
            policy: self.policy,
            wakeups: live::Wakeups::default(),
        });
        Router::new()
            .nest("/api", api::routes::<L, P>())
            .merge(console::routes::<L, P>())
            .with_state(shared)
    }
}
