//! Who may read what: the application's [`ReadPolicy`] turns a request into the
//! viewer's [`Scope`], and every handler reads through an audit log scoped by
//! it ([`Viewer`]). Deny by default: without a policy ([`DenyAll`]) every
//! request is refused before anything is read.

use std::future::Future;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use events_core::EventLog;
use events_core::audit::Scope;
use events_postgres::AuditLog;

use crate::error::ApiError;
use crate::state::Shared;

/// The application's read permissions: from a request (its own session cookie,
/// bearer token, or an extension its auth middleware inserted) to the viewer's
/// rights as a [`Scope`]: which resources, tenants and actions they may see and
/// which fields are hidden from them.
///
/// The scope is applied inside every statement the viewer's request runs, so
/// counts, pages, cursors, facets, typeahead and the live stream are all
/// restricted alike, and hidden fields never leave the database.
///
/// ```
/// use axum::http::request::Parts;
/// use events_core::audit::Scope;
/// use events_http::{Denied, ReadPolicy};
///
/// /// Admins see everything; support staff one tenant, without emails.
/// struct Staff;
///
/// impl ReadPolicy for Staff {
///     async fn scope(&self, request: &Parts) -> Result<Scope, Denied> {
///         // A real application reads its session here (an extension set by its
///         // auth layer, a verified token); a header keeps the example short.
///         match request.headers.get("x-role").and_then(|v| v.to_str().ok()) {
///             Some("admin") => Ok(Scope::everything()),
///             Some("support") => Ok(Scope::everything()
///                 .only_tenants(["acme"])
///                 .hide_fields(["email"])),
///             Some(_) => Err(Denied::forbidden("this role may not read the activity log")),
///             None => Err(Denied::unauthenticated("sign in to read the activity log")),
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a read policy",
    note = "implement `events_http::ReadPolicy` for it: `async fn scope(&self, request: &Parts) -> Result<Scope, Denied>`"
)]
pub trait ReadPolicy: Send + Sync + 'static {
    /// The viewer's scope for this request, or why they may not read at all.
    fn scope(&self, request: &Parts) -> impl Future<Output = Result<Scope, Denied>> + Send;
}

/// The policy of a router mounted without one: refuses every request with
/// 403, so nothing is served until the application says who may read what.
///
/// ```
/// # async fn run() {
/// use events_http::{DenyAll, ReadPolicy};
/// let (parts, _) = axum::http::Request::new(()).into_parts();
/// assert!(DenyAll.scope(&parts).await.is_err());
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyAll;

impl ReadPolicy for DenyAll {
    async fn scope(&self, _request: &Parts) -> Result<Scope, Denied> {
        Err(Denied::forbidden(
            "no read policy is configured: the application must pass one to EventsHttp::policy",
        ))
    }
}

impl<P: ReadPolicy> ReadPolicy for Arc<P> {
    fn scope(&self, request: &Parts) -> impl Future<Output = Result<Scope, Denied>> + Send {
        P::scope(self, request)
    }
}

/// A refused request: 401 (not signed in) or 403 (signed in, not allowed),
/// with a message for the viewer.
///
/// ```
/// use events_http::Denied;
/// assert_eq!(Denied::forbidden("no").status().as_u16(), 403);
/// assert_eq!(Denied::unauthenticated("sign in").status().as_u16(), 401);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Denied {
    status: StatusCode,
    message: String,
}

impl Denied {
    /// 403: the viewer is known but may not read this.
    pub fn forbidden(message: impl Into<String>) -> Denied {
        Denied {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }

    /// 401: the viewer must sign in first.
    pub fn unauthenticated(message: impl Into<String>) -> Denied {
        Denied {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
        }
    }

    /// The response status: 401 or 403.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message shown to the viewer.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The request's viewer: the audit log scoped by the policy's answer for this
/// request. Every handler takes one; there is no other way to the log.
pub(crate) struct Viewer<L: EventLog> {
    /// The audit log as this viewer may read it.
    pub(crate) audit: AuditLog<L>,
}

impl<L: EventLog, P: ReadPolicy> FromRequestParts<Arc<Shared<L, P>>> for Viewer<L> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<Shared<L, P>>,
    ) -> Result<Self, Self::Rejection> {
        let scope = state.policy.scope(parts).await.map_err(ApiError::Denied)?;
        scope.check().map_err(ApiError::Policy)?;
        Ok(Viewer {
            audit: state.audit.scoped(scope),
        })
    }
}
