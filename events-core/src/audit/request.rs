//! The request context of an entry or action ([`RequestContext`]): client
//! address, user agent and request id, and how they are cleaned before they are
//! stored (never refused).

use std::net::IpAddr;

use super::check;

/// Request context of an entry or action: client address, user agent, request id.
///
/// ```
/// use events_core::audit::RequestContext;
/// let request = RequestContext::new()
///     .ip_address("192.168.1.1".parse().unwrap())
///     .user_agent("Mozilla/5.0")
///     .request_id("req-7f3a");
/// assert_eq!(request.request_id.as_deref(), Some("req-7f3a"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestContext {
    /// Client IP address.
    pub ip_address: Option<IpAddr>,
    /// Client user agent (cut to [`MAX_USER_AGENT_LEN`](super::MAX_USER_AGENT_LEN)
    /// bytes when stored).
    pub user_agent: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
}

impl RequestContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the client IP address.
    pub fn ip_address(mut self, ip: IpAddr) -> Self {
        self.ip_address = Some(ip);
        self
    }

    /// Sets the user agent.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Sets the request id.
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// The context as it is stored, as metadata keys and values: `ip_address`,
    /// `user_agent` and `request_id`, those that are set.
    ///
    /// One rule for actions ([`ActionCall::request`](crate::ActionCall::request),
    /// [`BulkCall::request`](crate::BulkCall::request)) and manual entries, so a
    /// request context never fails a write: NUL characters (which PostgreSQL
    /// text cannot hold) are removed, then the user agent is cut to
    /// [`MAX_USER_AGENT_LEN`](super::MAX_USER_AGENT_LEN) bytes and the request id
    /// to [`MAX_NAME_LEN`](super::MAX_NAME_LEN) (the request id index's limit),
    /// each at a character boundary.
    ///
    /// ```
    /// use events_core::audit::{RequestContext, MAX_NAME_LEN};
    /// let request = RequestContext::new().user_agent("curl\0/8").request_id("é".repeat(200));
    /// let stored = request.stored_fields();
    /// assert_eq!(stored[0], ("user_agent", "curl/8".to_owned()));
    /// assert_eq!(stored[1].1, "é".repeat(MAX_NAME_LEN / 2)); // 254 bytes: 255 would split a character
    /// ```
    pub fn stored_fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = Vec::with_capacity(3);
        if let Some(ip) = self.ip_address {
            fields.push(("ip_address", ip.to_string()));
        }
        if let Some(ua) = &self.user_agent {
            fields.push(("user_agent", clean_text(ua, check::MAX_USER_AGENT_LEN)));
        }
        if let Some(id) = &self.request_id {
            fields.push(("request_id", clean_text(id, check::MAX_NAME_LEN)));
        }
        fields
    }
}

/// `text` without NUL characters, cut to at most `max` bytes at a character
/// boundary.
fn clean_text(text: &str, max: usize) -> String {
    let mut clean = text.replace('\0', "");
    let mut end = clean.len().min(max);
    while !clean.is_char_boundary(end) {
        end -= 1;
    }
    clean.truncate(end);
    clean
}
