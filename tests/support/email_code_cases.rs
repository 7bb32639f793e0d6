//! One-time email codes over real HTTP, for any `Store`: asking for a code, signing in or up
//! with it or with its link, linking the guest, and the limits. `email_code_suite!` turns
//! each case into a `#[tokio::test]` for a store factory, as `identity_suite!` does.

use super::account_app::{now_ms, spawn_app, AppOptions};
use super::http_client::{TestClient, TestResponse};
use super::visitors::{assert_error, guest_with, id, ok, resources};
use hyper::StatusCode;
use serde_json::json;
use std::sync::Arc;
use tower_anonymous_auth::{LinkKind, Store};

async fn ask(client: &TestClient, email: &str) -> TestResponse {
    client.post("/email-code", json!({ "email": email })).await
}

async fn enter(client: &TestClient, email: &str, code: &str) -> TestResponse {
    let body = json!({ "email": email, "code": code });
    client.post("/sign-in-email-code", body).await
}

/// A guest signing up with an email code is upgraded in place: same id, registered without
/// a password, its email verified, its cart kept, its old cookie dead, the hook told
/// (`LinkKind::EmailCode`, one user). The mail holds six digits and a link token, and the
/// code works for the address however it is typed.
pub async fn an_email_code_signs_up_the_guest_in_place(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let (client, guest_id) = guest_with(&app, "cart:1").await;
    let old = client.fork();
    assert_eq!(ok(&ask(&client, " Ann@Example.com ").await)["sent"], true);
    let mail = app.last_mail_to("ann@example.com");
    assert!(mail.code.len() == 6 && mail.code.bytes().all(|b| b.is_ascii_digit()));
    assert!(mail.expires_at > now_ms() + 9 * 60_000, "ten minutes");
    assert!(!mail.link_token.is_empty());

    let body = ok(&enter(&client, "ANN@example.com", &mail.code).await).clone();
    assert_eq!(id(&body), guest_id, "upgraded in place");
    assert_eq!(body["is_anonymous"], false);
    assert_eq!(body["email"], "ann@example.com");
    assert_eq!(body["email_verified"], true);
    assert_eq!(resources(&client).await, json!(["cart:1"]));
    assert_eq!(client.get("/me").await.json["email_verified"], true);
    assert_ne!(id(&old.get("/me").await.json), guest_id, "old cookie dead");
    let record = app.store.get_user(&guest_id, now_ms()).await.unwrap();
    let record = record.expect("the account");
    assert!(record.user.email_verified && !record.user.is_anonymous);
    assert!(record.password_hash.is_none(), "no password");
    assert_eq!(record.expires_at, None);
    let events = app.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, LinkKind::EmailCode);
    assert_eq!(events[0].anonymous.id, guest_id);
    assert_eq!(events[0].account.id, guest_id);
}

/// A guest signing in with a code for an account's email is linked into it: the account's id,
/// both carts, the hook told; the account's email becomes verified. Asking for a code says
/// the same whether or not the email has an account.
pub async fn an_email_code_links_the_guest_into_the_account(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let (owner, _) = guest_with(&app, "cart:owner").await;
    let credentials = json!({ "email": "bob@example.com", "password": "correct horse battery" });
    let account = ok(&owner.post("/register", credentials).await).clone();
    assert_eq!(
        account["email_verified"], false,
        "a password proves no address"
    );
    let account_id = id(&account);

    let (guest, guest_id) = guest_with(&app, "cart:guest").await;
    let known = ask(&guest, "bob@example.com").await;
    let unknown = ask(&guest, "nobody@example.com").await;
    assert_eq!(
        (known.status, &known.json),
        (unknown.status, &unknown.json),
        "asking never tells whether the email has an account"
    );
    let mail = app.last_mail_to("bob@example.com");
    let body = ok(&enter(&guest, "bob@example.com", &mail.code).await).clone();
    assert_eq!(id(&body), account_id);
    assert_eq!(body["email_verified"], true);
    assert_eq!(resources(&guest).await, json!(["cart:guest", "cart:owner"]));
    let links = app.links();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].kind, LinkKind::EmailCode);
    assert_eq!(links[0].anonymous.id, guest_id);
    assert_eq!(links[0].account.id, account_id);
    let record = app.store.get_user(&account_id, now_ms()).await.unwrap();
    assert!(record.unwrap().user.email_verified);
    let gone = app.store.get_user(&guest_id, now_ms()).await.unwrap();
    assert!(gone.is_none(), "the guest is deleted");
}

/// A code works once; five wrong tries kill it (the right code fails afterwards); a new
/// code replaces the previous one; every failure is the same `INVALID_EMAIL_CODE`.
pub async fn email_codes_are_single_use_and_die_after_five_wrong_tries(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let client = app.client.fresh();
    let email = "cy@example.com";
    ok(&ask(&client, email).await);
    let mail = app.last_mail_to(email);
    for guess in 0..5 {
        let wrong = format!(
            "{:06}",
            (mail.code.parse::<u32>().unwrap() + 1 + guess) % 1_000_000
        );
        let response = enter(&client, email, &wrong).await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "INVALID_EMAIL_CODE");
    }
    let killed = enter(&client, email, &mail.code).await;
    assert_error(&killed, StatusCode::UNAUTHORIZED, "INVALID_EMAIL_CODE");

    ok(&ask(&client, email).await);
    let first = app.last_mail_to(email);
    ok(&ask(&client, email).await);
    let second = app.last_mail_to(email);
    if first.code != second.code {
        let replaced = enter(&client, email, &first.code).await;
        assert_error(&replaced, StatusCode::UNAUTHORIZED, "INVALID_EMAIL_CODE");
    }
    ok(&enter(&client, email, &second.code).await);
    let again = enter(&client.fresh(), email, &second.code).await;
    assert_error(&again, StatusCode::UNAUTHORIZED, "INVALID_EMAIL_CODE");
    let garbage = enter(&client, email, &"9".repeat(500)).await;
    assert_error(&garbage, StatusCode::UNAUTHORIZED, "INVALID_EMAIL_CODE");
    let bad_email = enter(&client, "not an email", "123456").await;
    assert_error(&bad_email, StatusCode::BAD_REQUEST, "INVALID_EMAIL");
}

/// The link token signs in like the code, once, and uses the code up; without a guest (on
/// demand) it makes a plain account; a forged or altered token is refused.
pub async fn the_link_token_signs_in_once(store: Arc<dyn Store>) {
    let options = AppOptions {
        on_demand: true,
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let client = app.client.fresh();
    ok(&ask(&client, "dee@example.com").await);
    let mail = app.last_mail_to("dee@example.com");
    let link = |token: &str| json!({ "token": token });
    let altered = format!("{}x", mail.link_token);
    let forged = client.post("/sign-in-email-link", link(&altered)).await;
    assert_error(&forged, StatusCode::UNAUTHORIZED, "INVALID_EMAIL_CODE");
    for bad in ["", ".", "no-dot", &"a.".repeat(200)] {
        let response = client.post("/sign-in-email-link", link(bad)).await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "INVALID_EMAIL_CODE");
    }
    let body = ok(&client
        .post("/sign-in-email-link", link(&mail.link_token))
        .await)
    .clone();
    assert_eq!(body["email"], "dee@example.com");
    assert_eq!(body["is_anonymous"], false);
    assert_eq!(body["email_verified"], true);
    assert!(app.events().is_empty(), "no guest, no link");
    let replay = app
        .client
        .fresh()
        .post("/sign-in-email-link", link(&mail.link_token))
        .await;
    assert_error(&replay, StatusCode::UNAUTHORIZED, "INVALID_EMAIL_CODE");
    let code_too = enter(&app.client.fresh(), "dee@example.com", &mail.code).await;
    assert_error(&code_too, StatusCode::UNAUTHORIZED, "INVALID_EMAIL_CODE");

    // The account exists now: a second code signs in to it.
    ok(&ask(&client, "dee@example.com").await);
    let mail = app.last_mail_to("dee@example.com");
    let again = ok(&enter(&app.client.fresh(), "dee@example.com", &mail.code).await).clone();
    assert_eq!(id(&again), id(&body));
}

/// Guests racing with one code: exactly one signs in (and is upgraded); the others get
/// `INVALID_EMAIL_CODE` and stay the guests they were.
pub async fn concurrent_sign_ins_with_one_code_sign_in_once(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let mut guests = Vec::new();
    for i in 0..6 {
        guests.push(guest_with(&app, &format!("cart:{i}")).await);
    }
    ok(&ask(&guests[0].0, "eve@example.com").await);
    let mail = app.last_mail_to("eve@example.com");
    let tries = guests
        .iter()
        .map(|(client, _)| enter(client, "eve@example.com", &mail.code));
    let responses = futures::future::join_all(tries).await;
    let winners: Vec<usize> = (0..responses.len())
        .filter(|&i| responses[i].status == StatusCode::OK)
        .collect();
    assert_eq!(winners.len(), 1, "one sign-in per code");
    for (i, response) in responses.iter().enumerate() {
        if i != winners[0] {
            assert_error(response, StatusCode::UNAUTHORIZED, "INVALID_EMAIL_CODE");
            let me = guests[i].0.get("/me").await.json;
            assert_eq!(id(&me), guests[i].1, "a loser keeps its guest");
        }
    }
    assert_eq!(id(&responses[winners[0]].json), guests[winners[0]].1);
}

/// Asking is rate limited per address (and a refused ask sends nothing); a mailer that fails
/// is `EMAIL_NOT_SENT`, a 503.
pub async fn asking_is_rate_limited_and_a_failed_mailer_says_so(store: Arc<dyn Store>) {
    let options = AppOptions {
        password_limits: true,
        client_addresses: true,
        ..AppOptions::default()
    };
    let app = spawn_app(store.clone(), options).await;
    let mut refused = None;
    for i in 0..30 {
        // A new client address each time: only the per-address limit can refuse.
        let ip = format!("10.0.0.{i}");
        let client = app.client.fresh();
        let response = client
            .post_with(
                "/email-code",
                json!({ "email": "fay@example.com" }),
                &[("x-forwarded-for", &ip)],
            )
            .await;
        if response.status != StatusCode::OK {
            refused = Some((i, response));
            break;
        }
    }
    let (asked, response) = refused.expect("the per-address limit refuses at some point");
    assert_error(&response, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    let sent = app.outbox.lock().unwrap().len();
    assert_eq!(sent, asked, "a refused ask sends nothing");

    let down = AppOptions {
        mailer_down: true,
        ..AppOptions::default()
    };
    let app = spawn_app(store, down).await;
    let response = ask(&app.client.fresh(), "gus@example.com").await;
    assert_error(&response, StatusCode::SERVICE_UNAVAILABLE, "EMAIL_NOT_SENT");
}

/// An identity sign-up whose provider verified the email starts verified; an unverified one
/// does not.
pub async fn a_verified_identity_email_starts_verified(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let sign_in = |subject: &str, verified: bool| {
        let client = app.client.fresh();
        let body = json!({
            "provider": "https://id.example.com", "subject": subject,
            "email": format!("{subject}@example.com"), "verified": verified,
        });
        async move { client.post("/sign-in-identity", body).await }
    };
    let verified = sign_in("hal", true).await;
    assert_eq!(ok(&verified)["email_verified"], true);
    let unverified = sign_in("ida", false).await;
    assert_eq!(ok(&unverified)["email_verified"], false);
}

/// `email_code_suite!(store_factory)`: one `#[tokio::test]` per case.
#[macro_export]
macro_rules! email_code_suite {
    ($make:expr) => {
        $crate::email_code_suite!(@cases $make;
            an_email_code_signs_up_the_guest_in_place,
            an_email_code_links_the_guest_into_the_account,
            email_codes_are_single_use_and_die_after_five_wrong_tries,
            the_link_token_signs_in_once,
            concurrent_sign_ins_with_one_code_sign_in_once,
            asking_is_rate_limited_and_a_failed_mailer_says_so,
            a_verified_identity_email_starts_verified,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        mod email_codes {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let store: std::sync::Arc<dyn tower_anonymous_auth::Store> = $make.await;
                    $crate::support::email_code_cases::$case(store).await;
                }
            )*
        }
    };
}
