//! The cookie of a guest the layer mints goes on the response as a ready header, unless the
//! handler writes the auth cookie itself on that same request: either way the response carries
//! exactly one `Set-Cookie` for the auth cookie, and the browser ends up with the right one.

mod support;

use std::sync::Arc;
use support::apps::{app, builder, GUEST_COOKIE_ATTRIBUTES};
use support::client::{Client, TestResponse};
use tower_anonymous_auth::{AnonymousAuthConfig, MemoryStore};

const COOKIE: &str = "__Host-auth_token";

async fn start(config: AnonymousAuthConfig) -> (Client, MemoryStore) {
    let store = MemoryStore::new();
    let addr = support::client::serve_axum(app(Arc::new(store.clone()), config)).await;
    (Client::new(addr), store)
}

/// The response's `Set-Cookie` headers for the auth cookie.
fn auth_cookies(response: &TestResponse) -> Vec<String> {
    response
        .set_cookies()
        .into_iter()
        .filter(|cookie| cookie.starts_with(&format!("{COOKIE}=")))
        .collect()
}

#[tokio::test]
async fn a_minted_guest_gets_one_cookie_with_its_token() {
    for lazy in [false, true] {
        let (client, _store) = start(builder().lazy_persistence(lazy).build().unwrap()).await;
        let response = client.get("/me").await;
        let me = response.json();
        let cookies = auth_cookies(&response);
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        let token = me["token"].as_str().unwrap();
        assert!(
            cookies[0].starts_with(&format!("{COOKIE}={token}; ")),
            "{cookies:?}"
        );
        for attribute in GUEST_COOKIE_ATTRIBUTES {
            assert!(cookies[0].contains(attribute), "{attribute} in {cookies:?}");
        }
        assert_eq!(client.get("/me").await.json()["id"], me["id"]);
    }
}

#[tokio::test]
async fn an_invalid_cookie_is_replaced_by_the_minted_guests() {
    let (client, _store) = start(builder().build().unwrap()).await;
    client.set_cookie(COOKIE, "not-a-token");
    let response = client.get("/me").await;
    let me = response.json();
    assert_eq!(me["minted_now"], true);
    assert_eq!(auth_cookies(&response).len(), 1);
    assert_eq!(client.cookie(COOKIE).as_deref(), me["token"].as_str());
}

#[tokio::test]
async fn signing_out_on_the_minting_request_leaves_only_the_removal() {
    for lazy in [false, true] {
        let (client, store) = start(builder().lazy_persistence(lazy).build().unwrap()).await;
        // The layer mints a guest for this cookie-less request, then the handler signs out.
        let response = client.post("/sign-out", "").await;
        assert_eq!(response.status, 200);
        let cookies = auth_cookies(&response);
        assert_eq!(cookies.len(), 1, "lazy {lazy}: {cookies:?}");
        assert!(cookies[0].contains("Max-Age=0"), "{cookies:?}");
        assert_eq!(client.cookie(COOKIE), None);
        assert_eq!(store.session_count(), 0);
    }
}

#[tokio::test]
async fn a_lazy_guest_stored_on_its_minting_request_gets_its_stored_token() {
    let (client, store) = start(builder().lazy_persistence(true).build().unwrap()).await;
    // Minted lazily by the layer, stored by the handler's first write, in one request.
    let response = client.post("/claim/cart-1", "").await;
    assert_eq!(response.status, 200);
    let cookies = auth_cookies(&response);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert_eq!(store.user_count(), 1);
    let me = client.get("/me").await.json();
    assert_eq!(
        me["persisted"], true,
        "the cookie holds the stored guest's token"
    );
    assert_eq!(me["minted_now"], false);
}
