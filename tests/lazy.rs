//! Lazy persistence: a minted guest costs no store write until its first write; then it is
//! stored under the same ids; revoking a lazy or stored guest makes its old token worthless.

mod support;

use axum::body::Body;
use http::{header, Request};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use support::client::Client;
use support::flaky_store::FlakyStore;
use tower::ServiceExt;
use tower_anonymous_auth::store::UserStore;
use tower_anonymous_auth::PeerAddr;

const COOKIE: &str = "__Host-auth_token";

/// The default configuration (lazy persistence is the default), with the test key.
fn lazy_app(store: Arc<FlakyStore>) -> axum::Router {
    let config = tower_anonymous_auth::AnonymousAuthConfig::builder()
        .key(support::apps::TEST_KID, support::apps::TEST_SECRET)
        .build()
        .unwrap();
    assert!(config.lazy_persistence(), "lazy by default");
    support::apps::app(store, config)
}

#[tokio::test]
async fn ten_thousand_cookieless_requests_cause_zero_store_writes() {
    let store = Arc::new(FlakyStore::default());
    let app = lazy_app(store.clone());
    let mut ids = std::collections::HashSet::new();
    for i in 0..10_000u32 {
        let mut request = Request::get("/me")
            .header(header::USER_AGENT, support::client::BROWSER)
            .body(Body::empty())
            .unwrap();
        // Every request from one IP: the mint rate limit must not write either.
        request.extensions_mut().insert(PeerAddr(
            ([203, 0, 113, 7], 40_000 + (i % 1000) as u16).into(),
        ));
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key(header::SET_COOKIE));
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let me: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(me["minted_now"], true);
        ids.insert(me["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 10_000, "every visitor is its own guest");
    assert_eq!(store.writes.load(Ordering::SeqCst), 0);
    assert_eq!(store.inner.user_count(), 0);
}

#[tokio::test]
async fn a_lazy_guest_is_stored_at_its_first_write_under_the_same_ids() {
    let store = Arc::new(FlakyStore::default());
    let client = Client::new(support::client::serve_axum(lazy_app(store.clone())).await);
    let lazy = client.get("/me").await.json();
    let lazy_token = lazy["token"].as_str().unwrap().to_owned();
    // Returning while lazy: reads only.
    let again = client.get("/me").await.json();
    assert_eq!(again["id"], lazy["id"]);
    assert_eq!(store.writes.load(Ordering::SeqCst), 0);

    let claim = client.post("/claim/cart:9", "").await;
    assert!(
        claim.set_cookie(COOKIE).is_some(),
        "a stored token is issued"
    );
    assert_eq!(claim.json()["resources"], serde_json::json!(["cart:9"]));
    let stored = client.get("/me").await.json();
    assert_eq!(stored["id"], lazy["id"]);
    assert_eq!(stored["session_id"], lazy["session_id"]);
    assert_ne!(stored["token"], lazy["token"]);
    assert_eq!(store.inner.user_count(), 1);
    let user = store
        .get_user(lazy["id"].as_str().unwrap(), 0)
        .await
        .unwrap()
        .unwrap();
    assert!(user.user.is_anonymous && user.expires_at.is_some());

    // The old lazy token still names the (now stored) session; after sign-out neither works.
    client.post("/sign-out", "").await;
    for token in [lazy_token, stored["token"].as_str().unwrap().to_owned()] {
        client.set_cookie(COOKIE, &token);
        assert_ne!(client.get("/me").await.json()["id"], lazy["id"]);
        client.clear_cookies();
    }
}

#[tokio::test]
async fn signing_out_a_lazy_guest_revokes_its_token() {
    let store = Arc::new(FlakyStore::default());
    let client = Client::new(support::client::serve_axum(lazy_app(store.clone())).await);
    let lazy = client.get("/me").await.json();
    let token = lazy["token"].as_str().unwrap().to_owned();
    client.post("/sign-out", "").await;
    client.set_cookie(COOKIE, &token);
    let replay = client.get("/me").await.json();
    assert_ne!(replay["id"], lazy["id"]);
}
