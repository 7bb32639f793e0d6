//! Account and guest-linking cases, over real HTTP, for any `Store`: each case takes a fresh,
//! empty store. `account_suite!` turns them into `#[tokio::test]`s for a given store factory,
//! e.g. `account_suite!(async { Arc::new(MemoryStore::new()) });`.

use super::account_app::{now_ms, spawn_app, AppOptions, TestApp};
use super::http_client::{TestClient, TestResponse};
use super::visitors::{assert_error, id};
use hyper::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_anonymous_auth::{LinkKind, Store};

const PASSWORD: &str = "correct horse";

async fn register(client: &TestClient, email: &str, password: &str) -> TestResponse {
    client
        .post("/register", json!({ "email": email, "password": password }))
        .await
}

async fn sign_in(client: &TestClient, email: &str, password: &str) -> TestResponse {
    client
        .post("/sign-in", json!({ "email": email, "password": password }))
        .await
}

/// Signs `first` and `second` in as ann at the same moment (a double submit); both must land
/// on `account_id`.
async fn sign_in_at_once(
    first: &TestClient,
    second: &TestClient,
    account_id: &str,
) -> (TestResponse, TestResponse) {
    let (a, b) = tokio::join!(
        sign_in(first, "ann@example.com", PASSWORD),
        sign_in(second, "ann@example.com", PASSWORD),
    );
    for response in [&a, &b] {
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
        assert_eq!(id(&response.json), account_id);
    }
    (a, b)
}

async fn me(client: &TestClient) -> Value {
    client.get("/me").await.json
}

async fn claim(client: &TestClient, resource: &str) {
    let response = client
        .post(&format!("/claim/{resource}"), Value::Null)
        .await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    assert_eq!(response.json["owned"], true);
}

/// Registers `email` from a fresh client; returns the client and the account's id.
async fn account(app: &TestApp, email: &str) -> (TestClient, String) {
    let client = app.client.fresh();
    let response = register(&client, email, PASSWORD).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    (client, id(&response.json))
}

/// A fresh client browsing as a guest; returns it and the guest's id.
async fn guest(app: &TestApp) -> (TestClient, String) {
    let client = app.client.fresh();
    let me = me(&client).await;
    assert_eq!(me["is_anonymous"], true);
    (client, id(&me))
}

pub async fn register_upgrades_guest_in_place(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let (client, guest_id) = guest(&app).await;
    let before = me(&client).await;
    claim(&client, "cart:1").await;
    let old = client.fork();

    let response = client
        .post(
            "/register",
            json!({ "email": "  Ann@Example.COM ", "password": PASSWORD, "name": "Ann" }),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    let body = &response.json;
    assert_eq!(id(body), guest_id, "same user, upgraded in place");
    assert_eq!(body["is_anonymous"], false);
    assert_eq!(body["email"], "ann@example.com");
    assert_eq!(body["name"], "Ann");
    assert_ne!(body["session_id"], before["session_id"], "session rotated");
    assert!(!response.set_cookies.is_empty());

    assert_eq!(client.get("/resources").await.json, json!(["cart:1"]));
    let record = app
        .store
        .get_user(&guest_id, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert!(!record.user.is_anonymous);
    assert_eq!(record.expires_at, None);
    let hash = record.password_hash.unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );

    let replay = me(&old).await;
    assert_ne!(
        id(&replay),
        guest_id,
        "the pre-register cookie must not authenticate"
    );
    assert_eq!(replay["is_anonymous"], true);
    let now = me(&client).await;
    assert_eq!(id(&now), guest_id);
    assert_eq!(now["is_anonymous"], false);

    let events = app.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, LinkKind::Register);
    assert_eq!(events[0].anonymous.id, guest_id);
    assert!(events[0].anonymous.is_anonymous);
    assert_eq!(events[0].account.email, "ann@example.com");
    assert!(!events[0].account.is_anonymous);
}

pub async fn register_rejects_bad_input(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    account(&app, "bob@example.com").await;
    let (client, guest_id) = guest(&app).await;

    for email in ["", "bob", "bob@localhost", "bob @example.com", "a@b..c"] {
        let response = register(&client, email, PASSWORD).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "INVALID_EMAIL");
    }
    let short = register(&client, "carol@example.com", "1234567").await;
    assert_error(&short, StatusCode::BAD_REQUEST, "WEAK_PASSWORD");
    let long = register(&client, "carol@example.com", &"x".repeat(129)).await;
    assert_error(&long, StatusCode::BAD_REQUEST, "WEAK_PASSWORD");
    let taken = register(&client, " BOB@example.com", PASSWORD).await;
    assert_error(&taken, StatusCode::CONFLICT, "EMAIL_TAKEN");

    let still = me(&client).await;
    assert_eq!(id(&still), guest_id);
    assert_eq!(still["is_anonymous"], true);
    assert!(
        app.events()
            .iter()
            .all(|event| event.anonymous.id != guest_id),
        "no hook for a rejected registration"
    );

    let ok = register(&client, "carol@example.com", &"é".repeat(128)).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.json);
}

pub async fn register_while_registered_is_rejected(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let (client, account_id) = account(&app, "ann@example.com").await;
    let again = register(&client, "other@example.com", PASSWORD).await;
    assert_error(&again, StatusCode::CONFLICT, "ALREADY_REGISTERED");
    let still = me(&client).await;
    assert_eq!(id(&still), account_id);
    assert_eq!(still["email"], "ann@example.com");
}

pub async fn register_while_signed_out_creates_user(store: Arc<dyn Store>) {
    let app = spawn_app(
        store,
        AppOptions {
            on_demand: true,
            ..AppOptions::default()
        },
    )
    .await;
    let client = app.client.fresh();
    assert_eq!(me(&client).await, Value::Null, "on-demand: nobody minted");
    let response = register(&client, "dan@example.com", PASSWORD).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    assert_eq!(response.json["is_anonymous"], false);
    let account_id = id(&response.json);
    let found = app
        .store
        .find_user_by_email("users", "dan@example.com", now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user.id, account_id);
    assert_eq!(id(&me(&client).await), account_id);
    assert!(app.events().is_empty(), "no guest, nothing linked");
}

pub async fn sign_in_while_signed_out(store: Arc<dyn Store>) {
    let app = spawn_app(
        store,
        AppOptions {
            on_demand: true,
            ..AppOptions::default()
        },
    )
    .await;
    let (owner, account_id) = account(&app, "ann@example.com").await;
    owner.post("/sign-out", Value::Null).await;
    let client = app.client.fresh();
    let response = sign_in(&client, "ann@example.com", PASSWORD).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    assert_eq!(id(&response.json), account_id);
    assert_eq!(id(&me(&client).await), account_id);
}

pub async fn sign_in_links_guest_to_account(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let (owner, account_id) = account(&app, "ann@example.com").await;
    claim(&owner, "cart:ann").await;
    let (client, guest_id) = guest(&app).await;
    claim(&client, "cart:guest").await;
    let old = client.fork();

    let response = sign_in(&client, "ANN@example.com ", PASSWORD).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    assert_eq!(id(&response.json), account_id);
    assert_eq!(response.json["is_anonymous"], false);

    assert_eq!(
        client.get("/resources").await.json,
        json!(["cart:ann", "cart:guest"])
    );
    let owner_of = app.store.owner_of("cart:guest").await.unwrap();
    assert_eq!(owner_of.as_deref(), Some(account_id.as_str()));
    assert!(app
        .store
        .get_user(&guest_id, now_ms())
        .await
        .unwrap()
        .is_none());

    let events = app.links();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, LinkKind::SignIn);
    assert_eq!(events[0].anonymous.id, guest_id);
    assert_eq!(events[0].account.id, account_id);

    let replay = me(&old).await;
    assert_ne!(id(&replay), guest_id, "the guest cookie must be revoked");
    assert_ne!(id(&replay), account_id);
    assert_eq!(replay["is_anonymous"], true);
}

pub async fn disable_delete_keeps_guest_but_revokes_its_session(store: Arc<dyn Store>) {
    let options = AppOptions {
        disable_delete_anonymous_user: true,
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let (_owner, account_id) = account(&app, "ann@example.com").await;
    let (client, guest_id) = guest(&app).await;
    claim(&client, "cart:guest").await;
    let old = client.fork();

    let response = sign_in(&client, "ann@example.com", PASSWORD).await;
    assert_eq!(id(&response.json), account_id);
    let kept = app.store.get_user(&guest_id, now_ms()).await.unwrap();
    assert!(kept.is_some_and(|record| record.user.is_anonymous));
    assert!(app.store.resources_of(&guest_id).await.unwrap().is_empty());
    assert_ne!(id(&me(&old).await), guest_id, "guest session revoked");
}

pub async fn failed_hook_leaves_guest_intact_and_retry_completes(store: Arc<dyn Store>) {
    let options = AppOptions {
        hook_failures: 1,
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let (_owner, account_id) = account(&app, "ann@example.com").await;
    let (client, guest_id) = guest(&app).await;
    claim(&client, "cart:guest").await;

    let failed = sign_in(&client, "ann@example.com", PASSWORD).await;
    assert_error(&failed, StatusCode::INTERNAL_SERVER_ERROR, "LINK_FAILED");
    assert!(failed.set_cookies.is_empty(), "cookie unchanged");
    let still = me(&client).await;
    assert_eq!(id(&still), guest_id);
    assert_eq!(still["is_anonymous"], true);
    let owner_of = app.store.owner_of("cart:guest").await.unwrap();
    assert_eq!(owner_of.as_deref(), Some(guest_id.as_str()));
    assert!(app
        .store
        .get_user(&guest_id, now_ms())
        .await
        .unwrap()
        .is_some());

    let retry = sign_in(&client, "ann@example.com", PASSWORD).await;
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.json);
    assert_eq!(id(&retry.json), account_id);
    let owner_of = app.store.owner_of("cart:guest").await.unwrap();
    assert_eq!(owner_of.as_deref(), Some(account_id.as_str()));
    assert!(app
        .store
        .get_user(&guest_id, now_ms())
        .await
        .unwrap()
        .is_none());
    assert_eq!(app.links().len(), 1);
}

pub async fn unknown_email_and_wrong_password_look_the_same(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    account(&app, "ann@example.com").await;
    let (client, guest_id) = guest(&app).await;
    let unknown = sign_in(&client, "nobody@example.com", PASSWORD).await;
    let wrong = sign_in(&client, "ann@example.com", "wrong password").await;
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    assert_eq!(unknown.json, wrong.json);
    assert_eq!(unknown.status, wrong.status);
    let huge = sign_in(&client, "ann@example.com", &"x".repeat(100_000)).await;
    assert_eq!(
        huge.json, wrong.json,
        "oversized passwords are plain wrong passwords"
    );
    let garbage = sign_in(&client, "not an email", PASSWORD).await;
    assert_error(&garbage, StatusCode::BAD_REQUEST, "INVALID_EMAIL");
    let guest_as_account = sign_in(&client, me(&client).await["email"].as_str().unwrap(), "").await;
    assert_eq!(
        guest_as_account.json, wrong.json,
        "a guest's placeholder email cannot sign in"
    );
    let still = me(&client).await;
    assert_eq!(id(&still), guest_id);
    assert!(app.links().is_empty());
}

async fn timed_failure(client: &TestClient, email: &str) -> Duration {
    let start = Instant::now();
    let response = sign_in(client, email, "wrong password").await;
    let elapsed = start.elapsed();
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Medians of interleaved unknown-email and wrong-password sign-ins; returns their ratio.
async fn timing_ratio(client: &TestClient) -> f64 {
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for round in 0..9 {
        let unknown_first = round % 2 == 0;
        if unknown_first {
            unknown.push(timed_failure(client, "nobody@example.com").await);
        }
        wrong.push(timed_failure(client, "ann@example.com").await);
        if !unknown_first {
            unknown.push(timed_failure(client, "nobody@example.com").await);
        }
    }
    let (unknown, wrong) = (median(unknown), median(wrong));
    let ratio = unknown.as_secs_f64() / wrong.as_secs_f64();
    eprintln!("timing: unknown email median {unknown:?}, wrong password median {wrong:?}, ratio {ratio:.3}");
    ratio
}

pub async fn unknown_email_and_wrong_password_take_similar_time(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    account(&app, "ann@example.com").await;
    let (client, _) = guest(&app).await;
    // Warm up: the first unknown email computes the dummy hash.
    timed_failure(&client, "nobody@example.com").await;
    timed_failure(&client, "ann@example.com").await;
    // The machine is shared (other builds, other tests): a burst of load can skew one
    // measurement, so allow three. A real difference (skipping argon2 for unknown emails is
    // ~100x faster) fails all three.
    let mut ratios = Vec::new();
    for _ in 0..3 {
        let ratio = timing_ratio(&client).await;
        ratios.push(ratio);
        if (0.5..=2.0).contains(&ratio) {
            return;
        }
    }
    panic!("unknown email vs wrong password timing ratios out of 0.5..=2.0: {ratios:?}");
}

pub async fn sign_in_with_token_links_and_consumes_token(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let api = app.client.fresh();
    let login = register(&api, "ann@example.com", PASSWORD).await;
    let account_id = id(&login.json);
    let token = login.json["token"].as_str().unwrap().to_owned();
    let (client, guest_id) = guest(&app).await;
    claim(&client, "cart:guest").await;

    for bad in ["garbage", "", "a.b.c"] {
        let response = client.post("/sign-in-token", json!({ "token": bad })).await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    }
    let mut tampered = token.clone();
    let last = if tampered.ends_with('A') { "B" } else { "A" };
    tampered.replace_range(tampered.len() - 1.., last);
    let response = client
        .post("/sign-in-token", json!({ "token": tampered }))
        .await;
    assert_error(&response, StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    assert_eq!(id(&me(&client).await), guest_id);

    let response = client
        .post("/sign-in-token", json!({ "token": token }))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    assert_eq!(id(&response.json), account_id);
    assert_ne!(response.json["token"], token.as_str(), "a new token");
    assert_eq!(id(&me(&client).await), account_id);
    let owner_of = app.store.owner_of("cart:guest").await.unwrap();
    assert_eq!(owner_of.as_deref(), Some(account_id.as_str()));
    let events = app.events();
    assert_eq!(events.len(), 2, "register, then the token link");
    assert_eq!(events[1].kind, LinkKind::Token);
    assert_eq!(events[1].anonymous.id, guest_id);

    let reused = app
        .client
        .fresh()
        .post("/sign-in-token", json!({ "token": token }))
        .await;
    assert_error(&reused, StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    let bearer = app.client.fresh().get_bearer("/me", &token).await;
    assert_eq!(bearer.json, Value::Null, "the exchanged token is revoked");
}

pub async fn sign_out_revokes_the_session(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let (client, account_id) = account(&app, "ann@example.com").await;
    let old = client.fork();
    let response = client.post("/sign-out", Value::Null).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(client.cookie("auth_token").is_none(), "cookie removed");
    let replay = me(&old).await;
    assert_ne!(
        id(&replay),
        account_id,
        "the signed-out cookie must not authenticate"
    );
    assert_eq!(replay["is_anonymous"], true);
}

pub async fn double_submit_links_once(store: Arc<dyn Store>) {
    let options = AppOptions {
        hook_delay: Duration::from_millis(100),
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let (_owner, account_id) = account(&app, "ann@example.com").await;
    let (client, guest_id) = guest(&app).await;
    for item in ["cart:1", "cart:2", "cart:3"] {
        claim(&client, item).await;
    }
    let twin = client.fork();
    let (a, b) = sign_in_at_once(&client, &twin, &account_id).await;
    assert_ne!(a.json["session_id"], b.json["session_id"]);
    let events = app.links();
    assert_eq!(events.len(), 1, "linked once");
    assert_eq!(events[0].anonymous.id, guest_id);
    assert_eq!(
        app.store.resources_of(&account_id).await.unwrap(),
        vec!["cart:1", "cart:2", "cart:3"]
    );
    assert!(app
        .store
        .get_user(&guest_id, now_ms())
        .await
        .unwrap()
        .is_none());
    assert_eq!(id(&me(&client).await), account_id);
    assert_eq!(id(&me(&twin).await), account_id);
}

/// Two app instances (two layers, so two in-process lock tables) on one store: a guest's
/// double submit reaching both at once still links once, through the store's guest lease.
pub async fn double_submit_across_instances_links_once(store: Arc<dyn Store>) {
    let options = AppOptions {
        hook_delay: Duration::from_millis(100),
        ..AppOptions::default()
    };
    let first = spawn_app(store.clone(), options.clone()).await;
    let second = spawn_app(store, options).await;
    let (_owner, account_id) = account(&first, "ann@example.com").await;
    let (client, guest_id) = guest(&first).await;
    for item in ["cart:1", "cart:2"] {
        claim(&client, item).await;
    }
    let twin = client.fork_to(&second.client);
    sign_in_at_once(&client, &twin, &account_id).await;
    let links = first.links().len() + second.links().len();
    assert_eq!(links, 1, "linked once across both instances");
    assert_eq!(
        first.store.resources_of(&account_id).await.unwrap(),
        vec!["cart:1", "cart:2"]
    );
    assert!(first
        .store
        .get_user(&guest_id, now_ms())
        .await
        .unwrap()
        .is_none());
}

pub async fn sign_in_while_registered_switches_accounts(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let (_bob, bob_id) = account(&app, "bob@example.com").await;
    let (client, ann_id) = account(&app, "ann@example.com").await;
    claim(&client, "cart:ann").await;
    let old = client.fork();

    let wrong = sign_in(&client, "bob@example.com", "wrong password").await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    assert_eq!(id(&me(&client).await), ann_id);

    let response = sign_in(&client, "bob@example.com", PASSWORD).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    assert_eq!(id(&response.json), bob_id);
    assert_eq!(id(&me(&client).await), bob_id);
    let replay = me(&old).await;
    assert_ne!(
        id(&replay),
        ann_id,
        "the previous account's cookie is revoked"
    );
    assert_ne!(id(&replay), bob_id);
    let owner_of = app.store.owner_of("cart:ann").await.unwrap();
    assert_eq!(
        owner_of.as_deref(),
        Some(ann_id.as_str()),
        "registered users are not merged"
    );
    assert_eq!(app.events().len(), 2, "only the two registrations");
}

pub async fn old_cookies_are_refused_with_session_cache(store: Arc<dyn Store>) {
    let options = AppOptions {
        session_cache: true,
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let (_owner, account_id) = account(&app, "ann@example.com").await;

    // Register: the guest's session was just confirmed (and memoised) by two requests.
    let (client, guest_id) = guest(&app).await;
    assert_eq!(id(&me(&client).await), guest_id);
    let before_register = client.fork();
    let response = register(&client, "bob@example.com", PASSWORD).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    assert_ne!(id(&me(&before_register).await), guest_id);

    // Sign-out.
    let before_sign_out = client.fork();
    client.post("/sign-out", Value::Null).await;
    assert_ne!(id(&me(&before_sign_out).await), guest_id);

    // Sign-in of a guest into an account, and a switch between accounts.
    let (client, guest_id) = guest(&app).await;
    assert_eq!(id(&me(&client).await), guest_id);
    let before_sign_in = client.fork();
    let response = sign_in(&client, "ann@example.com", PASSWORD).await;
    assert_eq!(id(&response.json), account_id);
    assert_ne!(id(&me(&before_sign_in).await), guest_id);
    assert_eq!(id(&me(&client).await), account_id);
    let before_switch = client.fork();
    sign_in(&client, "bob@example.com", PASSWORD).await;
    let replay = me(&before_switch).await;
    assert_ne!(id(&replay), account_id);
    assert_eq!(replay["is_anonymous"], true);
}

pub async fn lazy_guests_are_linked_and_their_tokens_revoked(store: Arc<dyn Store>) {
    let options = AppOptions {
        lazy: true,
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let (_owner, account_id) = account(&app, "ann@example.com").await;

    // A guest that never wrote (it lives only in its token) signs in.
    let (client, guest_id) = guest(&app).await;
    assert_eq!(me(&client).await["persisted"], false);
    let lazy_cookie = client.fork();
    let response = sign_in(&client, "ann@example.com", PASSWORD).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    assert_eq!(id(&response.json), account_id);
    assert!(app
        .links()
        .iter()
        .any(|event| event.anonymous.id == guest_id));
    assert_ne!(
        id(&me(&lazy_cookie).await),
        guest_id,
        "the lazy token is revoked"
    );

    // A guest stored at its first write (a claim) signs in.
    let (client, guest_id) = guest(&app).await;
    let lazy_cookie = client.fork();
    claim(&client, "cart:guest").await;
    let stored_cookie = client.fork();
    let response = sign_in(&client, "ann@example.com", PASSWORD).await;
    assert_eq!(id(&response.json), account_id);
    let owner_of = app.store.owner_of("cart:guest").await.unwrap();
    assert_eq!(owner_of.as_deref(), Some(account_id.as_str()));
    assert_ne!(
        id(&me(&lazy_cookie).await),
        guest_id,
        "the lazy token stays dead"
    );
    assert_ne!(
        id(&me(&stored_cookie).await),
        guest_id,
        "the stored token is revoked"
    );

    // A lazy guest registers: upgraded in place, its lazy token revoked.
    let (client, guest_id) = guest(&app).await;
    let lazy_cookie = client.fork();
    let response = register(&client, "bob@example.com", PASSWORD).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    assert_eq!(id(&response.json), guest_id);
    assert_eq!(response.json["persisted"], true);
    assert_ne!(id(&me(&lazy_cookie).await), guest_id);
    assert_eq!(id(&me(&client).await), guest_id);
}

/// Point 1 of the review: a request that resolved a lazy guest before it registered, and
/// writes afterwards, must not store the guest again over the registered user.
pub async fn a_late_lazy_write_does_not_undo_a_registration(store: Arc<dyn Store>) {
    let options = AppOptions {
        lazy: true,
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let (client, guest_id) = guest(&app).await;
    let stale = client.fork();
    let late_write =
        tokio::spawn(async move { stale.post("/claim-later/cart:late", Value::Null).await });
    app.late_writes.arrived().await;
    let response = register(&client, "ann@example.com", PASSWORD).await;
    app.late_writes.release();
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    assert_eq!(id(&response.json), guest_id, "upgraded in place");
    let late = late_write.await.unwrap();
    assert_error(&late, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");

    let record = app.store.get_user(&guest_id, now_ms()).await.unwrap();
    let record = record.expect("the registered user is still stored");
    assert!(!record.user.is_anonymous, "still registered: {record:?}");
    assert!(record.password_hash.is_some(), "its password hash kept");
    assert_eq!(record.expires_at, None, "registered users never expire");
    assert_eq!(app.store.owner_of("cart:late").await.unwrap(), None);
    let again = sign_in(&app.client.fresh(), "ann@example.com", PASSWORD).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.json);
    assert_eq!(id(&again.json), guest_id);
}

/// Point 1 of the review: a late write with a lazy token must not bring back a guest that a
/// link deleted.
pub async fn a_late_lazy_write_does_not_bring_back_a_linked_guest(store: Arc<dyn Store>) {
    let options = AppOptions {
        lazy: true,
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let (_owner, account_id) = account(&app, "ann@example.com").await;
    let (client, guest_id) = guest(&app).await;
    let stale = client.fork();
    let replay = client.fork();
    let late_write =
        tokio::spawn(async move { stale.post("/claim-later/cart:late", Value::Null).await });
    app.late_writes.arrived().await;
    let response = sign_in(&client, "ann@example.com", PASSWORD).await;
    app.late_writes.release();
    assert_eq!(id(&response.json), account_id);
    let late = late_write.await.unwrap();
    assert_error(&late, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    assert_eq!(app.store.owner_of("cart:late").await.unwrap(), None);
    let session = format!("{guest_id}.0");
    assert_eq!(
        app.store.get_session(&session, now_ms()).await.unwrap(),
        None
    );
    assert_ne!(
        id(&me(&replay).await),
        guest_id,
        "the lazy token stays dead"
    );
}

/// Point 2 of the review: signing out with the lazy token of a guest that a write stored
/// since revokes it (on every store), and the guest's stored token with it.
pub async fn sign_out_with_the_lazy_token_of_a_stored_guest_revokes_it(store: Arc<dyn Store>) {
    let options = AppOptions {
        lazy: true,
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let (client, guest_id) = guest(&app).await;
    let lazy = client.fork();
    let lazy_replay = client.fork();
    claim(&client, "cart:1").await;
    assert_eq!(me(&client).await["persisted"], true);
    assert_eq!(
        id(&me(&lazy).await),
        guest_id,
        "the lazy token is still good"
    );
    let response = lazy.post("/sign-out", Value::Null).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    assert_ne!(
        id(&me(&lazy_replay).await),
        guest_id,
        "the lazy token is revoked"
    );
    assert_ne!(
        id(&me(&client).await),
        guest_id,
        "so is the stored token of its session"
    );
}

/// Point 6 of the review: a sign-in token is single use even when exchanged by many clients
/// at the same moment.
pub async fn a_sign_in_token_exchanged_at_once_works_once(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let login = register(&app.client.fresh(), "ann@example.com", PASSWORD).await;
    let token = login.json["token"].as_str().unwrap().to_owned();
    let clients: Vec<TestClient> = (0..8).map(|_| app.client.fresh()).collect();
    let exchanges = clients.iter().map(|client| {
        let token = token.clone();
        async move {
            client
                .post("/sign-in-token", json!({ "token": token }))
                .await
        }
    });
    let responses = futures::future::join_all(exchanges).await;
    let succeeded = responses
        .iter()
        .filter(|response| response.status == StatusCode::OK)
        .count();
    assert_eq!(
        succeeded,
        1,
        "{:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for response in responses.iter().filter(|r| r.status != StatusCode::OK) {
        assert_error(response, StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    }
}

/// Point 7 of the review: two app instances registering one guest while their hook outlasts
/// the guest lease: one registration wins, the other is refused and changes nothing.
pub async fn a_slow_hook_on_two_instances_registers_the_guest_once(store: Arc<dyn Store>) {
    let options = AppOptions {
        hook_delay: Duration::from_millis(700),
        guest_lock_ttl: Some(Duration::from_millis(200)),
        ..AppOptions::default()
    };
    let first = spawn_app(store.clone(), options.clone()).await;
    let second = spawn_app(store, options).await;
    let (client, guest_id) = guest(&first).await;
    claim(&client, "cart:1").await;
    let twin = client.fork_to(&second.client);
    let (a, b) = tokio::join!(register(&client, "ann@example.com", PASSWORD), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        register(&twin, "bob@example.com", PASSWORD).await
    },);
    let statuses = (a.status, b.status);
    let winners: Vec<&TestResponse> = [&a, &b]
        .into_iter()
        .filter(|response| response.status == StatusCode::OK)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one registration wins: {statuses:?} {:?} {:?}",
        a.json,
        b.json
    );
    let won_as = winners[0].json["email"].as_str().unwrap().to_owned();
    let record = first
        .store
        .get_user(&guest_id, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert!(!record.user.is_anonymous);
    assert_eq!(
        record.user.email, won_as,
        "the winner's registration is what is stored"
    );
    let lost_as = if won_as == "ann@example.com" {
        "bob@example.com"
    } else {
        "ann@example.com"
    };
    let loser = sign_in(&first.client.fresh(), lost_as, PASSWORD).await;
    assert_error(&loser, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    let winner = sign_in(&first.client.fresh(), &won_as, PASSWORD).await;
    assert_eq!(id(&winner.json), guest_id);
    assert_eq!(
        first
            .store
            .find_user_by_email("users", lost_as, now_ms())
            .await
            .unwrap(),
        None
    );
}

/// Point 16 of the review: an active registered session slides, but not past its absolute
/// lifetime; then the user signs in again.
pub async fn registered_sessions_end_after_their_absolute_lifetime(store: Arc<dyn Store>) {
    let options = AppOptions {
        session_max_lifetime: Some(Duration::from_secs(3)),
        refresh_interval: Some(Duration::from_secs(1)),
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let (client, account_id) = account(&app, "ann@example.com").await;
    let signed_in = Instant::now();
    // Active all along: every request past the refresh interval slides the session.
    while signed_in.elapsed() < Duration::from_millis(2_400) {
        assert_eq!(id(&me(&client).await), account_id, "within the lifetime");
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    tokio::time::sleep(Duration::from_millis(3_300).saturating_sub(signed_in.elapsed())).await;
    let after = me(&client).await;
    assert_ne!(
        after["id"],
        account_id.as_str(),
        "past the lifetime: {after}"
    );
    let again = sign_in(&client, "ann@example.com", PASSWORD).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.json);
    assert_eq!(id(&me(&client).await), account_id);
}

/// An app with the default password limits, whose requests name their client address in
/// `X-Forwarded-For` (requests without it come from 127.0.0.1).
async fn throttled_app(store: Arc<dyn Store>) -> TestApp {
    spawn_app(
        store,
        AppOptions {
            client_addresses: true,
            password_limits: true,
            ..Default::default()
        },
    )
    .await
}

/// A password sign-in from the client address `ip` (through the trusted-proxy header).
async fn sign_in_from(client: &TestClient, ip: &str, email: &str, password: &str) -> TestResponse {
    client
        .post_with(
            "/sign-in",
            json!({ "email": email, "password": password }),
            &[("x-forwarded-for", ip)],
        )
        .await
}

/// A fresh client at the address `ip` signs in to `email` with the right password.
async fn signs_in_from(app: &TestApp, ip: &str, email: &str) {
    let response = sign_in_from(&app.client.fresh(), ip, email, PASSWORD).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{ip} {email}: {:?}",
        response.json
    );
}

/// Sends wrong-password sign-ins (`email_for(i)`, from `ip_for(i)`) until one is refused
/// with `RATE_LIMITED`; returns how many were answered 401 before it. Panics when none of
/// `max` attempts is limited.
async fn guess_until_limited(
    client: &TestClient,
    max: usize,
    ip_for: impl Fn(usize) -> String,
    email_for: impl Fn(usize) -> String,
) -> usize {
    for i in 0..max {
        let response = sign_in_from(client, &ip_for(i), &email_for(i), "a wrong guess").await;
        if response.status == StatusCode::TOO_MANY_REQUESTS {
            assert_error(&response, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
            assert!(response.json["retry_after"].as_u64().unwrap() >= 1);
            let header: u64 = response.retry_after.as_deref().unwrap().parse().unwrap();
            assert!(header >= 1, "{header}");
            return i;
        }
        assert_error(&response, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    }
    panic!("{max} wrong guesses and none was rate limited");
}

/// Review point 4 (per client IP): one address guessing passwords for many emails is
/// throttled by the default limit, even for a right password; other addresses are not.
pub async fn password_guesses_from_one_address_are_throttled(store: Arc<dyn Store>) {
    let app = throttled_app(store).await;
    account(&app, "ann@example.com").await;
    let attacker = app.client.fresh();
    let allowed = guess_until_limited(
        &attacker,
        100,
        |_| "198.51.100.7".into(),
        |i| format!("victim{i}@example.com"),
    )
    .await;
    assert!(
        allowed >= 5,
        "a burst of honest attempts is allowed: {allowed}"
    );
    let right = sign_in_from(&attacker, "198.51.100.7", "ann@example.com", PASSWORD).await;
    assert_error(&right, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    signs_in_from(&app, "192.0.2.44", "ann@example.com").await;
}

/// Review point 4 (per email): guesses against one account from many addresses are
/// throttled per normalised email (case and spaces do not make a new bucket); another
/// account is not.
pub async fn password_guesses_against_one_email_are_throttled(store: Arc<dyn Store>) {
    let app = throttled_app(store).await;
    account(&app, "ann@example.com").await;
    account(&app, "bob@example.com").await;
    let attacker = app.client.fresh();
    let spellings = ["ann@example.com", " Ann@Example.com", "ANN@EXAMPLE.COM "];
    let allowed = guess_until_limited(
        &attacker,
        100,
        |i| format!("198.51.{}.{}", i / 200, i % 200 + 1),
        |i| spellings[i % spellings.len()].into(),
    )
    .await;
    assert!(
        allowed >= 3,
        "a few mistyped passwords are allowed: {allowed}"
    );
    signs_in_from(&app, "192.0.2.45", "bob@example.com").await;
}

/// Review point 4 (fair queue): a flood of parallel sign-ins from one address waits in its
/// own lane, so a user at another address who arrives after the whole flood is queued is
/// answered before most of it (in one first-come line it waited behind all of it).
pub async fn a_flood_from_one_address_does_not_delay_another_address(store: Arc<dyn Store>) {
    let app = throttled_app(store).await;
    account(&app, "ann@example.com").await;
    const FLOOD: usize = 16;
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let flood: Vec<_> = (0..FLOOD)
        .map(|i| {
            let (client, answered) = (app.client.fresh(), answered.clone());
            tokio::spawn(async move {
                let email = format!("victim{i}@example.com");
                let response = sign_in_from(&client, "198.51.100.7", &email, "a wrong guess").await;
                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                response
            })
        })
        .collect();
    // Every flood request reaches the queue long before the first few hashes are done.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = answered.load(std::sync::atomic::Ordering::SeqCst);
    signs_in_from(&app, "192.0.2.44", "ann@example.com").await;
    let during = answered.load(std::sync::atomic::Ordering::SeqCst) - before;
    for response in flood {
        assert_error(
            &response.await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "INVALID_CREDENTIALS",
        );
    }
    assert!(
        before + during < FLOOD && during <= 3,
        "the user waited for {during} flood checks ({before} were done before it came)"
    );
}

/// Generates one `#[tokio::test]` per case; `$make` is an async expression giving a fresh store.
#[macro_export]
macro_rules! account_suite {
    ($make:expr) => {
        $crate::account_suite!(@cases $make;
            register_upgrades_guest_in_place,
            register_rejects_bad_input,
            register_while_registered_is_rejected,
            register_while_signed_out_creates_user,
            sign_in_while_signed_out,
            sign_in_links_guest_to_account,
            disable_delete_keeps_guest_but_revokes_its_session,
            failed_hook_leaves_guest_intact_and_retry_completes,
            unknown_email_and_wrong_password_look_the_same,
            unknown_email_and_wrong_password_take_similar_time,
            sign_in_with_token_links_and_consumes_token,
            sign_out_revokes_the_session,
            double_submit_links_once,
            double_submit_across_instances_links_once,
            sign_in_while_registered_switches_accounts,
            old_cookies_are_refused_with_session_cache,
            lazy_guests_are_linked_and_their_tokens_revoked,
            a_late_lazy_write_does_not_undo_a_registration,
            a_late_lazy_write_does_not_bring_back_a_linked_guest,
            sign_out_with_the_lazy_token_of_a_stored_guest_revokes_it,
            a_sign_in_token_exchanged_at_once_works_once,
            a_slow_hook_on_two_instances_registers_the_guest_once,
            registered_sessions_end_after_their_absolute_lifetime,
            password_guesses_from_one_address_are_throttled,
            password_guesses_against_one_email_are_throttled,
            a_flood_from_one_address_does_not_delay_another_address,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store: std::sync::Arc<dyn tower_anonymous_auth::Store> = $make.await;
                $crate::support::account_cases::$case(store).await;
            }
        )*
    };
}
