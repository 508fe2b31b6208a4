//! Where the console is mounted, and the URLs of its pages built from that.
//!
//! The router is meant to be nested anywhere (`Router::nest("/admin/activity",
//! ..)`), and axum 0.8 matches a nested root only without its trailing slash
//! (`/admin/activity`, not `/admin/activity/`): from that page a relative link
//! such as `entries/42` would leave the mount (`/admin/entries/42`). So every
//! link, form action and stream URL is an absolute path built from the mount
//! prefix, which [`Mount`] reads off the request: the path the client asked
//! for ([`OriginalUri`]) minus the path the console's router saw. That works
//! under any number of nestings and under path parameters, which a pattern
//! such as `NestedPath` would leave unfilled.

use std::convert::Infallible;
use std::fmt::Write as _;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use events_core::{EventId, Key};

/// The console's mount prefix (`""` at the root of an app, `/admin/activity`
/// when nested there), and the URLs of its pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    prefix: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Mount {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let inner = parts.uri.path();
        let outer = parts
            .extensions
            .get::<OriginalUri>()
            .map_or(inner, |original| original.0.path());
        Ok(Mount::from_paths(outer, inner))
    }
}

impl Mount {
    /// The prefix of `outer` (the path the client asked for) that is not
    /// `inner` (the path the console's router matched).
    pub(crate) fn from_paths(outer: &str, inner: &str) -> Mount {
        let prefix = if inner == "/" {
            outer
        } else {
            // A middleware that rewrote the path: fall back to the app's root.
            outer.strip_suffix(inner).unwrap_or("")
        };
        // Always one leading slash, never `//host`, which a browser would read
        // as another site; no trailing slash.
        let trimmed = prefix.trim_matches('/');
        Mount {
            prefix: if trimmed.is_empty() {
                String::new()
            } else {
                format!("/{trimmed}")
            },
        }
    }

    /// The feed: the console's root.
    pub(crate) fn feed(&self) -> String {
        if self.prefix.is_empty() {
            "/".to_owned()
        } else {
            self.prefix.clone()
        }
    }

    /// The feed with an encoded query string (`""`: none).
    pub(crate) fn feed_query(&self, query: &str) -> String {
        if query.is_empty() {
            self.feed()
        } else {
            format!("{}?{query}", self.feed())
        }
    }

    /// The feed filtered by `pairs` alone.
    pub(crate) fn feed_filtered(&self, pairs: &[(&str, &str)]) -> String {
        self.feed_query(&encode_query(pairs.iter().copied()))
    }

    /// One entry's page.
    pub(crate) fn entry(&self, id: &EventId) -> String {
        format!("{}/entries/{}", self.prefix, segment(&id.to_string()))
    }

    /// A record's history.
    pub(crate) fn record(&self, resource: &str, record_id: &Key) -> String {
        format!(
            "{}/records/{}/{}",
            self.prefix,
            segment(resource),
            segment(&record_id.to_string())
        )
    }

    /// A record's history with an encoded query string.
    pub(crate) fn record_query(&self, resource: &str, record_id: &Key, query: &str) -> String {
        let path = self.record(resource, record_id);
        if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        }
    }

    /// The live stream of new entries matching an encoded filter query.
    pub(crate) fn stream(&self, query: &str) -> String {
        if query.is_empty() {
            format!("{}/stream", self.prefix)
        } else {
            format!("{}/stream?{query}", self.prefix)
        }
    }
}

/// `name=value&..`, form-encoded.
pub(crate) fn encode_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        out.append_pair(name, value);
    }
    out.finish()
}

/// One path segment, percent-encoded: everything but RFC 3986's unreserved
/// characters, so a `/` or `?` in a record id stays inside its segment.
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_the_outer_path_minus_the_inner_one() {
        let at = |outer, inner| Mount::from_paths(outer, inner).feed();
        assert_eq!(at("/", "/"), "/");
        assert_eq!(at("/admin/activity", "/"), "/admin/activity");
        assert_eq!(
            at("/admin/activity/entries/7", "/entries/7"),
            "/admin/activity"
        );
        assert_eq!(at("/entries/7", "/entries/7"), "/");
        assert_eq!(at("//evil.example/x", "/x"), "/evil.example");
        assert_eq!(at("/rewritten", "/entries/7"), "/");
    }

    #[test]
    fn segments_keep_slashes_and_markup_inside() {
        assert_eq!(segment("a/b?c d"), "a%2Fb%3Fc%20d");
        assert_eq!(segment("<x>\"'"), "%3Cx%3E%22%27");
        assert_eq!(segment("projects.project"), "projects.project");
        let mount = Mount::from_paths("/admin", "/");
        assert_eq!(
            mount.record("User", &Key::String("a/b".into())),
            "/admin/records/User/a%2Fb"
        );
        assert_eq!(mount.stream(""), "/admin/stream");
        assert_eq!(
            mount.feed_filtered(&[("action", "a&b")]),
            "/admin?action=a%26b"
        );
    }
}
