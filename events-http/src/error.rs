//! Errors of the HTTP layer and how they are answered: JSON for the API,
//! `{"error": {"status", "parameter"?, "message"}}`, naming the parameter at
//! fault for a 400. The console renders the same errors as a page.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use events_core::{AuditError, Error};
use serde::Serialize;

use crate::policy::Denied;

/// Why a request was not answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A query parameter or path segment could not be used (400).
    #[error("invalid parameter `{parameter}`: {message}")]
    BadParameter {
        /// The parameter, as the client spelled it.
        parameter: String,
        /// What is wrong and what would be accepted.
        message: String,
    },
    /// The policy refused the request (401 or 403).
    #[error("{0}")]
    Denied(Denied),
    /// The policy returned a scope that cannot be applied (500: a bug in the
    /// application's policy, logged; the viewer sees no detail).
    #[error("the read policy returned an unusable scope: {0}")]
    Policy(Error),
    /// Nothing there, or nothing this viewer may see (404: the two are not
    /// told apart, so existence does not leak).
    #[error("{what} not found")]
    NotFound {
        /// What was asked for (`entry 42`).
        what: String,
    },
    /// The store failed (500; logged, the viewer sees no detail).
    #[error("reading the event log failed: {0}")]
    Store(Error),
}

impl ApiError {
    /// A 400 naming `parameter`.
    pub fn bad_parameter(parameter: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::BadParameter {
            parameter: parameter.into(),
            message: message.into(),
        }
    }

    /// The response status.
    ///
    /// ```
    /// use events_http::ApiError;
    /// assert_eq!(ApiError::bad_parameter("per_page", "at most 1000").status().as_u16(), 400);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::Denied(d) => d.status(),
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Policy(_) | ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The parameter at fault, for a 400.
    pub fn parameter(&self) -> Option<&str> {
        match self {
            ApiError::BadParameter { parameter, .. } => Some(parameter),
            _ => None,
        }
    }

    /// What the viewer is told: the full message for their own mistakes, a
    /// generic line for server faults (whose detail goes to the log).
    pub fn public_message(&self) -> String {
        match self {
            ApiError::BadParameter { message, .. } => message.clone(),
            ApiError::Denied(d) => d.message().to_owned(),
            ApiError::NotFound { .. } => self.to_string(),
            ApiError::Policy(_) | ApiError::Store(_) => {
                "the server could not read the activity log; the error was logged".to_owned()
            }
        }
    }

    /// Logs server faults (once, where the response is made).
    pub(crate) fn log(&self) {
        if self.status().is_server_error() {
            tracing::error!(error = %self, "events-http request failed");
        }
    }
}

impl From<Error> for ApiError {
    /// A store error: a refused filter is the client's 400 (naming the
    /// filter), as is an order or filter by commit time on a log that does not
    /// record it; an entry not found a 404, anything else a 500.
    fn from(error: Error) -> ApiError {
        match error {
            Error::Audit(AuditError::InvalidFilter { field, message }) => ApiError::BadParameter {
                parameter: field,
                message,
            },
            Error::Audit(AuditError::CommitTimeNotTracked { used, .. }) => {
                let message = error.to_string();
                ApiError::BadParameter {
                    parameter: if used.starts_with("an order") {
                        "order".to_owned()
                    } else {
                        used.to_owned()
                    },
                    message,
                }
            }
            Error::Audit(AuditError::EntryNotFound { id }) => ApiError::NotFound {
                what: format!("entry {id}"),
            },
            other => ApiError::Store(other),
        }
    }
}

/// The JSON body of every error the API answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    /// What went wrong.
    pub(crate) error: ErrorDetail,
}

/// An error's fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail {
    /// The HTTP status, repeated.
    pub(crate) status: u16,
    /// For a 400: the query parameter, path segment or header at fault, as
    /// the client spelled it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) parameter: Option<String>,
    /// What is wrong and what would be accepted; a generic line for a 500.
    pub(crate) message: String,
}

impl From<&ApiError> for ErrorBody {
    fn from(e: &ApiError) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                status: e.status().as_u16(),
                parameter: e.parameter().map(str::to_owned),
                message: e.public_message(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        (self.status(), Json(ErrorBody::from(&self))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store's refusals are the client's 400, naming what to change.
    #[test]
    fn store_refusals_are_400_naming_the_parameter() {
        let order = ApiError::from(Error::Audit(AuditError::CommitTimeNotTracked {
            table: "events",
            used: "an order by commit time",
        }));
        assert_eq!(
            (order.status().as_u16(), order.parameter()),
            (400, Some("order"))
        );
        let since = ApiError::from(Error::Audit(AuditError::CommitTimeNotTracked {
            table: "events",
            used: "committed_since",
        }));
        assert_eq!(since.parameter(), Some("committed_since"));
        assert!(since.public_message().contains("track_commit_time"));
        let missing = ApiError::from(Error::Audit(AuditError::EntryNotFound {
            id: events_core::EventId::Integer(7),
        }));
        assert_eq!(missing.status().as_u16(), 404);
        let fault = ApiError::from(Error::MalformedRow {
            column: "data".into(),
            message: "secret detail".into(),
        });
        assert_eq!(fault.status().as_u16(), 500);
        assert!(!fault.public_message().contains("secret detail"));
    }
}
