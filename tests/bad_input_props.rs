//! Property tests: whatever bytes arrive in the Cookie and Authorization headers, the layer
//! never panics and never answers 5xx; bad credentials count as none (a new guest is minted).

mod support;

use axum::body::Body;
use http::{header, HeaderValue, Request};
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;
use tower_anonymous_auth::MemoryStore;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Runtime::new().unwrap())
}

fn router() -> &'static axum::Router {
    static ROUTER: OnceLock<axum::Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        support::apps::app(
            Arc::new(MemoryStore::new()),
            support::apps::builder().build().unwrap(),
        )
    })
}

/// Sends `GET /optional` with the given raw header values; returns (status, minted_now).
fn send(cookie: Option<&[u8]>, authorization: Option<&[u8]>) -> (u16, serde_json::Value) {
    let mut request = Request::get("/optional")
        .header(header::USER_AGENT, support::client::BROWSER)
        .body(Body::empty())
        .unwrap();
    if let Some(Ok(value)) = cookie.map(HeaderValue::from_bytes) {
        request.headers_mut().insert(header::COOKIE, value);
    }
    if let Some(Ok(value)) = authorization.map(HeaderValue::from_bytes) {
        request.headers_mut().insert(header::AUTHORIZATION, value);
    }
    runtime().block_on(async {
        let response = router().clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, body)
    })
}

fn token_like() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        "[A-Za-z0-9_=.-]{0,400}".prop_map(String::into_bytes),
        "eyJ[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,60}"
            .prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn random_cookies_never_fail(value in token_like(), extra in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut cookie = b"__Host-auth_token=".to_vec();
        cookie.extend_from_slice(&value);
        cookie.extend_from_slice(b"; ");
        cookie.extend_from_slice(&extra);
        let (status, body) = send(Some(&cookie), None);
        prop_assert_eq!(status, 200);
        prop_assert_eq!(&body["minted_now"], &serde_json::Value::Bool(true));
    }

    #[test]
    fn random_authorization_headers_never_fail(value in token_like(), scheme in "(Bearer|bearer|Basic|)[ ]{0,2}") {
        let mut header = scheme.into_bytes();
        header.extend_from_slice(&value);
        let (status, body) = send(None, Some(&header));
        prop_assert_eq!(status, 200);
        // A bearer-shaped header is an API client's: no guest is minted for it (no cookie).
        // Any other header counts as no credential: a guest is minted.
        let sent = HeaderValue::from_bytes(&header).ok();
        let bearer_shaped = sent.as_ref().and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .is_some_and(|(scheme, token)| {
                let token = token.trim();
                scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= 4096
            });
        if bearer_shaped {
            prop_assert_eq!(&body, &serde_json::Value::Null);
        } else {
            prop_assert_eq!(&body["minted_now"], &serde_json::Value::Bool(true));
        }
    }
}

#[test]
fn oversized_headers_are_ignored() {
    let mut cookie = b"__Host-auth_token=".to_vec();
    cookie.extend(std::iter::repeat_n(b'a', 64 * 1024));
    let (status, body) = send(Some(&cookie), Some(&cookie));
    assert_eq!(status, 200);
    assert_eq!(body["minted_now"], true);
}
