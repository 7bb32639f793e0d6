//! Signing in with identities verified elsewhere (OpenID Connect, OAuth, passkeys), over real
//! HTTP, for any `Store`. `identity_suite!` turns each case into a `#[tokio::test]` for a
//! store factory, as `account_suite!` does.

use super::account_app::{now_ms, spawn_app, AppOptions};
use super::http_client::{TestClient, TestResponse};
use super::visitors::{assert_error, guest_with, id, ok, resources};
use hyper::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tower_anonymous_auth::store::IdentityRecord;
use tower_anonymous_auth::{LinkKind, Store};

const ISSUER: &str = "https://id.example.com";

async fn sign_in_with(
    client: &TestClient,
    subject: &str,
    email: Option<(&str, bool)>,
) -> TestResponse {
    let mut body = json!({ "provider": ISSUER, "subject": subject });
    if let Some((email, verified)) = email {
        body["email"] = email.into();
        body["verified"] = verified.into();
    }
    client.post("/sign-in-identity", body).await
}

/// A guest signing in with an identity nobody has is upgraded in place: same id, now
/// registered, its verified email the account's, its cart kept, its old cookie dead, the hook
/// told (`LinkKind::Identity`, one user). An unverified email does not become the account's.
pub async fn a_first_identity_sign_in_upgrades_the_guest(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let (client, guest_id) = guest_with(&app, "cart:1").await;
    let old = client.fork();
    let response = sign_in_with(&client, "ann", Some(("Ann@Example.com", true))).await;
    let body = ok(&response);
    assert_eq!(id(body), guest_id, "upgraded in place");
    assert_eq!(body["is_anonymous"], false);
    assert_eq!(body["email"], "ann@example.com");
    assert_eq!(resources(&client).await, json!(["cart:1"]));
    assert_ne!(
        id(&old.get("/me").await.json),
        guest_id,
        "the guest's cookie is dead"
    );
    let events = app.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, LinkKind::Identity);
    assert_eq!(events[0].anonymous.id, guest_id);
    assert_eq!(events[0].account.id, guest_id);
    assert_eq!(events[0].provider.as_deref(), Some(ISSUER));
    assert!(
        events[0].user_agent.is_some(),
        "the hook is told the user agent"
    );
    let held = app
        .store
        .find_identity("users", ISSUER, "ann", now_ms())
        .await;
    assert_eq!(held.unwrap().map(|held| held.user_id), Some(guest_id));

    let (unverified, bob_id) = guest_with(&app, "cart:2").await;
    let response = sign_in_with(&unverified, "bob", Some(("bob@example.com", false))).await;
    let body = ok(&response);
    assert_eq!(id(body), bob_id);
    assert_eq!(body["is_anonymous"], false);
    assert_ne!(
        body["email"], "bob@example.com",
        "an unverified email is not the account's"
    );
    let listed = unverified.get("/identities").await.json;
    assert_eq!(
        listed[0]["email"], "bob@example.com",
        "it is kept with the identity"
    );
}

/// A lazy guest (nothing stored yet) signing in with a new identity is stored, then upgraded
/// in place: same id, registered, never expiring, its first token dead.
pub async fn a_lazy_guest_is_stored_then_upgraded(store: Arc<dyn Store>) {
    let options = AppOptions {
        lazy: true,
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let client = app.client.fresh();
    let me = client.get("/me").await.json;
    let guest_id = id(&me);
    assert_eq!(me["persisted"], false, "a lazy guest");
    let old = client.fork();
    let response = sign_in_with(&client, "lazy", None).await;
    assert_eq!(id(ok(&response)), guest_id);
    assert_eq!(response.json["is_anonymous"], false);
    let record = app
        .store
        .get_user(&guest_id, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert!(!record.user.is_anonymous);
    assert_eq!(record.expires_at, None);
    let replay = old.get("/me").await.json;
    assert_ne!(replay["id"], json!(guest_id), "the lazy token is revoked");
}

/// Signing in again with an identity, as another guest, links that guest into the account
/// exactly as a password sign-in does: both carts end up the account's, the guest is gone.
pub async fn an_identity_sign_in_links_a_guest_into_its_account(store: Arc<dyn Store>) {
    let options = AppOptions {
        client_addresses: true,
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let (first, account_id) = guest_with(&app, "cart:1").await;
    ok(&sign_in_with(&first, "ann", Some(("ann@example.com", true))).await);
    ok(&first.post("/sign-out", Value::Null).await);
    let (second, guest_id) = guest_with(&app, "cart:2").await;
    let response = sign_in_with(&second, "ann", Some(("ann@example.com", true))).await;
    assert_eq!(id(ok(&response)), account_id);
    assert_eq!(resources(&second).await, json!(["cart:1", "cart:2"]));
    assert_eq!(app.store.get_user(&guest_id, now_ms()).await.unwrap(), None);
    let links = app.links();
    assert_eq!(links.len(), 2, "the upgrade and the link");
    assert_eq!(links[1].kind, LinkKind::Identity);
    assert_eq!(links[1].anonymous.id, guest_id);
    assert_eq!(links[1].account.id, account_id);
    assert_eq!(links[1].provider.as_deref(), Some(ISSUER));
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    assert_eq!(
        links[1].client_ip,
        Some(loopback),
        "the hook is told the client"
    );
}

/// Without a guest (on-demand minting), an identity nobody has makes a new account, and the
/// same identity signs in to it again from another browser.
pub async fn an_identity_sign_in_without_a_guest_makes_an_account(store: Arc<dyn Store>) {
    let options = AppOptions {
        on_demand: true,
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let first = app.client.fresh();
    assert_eq!(first.get("/me").await.json, Value::Null, "no guest");
    let created = sign_in_with(&first, "ann", Some(("ann@example.com", true))).await;
    let account_id = id(ok(&created));
    assert_eq!(created.json["is_anonymous"], false);
    let record = app
        .store
        .get_user(&account_id, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.expires_at, None, "an account never expires");
    let again = sign_in_with(&app.client.fresh(), "ann", None).await;
    assert_eq!(id(ok(&again)), account_id);
    assert!(app.events().is_empty(), "no guest, nothing to link");
}

/// Many browsers signing in at once with the same new identity, each as its own guest, make
/// one account: every one of them ends up signed in to it, with every cart.
pub async fn concurrent_first_sign_ins_make_one_account(store: Arc<dyn Store>) {
    let options = AppOptions {
        hook_delay: Duration::from_millis(30),
        ..AppOptions::default()
    };
    let app = spawn_app(store, options).await;
    let mut guests = Vec::new();
    for i in 0..6 {
        guests.push(guest_with(&app, &format!("cart:{i}")).await.0);
    }
    let sign_ins = guests
        .iter()
        .map(|client| sign_in_with(client, "ann", Some(("ann@example.com", true))));
    let responses = futures::future::join_all(sign_ins).await;
    let ids: std::collections::BTreeSet<String> =
        responses.iter().map(|response| id(ok(response))).collect();
    assert_eq!(ids.len(), 1, "one account: {ids:?}");
    let account_id = ids.into_iter().next().unwrap();
    let held = app
        .store
        .find_identity("users", ISSUER, "ann", now_ms())
        .await;
    assert_eq!(
        held.unwrap().map(|held| held.user_id),
        Some(account_id.clone())
    );
    let expected: Vec<String> = (0..6).map(|i| format!("cart:{i}")).collect();
    assert_eq!(resources(&guests[0]).await, json!(expected));
}

/// An identity is never joined to an account because their emails match: whether the email
/// is verified or not, the sign-in is refused with `IDENTITY_EMAIL_IN_USE` and the guest is
/// left as it was. With `link_identities_by_verified_email`, a verified email signs in to
/// the account (which then holds the identity); an unverified one is still refused.
pub async fn matching_emails_never_join_accounts_unless_verified_and_opted_in(
    store: Arc<dyn Store>,
) {
    for opted_in in [false, true] {
        let options = AppOptions {
            link_by_verified_email: opted_in,
            ..AppOptions::default()
        };
        let app = spawn_app(store.clone(), options).await;
        let email = format!("ann-{opted_in}@example.com");
        let owner = app.client.fresh();
        let registered = owner
            .post(
                "/register",
                json!({ "email": email, "password": "correct horse" }),
            )
            .await;
        let account_id = id(ok(&registered));
        let (client, guest_id) = guest_with(&app, &format!("cart:{opted_in}")).await;
        let subject = format!("attacker-{opted_in}");
        let unverified = sign_in_with(&client, &subject, Some((&email, false))).await;
        assert_error(&unverified, StatusCode::CONFLICT, "IDENTITY_EMAIL_IN_USE");
        let message = unverified.json["message"].as_str().unwrap();
        assert!(message.contains("sign in to it another way"), "{message}");
        let verified = sign_in_with(&client, &subject, Some((&email, true))).await;
        let me = client.get("/me").await.json;
        if opted_in {
            assert_eq!(id(ok(&verified)), account_id);
            let held = app
                .store
                .find_identity("users", ISSUER, &subject, now_ms())
                .await;
            assert_eq!(held.unwrap().map(|held| held.user_id), Some(account_id));
        } else {
            assert_error(&verified, StatusCode::CONFLICT, "IDENTITY_EMAIL_IN_USE");
            assert_eq!(id(&me), guest_id, "the guest is left as it was");
            assert_eq!(me["is_anonymous"], true);
            assert_eq!(
                resources(&client).await,
                json!([format!("cart:{opted_in}")])
            );
            let held = app
                .store
                .find_identity("users", ISSUER, &subject, now_ms())
                .await;
            assert_eq!(held.unwrap(), None);
        }
    }
}

/// A registered user links identities, lists them and unlinks them; another account's
/// identity is refused (`IDENTITY_TAKEN`), and so is unlinking the last way to sign in
/// (`LAST_SIGN_IN_METHOD`). Guests cannot link; bad identities are refused.
pub async fn identities_are_linked_listed_and_unlinked(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let ann = app.client.fresh();
    let registered = ann
        .post(
            "/register",
            json!({ "email": "ann@example.com", "password": "correct horse" }),
        )
        .await;
    let ann_id = id(ok(&registered));
    let github =
        json!({ "provider": "github", "subject": "583231", "email": "ann@github.example" });
    assert_eq!(
        ok(&ann.post("/link-identity", github.clone()).await)["user_id"],
        ann_id
    );
    let listed = ann.get("/identities").await.json;
    assert_eq!(
        listed,
        json!([{ "provider": "github", "subject": "583231", "email": "ann@github.example" }])
    );
    let via_github = app
        .client
        .fresh()
        .post("/sign-in-identity", github.clone())
        .await;
    assert_eq!(
        id(ok(&via_github)),
        ann_id,
        "the linked identity signs in to the account"
    );

    let (bob, _) = guest_with(&app, "cart:bob").await;
    assert_error(
        &bob.post("/link-identity", github.clone()).await,
        StatusCode::FORBIDDEN,
        "REGISTERED_USER_REQUIRED",
    );
    let bob_id = id(ok(&sign_in_with(&bob, "bob", None).await));
    assert_error(
        &bob.post("/link-identity", github.clone()).await,
        StatusCode::CONFLICT,
        "IDENTITY_TAKEN",
    );
    assert_error(
        &bob.post(
            "/unlink-identity",
            json!({ "provider": ISSUER, "subject": "bob" }),
        )
        .await,
        StatusCode::CONFLICT,
        "LAST_SIGN_IN_METHOD",
    );
    let passkey = json!({ "provider": "passkey", "subject": "credential-1" });
    ok(&bob.post("/link-identity", passkey.clone()).await);
    let removed = bob
        .post(
            "/unlink-identity",
            json!({ "provider": ISSUER, "subject": "bob" }),
        )
        .await;
    assert_eq!(ok(&removed)["removed"], true);
    let left = app.store.identities_of(&bob_id, now_ms()).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].provider, "passkey");

    // Ann has a password: her only identity can go.
    let removed = ann.post("/unlink-identity", github.clone()).await;
    assert_eq!(ok(&removed)["removed"], true);
    let again = ann.post("/unlink-identity", github).await;
    assert_eq!(ok(&again)["removed"], false);
    for bad in [
        json!({ "provider": "", "subject": "1" }),
        json!({ "provider": "github", "subject": "" }),
        json!({ "provider": "github", "subject": "x".repeat(256) }),
        json!({ "provider": "git\u{0}hub", "subject": "1" }),
    ] {
        assert_error(
            &app.client.fresh().post("/sign-in-identity", bad).await,
            StatusCode::BAD_REQUEST,
            "INVALID_IDENTITY",
        );
    }
}

/// A first sign-in that died between attaching the identity and upgrading its guest leaves
/// the identity on an anonymous user. That guest signing in again finishes its upgrade;
/// another browser signing in takes the identity over, and the stranded guest stays a guest.
pub async fn an_interrupted_first_sign_in_is_finished_or_undone(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    for (subject, finished_by_itself) in [("ann", true), ("bob", false)] {
        let (stranded, stranded_id) = guest_with(&app, &format!("cart:{subject}-1")).await;
        let interrupted = IdentityRecord::new(ISSUER, subject, stranded_id.clone(), now_ms());
        app.store
            .attach_identity("users", &interrupted, now_ms())
            .await
            .unwrap();
        let (client, expected) = if finished_by_itself {
            (stranded.clone(), stranded_id.clone())
        } else {
            guest_with(&app, &format!("cart:{subject}-2")).await
        };
        let response = sign_in_with(&client, subject, None).await;
        assert_eq!(id(ok(&response)), expected, "{subject}");
        assert_eq!(response.json["is_anonymous"], false);
        let held = app
            .store
            .find_identity("users", ISSUER, subject, now_ms())
            .await;
        assert_eq!(held.unwrap().map(|held| held.user_id), Some(expected));
        if !finished_by_itself {
            let me = stranded.get("/me").await.json;
            assert_eq!(id(&me), stranded_id);
            assert_eq!(
                me["is_anonymous"], true,
                "the stranded guest is still a guest"
            );
        }
    }
}

/// A guest signing in as a user of the app's own login is linked into this crate's record of
/// that user, which has the app's id; a second guest joins the same account, carts merged;
/// concurrent first sign-ins make one record; a guest's id is never taken over.
pub async fn app_accounts_take_the_apps_id_and_link_guests(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let app_id = format!("app-{}", now_ms());
    let body = json!({ "id": app_id, "email": "Ann@Example.com" });
    let (first, first_guest) = guest_with(&app, "cart:1").await;
    let response = first.post("/sign-in-as", body.clone()).await;
    let signed_in = ok(&response);
    assert_eq!(id(signed_in), app_id);
    assert_eq!(signed_in["is_anonymous"], false);
    assert_eq!(signed_in["email"], "ann@example.com");
    assert_eq!(resources(&first).await, json!(["cart:1"]));
    assert_eq!(
        app.store.get_user(&first_guest, now_ms()).await.unwrap(),
        None
    );
    let (second, _) = guest_with(&app, "cart:2").await;
    assert_eq!(
        id(ok(&second.post("/sign-in-as", body.clone()).await)),
        app_id
    );
    assert_eq!(resources(&second).await, json!(["cart:1", "cart:2"]));
    let links = app.links();
    assert_eq!(links.len(), 2);
    assert!(links.iter().all(|link| link.kind == LinkKind::AppAccount));
    assert!(links.iter().all(|link| link.provider.is_none()));

    let racers_id = format!("app-racers-{}", now_ms());
    let racers: Vec<TestClient> = (0..4).map(|_| app.client.fresh()).collect();
    let sign_ins = racers.iter().map(|client| {
        client.post(
            "/sign-in-as",
            json!({ "id": racers_id, "email": "racer@example.com" }),
        )
    });
    for response in futures::future::join_all(sign_ins).await {
        assert_eq!(id(ok(&response)), racers_id);
    }

    let (_, guest_id) = guest_with(&app, "cart:3").await;
    let taken = app
        .client
        .fresh()
        .post(
            "/sign-in-as",
            json!({ "id": guest_id, "email": "mallory@example.com" }),
        )
        .await;
    assert_eq!(
        taken.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{:?}",
        taken.json
    );
    let guest = app
        .store
        .get_user(&guest_id, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert!(guest.user.is_anonymous, "a guest's id is not taken over");
    for bad in [
        json!({ "id": "", "email": "a@b.io" }),
        json!({ "id": "x", "email": "nope" }),
    ] {
        let refused = app.client.fresh().post("/sign-in-as", bad).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{:?}",
            refused.json
        );
    }
}

/// A callback without the guest's cookie links the guest its link state names; the state
/// works once, and only while its guest is a guest. A stolen state used with the thief's own
/// account moves the guest's cart there and nothing more: the thief stays signed in as its
/// own account, the guest's cookie dies. Registered and signed-out callers get no state.
pub async fn a_link_state_links_the_guest_once(store: Arc<dyn Store>) {
    let app = spawn_app(store, AppOptions::default()).await;
    let state_of = |client: TestClient| async move {
        let got = client.get("/link-state").await;
        ok(&got)["state"].as_str().map(str::to_owned)
    };
    let (guest, guest_id) = guest_with(&app, "cart:1").await;
    let state = state_of(guest.clone()).await.expect("a guest gets a state");
    let callback = |subject: &str, state: &str| json!({ "provider": ISSUER, "subject": subject, "link_state": state });
    let without_cookie = app.client.fresh();
    let response = without_cookie
        .post("/sign-in-identity", callback("ann", &state))
        .await;
    assert_eq!(id(ok(&response)), guest_id, "the named guest is upgraded");
    assert_eq!(resources(&without_cookie).await, json!(["cart:1"]));
    assert_ne!(
        id(&guest.get("/me").await.json),
        guest_id,
        "the guest's cookie is dead"
    );
    let replay = app
        .client
        .fresh()
        .post("/sign-in-identity", callback("ann", &state))
        .await;
    assert_error(&replay, StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    for garbage in ["", "x.y.z", &state[..state.len() - 2]] {
        let refused = app
            .client
            .fresh()
            .post("/sign-in-identity", callback("ann", garbage))
            .await;
        assert_error(&refused, StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    }
    assert_eq!(
        state_of(without_cookie.clone()).await,
        None,
        "a registered user has no state"
    );

    let (thief, _) = guest_with(&app, "cart:thief").await;
    let thief_account = id(ok(&sign_in_with(&thief, "thief", None).await));
    let (victim, victim_id) = guest_with(&app, "cart:victim").await;
    let stolen = state_of(victim.clone()).await.unwrap();
    let used = thief
        .post("/sign-in-identity", callback("thief", &stolen))
        .await;
    assert_eq!(
        id(ok(&used)),
        thief_account,
        "the thief is still only itself"
    );
    assert_eq!(
        resources(&thief).await,
        json!(["cart:thief", "cart:victim"])
    );
    assert_ne!(id(&victim.get("/me").await.json), victim_id);
    let (signed_out, _) = guest_with(&app, "cart:2").await;
    let unused = state_of(signed_out.clone()).await.unwrap();
    ok(&signed_out.post("/sign-out", Value::Null).await);
    let dead = app
        .client
        .fresh()
        .post("/sign-in-identity", callback("carol", &unused))
        .await;
    assert_error(&dead, StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
}

/// [`concurrent_first_sign_ins_make_one_account`] with the window between attaching the
/// identity and upgrading the guest held open for 200 ms: the sign-ins that lose the race
/// wait for the winner's guest lock instead of taking the identity from it.
pub async fn concurrent_first_sign_ins_wait_for_a_slow_upgrade() {
    let store = Arc::new(super::flaky_store::FlakyStore::default());
    store
        .upgrade_delay_ms
        .store(200, std::sync::atomic::Ordering::SeqCst);
    concurrent_first_sign_ins_make_one_account(store).await;
}

#[macro_export]
macro_rules! identity_suite {
    ($make:expr) => {
        $crate::identity_suite!(@cases $make;
            a_first_identity_sign_in_upgrades_the_guest,
            an_identity_sign_in_links_a_guest_into_its_account,
            an_identity_sign_in_without_a_guest_makes_an_account,
            concurrent_first_sign_ins_make_one_account,
            matching_emails_never_join_accounts_unless_verified_and_opted_in,
            identities_are_linked_listed_and_unlinked,
            an_interrupted_first_sign_in_is_finished_or_undone,
            app_accounts_take_the_apps_id_and_link_guests,
            a_link_state_links_the_guest_once,
            a_lazy_guest_is_stored_then_upgraded,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        mod identities {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let store: std::sync::Arc<dyn tower_anonymous_auth::Store> = $make.await;
                    $crate::support::identity_cases::$case(store).await;
                }
            )*
        }
    };
}
