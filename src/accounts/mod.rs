//! Accounts: registering with a password, signing in with a password or a token, and what each
//! does to the current user (upgrade in place, link, switch). [`AuthHandle`](crate::AuthHandle)
//! exposes them; every one of them rotates the session (new id and token, old one revoked).

pub(crate) mod app_account;
pub(crate) mod email_code;
pub(crate) mod identity;
pub(crate) mod link;

use crate::engine::AuthEngine;
use crate::engine::CookieSlot;
use crate::error::AuthError;
use crate::link_event::LinkKind;
use crate::password;
use crate::request::Caller;
use crate::store::{SessionRecord, StoreError, User, UserRecord};
use crate::token::auth::Auth;
use crate::util::clock::now_millis;
use crate::util::email::normalize_email;
use crate::util::ids::{millis, new_id, new_session_id};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use link::Cause;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// What [`AuthHandle::register_with_password`](crate::AuthHandle::register_with_password)
/// needs: email, password and an optional display name. Its `Debug` never shows the password.
///
/// ```
/// use tower_anonymous_auth::Registration;
/// let registration = Registration::new("ann@example.com", "correct horse battery").name("Ann");
/// assert!(!format!("{registration:?}").contains("horse"));
/// ```
#[derive(Clone)]
#[must_use]
pub struct Registration {
    pub(crate) email: String,
    pub(crate) password: String,
    pub(crate) name: Option<String>,
}

impl Registration {
    /// A registration with email and password. The email is trimmed and lowercased.
    ///
    /// ```
    /// let r = tower_anonymous_auth::Registration::new("ann@example.com", "correct horse battery");
    /// # let _ = r;
    /// ```
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            password: password.into(),
            name: None,
        }
    }

    /// The display name. Without one, an upgraded guest keeps its generated name and a new
    /// user gets one from the configured `generate_name`.
    ///
    /// ```
    /// let r = tower_anonymous_auth::Registration::new("a@b.io", "12345678").name("Ann");
    /// # let _ = r;
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("name", &self.name)
            .finish()
    }
}

/// A registration's store error as the caller sees it.
fn registration_error(err: StoreError) -> AuthError {
    match err {
        StoreError::AlreadyRegistered(_) => AuthError::AlreadyRegistered,
        other => other.into(),
    }
}

/// Registers: upgrades the current guest in place, or creates a user when signed out.
pub(crate) async fn register(
    engine: &AuthEngine,
    current: Option<&Auth>,
    registration: Registration,
    set_cookie: &CookieSlot,
    caller: &Caller,
) -> Result<Auth, AuthError> {
    let client_ip = caller.client_ip;
    if current.is_some_and(|auth| !auth.is_anonymous()) {
        return Err(AuthError::AlreadyRegistered);
    }
    let email = normalize_email(&registration.email).ok_or(AuthError::InvalidEmail)?;
    let config = &engine.config;
    password::check_length(
        &registration.password,
        config.password_min,
        config.password_max,
    )?;
    let collection = collection_of(engine, current);
    // Fail fast (before hashing) when another user has the email; the store checks again.
    let holder = engine
        .store
        .find_user_by_email(collection, &email, now_millis())
        .await?;
    if holder.is_some_and(|record| current.is_none_or(|guest| guest.user().id != record.user.id)) {
        return Err(AuthError::EmailTaken);
    }
    check_attempt_rate(engine, "password", client_ip, None).await?;
    let hash = password::hash(registration.password, client_ip).await?;
    match current {
        Some(guest) => {
            // A lazy guest (only in its token) is stored first, under the same ids.
            let guest = engine.persist(guest, set_cookie, client_ip).await?;
            let cause = Cause::new(LinkKind::Register, caller);
            let upgrade = Upgrade {
                email,
                name: registration.name,
                hash: Some(hash),
                verified: false,
            };
            upgrade_guest(engine, &guest, upgrade, cause, set_cookie).await
        }
        None => create_user(engine, email, registration.name, hash, set_cookie).await,
    }
}

/// What a guest registers with.
struct Upgrade {
    email: String,
    name: Option<String>,
    /// The password hash; none for a sign-up by email code.
    hash: Option<String>,
    /// Whether the guest proved it controls `email` (an email code).
    verified: bool,
}

async fn upgrade_guest(
    engine: &AuthEngine,
    guest: &Auth,
    upgrade: Upgrade,
    cause: Cause<'_>,
    set_cookie: &CookieSlot,
) -> Result<Auth, AuthError> {
    let Upgrade {
        email,
        name,
        hash,
        verified,
    } = upgrade;
    let kind = cause.kind;
    let _flight = engine.lock_guest(&guest.user().id).await?;
    let now = now_millis();
    let session_live = engine
        .store
        .get_session(guest.session_id(), now)
        .await?
        .is_some_and(|session| session.user_id == guest.user().id);
    let record = engine.store.get_user(&guest.user().id, now).await?;
    let Some(record) = record.filter(|_| session_live) else {
        return Err(AuthError::Unauthenticated);
    };
    if !record.user.is_anonymous {
        // A concurrent request registered this guest first.
        return Err(AuthError::AlreadyRegistered);
    }
    let name = name.unwrap_or_else(|| record.user.name.clone());
    let account = User {
        email: email.clone(),
        name: name.clone(),
        is_anonymous: false,
        ..record.user.clone()
    };
    link::run_hook(engine, cause.event(record.user, account)).await?;
    // The hook may have outlasted the lease; the upgrade is conditional in the store anyway
    // (a concurrent registration that won makes it ALREADY_REGISTERED).
    _flight.ensure_held()?;
    let upgraded = engine
        .store
        .upgrade_user(&guest.user().id, &email, &name, hash.as_deref(), now)
        .await
        .map_err(registration_error)?;
    let mut user = upgraded.user;
    if verified {
        let marked = engine
            .store
            .mark_email_verified(&user.id, &email, now)
            .await?;
        user.email_verified = marked.is_some();
    }
    link::revoke_guest(engine, guest, false).await?;
    let auth = engine.start_session(&user, set_cookie).await?;
    tracing::info!(user_id = %user.id, kind = kind.as_str(), "guest registered (upgraded in place)");
    Ok(auth)
}

async fn create_user(
    engine: &AuthEngine,
    email: String,
    name: Option<String>,
    hash: String,
    set_cookie: &CookieSlot,
) -> Result<Auth, AuthError> {
    let config = &engine.config;
    let now = now_millis();
    let id = new_id();
    let name = name.unwrap_or_else(|| (config.generate_name)(&id));
    let user = User::registered(id, config.collection.clone(), email, name, now);
    let record = UserRecord::new(user.clone()).with_password_hash(Some(hash));
    let ttl = config.ttl_for(false);
    let session = SessionRecord::new(
        new_session_id(&user.id),
        user.id.clone(),
        now,
        now.saturating_add(millis(ttl)),
    );
    engine
        .store
        .insert_user(&record, Some(&session), now)
        .await
        .map_err(registration_error)?;
    let auth = engine.issue(&user, &session, false)?;
    engine.cookie.set(set_cookie, auth.token(), ttl);
    tracing::info!(user_id = %user.id, "user registered");
    Ok(auth)
}

/// Checks email and password; unknown emails, users without a password and wrong passwords
/// all give [`AuthError::InvalidCredentials`] after one argon2 verification each.
async fn check_credentials(
    engine: &AuthEngine,
    collection: &str,
    email: &str,
    password: &str,
    client_ip: Option<IpAddr>,
) -> Result<User, AuthError> {
    let email = normalize_email(email).ok_or(AuthError::InvalidEmail)?;
    check_attempt_rate(engine, "password", client_ip, Some((collection, &email))).await?;
    if password.chars().count() > engine.config.password_max {
        // No stored password can be this long: refuse without hashing attacker-sized input.
        return Err(AuthError::InvalidCredentials);
    }
    let record = engine
        .store
        .find_user_by_email(collection, &email, now_millis())
        .await?;
    let candidate = record.and_then(|record| {
        let hash = record.password_hash.filter(|_| !record.user.is_anonymous)?;
        Some((record.user, hash))
    });
    let Some((user, hash)) = candidate else {
        password::verify_dummy(password.to_owned(), client_ip).await?;
        tracing::info!("sign-in failed: unknown email");
        return Err(AuthError::InvalidCredentials);
    };
    if password::verify(password.to_owned(), hash, client_ip).await? {
        Ok(user)
    } else {
        tracing::info!(user_id = %user.id, "sign-in failed: wrong password");
        Err(AuthError::InvalidCredentials)
    }
}

/// The collection the caller's account lives in: the signed-in user's, else the configured
/// one.
fn collection_of<'a>(engine: &'a AuthEngine, current: Option<&'a Auth>) -> &'a str {
    current.map_or(engine.config.collection.as_str(), |auth| {
        &auth.user().collection
    })
}

/// Counts an attempt of kind `purpose` (its buckets are its own) against the per-IP limit
/// and, when given, the per-email limit (keyed by a hash of the collection and normalised
/// email, so that no email is written to the store in clear): [`AuthError::RateLimited`]
/// when either is spent. Password attempts are counted before any hashing, so a refused one
/// costs no argon2 work.
async fn check_attempt_rate(
    engine: &AuthEngine,
    purpose: &str,
    client_ip: Option<IpAddr>,
    email: Option<(&str, &str)>,
) -> Result<(), AuthError> {
    let config = &engine.config;
    let now = now_millis();
    if let (Some(limit), Some(ip)) = (config.sign_in_limit_per_ip, client_ip) {
        let key = format!("{purpose}-ip:{}", crate::request::client_ip::client_key(ip));
        engine.check_rate(&key, limit, now).await.inspect_err(|_| {
            tracing::info!(%ip, purpose, "attempt rate limited (client address)");
        })?;
    }
    if let (Some(limit), Some((collection, email))) = (config.sign_in_limit_per_email, email) {
        let digest = Sha256::new()
            .chain_update(collection.as_bytes())
            .chain_update([0])
            .chain_update(email.as_bytes())
            .finalize();
        let key = format!("{purpose}-email:{}", URL_SAFE_NO_PAD.encode(&digest[..16]));
        engine.check_rate(&key, limit, now).await.inspect_err(|_| {
            tracing::info!(purpose, "attempt rate limited (email)");
        })?;
    }
    Ok(())
}

/// Signs in with email and password (see [`finish_sign_in`] for what happens to the caller).
pub(crate) async fn sign_in_with_password(
    engine: &AuthEngine,
    current: Option<&Auth>,
    email: &str,
    password: &str,
    set_cookie: &CookieSlot,
    caller: &Caller,
) -> Result<Auth, AuthError> {
    let client_ip = caller.client_ip;
    let collection = collection_of(engine, current);
    let account = check_credentials(engine, collection, email, password, client_ip).await?;
    let cause = Cause::new(LinkKind::SignIn, caller);
    finish_sign_in(engine, current, &account, cause, set_cookie).await
}

/// Signs in with a token issued by this layer (signature, expiry and live session checked).
/// The given token's session is consumed (deleted) first: the caller gets a new one.
pub(crate) async fn sign_in_with_token(
    engine: &AuthEngine,
    current: Option<&Auth>,
    token: &str,
    set_cookie: &CookieSlot,
    caller: &Caller,
) -> Result<Auth, AuthError> {
    let claims = engine.config.keys.verify(token.trim()).map_err(|reason| {
        tracing::debug!(%reason, "sign-in token rejected");
        AuthError::InvalidToken
    })?;
    let now = now_millis();
    let session = engine.store.get_session(&claims.sid, now).await?;
    if session.is_none_or(|session| session.user_id != claims.sub) {
        return Err(AuthError::InvalidToken);
    }
    let Some(record) = engine.store.get_user(&claims.sub, now).await? else {
        return Err(AuthError::InvalidToken);
    };
    // Consumed before anything else happens, atomically: of two exchanges of one token at
    // once, only the one whose delete removed the session goes on.
    engine.sessions.forget(&claims.sid);
    if !engine.store.delete_session(&claims.sid).await? {
        return Err(AuthError::InvalidToken);
    }
    let cause = Cause::new(LinkKind::Token, caller);
    finish_sign_in(engine, current, &record.user, cause, set_cookie).await
}

/// Makes `target` the signed-in user. A guest signing in to a registered account is linked to
/// it ([`link::link_guest`]); anyone else has its session revoked first; then a new session
/// starts (rotation).
async fn finish_sign_in(
    engine: &AuthEngine,
    current: Option<&Auth>,
    target: &User,
    cause: Cause<'_>,
    set_cookie: &CookieSlot,
) -> Result<Auth, AuthError> {
    let kind = cause.kind;
    match current {
        Some(guest)
            if guest.is_anonymous() && !target.is_anonymous && guest.user().id != target.id =>
        {
            link::link_guest(engine, guest, target, cause, set_cookie).await
        }
        Some(previous) => {
            if previous.persisted() {
                engine.revoke_session(previous.session_id()).await?;
            } else {
                engine.revoke_lazy(previous).await?;
            }
            let auth = engine.start_session(target, set_cookie).await?;
            tracing::info!(from = %previous.user().id, to = %target.id, kind = kind.as_str(), "signed in (previous session revoked)");
            Ok(auth)
        }
        None => {
            let auth = engine.start_session(target, set_cookie).await?;
            tracing::info!(user_id = %target.id, kind = kind.as_str(), "signed in");
            Ok(auth)
        }
    }
}
