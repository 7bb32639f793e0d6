//! Where a request comes from, as the browser tells it: Fetch Metadata (`Sec-Fetch-Site`,
//! `Sec-Fetch-Mode`), or, from browsers without it, the `Origin` of an unsafe request.
//!
//! Two decisions rest on it. **Minting**: a request another site made (an auto-submitted
//! form, an `<img>`) does not carry the `SameSite=Lax` cookie, so a guest minted for it would
//! replace the visitor's cookie (signing them out, losing their cart) or be thrown away by the
//! browser (a stored guest nobody keeps). Only a top-level navigation with a safe method (a
//! visitor following a link here) mints. **Privilege changes** (sign-in, register, link):
//! refused unless the request comes from this origin, which stops login CSRF, including
//! from a sibling subdomain that is same-site.

use crate::request::{header_str, request_host};
use http::{header, HeaderMap, Method, Uri};

/// What the layer and the handle need to know about a request's origin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RequestSite {
    /// Another site (or, unless configured, a sibling subdomain) made this request in a way
    /// whose cookie the browser keeps from us: no guest is minted for it.
    pub(crate) no_mint: bool,
    /// The request does not come from this origin: privilege changes are refused.
    pub(crate) foreign: bool,
}

impl RequestSite {
    /// Reads the request. `mint_on_same_site`: a sibling subdomain's requests may mint.
    pub(crate) fn of(
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        mint_on_same_site: bool,
    ) -> Self {
        let unsafe_method = !matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        );
        match header_str(headers, "sec-fetch-site") {
            Some(site) => {
                let own =
                    site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none");
                let sibling = site.eq_ignore_ascii_case("same-site");
                // Unknown values count as cross-site.
                let other_site = !(own || sibling && mint_on_same_site);
                let navigation = header_str(headers, "sec-fetch-mode")
                    .is_some_and(|mode| mode.eq_ignore_ascii_case("navigate"));
                Self {
                    no_mint: other_site && (unsafe_method || !navigation),
                    foreign: !own,
                }
            }
            None => {
                let foreign = header_str(headers, header::ORIGIN.as_str())
                    .is_some_and(|origin| !origin_is_host(origin, uri, headers));
                Self {
                    no_mint: unsafe_method && foreign,
                    foreign,
                }
            }
        }
    }
}

/// Whether `Origin` (`scheme://host[:port]`) names the host the request was sent to (`Host`,
/// or the URI's authority in HTTP/2). `null` (a sandboxed or privacy-sensitive context) never
/// does. The scheme is not compared: behind a TLS-terminating proxy the app sees plain http.
fn origin_is_host(origin: &str, uri: &Uri, headers: &HeaderMap) -> bool {
    let Some((_scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    request_host(uri, headers).is_some_and(|host| host.eq_ignore_ascii_case(authority))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(method: Method, pairs: &[(&str, &str)]) -> RequestSite {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        RequestSite::of(&method, &Uri::from_static("/"), &headers, false)
    }

    #[test]
    fn only_own_requests_and_cross_site_link_follows_mint() {
        let own = site(
            Method::POST,
            &[
                ("sec-fetch-site", "same-origin"),
                ("sec-fetch-mode", "navigate"),
            ],
        );
        assert_eq!(own, RequestSite::default());
        let link = site(
            Method::GET,
            &[
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", "navigate"),
            ],
        );
        assert!(!link.no_mint && link.foreign);
        for (method, site_value, mode) in [
            (Method::POST, "cross-site", "navigate"),
            (Method::GET, "cross-site", "no-cors"),
            (Method::GET, "same-site", "no-cors"),
            (Method::POST, "same-site", "navigate"),
            (Method::GET, "something-new", "cors"),
        ] {
            let got = site(
                method.clone(),
                &[("sec-fetch-site", site_value), ("sec-fetch-mode", mode)],
            );
            assert!(got.no_mint && got.foreign, "{method} {site_value} {mode}");
        }
        let user_typed = site(
            Method::GET,
            &[("sec-fetch-site", "none"), ("sec-fetch-mode", "navigate")],
        );
        assert_eq!(user_typed, RequestSite::default());
    }

    #[test]
    fn without_fetch_metadata_the_origin_of_unsafe_requests_decides() {
        let host = ("host", "shop.example:8080");
        let same = site(
            Method::POST,
            &[host, ("origin", "https://shop.example:8080")],
        );
        assert_eq!(same, RequestSite::default());
        let evil = site(Method::POST, &[host, ("origin", "https://evil.example")]);
        assert!(evil.no_mint && evil.foreign);
        let null = site(Method::POST, &[host, ("origin", "null")]);
        assert!(null.no_mint && null.foreign);
        let evil_get = site(Method::GET, &[host, ("origin", "https://evil.example")]);
        assert!(!evil_get.no_mint && evil_get.foreign);
        let curl = site(Method::POST, &[host]);
        assert_eq!(
            curl,
            RequestSite::default(),
            "no header: a non-browser client"
        );
    }
}
