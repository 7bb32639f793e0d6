//! What the layer logs when an app is misconfigured: each warning once per layer, with what
//! to do about it. These tests capture logs, so they share one lock (see `support::logs`).

mod support;

use http::header;
use std::sync::Arc;
use support::apps::{app, builder};
use support::logs::warnings_of;
use tower::ServiceExt;
use tower_anonymous_auth::{Auth, MemoryStore};

/// Review point 5: the two ways the per-IP limit silently goes wrong are each logged once:
/// no peer address (the limit is off), and a loopback or private peer without trusted
/// proxies (behind a proxy, every visitor shares its bucket).
#[test]
fn a_misconfigured_mint_limit_is_logged_once() {
    let logs = warnings_of(|| async {
        let router = app(Arc::new(MemoryStore::new()), builder().build().unwrap());
        for peer in [None, None, None, Some([10, 0, 0, 7]), Some([127, 0, 0, 1])] {
            let mut request = http::Request::get("/optional")
                .header(header::USER_AGENT, support::client::BROWSER)
                .body(axum::body::Body::empty())
                .unwrap();
            if let Some(ip) = peer {
                let addr = std::net::SocketAddr::from((ip, 4000));
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(addr));
            }
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200);
        }
    });
    assert_eq!(
        logs.matches("no client address is known").count(),
        1,
        "{logs}"
    );
    assert_eq!(
        logs.matches("no trusted proxies are set").count(),
        1,
        "{logs}"
    );
}

/// A route added after `.layer(...)` is not wrapped by it: its extractors answer 500
/// `LAYER_MISSING` with a message that says why, and the mistake is logged once.
#[test]
fn a_route_added_after_the_layer_is_explained_and_logged_once() {
    let logs = warnings_of(|| async {
        let late = axum::Router::new().route(
            "/late",
            axum::routing::get(|auth: Auth| async move { auth.user().id.clone() }),
        );
        let router = app(Arc::new(MemoryStore::new()), builder().build().unwrap()).merge(late);
        for _ in 0..3 {
            let request = http::Request::get("/late")
                .header(header::USER_AGENT, support::client::BROWSER)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 500);
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["code"], "LAYER_MISSING");
            let message = body["message"].as_str().unwrap();
            assert!(
                message.contains("add this route before the layer"),
                "{message}"
            );
        }
    });
    assert_eq!(
        logs.matches("no AnonymousAuthLayer ran").count(),
        1,
        "{logs}"
    );
    assert!(logs.contains("/late"), "the log names the path: {logs}");
}

/// Failing closed is logged at warn level, with the store's error.
#[test]
fn a_fail_closed_503_is_logged_as_a_warning() {
    let logs = warnings_of(|| async {
        let store = Arc::new(support::flaky_store::FlakyStore::default());
        store.down.store(true, std::sync::atomic::Ordering::SeqCst);
        let router = app(store, builder().build().unwrap());
        let request = http::Request::get("/me")
            .header(header::USER_AGENT, support::client::BROWSER)
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(router.oneshot(request).await.unwrap().status(), 503);
    });
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("answering 503 (fail closed)"), "{logs}");
}
