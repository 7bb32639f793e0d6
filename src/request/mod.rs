//! Reading a request and marking a response: the client address, where the request came
//! from (Fetch Metadata), whether it came over plain http, whether it may mint a guest, the
//! credential it carries, and the `Cache-Control` of responses that set the cookie.

pub(crate) mod cache_control;
pub(crate) mod client_ip;
pub(crate) mod credential;
pub(crate) mod fetch_metadata;
pub(crate) mod plain_http;
pub(crate) mod skip;

use http::{header, HeaderMap, HeaderValue, Uri};
use std::net::IpAddr;

/// Who made a request: what the handle's actions rate-limit by and tell `on_link_account`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller {
    /// The client address the layer resolved (peer, or forwarded by a trusted proxy).
    pub(crate) client_ip: Option<IpAddr>,
    /// The request's `User-Agent` (a shared copy of the header, no allocation).
    pub(crate) user_agent: Option<HeaderValue>,
}

impl Caller {
    /// The caller of a request with `headers` from `client_ip`. The user agent is read only
    /// when `with_user_agent` (an `on_link_account` hook is there to be told it): looking it
    /// up costs every request a few hundred instructions.
    pub(crate) fn of(
        headers: &HeaderMap,
        client_ip: Option<IpAddr>,
        with_user_agent: bool,
    ) -> Self {
        Self {
            client_ip,
            user_agent: with_user_agent
                .then(|| headers.get(header::USER_AGENT).cloned())
                .flatten(),
        }
    }
}

/// A header's value, when it is visible ASCII.
pub(crate) fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The host (with its port, if any) the request was sent to: `Host`, or the URI's authority
/// in HTTP/2.
pub(crate) fn request_host<'r>(uri: &'r Uri, headers: &'r HeaderMap) -> Option<&'r str> {
    header_str(headers, header::HOST.as_str())
        .or_else(|| uri.authority().map(|authority| authority.as_str()))
}
