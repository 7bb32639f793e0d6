//! Abuse controls over real sockets: crawlers, HEAD and asset requests never mint; over the
//! per-IP mint rate limit pages still render without auth and what needs an identity answers
//! 429 with Retry-After; forwarded headers count only from trusted proxies.

mod support;

use http::{header, HeaderMap, HeaderValue, Method};
use std::sync::Arc;
use support::apps::{app, builder};
use support::client::Client;
use tower_anonymous_auth::{AnonymousAuthConfig, MemoryStore, RateLimit};

async fn start(config: AnonymousAuthConfig) -> (Client, MemoryStore) {
    let store = MemoryStore::new();
    let addr = support::client::serve_axum(app(Arc::new(store.clone()), config)).await;
    (Client::new(addr), store)
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

#[tokio::test]
async fn crawlers_heads_and_assets_do_not_mint() {
    let (client, store) = start(builder().build().unwrap()).await;
    for agent in [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "facebookexternalhit/1.1",
        "",
    ] {
        let response = client
            .get_with("/optional", headers(&[("user-agent", agent)]))
            .await;
        assert_eq!(response.status, 200, "{agent}");
        assert_eq!(response.json(), serde_json::Value::Null);
        assert!(response.set_cookies().is_empty());
    }
    let head = client
        .send(
            Method::HEAD,
            "/optional",
            HeaderMap::new(),
            Default::default(),
        )
        .await;
    assert!(head.set_cookies().is_empty());
    let asset = client.get("/static/app.css").await;
    assert_eq!(asset.status, 404);
    assert!(asset.set_cookies().is_empty());
    assert_eq!(store.user_count(), 0);

    // A crawler that holds a valid cookie is still recognised.
    let me = client.get("/me").await.json();
    let response = client
        .get_with("/optional", headers(&[("user-agent", "Googlebot/2.1")]))
        .await;
    assert_eq!(response.json()["id"], me["id"]);
}

#[tokio::test]
async fn never_skip_mint_mints_for_everyone() {
    let (client, store) = start(builder().skip_mint(|_| false).build().unwrap()).await;
    let response = client
        .get_with("/optional", headers(&[("user-agent", "Googlebot/2.1")]))
        .await;
    assert_eq!(response.json()["minted_now"], true);
    assert_eq!(store.user_count(), 1);
}

/// Review point 5: over the mint limit a page view still renders (no guest, no cookie); only
/// what needs an identity answers `RATE_LIMITED`.
#[tokio::test]
async fn over_the_mint_limit_pages_render_and_identity_answers_429() {
    let config = builder()
        .mint_rate_limit(Some(RateLimit::new(3, 1)))
        .build()
        .unwrap();
    let (client, store) = start(config).await;
    for _ in 0..3 {
        client.clear_cookies();
        assert_eq!(client.get("/optional").await.json()["minted_now"], true);
    }
    client.clear_cookies();
    let page = client.get("/optional").await;
    assert_eq!(page.status, 200, "the page renders");
    assert_eq!(page.json(), serde_json::Value::Null, "without auth");
    assert!(page.set_cookies().is_empty());
    let identity = client.get("/me").await;
    assert_eq!(identity.status, 429);
    assert_eq!(identity.headers[header::RETRY_AFTER], "60");
    assert_eq!(identity.json()["code"], "RATE_LIMITED");
    assert!(identity.json()["message"].is_string());
    assert!(identity.set_cookies().is_empty());
    // A shopper's browser gets a page that says to wait, not an empty error.
    let accept = [("accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    let page = client.get_with("/me", headers(&accept)).await;
    assert_eq!(page.status, 429);
    assert_eq!(page.headers[header::RETRY_AFTER], "60");
    assert!(
        page.body.contains("<h1>Too many requests</h1>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Please wait 60 s"), "{}", page.body);
    // A write through the handle needs an identity too.
    let claim = client.post("/claim/cart:1", "").await;
    assert_eq!(claim.status, 429);
    assert_eq!(claim.json()["code"], "RATE_LIMITED");
    assert_eq!(store.user_count(), 3);
    // The bucket belongs to the IP: another new visitor from it is limited too.
    assert_eq!(Client::new(client.addr()).get("/me").await.status, 429);
}

#[tokio::test]
async fn returning_visitors_are_not_rate_limited() {
    let config = builder()
        .mint_rate_limit(Some(RateLimit::new(1, 1)))
        .build()
        .unwrap();
    let (client, _store) = start(config).await;
    let me = client.get("/me").await.json();
    for _ in 0..20 {
        let again = client.get("/me").await;
        assert_eq!(again.status, 200);
        assert_eq!(again.json()["id"], me["id"]);
    }
    assert_eq!(Client::new(client.addr()).get("/me").await.status, 429);
}

#[tokio::test]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    let limit = Some(RateLimit::new(1, 1));
    // Untrusted: X-Forwarded-For is ignored, every request is the loopback peer.
    let (client, _) = start(builder().mint_rate_limit(limit).build().unwrap()).await;
    for (i, expected) in [(1, 200), (2, 429)] {
        client.clear_cookies();
        let response = client
            .get_with(
                "/me",
                headers(&[("x-forwarded-for", &format!("198.51.100.{i}"))]),
            )
            .await;
        assert_eq!(response.status, expected, "spoofed forwarded IP {i}");
    }
    // Trusted loopback proxy: each forwarded client has its own bucket.
    let config = builder()
        .mint_rate_limit(limit)
        .trusted_proxies(["127.0.0.0/8"])
        .build()
        .unwrap();
    let (client, _) = start(config).await;
    for i in 1..=3 {
        client.clear_cookies();
        let forwarded = format!("198.51.100.{i}");
        let response = client
            .get_with("/optional", headers(&[("x-forwarded-for", &forwarded)]))
            .await;
        assert_eq!(response.status, 200, "client {forwarded}");
    }
    client.clear_cookies();
    let again = client
        .get_with("/me", headers(&[("x-forwarded-for", "198.51.100.1")]))
        .await;
    assert_eq!(again.status, 429);
}
