//! How a console page is answered: the rendered template with its security
//! headers, and errors rendered as pages with the API's statuses.
//!
//! Everything a page shows from the log is escaped by askama; the
//! Content-Security-Policy is the second line of defence. Each response gets a
//! fresh random nonce, carried by the page's one inline stylesheet and, on the
//! feed, its one inline script: markup that slipped past escaping could load
//! nothing, run no script and send no form elsewhere. `connect-src 'self'`
//! lets the feed's script open its event stream.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::mount::Mount;
use crate::error::ApiError;

/// A per-response random value that allows the page's own inline style and
/// script (and nothing else) under its Content-Security-Policy.
#[derive(Debug, Clone)]
pub(crate) struct Nonce(String);

impl Nonce {
    /// A fresh nonce: 122 random bits, hex.
    pub(crate) fn new() -> Nonce {
        Nonce(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Its text, for the `nonce` attributes.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The Content-Security-Policy of a page carrying this nonce.
    fn policy(&self) -> String {
        let n = &self.0;
        format!(
            "default-src 'none'; script-src 'nonce-{n}'; style-src 'nonce-{n}'; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; \
             frame-ancestors 'none'"
        )
    }
}

/// A rendered page with `status` and the console's headers; a 500 page if
/// the template fails to render.
pub(crate) fn html(status: StatusCode, nonce: &Nonce, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => with_headers(status, nonce, body),
        Err(e) => {
            tracing::error!(error = %e, "events-http: rendering a console page failed");
            with_headers(
                StatusCode::INTERNAL_SERVER_ERROR,
                nonce,
                "<!doctype html><title>Error</title><p>The page could not be rendered; the error was logged.</p>"
                    .to_owned(),
            )
        }
    }
}

fn with_headers(status: StatusCode, nonce: &Nonce, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(policy) = HeaderValue::from_str(&nonce.policy()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    // Audit data is not for shared caches, nor for the back-forward cache of
    // a shared machine.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// An error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nonce: &'a str,
    home: String,
    title: String,
    heading: &'static str,
    status: u16,
    parameter: Option<String>,
    message: String,
}

/// `error` as a page: the API's status (400 naming the parameter, 401, 403,
/// 404, 500 without detail), with a way back to the feed. Server faults are
/// logged here.
pub(crate) fn error(mount: &Mount, error: ApiError) -> Response {
    error.log();
    let status = error.status();
    let nonce = Nonce::new();
    let heading = match status {
        StatusCode::BAD_REQUEST => "Bad request",
        StatusCode::UNAUTHORIZED => "Sign in required",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        _ => "Something went wrong",
    };
    html(
        status,
        &nonce,
        &ErrorPage {
            nonce: nonce.as_str(),
            home: mount.feed(),
            title: format!("{heading} · Activity"),
            heading,
            status: status.as_u16(),
            parameter: error.parameter().map(str::to_owned),
            message: error.public_message(),
        },
    )
}
