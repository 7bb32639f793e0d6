//! Whether a request reached the site over plain http, for a host on which browsers drop a
//! `Secure` cookie. Browsers keep `Secure` cookies over plain http only on localhost (a
//! secure context), so anywhere else every response's cookie is thrown away and each request
//! becomes a new guest.

use crate::request::{header_str, request_host};
use http::{header, HeaderMap, Uri};
use std::net::IpAddr;

/// How a request shows that it came over plain http.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlainHttpSign {
    /// A proxy in front of the app says so (`X-Forwarded-Proto: http`).
    ForwardedProto,
    /// The request line or HTTP/2 `:scheme` names `http`.
    Scheme,
    /// The page that sent it is this host's, loaded over http (`Origin` or `Referer`).
    Page,
}

impl PlainHttpSign {
    /// The evidence, for a log line.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::ForwardedProto => "X-Forwarded-Proto is http",
            Self::Scheme => "the request's scheme is http",
            Self::Page => "its Origin or Referer is this host over http",
        }
    }
}

/// The host a request was sent to and the sign that it came over plain http, when that host
/// is not localhost. `None` when nothing shows plain http: a typed-in address or a bookmark
/// carries neither `Origin` nor `Referer`, so some plain-http requests are not recognised
/// (the repeated-mint check in the engine covers those).
pub(crate) fn plain_http_host<'r>(
    uri: &'r Uri,
    headers: &'r HeaderMap,
) -> Option<(&'r str, PlainHttpSign)> {
    let host = request_host(uri, headers)?;
    let forwarded = header_str(headers, "x-forwarded-proto")
        .and_then(|protos| protos.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("http"));
    let sign = if forwarded {
        PlainHttpSign::ForwardedProto
    } else if uri.scheme() == Some(&http::uri::Scheme::HTTP) {
        PlainHttpSign::Scheme
    } else if [header::ORIGIN, header::REFERER].iter().any(|name| {
        header_str(headers, name.as_str())
            .and_then(plain_http_authority)
            .is_some_and(|page| page.eq_ignore_ascii_case(host))
    }) {
        // Only this host's own pages count: a plain-http page elsewhere linking here says
        // nothing about how this site is served.
        PlainHttpSign::Page
    } else {
        return None;
    };
    (!is_localhost(host)).then_some((host, sign))
}

/// The `host[:port]` of an `http://` URL (an `Origin` or a `Referer`).
fn plain_http_authority(url: &str) -> Option<&str> {
    let scheme = url.get(..7)?;
    if !scheme.eq_ignore_ascii_case("http://") {
        return None;
    }
    let rest = &url[7..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Whether `authority` (`host[:port]`) is localhost, where browsers keep `Secure` cookies
/// over plain http: `localhost`, a name under `.localhost`, or a loopback address.
fn is_localhost(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        // `[::1]:8080`
        Some(bracketed) => bracketed.split(']').next().unwrap_or(bracketed),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _port)| host),
    };
    let host = host.trim_end_matches('.');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    let lower = host.to_ascii_lowercase();
    lower == "localhost" || lower.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(uri: &str, pairs: &[(&str, &str)]) -> Option<PlainHttpSign> {
        let uri: Uri = uri.parse().unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        plain_http_host(&uri, &headers).map(|(_, sign)| sign)
    }

    #[test]
    fn plain_http_to_a_named_host_is_recognised() {
        let host = ("host", "shop.lan:3000");
        assert_eq!(
            check("/", &[host, ("origin", "http://shop.lan:3000")]),
            Some(PlainHttpSign::Page)
        );
        assert_eq!(
            check(
                "/cart",
                &[host, ("referer", "HTTP://Shop.LAN:3000/items?x=1")]
            ),
            Some(PlainHttpSign::Page)
        );
        assert_eq!(
            check("/", &[host, ("x-forwarded-proto", "http")]),
            Some(PlainHttpSign::ForwardedProto)
        );
        assert_eq!(
            check("http://shop.lan:3000/", &[]),
            Some(PlainHttpSign::Scheme)
        );
    }

    #[test]
    fn https_localhost_and_other_sites_pages_are_not() {
        let host = ("host", "shop.example");
        for pairs in [
            vec![host, ("origin", "https://shop.example")],
            vec![host, ("referer", "http://blog.example/post")],
            vec![host, ("origin", "null")],
            vec![host, ("x-forwarded-proto", "https, http")],
            vec![host],
            vec![
                ("host", "localhost:3000"),
                ("origin", "http://localhost:3000"),
            ],
            vec![
                ("host", "app.localhost"),
                ("origin", "http://app.localhost"),
            ],
            vec![("host", "127.0.0.1:8080"), ("x-forwarded-proto", "http")],
            vec![("host", "[::1]:8080"), ("referer", "http://[::1]:8080/")],
        ] {
            assert_eq!(check("/", &pairs), None, "{pairs:?}");
        }
        assert_eq!(check("https://shop.example/", &[]), None);
        assert_eq!(check("/", &[("origin", "http://shop.example")]), None);
    }

    proptest! {
        /// Whatever a client sends in these headers, the check answers without panicking.
        #[test]
        fn any_headers_are_read_without_panicking(
            host in "[ -~]{0,40}",
            origin in "[ -~]{0,60}",
            referer in "(http://)?[ -~]{0,60}",
            proto in "[ -~]{0,12}",
        ) {
            let mut headers = HeaderMap::new();
            for (name, value) in [("host", &host), ("origin", &origin), ("referer", &referer), ("x-forwarded-proto", &proto)] {
                if let Ok(value) = value.parse() {
                    headers.insert(name, value);
                }
            }
            let _ = plain_http_host(&Uri::from_static("/"), &headers);
        }
    }
}
