//! Requests another site makes: they never mint a guest (which would replace the visitor's
//! cookie or be thrown away), and they cannot sign the visitor in, register or link (login
//! CSRF). Review points 3 and 12 of the security issue; the browser side is in
//! e2e/shop.test.mjs.

mod support;

use http::{HeaderMap, HeaderValue, Method};
use serde_json::json;
use std::sync::Arc;
use support::account_app::{spawn_app, AppOptions};
use support::apps::{app, builder};
use support::client::Client;
use tower_anonymous_auth::{MemoryStore, Store};

async fn start(config: tower_anonymous_auth::AnonymousAuthConfig) -> (Client, MemoryStore) {
    let store = MemoryStore::new();
    let addr = support::client::serve_axum(app(Arc::new(store.clone()), config)).await;
    (Client::new(addr), store)
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    headers
}

const CROSS_SITE_IMAGE: [(&str, &str); 3] = [
    ("sec-fetch-site", "cross-site"),
    ("sec-fetch-mode", "no-cors"),
    ("sec-fetch-dest", "image"),
];
const CROSS_SITE_FORM: [(&str, &str); 2] = [
    ("sec-fetch-site", "cross-site"),
    ("sec-fetch-mode", "navigate"),
];

#[tokio::test]
async fn cross_site_subrequests_and_form_posts_never_mint() {
    let (client, store) = start(builder().build().unwrap()).await;
    for _ in 0..20 {
        let image = client
            .fresh()
            .get_with("/optional", headers(&CROSS_SITE_IMAGE))
            .await;
        assert_eq!(image.status, 200);
        assert!(image.set_cookies().is_empty(), "{:?}", image.set_cookies());
    }
    let form = client
        .fresh()
        .send(
            Method::POST,
            "/claim/cart:1",
            headers(&CROSS_SITE_FORM),
            Default::default(),
        )
        .await;
    assert!(form.set_cookies().is_empty(), "{:?}", form.set_cookies());
    let same_site = client
        .fresh()
        .get_with(
            "/optional",
            headers(&[
                ("sec-fetch-site", "same-site"),
                ("sec-fetch-mode", "no-cors"),
            ]),
        )
        .await;
    assert!(same_site.set_cookies().is_empty());
    // Without Fetch Metadata: an unsafe request from another origin.
    let old_browser = client
        .fresh()
        .send(
            Method::POST,
            "/claim/cart:2",
            headers(&[("origin", "http://evil.example")]),
            Default::default(),
        )
        .await;
    assert!(old_browser.set_cookies().is_empty());
    assert_eq!(
        store.user_count(),
        0,
        "no guest stored for requests the browser throws away"
    );
}

#[tokio::test]
async fn visitors_following_a_link_or_on_this_site_still_mint() {
    let (client, store) = start(builder().build().unwrap()).await;
    let link = client
        .fresh()
        .get_with(
            "/optional",
            headers(&[
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", "navigate"),
            ]),
        )
        .await;
    assert_eq!(
        link.json()["minted_now"],
        true,
        "a link from another site mints"
    );
    let own = client
        .fresh()
        .send(
            Method::POST,
            "/claim/cart:3",
            headers(&[
                ("sec-fetch-site", "same-origin"),
                ("sec-fetch-mode", "navigate"),
            ]),
            Default::default(),
        )
        .await;
    assert_eq!(own.status, 200);
    let host = format!("http://{}", client.addr());
    let old_browser = client
        .fresh()
        .send(
            Method::POST,
            "/claim/cart:4",
            headers(&[("origin", host.as_str())]),
            Default::default(),
        )
        .await;
    assert_eq!(old_browser.status, 200);
    assert_eq!(store.user_count(), 3);

    let (client, store) = start(builder().mint_on_same_site(true).build().unwrap()).await;
    let sibling = client
        .get_with(
            "/optional",
            headers(&[
                ("sec-fetch-site", "same-site"),
                ("sec-fetch-mode", "no-cors"),
            ]),
        )
        .await;
    assert_eq!(
        sibling.json()["minted_now"],
        true,
        "mint_on_same_site(true)"
    );
    assert_eq!(store.user_count(), 1);
}

#[tokio::test]
async fn a_cross_site_request_does_not_replace_the_visitors_cookie() {
    let (client, _store) = start(builder().build().unwrap()).await;
    let me = client.get("/me").await.json();
    // The browser leaves out the SameSite=Lax cookie on another site's form post.
    let victim = client.fork();
    victim.clear_cookies();
    let form = victim
        .send(
            Method::POST,
            "/claim/cart:9",
            headers(&CROSS_SITE_FORM),
            Default::default(),
        )
        .await;
    assert!(
        form.set_cookies().is_empty(),
        "no Set-Cookie to replace the visitor's"
    );
    assert_eq!(client.get("/me").await.json()["id"], me["id"]);
}

/// Login CSRF: another page (another site, or a sibling subdomain) posts the attacker's
/// credentials; the victim's guest must not be linked into the attacker's account.
#[tokio::test]
async fn privilege_changes_from_another_site_are_refused() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let app = spawn_app(store.clone(), AppOptions::default()).await;
    let attacker = app.client.fresh();
    let account = attacker
        .post(
            "/register",
            json!({ "email": "mallory@example.com", "password": "correct horse" }),
        )
        .await;
    assert_eq!(account.status, 200);
    let token = account.json["token"].as_str().unwrap().to_owned();

    let victim = app.client.fresh();
    let guest = victim.get("/me").await.json;
    let guest_id = guest["id"].as_str().unwrap().to_owned();
    let credentials = json!({ "email": "mallory@example.com", "password": "correct horse" });
    let origin = format!("http://{}", "evil.example");
    for extra in [
        vec![
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
        ],
        vec![("sec-fetch-site", "same-site"), ("sec-fetch-mode", "cors")],
        vec![("origin", origin.as_str())],
    ] {
        for (path, body) in [
            ("/sign-in", credentials.clone()),
            (
                "/register",
                json!({ "email": "victim@example.com", "password": "correct horse" }),
            ),
            ("/sign-in-token", json!({ "token": token })),
        ] {
            let response = victim.post_with(path, body, &extra).await;
            assert_eq!(
                response.status, 403,
                "{path} {extra:?}: {:?}",
                response.json
            );
            assert_eq!(response.json["code"], "CROSS_SITE_REQUEST");
            assert!(response.json["message"].is_string());
        }
    }
    assert_eq!(
        victim.get("/me").await.json["id"],
        guest_id.as_str(),
        "still the guest"
    );
    assert!(store
        .find_user_by_email("users", "victim@example.com", 0)
        .await
        .unwrap()
        .is_none());

    // This site's own pages, and clients that send neither header (curl, native apps).
    let own = victim
        .post_with(
            "/sign-in",
            credentials.clone(),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(own.status, 200, "{:?}", own.json);
    let curl = app.client.fresh().post("/sign-in", credentials).await;
    assert_eq!(curl.status, 200);
}

#[tokio::test]
async fn the_csrf_guard_can_be_turned_off() {
    let config = builder().secure(false).csrf_guard(false).build().unwrap();
    let store = MemoryStore::new();
    let router = support::apps::routes()
        .route(
            "/register",
            axum::routing::post(|handle: tower_anonymous_auth::AuthHandle| async move {
                let registration =
                    tower_anonymous_auth::Registration::new("ann@example.com", "correct horse");
                handle
                    .register_with_password(registration)
                    .await
                    .map(|_| "ok")
            }),
        )
        .layer(tower_anonymous_auth::AnonymousAuthLayer::new(store, config));
    let client = Client::new(support::client::serve_axum(router).await);
    client.get("/me").await;
    let response = client
        .send(
            Method::POST,
            "/register",
            headers(&[("sec-fetch-site", "cross-site")]),
            Default::default(),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
}
