//! `Cache-Control: private, no-store` on every response that sets the auth cookie: a shared
//! cache (a CDN, a corporate proxy) that stored such a response would hand one visitor's
//! identity to every visitor it serves the response to.

use http::header::{CACHE_CONTROL, SET_COOKIE};
use http::{HeaderMap, HeaderValue};
use pin_project::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// What the layer puts on a response that sets the auth cookie.
const PRIVATE: HeaderValue = HeaderValue::from_static("private, no-store");

/// Marks `headers` uncacheable when they set the cookie `name`. A `Cache-Control` the app set
/// that already forbids storing (`no-store`) is kept; any other is replaced.
pub(crate) fn keep_private(headers: &mut HeaderMap, name: &str) {
    let sets_auth_cookie = headers.get_all(SET_COOKIE).iter().any(|cookie| {
        let cookie = cookie.as_bytes();
        cookie.len() > name.len()
            && cookie.starts_with(name.as_bytes())
            && cookie[name.len()] == b'='
    });
    if !sets_auth_cookie {
        return;
    }
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

/// The layer's response future: when the response sets the auth cookie, it gains
/// `Cache-Control: private, no-store` (an app's own `no-store` is kept).
#[pin_project]
pub struct PrivateResponse<F> {
    #[pin]
    pub(crate) inner: F,
    pub(crate) cookie_name: Arc<str>,
}

impl<F, B, E> Future for PrivateResponse<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        keep_private(response.headers_mut(), this.cookie_name);
        Poll::Ready(Ok(response))
    }
}

impl<F> std::fmt::Debug for PrivateResponse<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateResponse").finish_non_exhaustive()
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

    fn cache_control(headers: &HeaderMap) -> Vec<&str> {
        headers
            .get_all(CACHE_CONTROL)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn only_responses_that_set_the_auth_cookie_are_marked() {
        let mut other = headers(&[("set-cookie", "auth_tokenx=1"), ("set-cookie", "a=1")]);
        keep_private(&mut other, "auth_token");
        assert!(cache_control(&other).is_empty());
        let mut ours = headers(&[
            ("set-cookie", "a=1"),
            ("set-cookie", "auth_token=t; Path=/"),
        ]);
        keep_private(&mut ours, "auth_token");
        assert_eq!(cache_control(&ours), ["private, no-store"]);
    }

    #[test]
    fn a_stricter_app_value_is_kept_and_a_weaker_one_replaced() {
        let mut strict = headers(&[
            ("set-cookie", "auth_token=t"),
            ("cache-control", "No-Store, max-age=0"),
        ]);
        keep_private(&mut strict, "auth_token");
        assert_eq!(cache_control(&strict), ["No-Store, max-age=0"]);
        let mut public = headers(&[
            ("set-cookie", "auth_token=t"),
            ("cache-control", "public, max-age=600"),
        ]);
        keep_private(&mut public, "auth_token");
        assert_eq!(cache_control(&public), ["private, no-store"]);
    }
}
