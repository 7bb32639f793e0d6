//! The layer on a real axum router over a real TCP socket: minting, returning visitors,
//! bearer tokens, extractors, the handle's actions and their Set-Cookie, key rotation,
//! sliding refresh, and bad credentials.

mod support;

use http::{header, HeaderMap, HeaderValue};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use support::apps::{app, builder, sign_token, GUEST_COOKIE_ATTRIBUTES};
use support::client::Client;
use tower_anonymous_auth::store::{OwnershipStore, UserStore};
use tower_anonymous_auth::store::{SessionRecord, UserRecord};
use tower_anonymous_auth::{MemoryStore, MintPolicy, User};

const COOKIE: &str = "__Host-auth_token";

async fn start(config: tower_anonymous_auth::AnonymousAuthConfig) -> (Client, MemoryStore) {
    let store = MemoryStore::new();
    let addr = support::client::serve_axum(app(Arc::new(store.clone()), config)).await;
    (Client::new(addr), store)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn first_visit_mints_a_guest_with_a_secure_cookie() {
    let (client, store) = start(builder().build().unwrap()).await;
    let response = client.get("/me").await;
    assert_eq!(response.status, 200);
    let me = response.json();
    assert_eq!(me["is_anonymous"], true);
    assert_eq!(me["minted_now"], true);
    assert_eq!(me["collection"], "users");
    let id = me["id"].as_str().unwrap();
    assert_eq!(me["email"], format!("temp-{id}@anonymous.invalid"));
    assert_eq!(me["name"].as_str().unwrap().split(' ').count(), 2);

    let cookie = response.set_cookie(COOKIE).expect("auth cookie set");
    for attribute in GUEST_COOKIE_ATTRIBUTES {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing in {cookie}"
        );
    }
    assert_eq!(
        client.cookie(COOKIE).as_deref(),
        Some(me["token"].as_str().unwrap())
    );
    assert_eq!(store.user_count(), 1);
    assert_eq!(store.session_count(), 1);
}

#[tokio::test]
async fn returning_visitor_is_resolved_without_minting() {
    let (client, store) = start(builder().build().unwrap()).await;
    let first = client.get("/me").await.json();
    for _ in 0..3 {
        let again = client.get("/me").await;
        assert!(again.set_cookie(COOKIE).is_none(), "no new cookie");
        let again = again.json();
        assert_eq!(again["id"], first["id"]);
        assert_eq!(again["session_id"], first["session_id"]);
        assert_eq!(again["minted_now"], false);
    }
    assert_eq!(store.user_count(), 1);
}

#[tokio::test]
async fn bearer_token_resolves_to_the_same_user() {
    let (client, store) = start(builder().build().unwrap()).await;
    let first = client.get("/me").await.json();
    client.clear_cookies();
    let mut headers = HeaderMap::new();
    let bearer = format!("Bearer {}", first["token"].as_str().unwrap());
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&bearer).unwrap(),
    );
    let response = client.get_with("/me", headers).await;
    assert!(response.set_cookie(COOKIE).is_none());
    assert_eq!(response.json()["id"], first["id"]);
    assert_eq!(store.user_count(), 1);
}

#[tokio::test]
async fn an_anonymous_user_cannot_sign_in_anonymously_again() {
    let (client, store) = start(builder().build().unwrap()).await;
    client.get("/me").await;
    let response = client.post("/guest", "").await;
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["code"], "ANONYMOUS_CANNOT_SIGN_IN_AGAIN");
    assert_eq!(store.user_count(), 1, "no second guest minted");
}

#[tokio::test]
async fn on_demand_policy_mints_only_when_asked() {
    let config = builder().mint_policy(MintPolicy::OnDemand).build().unwrap();
    let (client, store) = start(config).await;
    let response = client.get("/optional").await;
    assert_eq!(response.json(), serde_json::Value::Null);
    assert!(response.set_cookies().is_empty());
    assert_eq!(store.user_count(), 0);

    // "Continue as guest".
    let response = client.post("/guest", "").await;
    assert_eq!(response.status, 200);
    let guest = response.json();
    assert_eq!(guest["collection"], "shoppers");
    assert!(response.set_cookie(COOKIE).is_some());
    assert_eq!(client.get("/me").await.json()["id"], guest["id"]);
    assert_eq!(client.post("/guest", "").await.status, 400);

    assert_eq!(store.user_count(), 1);
}

#[tokio::test]
async fn auth_extractor_mints_on_demand() {
    let config = builder().mint_policy(MintPolicy::OnDemand).build().unwrap();
    let (client, store) = start(config).await;
    let response = client.get("/me").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["minted_now"], true);
    assert!(response.set_cookie(COOKIE).is_some());
    assert_eq!(store.user_count(), 1);
    assert_eq!(client.get("/me").await.json()["minted_now"], false);
}

#[tokio::test]
async fn sign_out_revokes_the_session_and_clears_the_cookie() {
    let (client, store) = start(builder().build().unwrap()).await;
    let first = client.get("/me").await.json();
    let old_token = first["token"].as_str().unwrap().to_owned();

    let response = client.post("/sign-out", "").await;
    assert_eq!(response.status, 200);
    let removal = response.set_cookie(COOKIE).expect("removal cookie");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert_eq!(client.cookie(COOKIE), None);
    assert_eq!(store.session_count(), 0);

    // Replaying the old cookie does not authenticate as the old user.
    client.set_cookie(COOKIE, &old_token);
    let replay = client.get("/me").await.json();
    assert_ne!(replay["id"], first["id"]);
    assert_eq!(replay["minted_now"], true);

    // Nor does the old token as a bearer token.
    client.clear_cookies();
    let mut headers = HeaderMap::new();
    let bearer = format!("Bearer {old_token}");
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&bearer).unwrap(),
    );
    let replay = client.get_with("/me", headers).await.json();
    assert_ne!(replay["id"], first["id"]);
}

#[tokio::test]
async fn registered_user_extractor_limits_anonymous_users() {
    let config = builder().build().unwrap();
    let (client, store) = start(config).await;
    let response = client.get("/registered").await;
    assert_eq!(response.status, 403);
    assert_eq!(response.json()["code"], "REGISTERED_USER_REQUIRED");
    assert_eq!(
        response.headers[header::CONTENT_TYPE],
        "application/json",
        "clear JSON body"
    );

    // A registered user (created directly in the store) passes.
    let now_ms = now_secs() * 1000;
    let user = User::registered("member-1", "users", "ann@example.com", "Ann", now_ms);
    let session = SessionRecord::new("member-session", "member-1", now_ms, now_ms + 3_600_000);
    store
        .insert_user(&UserRecord::new(user), Some(&session), now_ms)
        .await
        .unwrap();
    let token = sign_token(&json!({
        "sub": "member-1",
        "sid": "member-session",
        "email": "ann@example.com",
        "name": "Ann",
        "anon": false,
        "iat": now_secs(),
        "exp": now_secs() + 3600,
        "iss": "tower-anonymous-auth",
    }));
    client.set_cookie(COOKIE, &token);
    let response = client.get("/registered").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["email"], "ann@example.com");
}

#[tokio::test]
async fn custom_generators_and_collection() {
    // Stored and lazy guests alike take the generated email and name.
    for lazy in [false, true] {
        let config = builder()
            .lazy_persistence(lazy)
            .collection("customers")
            .generate_random_email(|id| format!("guest+{id}@shop.example"))
            .generate_name(|id| format!("Guest {}", &id[..6]))
            .build()
            .unwrap();
        let (client, _store) = start(config).await;
        let me = client.get("/me").await.json();
        let id = me["id"].as_str().unwrap();
        assert_eq!(me["collection"], "customers", "lazy: {lazy}");
        assert_eq!(me["email"], format!("guest+{id}@shop.example"));
        assert_eq!(me["name"], format!("Guest {}", &id[..6]));
        assert_eq!(client.get("/me").await.json()["id"], id, "lazy: {lazy}");
    }
}

#[tokio::test]
async fn bad_credentials_are_treated_as_none() {
    let config = builder().build().unwrap();
    let (client, store) = start(config).await;
    let valid = client.get("/me").await.json();
    let token = valid["token"].as_str().unwrap().to_owned();

    let expired = sign_token(&json!({
        "sub": valid["id"],
        "sid": valid["session_id"],
        "iat": now_secs() - 100,
        "exp": now_secs() - 10,
        "iss": "tower-anonymous-auth",
    }));
    let payload = token.split('.').nth(1).unwrap();
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIiwia2lkIjoidGVzdC0xIn0.{payload}.");
    let forged = format!("{}x", &token[..token.len() - 1]);
    let truncated = token[..token.len() / 2].to_owned();
    let oversized = "a".repeat(5000);

    for bad in [
        expired,
        alg_none,
        forged,
        truncated,
        oversized,
        "garbage".into(),
    ] {
        client.clear_cookies();
        client.set_cookie(COOKIE, &bad);
        let response = client.get("/me").await;
        assert_eq!(response.status, 200, "{bad}");
        let me = response.json();
        assert_eq!(me["minted_now"], true);
        assert_ne!(me["id"], valid["id"]);
    }

    // A non-UTF-8 Cookie header.
    let mut headers = HeaderMap::new();
    headers.insert(
        header::COOKIE,
        HeaderValue::from_bytes(b"__Host-auth_token=\xff\xfe\x80; x=\xc3").unwrap(),
    );
    let response = client.get_with("/me", headers).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["minted_now"], true);
    assert!(store.user_count() >= 8);
}

#[tokio::test]
async fn rotated_keys_keep_old_tokens_valid_and_sign_with_the_newest() {
    let store = MemoryStore::new();
    let old = builder().build().unwrap();
    let addr_old = support::client::serve_axum(app(Arc::new(store.clone()), old)).await;
    let client = Client::new(addr_old);
    let first = client.get("/me").await.json();

    let rotated = builder().key("test-2", [9u8; 32]).build().unwrap();
    let addr_new = support::client::serve_axum(app(Arc::new(store.clone()), rotated)).await;
    let rotated_client = Client::new(addr_new);
    rotated_client.set_cookie(COOKIE, first["token"].as_str().unwrap());
    let again = rotated_client.get("/me").await.json();
    assert_eq!(again["id"], first["id"], "old key still verifies");

    let fresh = Client::new(addr_new).get("/me").await.json();
    let header = jsonwebtoken::decode_header(fresh["token"].as_str().unwrap()).unwrap();
    assert_eq!(header.kid.as_deref(), Some("test-2"));

    // A ring that dropped the old key no longer accepts its tokens.
    let dropped = tower_anonymous_auth::AnonymousAuthConfig::builder()
        .key("test-2", [9u8; 32])
        .build()
        .unwrap();
    let addr_dropped = support::client::serve_axum(app(Arc::new(store.clone()), dropped)).await;
    let dropped_client = Client::new(addr_dropped);
    dropped_client.set_cookie(COOKIE, first["token"].as_str().unwrap());
    assert_ne!(dropped_client.get("/me").await.json()["id"], first["id"]);
}

#[tokio::test]
async fn session_expiry_slides_at_most_once_per_interval() {
    let config = builder()
        .refresh_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let (client, store) = start(config).await;
    let first = client.get("/me").await.json();
    let sid = first["session_id"].as_str().unwrap().to_owned();
    let before = store
        .get_session(&sid, 0)
        .await
        .unwrap()
        .unwrap()
        .expires_at;
    // Within the interval: no refresh, no new cookie.
    let quick = client.get("/me").await;
    assert!(quick.set_cookie(COOKIE).is_none());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let later = client.get("/me").await;
    let cookie = later.set_cookie(COOKIE).expect("refreshed cookie");
    assert!(cookie.contains("Max-Age=2592000"));
    let later = later.json();
    assert_eq!(later["session_id"], first["session_id"], "same session");
    assert_ne!(later["token"], first["token"], "new token");
    let after = store
        .get_session(&sid, 0)
        .await
        .unwrap()
        .unwrap()
        .expires_at;
    assert!(after >= before + 2000, "{before} -> {after}");
    let user = store
        .get_user(first["id"].as_str().unwrap(), 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        user.expires_at,
        Some(after),
        "the guest's expiry slides too"
    );
    // The next request inside the new interval does not refresh again.
    assert!(client.get("/me").await.set_cookie(COOKIE).is_none());
}

#[tokio::test]
async fn claims_belong_to_the_current_user() {
    let (client, _store) = start(builder().build().unwrap()).await;
    let response = client.post("/claim/cart:1", "").await.json();
    assert_eq!(response["owned"], true);
    assert_eq!(response["resources"], serde_json::json!(["cart:1"]));
    assert_eq!(client.post("/claim/cart:1", "").await.json()["owned"], true);
    let other = Client::new(client.addr());
    let response = other.post("/claim/cart:1", "").await.json();
    assert_eq!(response["owned"], false, "another guest cannot take it");
    assert_eq!(response["resources"], serde_json::json!([]));
}

#[tokio::test]
async fn claiming_what_another_user_owns_answers_not_owner() {
    let (client, store) = start(builder().build().unwrap()).await;
    let first = client.post("/claim-or-403/cart:42", "").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body, "added");
    assert_eq!(
        client.post("/claim-or-403/cart:42", "").await.status,
        200,
        "its own again"
    );
    let owner = store.owner_of("cart:42").await.unwrap();
    let other = Client::new(client.addr());
    let refused = other.post("/claim-or-403/cart:42", "").await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["code"], "NOT_OWNER");
    assert!(refused.json()["message"].is_string());
    assert_eq!(
        store.owner_of("cart:42").await.unwrap(),
        owner,
        "nothing changed"
    );
}

#[tokio::test]
async fn extractors_without_the_layer_answer_layer_missing() {
    let addr = support::client::serve_axum(support::apps::routes()).await;
    let response = Client::new(addr).get("/me").await;
    assert_eq!(response.status, 500);
    assert_eq!(response.json()["code"], "LAYER_MISSING");
}

#[tokio::test]
async fn the_session_cache_skips_store_reads_but_not_local_revocation() {
    let config = builder()
        .session_cache_ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    let (client, store) = start(config).await;
    let first = client.get("/me").await.json();
    let sid = first["session_id"].as_str().unwrap().to_owned();
    assert_eq!(client.get("/me").await.json()["id"], first["id"]);

    // Revoked behind this process's back (as another instance would): still trusted here
    // within the TTL — the documented trade-off.
    store.delete_session(&sid).await.unwrap();
    assert_eq!(client.get("/me").await.json()["id"], first["id"]);

    // Revoked by this process (sign-out): stops working at once.
    let (client, _store) = start(
        builder()
            .session_cache_ttl(Duration::from_secs(60))
            .build()
            .unwrap(),
    )
    .await;
    let first = client.get("/me").await.json();
    let old_token = first["token"].as_str().unwrap().to_owned();
    client.post("/sign-out", "").await;
    client.set_cookie(COOKIE, &old_token);
    assert_ne!(client.get("/me").await.json()["id"], first["id"]);
}
