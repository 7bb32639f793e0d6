//! The auth cookie against what other parties can do to it: an invalid bearer token next to
//! a good cookie, duplicate cookies tossed in by a sibling subdomain, and shared caches.
//! Review points 8, 10 and 11 of the security issue.

mod support;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method};
use std::sync::Arc;
use support::apps::{app, builder};
use support::client::{Client, TestResponse};
use tower_anonymous_auth::{AnonymousAuthConfig, MemoryStore};

/// The cookie's name under the default settings (`Secure`, so `__Host-`).
const COOKIE: &str = "__Host-auth_token";

async fn start(config: AnonymousAuthConfig) -> (Client, MemoryStore) {
    let store = MemoryStore::new();
    let addr = support::client::serve_axum(app(Arc::new(store.clone()), config)).await;
    (Client::new(addr), store)
}

fn with_header(name: header::HeaderName, value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(name, HeaderValue::from_str(value).unwrap());
    headers
}

fn auth_cookie(response: &TestResponse) -> Option<String> {
    response.set_cookie(COOKIE)
}

#[tokio::test]
async fn an_invalid_bearer_falls_back_to_a_valid_cookie() {
    let (client, store) = start(builder().build().unwrap()).await;
    let me = client.get("/me").await.json();
    let garbage = with_header(header::AUTHORIZATION, "Bearer not.a.token");
    let response = client.get_with("/me", garbage).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["id"], me["id"], "the cookie's user");
    assert_eq!(
        auth_cookie(&response),
        None,
        "the good cookie is not replaced"
    );
    assert_eq!(store.user_count(), 1, "nothing minted");
}

#[tokio::test]
async fn a_bearer_request_never_gets_a_cookie() {
    let (client, store) = start(builder().build().unwrap()).await;
    let expired = with_header(header::AUTHORIZATION, "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x");
    let response = client.get_with("/optional", expired).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), serde_json::Value::Null, "no auth");
    assert!(
        response.set_cookies().is_empty(),
        "{:?}",
        response.set_cookies()
    );
    assert_eq!(store.user_count(), 0, "no guest minted for an API client");
    let response = client
        .get_with("/me", with_header(header::AUTHORIZATION, "Bearer x"))
        .await;
    assert_eq!(response.status, 401);
}

#[tokio::test]
async fn secure_cookies_get_the_host_prefix_by_default() {
    let (client, _store) = start(builder().build().unwrap()).await;
    let response = client.get("/me").await;
    let cookie = auth_cookie(&response).expect("a __Host- cookie");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");

    let (client, _store) = start(builder().secure(false).build().unwrap()).await;
    let response = client.get("/me").await;
    assert!(
        response.set_cookie("auth_token").is_some(),
        "plain http keeps the bare name"
    );
}

#[tokio::test]
async fn a_valid_cookie_wins_over_tossed_duplicates() {
    let (client, store) = start(builder().build().unwrap()).await;
    let me = client.get("/me").await.json();
    let token = me["token"].as_str().unwrap();
    for tossed in [
        format!("{COOKIE}={token}; {COOKIE}=tossed-by-a-sibling"),
        format!("{COOKIE}=tossed-by-a-sibling; {COOKIE}={token}"),
    ] {
        let headers = with_header(header::COOKIE, &tossed);
        let response = client.get_with("/me", headers).await;
        assert_eq!(response.json()["id"], me["id"], "{tossed}");
        assert_eq!(auth_cookie(&response), None, "{tossed}");
    }
    assert_eq!(store.user_count(), 1);
}

#[tokio::test]
async fn responses_that_set_the_auth_cookie_are_private() {
    let (client, _store) = start(builder().build().unwrap()).await;
    let minted = client.get("/me").await;
    assert!(auth_cookie(&minted).is_some());
    assert_eq!(minted.headers[header::CACHE_CONTROL], "private, no-store");
    let returning = client.get("/me").await;
    assert!(returning.headers.get(header::CACHE_CONTROL).is_none());
    let signed_out = client
        .send(Method::POST, "/sign-out", HeaderMap::new(), Bytes::new())
        .await;
    assert!(auth_cookie(&signed_out).is_some(), "the removal");
    assert_eq!(
        signed_out.headers[header::CACHE_CONTROL],
        "private, no-store"
    );
}

#[tokio::test]
async fn an_apps_cache_control_is_kept_only_when_stricter() {
    use axum::response::IntoResponse;
    use axum::routing::get;
    let store = Arc::new(MemoryStore::new());
    let router = axum::Router::new()
        .route(
            "/public",
            get(|| async {
                ([(header::CACHE_CONTROL, "public, max-age=600")], "hi").into_response()
            }),
        )
        .route(
            "/strict",
            get(|| async {
                ([(header::CACHE_CONTROL, "no-store, max-age=0")], "hi").into_response()
            }),
        )
        .layer(tower_anonymous_auth::AnonymousAuthLayer::from_arc(
            store,
            builder().build().unwrap(),
        ));
    let client = Client::new(support::client::serve_axum(router).await);
    let public = client.fresh().get("/public").await;
    assert!(auth_cookie(&public).is_some());
    assert_eq!(public.headers[header::CACHE_CONTROL], "private, no-store");
    let strict = client.fresh().get("/strict").await;
    assert_eq!(strict.headers[header::CACHE_CONTROL], "no-store, max-age=0");
}
