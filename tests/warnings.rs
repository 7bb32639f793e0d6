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

/// Sends `requests` GETs to `/me` through `router`, each with `headers` and without a cookie
/// (as a browser that dropped the last one would); each is minted a guest.
async fn mint_without_cookies(router: &axum::Router, headers: &[(&str, &str)], requests: usize) {
    for _ in 0..requests {
        let mut request =
            http::Request::get("/me").header(header::USER_AGENT, support::client::BROWSER);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router
            .clone()
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key(header::SET_COOKIE));
    }
}

const PLAIN_HTTP: &str = "this request came over plain http";

/// Issue 18 point 3: a Secure cookie set on a request that came over plain http to a host
/// that is not localhost is logged once per layer, with the host and the evidence.
#[test]
fn a_secure_cookie_over_plain_http_is_logged_once() {
    let logs = warnings_of(|| async {
        let router = app(Arc::new(MemoryStore::new()), builder().build().unwrap());
        let from_page = [
            ("host", "shop.lan:3000"),
            ("origin", "http://shop.lan:3000"),
        ];
        mint_without_cookies(&router, &from_page, 3).await;
        let behind_proxy = [("host", "shop.lan"), ("x-forwarded-proto", "http")];
        mint_without_cookies(&router, &behind_proxy, 2).await;
    });
    assert_eq!(logs.matches(PLAIN_HTTP).count(), 1, "{logs}");
    assert!(logs.contains("shop.lan:3000"), "{logs}");
    assert!(logs.contains("Origin or Referer"), "{logs}");
    assert!(logs.contains("`.secure(false)`"), "{logs}");
}

/// Over https, on localhost, from another site's plain-http page, or with `.secure(false)`,
/// the cookie is kept and nothing is logged.
#[test]
fn a_cookie_the_browser_keeps_is_not_logged() {
    let logs = warnings_of(|| async {
        let secure = app(Arc::new(MemoryStore::new()), builder().build().unwrap());
        for headers in [
            [("host", "shop.example"), ("origin", "https://shop.example")],
            [
                ("host", "localhost:3000"),
                ("referer", "http://localhost:3000/"),
            ],
            [
                ("host", "shop.example"),
                ("referer", "http://blog.example/post"),
            ],
        ] {
            mint_without_cookies(&secure, &headers, 1).await;
        }
        let plain = app(
            Arc::new(MemoryStore::new()),
            builder().secure(false).build().unwrap(),
        );
        let from_page = [
            ("host", "shop.lan:3000"),
            ("origin", "http://shop.lan:3000"),
        ];
        mint_without_cookies(&plain, &from_page, 2).await;
    });
    assert!(!logs.contains(PLAIN_HTTP), "{logs}");
}

const LOST_COOKIE: &str = "it does not send the auth cookie back";

/// Issue 18 point 3: a client that never sends the cookie back (here a real server and a
/// client without a cookie jar) is logged once its fifth guest within a minute is minted,
/// with its address and user agent; the NAT false positive is named in the message.
#[test]
fn a_client_that_never_sends_the_cookie_back_is_logged_once() {
    let logs = warnings_of(|| async {
        let router = app(Arc::new(MemoryStore::new()), builder().build().unwrap());
        let addr = support::client::serve_axum(router).await;
        let browser = support::client::Client::new(addr);
        for _ in 0..9 {
            let forgetful = browser.fresh();
            assert_eq!(forgetful.get("/me").await.status, 200);
        }
    });
    assert_eq!(logs.matches(LOST_COOKIE).count(), 1, "{logs}");
    assert!(logs.contains("ip=127.0.0.1"), "{logs}");
    assert!(logs.contains("Firefox/133.0"), "{logs}");
    assert!(logs.contains("(NAT)"), "{logs}");
}

/// Four new visitors from one address and browser (the last of them keeping its cookie over
/// many requests) are not enough to warn.
#[test]
fn a_few_new_visitors_or_a_returning_one_are_not_logged() {
    let logs = warnings_of(|| async {
        let router = app(Arc::new(MemoryStore::new()), builder().build().unwrap());
        let addr = support::client::serve_axum(router).await;
        let browser = support::client::Client::new(addr);
        for _ in 0..3 {
            assert_eq!(browser.fresh().get("/me").await.status, 200);
        }
        let returning = browser.fresh();
        for _ in 0..10 {
            assert_eq!(returning.get("/me").await.status, 200);
        }
    });
    assert!(!logs.contains(LOST_COOKIE), "{logs}");
}
