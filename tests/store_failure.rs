//! A store that fails: fail-closed answers 503 (JSON, a page for browsers, or the app's own)
//! without calling the app, fail-open calls the app without auth; both recover when the store
//! does. Nothing panics, nothing 500s.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use support::client::Client;
use support::flaky_store::FlakyStore;
use tower_anonymous_auth::{AuthError, StoreFailureMode};

fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| {
            (
                http::HeaderName::from_static(name),
                http::HeaderValue::from_static(value),
            )
        })
        .collect()
}

async fn start(mode: StoreFailureMode) -> (Client, Arc<FlakyStore>) {
    let store = Arc::new(FlakyStore::default());
    let config = support::apps::builder()
        .store_failure(mode)
        .build()
        .unwrap();
    let addr = support::client::serve_axum(support::apps::app(store.clone(), config)).await;
    (Client::new(addr), store)
}

#[tokio::test]
async fn fail_closed_answers_503_and_recovers() {
    let (client, store) = start(StoreFailureMode::FailClosed).await;
    let first = client.get("/me").await.json();

    store.down.store(true, Ordering::SeqCst);
    for path in ["/me", "/optional"] {
        let response = client.get(path).await;
        assert_eq!(response.status, 503, "{path}");
        assert_eq!(response.headers["retry-after"], "1");
        assert_eq!(response.headers["x-auth-error"], "STORE_UNAVAILABLE");
        assert!(response.set_cookies().is_empty());
        // The documented body, saying what to do and nothing about the backend.
        assert_eq!(response.json()["code"], "STORE_UNAVAILABLE", "{path}");
        let message = response.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains("retry"), "{message}");
    }
    // A browser gets a page a person can read.
    let accept = [("accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    let page = client.get_with("/optional", headers(&accept)).await;
    assert_eq!(page.status, 503);
    assert!(page.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.body.contains("reload this page"), "{}", page.body);
    // A new visitor cannot be minted either.
    let newcomer = Client::new(client.addr());
    assert_eq!(newcomer.get("/me").await.status, 503);

    store.down.store(false, Ordering::SeqCst);
    assert_eq!(
        client.get("/me").await.json()["id"],
        first["id"],
        "nothing lost"
    );
    assert_eq!(newcomer.get("/me").await.status, 200);
}

/// An app's own responder makes the body of the layer's 503; the layer keeps its status and
/// headers.
#[tokio::test]
async fn an_apps_error_responder_answers_for_the_layer() {
    let store = Arc::new(FlakyStore::default());
    let config = support::apps::builder()
        .error_response(|error: &AuthError, _: &http::HeaderMap| {
            http::Response::builder()
                .header("content-type", "text/plain")
                .body(format!("our shop is resting ({})", error.code()))
                .unwrap()
        })
        .build()
        .unwrap();
    let addr = support::client::serve_axum(support::apps::app(store.clone(), config)).await;
    store.down.store(true, Ordering::SeqCst);
    let response = Client::new(addr).get("/me").await;
    assert_eq!(response.status, 503);
    assert_eq!(response.body, "our shop is resting (STORE_UNAVAILABLE)");
    assert_eq!(response.headers["retry-after"], "1");
    assert_eq!(response.headers["x-auth-error"], "STORE_UNAVAILABLE");
}

#[tokio::test]
async fn fail_open_continues_without_auth_and_recovers() {
    let (client, store) = start(StoreFailureMode::FailOpen).await;
    let first = client.get("/me").await.json();

    store.down.store(true, Ordering::SeqCst);
    let optional = client.get("/optional").await;
    assert_eq!(optional.status, 200);
    assert_eq!(optional.json(), serde_json::Value::Null);
    assert!(optional.set_cookies().is_empty(), "the cookie is kept");
    let me = client.get("/me").await;
    assert_eq!(me.status, 401);
    assert_eq!(me.json()["code"], "UNAUTHENTICATED");
    // A handler action that needs auth gets a typed 401, not a 500.
    let claim = client.post("/claim/cart:1", "").await;
    assert_eq!(claim.status, 401);

    store.down.store(false, Ordering::SeqCst);
    assert_eq!(client.get("/me").await.json()["id"], first["id"]);
    assert!(store.reads.load(Ordering::SeqCst) > 0);
}
