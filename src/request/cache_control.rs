//! `Cache-Control: private, no-store` on every response that sets the auth cookie: a shared
//! cache (a CDN, a corporate proxy) that stored such a response would hand one visitor's
//! identity to every visitor it serves the response to.

use http::header::{CACHE_CONTROL, SET_COOKIE};
use http::{HeaderMap, HeaderValue};

/// What the layer puts on a response that sets the auth cookie.
const PRIVATE: HeaderValue = HeaderValue::from_static("private, no-store");

/// Adds the auth cookie's `set_cookie` to `headers` and marks them uncacheable. A
/// `Cache-Control` the app set that already forbids storing (`no-store`) is kept; any other
/// is replaced.
pub(crate) fn set_private_cookie(headers: &mut HeaderMap, set_cookie: HeaderValue) {
    headers.append(SET_COOKIE, set_cookie);
    let strict = headers.get_all(CACHE_CONTROL).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .any(|directive| directive.trim().eq_ignore_ascii_case("no-store"))
        })
    });
    if !strict {
        headers.insert(CACHE_CONTROL, PRIVATE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn all(headers: &HeaderMap, name: http::HeaderName) -> Vec<&str> {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn the_cookie_joins_the_apps_cookies_and_marks_the_response_private() {
        let mut response = headers(&[("set-cookie", "a=1")]);
        set_private_cookie(
            &mut response,
            HeaderValue::from_static("auth_token=t; Path=/"),
        );
        assert_eq!(all(&response, SET_COOKIE), ["a=1", "auth_token=t; Path=/"]);
        assert_eq!(all(&response, CACHE_CONTROL), ["private, no-store"]);
    }

    #[test]
    fn a_stricter_app_value_is_kept_and_a_weaker_one_replaced() {
        let cookie = HeaderValue::from_static("auth_token=t");
        let mut strict = headers(&[("cache-control", "No-Store, max-age=0")]);
        set_private_cookie(&mut strict, cookie.clone());
        assert_eq!(all(&strict, CACHE_CONTROL), ["No-Store, max-age=0"]);
        let mut public = headers(&[("cache-control", "public, max-age=600")]);
        set_private_cookie(&mut public, cookie);
        assert_eq!(all(&public, CACHE_CONTROL), ["private, no-store"]);
    }
}
