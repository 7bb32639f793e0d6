//! An axum app over `AnonymousAuthLayer`, served on a real TCP socket, for the account tests.

use super::apps::auth_json;
use super::http_client::TestClient;
use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower_anonymous_auth::{
    AnonymousAuthConfig, AnonymousAuthLayer, AppAccount, AuthError, AuthHandle, EmailCode,
    Identity, LinkEvent, LinkKind, MintPolicy, Registration, Store,
};

/// How to configure the app under test.
#[derive(Clone, Default)]
pub struct AppOptions {
    pub on_demand: bool,
    pub disable_delete_anonymous_user: bool,
    /// The hook fails for this many sign-in links (not registrations), then succeeds.
    pub hook_failures: usize,
    /// The hook sleeps this long (to widen race windows).
    pub hook_delay: Duration,
    /// Turn on the in-process session memo (`session_cache_ttl`, 60 s).
    pub session_cache: bool,
    /// Turn on `lazy_persistence` (guests live in their token until their first write).
    pub lazy: bool,
    /// `guest_lock_ttl` (the store lease on a guest while it registers or links).
    pub guest_lock_ttl: Option<Duration>,
    /// `session_max_lifetime` (a registered session's absolute lifetime).
    pub session_max_lifetime: Option<Duration>,
    /// `refresh_interval` (how often an active session slides).
    pub refresh_interval: Option<Duration>,
    /// Serve with the peer address and trust `X-Forwarded-For` from loopback, so a test
    /// chooses each request's client IP with that header.
    pub client_addresses: bool,
    /// Turn on `link_identities_by_verified_email`.
    pub link_by_verified_email: bool,
    /// Keep the default password-attempt limits (otherwise off: the timing test alone signs
    /// in to one email more often than a person would).
    pub password_limits: bool,
    /// The `send_email_code` hook fails (the mailer is down).
    pub mailer_down: bool,
}

/// A running app: its store, the events its `on_link_account` saw, and a client.
pub struct TestApp {
    pub store: Arc<dyn Store>,
    pub events: Arc<Mutex<Vec<LinkEvent>>>,
    pub client: TestClient,
    pub late_writes: Arc<LateWrites>,
    /// The mail `send_email_code` was given, oldest first.
    pub outbox: Arc<Mutex<Vec<EmailCode>>>,
}

/// Holds `POST /claim-later/{resource}` requests in their handler, after the layer resolved
/// their auth, until the test lets them go: a slow handler racing other requests, without
/// depending on how fast the machine is.
pub struct LateWrites {
    arrived: tokio::sync::Semaphore,
    go: tokio::sync::Semaphore,
}

impl Default for LateWrites {
    fn default() -> Self {
        Self {
            arrived: tokio::sync::Semaphore::new(0),
            go: tokio::sync::Semaphore::new(0),
        }
    }
}

impl LateWrites {
    /// Waits until one held write has resolved its auth and reached its handler.
    pub async fn arrived(&self) {
        self.arrived.acquire().await.unwrap().forget();
    }

    /// Lets one held write go on.
    pub fn release(&self) {
        self.go.add_permits(1);
    }
}

impl TestApp {
    /// The last mail sent to `email`.
    pub fn last_mail_to(&self, email: &str) -> EmailCode {
        let outbox = self.outbox.lock().unwrap();
        let mail = outbox.iter().rev().find(|mail| mail.email == email);
        mail.cloned().expect("a mail was sent")
    }

    pub fn events(&self) -> Vec<LinkEvent> {
        self.events.lock().unwrap().clone()
    }

    /// The events of sign-in links (registrations left out).
    pub fn links(&self) -> Vec<LinkEvent> {
        let mut events = self.events();
        events.retain(|event| event.kind != LinkKind::Register);
        events
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub async fn spawn_app(store: Arc<dyn Store>, options: AppOptions) -> TestApp {
    let events: Arc<Mutex<Vec<LinkEvent>>> = Arc::default();
    let failures_left = Arc::new(AtomicUsize::new(options.hook_failures));
    let hook_events = events.clone();
    let delay = options.hook_delay;
    let outbox: Arc<Mutex<Vec<EmailCode>>> = Arc::default();
    let mailbox = outbox.clone();
    let mailer_down = options.mailer_down;
    let mut builder = AnonymousAuthConfig::builder().send_email_code(move |mail: EmailCode| {
        let mailbox = mailbox.clone();
        async move {
            if mailer_down {
                return Err("smtp: connection refused");
            }
            mailbox.lock().unwrap().push(mail);
            Ok(())
        }
    });
    if options.session_cache {
        builder = builder.session_cache_ttl(Duration::from_secs(60));
    }
    if let Some(ttl) = options.guest_lock_ttl {
        builder = builder.guest_lock_ttl(ttl);
    }
    if let Some(lifetime) = options.session_max_lifetime {
        builder = builder.session_max_lifetime(lifetime);
    }
    if let Some(interval) = options.refresh_interval {
        builder = builder.refresh_interval(interval);
    }
    if options.client_addresses {
        builder = builder.trusted_proxies(["127.0.0.0/8"]);
    }
    if !options.password_limits {
        builder = builder
            .sign_in_limit_per_ip(None)
            .sign_in_limit_per_email(None);
    }
    let config = builder
        .lazy_persistence(options.lazy)
        .key("test", b"an integration-test secret of 32+ bytes")
        .secure(false)
        .mint_policy(if options.on_demand {
            MintPolicy::OnDemand
        } else {
            MintPolicy::Always
        })
        .disable_delete_anonymous_user(options.disable_delete_anonymous_user)
        .link_identities_by_verified_email(options.link_by_verified_email)
        .on_link_account(move |event: LinkEvent| {
            let events = hook_events.clone();
            let failures_left = failures_left.clone();
            async move {
                tokio::time::sleep(delay).await;
                let fail = event.kind != LinkKind::Register
                    && failures_left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                if fail {
                    return Err("cart merge failed");
                }
                events.lock().unwrap().push(event);
                Ok(())
            }
        })
        .build()
        .unwrap();
    let late_writes = Arc::new(LateWrites::default());
    let app = Router::new()
        .route("/me", get(me))
        .route("/register", post(register))
        .route("/sign-in", post(sign_in))
        .route("/sign-in-token", post(sign_in_token))
        .route("/sign-out", post(sign_out))
        .route("/sign-in-identity", post(sign_in_identity))
        .route("/link-identity", post(link_identity))
        .route("/unlink-identity", post(unlink_identity))
        .route("/identities", get(identities))
        .route("/sign-in-as", post(sign_in_as))
        .route("/link-state", get(link_state))
        .route("/email-code", post(request_email_code))
        .route("/sign-in-email-code", post(sign_in_email_code))
        .route("/sign-in-email-link", post(sign_in_email_link))
        .route("/claim/{resource}", post(claim))
        .route("/claim-later/{resource}", post(claim_later))
        .route("/resources", get(resources))
        .layer(axum::Extension(late_writes.clone()))
        .layer(AnonymousAuthLayer::from_arc(store.clone(), config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if options.client_addresses {
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app).await.unwrap();
        } else {
            axum::serve(listener, app).await.unwrap();
        }
    });
    TestApp {
        store,
        late_writes,
        events,
        outbox,
        client: TestClient::new(addr),
    }
}

#[derive(Deserialize)]
struct EmailCodeBody {
    email: String,
    code: Option<String>,
}

async fn request_email_code(
    handle: AuthHandle,
    Json(body): Json<EmailCodeBody>,
) -> Result<Json<Value>, AuthError> {
    handle.request_email_code(&body.email).await?;
    Ok(Json(json!({ "sent": true })))
}

async fn sign_in_email_code(
    handle: AuthHandle,
    Json(body): Json<EmailCodeBody>,
) -> Result<Json<Value>, AuthError> {
    let code = body.code.unwrap_or_default();
    let auth = handle.sign_in_with_email_code(&body.email, &code).await?;
    Ok(Json(auth_json(&auth)))
}

async fn sign_in_email_link(
    handle: AuthHandle,
    Json(body): Json<TokenBody>,
) -> Result<Json<Value>, AuthError> {
    let auth = handle.sign_in_with_email_link(&body.token).await?;
    Ok(Json(auth_json(&auth)))
}

async fn me(handle: AuthHandle) -> Json<Value> {
    Json(handle.auth().as_ref().map_or(Value::Null, auth_json))
}

#[derive(Deserialize)]
/// The JSON body of `/register` and `/sign-in`.
pub struct Credentials {
    email: String,
    password: String,
    name: Option<String>,
}

/// `POST /register`: register with a password (a guest is upgraded in place).
pub async fn register(
    handle: AuthHandle,
    Json(body): Json<Credentials>,
) -> Result<Json<Value>, AuthError> {
    let mut registration = Registration::new(body.email, body.password);
    if let Some(name) = body.name {
        registration = registration.name(name);
    }
    let auth = handle.register_with_password(registration).await?;
    Ok(Json(auth_json(&auth)))
}

/// `POST /sign-in`: sign in with a password (a guest is linked).
pub async fn sign_in(
    handle: AuthHandle,
    Json(body): Json<Credentials>,
) -> Result<Json<Value>, AuthError> {
    let auth = handle
        .sign_in_with_password(&body.email, &body.password)
        .await?;
    Ok(Json(auth_json(&auth)))
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

async fn sign_in_token(
    handle: AuthHandle,
    Json(body): Json<TokenBody>,
) -> Result<Json<Value>, AuthError> {
    let auth = handle.sign_in_with_token(&body.token).await?;
    Ok(Json(auth_json(&auth)))
}

async fn sign_out(handle: AuthHandle) -> Result<Json<Value>, AuthError> {
    handle.sign_out().await?;
    Ok(Json(json!({ "signed_out": true })))
}

async fn claim(handle: AuthHandle, Path(resource): Path<String>) -> Result<Json<Value>, AuthError> {
    let outcome = handle.try_claim(&resource).await?;
    Ok(Json(json!({ "owned": outcome.is_owned_by_caller() })))
}

/// `POST /claim-later/{resource}`: a write that starts from the auth the layer resolved, once
/// the test releases it ([`LateWrites`]).
async fn claim_later(
    handle: AuthHandle,
    axum::Extension(late): axum::Extension<Arc<LateWrites>>,
    Path(resource): Path<String>,
) -> Result<Json<Value>, AuthError> {
    late.arrived.add_permits(1);
    late.go.acquire().await.unwrap().forget();
    claim(handle, Path(resource)).await
}

async fn resources(handle: AuthHandle) -> Result<Json<Value>, AuthError> {
    Ok(Json(json!(handle.resources().await?)))
}

/// The JSON body of the identity routes: what a provider callback would have verified.
#[derive(Deserialize)]
pub struct IdentityBody {
    provider: String,
    subject: String,
    email: Option<String>,
    #[serde(default)]
    verified: bool,
    name: Option<String>,
    link_state: Option<String>,
}

impl IdentityBody {
    fn identity(self) -> Identity {
        let mut identity = Identity::new(self.provider, self.subject);
        if let Some(email) = self.email {
            identity = identity.email(email, self.verified);
        }
        if let Some(name) = self.name {
            identity = identity.name(name);
        }
        if let Some(state) = self.link_state {
            identity = identity.link_state(state);
        }
        identity
    }
}

/// `POST /sign-in-identity`: as an OpenID Connect callback would, once it checked the token.
async fn sign_in_identity(
    handle: AuthHandle,
    Json(body): Json<IdentityBody>,
) -> Result<Json<Value>, AuthError> {
    let auth = handle.sign_in_with_identity(body.identity()).await?;
    Ok(Json(auth_json(&auth)))
}

async fn link_identity(
    handle: AuthHandle,
    Json(body): Json<IdentityBody>,
) -> Result<Json<Value>, AuthError> {
    let record = handle.link_identity(body.identity()).await?;
    Ok(Json(
        json!({ "provider": record.provider, "user_id": record.user_id }),
    ))
}

async fn unlink_identity(
    handle: AuthHandle,
    Json(body): Json<IdentityBody>,
) -> Result<Json<Value>, AuthError> {
    let removed = handle
        .unlink_identity(&body.provider, &body.subject)
        .await?;
    Ok(Json(json!({ "removed": removed })))
}

async fn identities(handle: AuthHandle) -> Result<Json<Value>, AuthError> {
    let held = handle.identities().await?;
    let held: Vec<Value> = held
        .iter()
        .map(|identity| {
            json!({
                "provider": identity.provider,
                "subject": identity.subject,
                "email": identity.email,
            })
        })
        .collect();
    Ok(Json(json!(held)))
}

#[derive(Deserialize)]
struct AppAccountBody {
    id: String,
    email: String,
}

/// `POST /sign-in-as`: as an app's own login would, once its password check passed.
async fn sign_in_as(
    handle: AuthHandle,
    Json(body): Json<AppAccountBody>,
) -> Result<Json<Value>, AuthError> {
    let auth = handle
        .sign_in_as(AppAccount::new(body.id, body.email))
        .await?;
    Ok(Json(auth_json(&auth)))
}

/// `GET /link-state`: what an app would put in the OAuth `state`.
async fn link_state(handle: AuthHandle) -> Result<Json<Value>, AuthError> {
    Ok(Json(json!({ "state": handle.link_state().await? })))
}
