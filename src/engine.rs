//! The work behind the layer and the handle: turning a credential into an [`Auth`], minting
//! anonymous users, issuing and revoking sessions, and writing the cookie.

use crate::auth::Auth;
use crate::clock::now_millis;
use crate::config::{AnonymousAuthConfig, SameSite};
use crate::credential::CredentialSource;
use crate::error::AuthError;
use crate::ids::{first_session_id, millis, new_id, new_session_id};
use crate::rate_limit::{RateDecision, RateLimit};
use crate::session_cache::SessionCache;
use crate::single_flight::{GuestLock, GuestLocks};
use crate::store::fast_path::FastPath;
use crate::store::{Coordination, Coordinator, SessionRecord, Store, StoreError, User, UserRecord};
use crate::token::{Claims, TokenError};
use crate::token_cache::TokenCache;
use http::HeaderValue;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tower_cookies::cookie::time::Duration as CookieDuration;
use tower_cookies::{Cookie, Cookies};

/// Shared state of one layer: the store, the configuration, the session memo, and the
/// per-guest locks of the link flow.
pub(crate) struct AuthEngine {
    pub(crate) store: Arc<dyn Store>,
    /// Shortcuts for the stores this crate ships (none for others).
    fast_path: FastPath,
    /// Rate limits and leases: the store's, or this layer's own.
    coordination: Coordinator,
    pub(crate) config: AnonymousAuthConfig,
    pub(crate) sessions: SessionCache,
    pub(crate) tokens: TokenCache,
    /// Serializes registering and linking one guest, in this process and across instances.
    pub(crate) guest_locks: GuestLocks,
    /// What goes before and after the token in a minted guest's `Set-Cookie`.
    guest_cookie_template: (String, String),
    /// The mint limit's misconfiguration warnings, logged once each.
    warned: Warnings,
}

/// Warnings a layer logs once, not per request.
#[derive(Default)]
struct Warnings {
    no_peer: AtomicBool,
    shared_bucket: AtomicBool,
}

impl Warnings {
    /// `true` the first time only.
    fn first(flag: &AtomicBool) -> bool {
        !flag.swap(true, Ordering::Relaxed)
    }
}

impl AuthEngine {
    pub(crate) fn new(store: Arc<dyn Store>, config: AnonymousAuthConfig) -> Self {
        let sessions = SessionCache::new(millis(config.session_cache_ttl));
        let tokens = TokenCache::new(config.token_cache_capacity);
        let coordination = Coordinator::new(store.clone());
        let guest_locks = GuestLocks::new(coordination.clone(), config.guest_lock_ttl);
        let fast_path = FastPath::of(&*store);
        crate::password::warm_dummy();
        let mut engine = Self {
            store,
            fast_path,
            coordination,
            config,
            sessions,
            tokens,
            guest_locks,
            guest_cookie_template: Default::default(),
            warned: Warnings::default(),
        };
        engine.guest_cookie_template = engine.cookie_template(engine.config.anonymous_ttl);
        engine
    }

    /// Serializes work on one guest, in this process and across app instances
    /// ([`GuestLocks::lock`]).
    pub(crate) async fn lock_guest(&self, guest_id: &str) -> Result<GuestLock<'_>, AuthError> {
        self.guest_locks.lock(guest_id).await
    }

    /// Revokes a session: deletes it from the store and from this process's memo.
    pub(crate) async fn revoke_session(&self, session_id: &str) -> Result<(), StoreError> {
        self.sessions.forget(session_id);
        self.store.delete_session(session_id).await.map(drop)
    }

    /// The verified auth of a token: from the memo, or by checking its signature (and then
    /// memoized). `None` when the token is not valid (forged, expired, malformed...).
    pub(crate) fn verify(&self, token: &str, now_secs: u64) -> Option<Auth> {
        if let Some(auth) = self.tokens.get(token, now_secs) {
            return Some(auth);
        }
        match self.config.keys.verify(token) {
            Ok(claims) => {
                let auth = Auth::from_claims(claims, token.to_owned(), false);
                self.tokens.insert(&auth, now_secs);
                Some(auth)
            }
            Err(reason) => {
                tracing::debug!(%reason, "ignoring invalid auth token");
                None
            }
        }
    }

    /// Whether `auth`'s token is due for a refresh (sliding expiry) at `now` (ms).
    fn refresh_due(&self, auth: &Auth, now: u64) -> bool {
        let refresh_after = auth
            .issued_at()
            .saturating_add(self.config.refresh_interval.as_secs());
        now / 1000 >= refresh_after
    }

    /// The auth of a token this process verified before (no signature check, no I/O).
    pub(crate) fn memoized(&self, token: &str, now: u64) -> Option<Auth> {
        self.tokens.get(token, now / 1000)
    }

    /// [`confirm`](Self::confirm) without waiting, when nothing needs I/O: the token is not
    /// due for a refresh and its session is vouched for by the session memo or answered by
    /// the store at once ([`FastPath::check_session_now`]). `Some(Ok(false))`: the session is
    /// revoked, expired or another user's. `None`: the request must await `confirm`. This is
    /// the returning visitor's hot path: no boxed future, no span.
    pub(crate) fn confirm_now(&self, auth: &Auth, now: u64) -> Option<Result<bool, StoreError>> {
        if self.refresh_due(auth, now) {
            return None;
        }
        if self.sessions.is_fresh(auth.session_id(), now) {
            return Some(Ok(true));
        }
        // A lazy guest's user decides first (see `confirm`): left to the awaited path.
        if !auth.persisted() {
            return None;
        }
        let live = self
            .fast_path
            .check_session_now(auth.session_id(), &auth.user().id, now)?;
        Some(Ok(self.note_session(auth, live, now)))
    }

    /// Takes the store's verdict on `auth`'s session: a live one is remembered by the session
    /// memo, a revoked, unknown or other user's one is logged. Returns `live`.
    fn note_session(&self, auth: &Auth, live: bool, now: u64) -> bool {
        if live {
            self.sessions.remember(auth.session_id(), now);
        } else {
            tracing::debug!(session_id = %auth.session_id(), "auth token names a revoked or unknown session");
        }
        live
    }

    /// Checks the session of a verified `auth` (store or memo), and refreshes it when due.
    /// `source` says where the token came from: only a cookie is re-issued on refresh.
    pub(crate) async fn confirm(
        &self,
        auth: Auth,
        source: CredentialSource,
        cookies: &Cookies,
    ) -> Result<Option<Auth>, StoreError> {
        let now = now_millis();
        if !self.sessions.is_fresh(auth.session_id(), now) {
            // A lazy guest is valid while nothing of it is stored (one read: its user); once
            // its user is stored, its session decides, as for any token.
            let unstored_lazy_guest =
                !auth.persisted() && self.store.get_user(&auth.user().id, now).await?.is_none();
            let live = unstored_lazy_guest
                || self
                    .store
                    .get_session(auth.session_id(), now)
                    .await?
                    .is_some_and(|session| session.user_id == auth.user().id);
            if !self.note_session(&auth, live, now) {
                return Ok(None);
            }
        }
        if !self.refresh_due(&auth, now) {
            return Ok(Some(auth));
        }
        let mut ttl = self.config.ttl_for(auth.is_anonymous());
        if !auth.is_anonymous() {
            // A registered session slides, but never past its absolute lifetime.
            let Some(left) = self.lifetime_left(&auth, now).await? else {
                return Ok(None);
            };
            ttl = ttl.min(left);
        }
        let expires_at = now.saturating_add(millis(ttl));
        if auth.persisted() {
            self.store.refresh(auth.session_id(), expires_at).await?;
        }
        let mut refreshed = auth.claims();
        refreshed.iat = now / 1000;
        refreshed.exp = expires_at / 1000;
        let token = match self.config.keys.sign(&refreshed) {
            Ok(token) => token,
            Err(reason) => {
                tracing::warn!(%reason, "could not re-sign a refreshed token");
                return Ok(Some(auth));
            }
        };
        tracing::debug!(session_id = %refreshed.sid, "session expiry refreshed");
        if source == CredentialSource::Cookie {
            self.set_cookie(cookies, &token, ttl);
        }
        Ok(Some(Auth::from_claims(refreshed, token, false)))
    }

    /// What is left of a registered session's absolute lifetime (`session_max_lifetime` from
    /// its creation) at `now`; `None`, and the session revoked, once it is over.
    async fn lifetime_left(&self, auth: &Auth, now: u64) -> Result<Option<Duration>, StoreError> {
        let Some(session) = self.store.get_session(auth.session_id(), now).await? else {
            return Ok(None);
        };
        let ends = session
            .created_at
            .saturating_add(millis(self.config.session_max_lifetime));
        if now >= ends {
            tracing::debug!(session_id = %auth.session_id(), "session reached its absolute lifetime");
            self.revoke_session(auth.session_id()).await?;
            return Ok(None);
        }
        Ok(Some(Duration::from_millis(ends - now)))
    }

    /// Mints a new anonymous user with a session; refused with [`AuthError::RateLimited`] when
    /// the client IP is over the mint rate limit. The caller sets the cookie: the handle in the
    /// jar ([`AuthEngine::set_cookie`]), the layer as a ready header ([`GuestCookie`]).
    pub(crate) async fn mint(
        &self,
        collection: Option<&str>,
        client_ip: Option<IpAddr>,
    ) -> Result<Auth, AuthError> {
        let now = now_millis();
        let lazy = self.config.lazy_persistence;
        if !lazy {
            self.check_mint_rate(client_ip, now).await?;
        }
        let (id, session_id) = new_guest_ids();
        let email = self.config.email_for(&id);
        let (mut user, session) = self.new_guest(id, session_id, email, collection, now);
        if !lazy {
            let record = UserRecord::new(user).with_expires_at(Some(session.expires_at));
            // The id was made just now: nobody can hold its placeholder email.
            self.fast_path
                .insert_fresh_guest(&*self.store, &record, Some(&session), now)
                .await?;
            user = record.user;
        }
        self.issue_guest(user, session, lazy)
    }

    /// Mints a lazy guest with nothing to await (no store write, no rate limit): `None` when
    /// [`AuthEngine::mint`] must run instead (lazy persistence off). The new visitor's hot
    /// path in lazy mode.
    pub(crate) fn mint_lazy_now(&self) -> Option<Result<Auth, AuthError>> {
        if !self.config.lazy_persistence {
            return None;
        }
        let now = now_millis();
        let (id, session_id) = new_guest_ids();
        let email = self.config.email_for(&id);
        let (user, session) = self.new_guest(id, session_id, email, None, now);
        Some(self.issue_guest(user, session, true))
    }

    /// A new anonymous user (in `collection`, default the configured one) and its first
    /// session, created at `now`.
    fn new_guest(
        &self,
        id: String,
        session_id: String,
        email: String,
        collection: Option<&str>,
        now: u64,
    ) -> (User, SessionRecord) {
        let name = (self.config.generate_name)(&id);
        let collection = collection.unwrap_or(&self.config.collection);
        // A whole second, so the guest's first token leaves it out (it is `iat` in ms).
        let created_at = now - now % 1000;
        let user = User::anonymous(id, collection, email, name, created_at);
        let expires_at = now.saturating_add(millis(self.config.anonymous_ttl));
        let session = SessionRecord::new(session_id, user.id.clone(), now, expires_at);
        (user, session)
    }

    /// Signs the first token of a guest minted just now.
    fn issue_guest(
        &self,
        user: User,
        session: SessionRecord,
        lazy: bool,
    ) -> Result<Auth, AuthError> {
        tracing::debug!(user_id = %user.id, lazy, "minted anonymous user");
        self.sign(claims_for(user, session, lazy), true)
    }

    /// Refuses with [`AuthError::RateLimited`] when `client_ip` is over the mint rate limit.
    async fn check_mint_rate(&self, client_ip: Option<IpAddr>, now: u64) -> Result<(), AuthError> {
        let Some(limit) = self.config.mint_rate_limit else {
            return Ok(());
        };
        let Some(ip) = client_ip else {
            if Warnings::first(&self.warned.no_peer) {
                tracing::warn!(
                    "no client address is known, so the per-IP mint limit is off: serve axum \
                     with `into_make_service_with_connect_info::<SocketAddr>()`, or put a \
                     `PeerAddr` in the request extensions"
                );
            }
            return Ok(());
        };
        if self.config.trusted_proxies.is_empty()
            && crate::client_ip::is_shared_address(ip)
            && Warnings::first(&self.warned.shared_bucket)
        {
            tracing::warn!(
                %ip,
                "a new visitor arrived from a loopback or private address and no trusted \
                 proxies are set: behind a reverse proxy every visitor shares the proxy's \
                 mint limit; set `trusted_proxies` to the proxy's addresses"
            );
        }
        let key = format!("mint:{}", crate::client_ip::client_key(ip));
        self.check_rate(&key, limit, now).await.inspect_err(|_| {
            tracing::info!(%ip, "anonymous mint rate limited");
        })
    }

    /// Counts one attempt in the store's bucket `key`: [`AuthError::RateLimited`] when the
    /// bucket is over `limit`.
    pub(crate) async fn check_rate(
        &self,
        key: &str,
        limit: RateLimit,
        now: u64,
    ) -> Result<(), AuthError> {
        match self.coordination.rate_limit(key, limit, now).await? {
            RateDecision::Allowed => Ok(()),
            RateDecision::Limited { retry_after_ms } => Err(AuthError::RateLimited {
                retry_after_secs: retry_after_ms.div_ceil(1000).max(1),
            }),
        }
    }

    /// Stores a lazy guest (user and session under the ids its token names) and issues its
    /// first stored token. A stored auth is returned as is.
    ///
    /// Under the guest's lock, and insert-if-absent: a request that resolved the lazy token
    /// before a concurrent request stored, registered or linked the guest must not write the
    /// guest over what that request made. When the guest is stored already, the token reads
    /// the stored record: still an anonymous guest with the token's session live, it goes on
    /// as that guest; registered or linked since (its session revoked), the request is
    /// [`AuthError::Unauthenticated`].
    pub(crate) async fn persist(
        &self,
        auth: &Auth,
        cookies: &Cookies,
        client_ip: Option<IpAddr>,
    ) -> Result<Auth, AuthError> {
        if auth.persisted() {
            return Ok(auth.clone());
        }
        let now = now_millis();
        self.check_mint_rate(client_ip, now).await?;
        let _flight = self.lock_guest(&auth.user().id).await?;
        let ttl = self.config.anonymous_ttl;
        let expires_at = now.saturating_add(millis(ttl));
        let record = UserRecord::new(auth.user().clone()).with_expires_at(Some(expires_at));
        let session =
            SessionRecord::new(auth.session_id(), auth.user().id.clone(), now, expires_at);
        let (user, session) = match self.store.insert_user(&record, Some(&session), now).await {
            Ok(()) => {
                tracing::debug!(user_id = %auth.user().id, "lazy guest stored at its first write");
                (record.user, session)
            }
            Err(StoreError::UserExists(_)) => self.stored_lazy_guest(auth, now).await?,
            Err(error) => return Err(error.into()),
        };
        let stored = self.sign(claims_for(user, session, false), auth.minted_now())?;
        self.set_cookie(cookies, stored.token(), ttl);
        Ok(stored)
    }

    /// What a lazy token names once its guest is stored: the stored guest and the token's
    /// session, or [`AuthError::Unauthenticated`] when the guest is registered, linked or
    /// signed out since.
    async fn stored_lazy_guest(
        &self,
        auth: &Auth,
        now: u64,
    ) -> Result<(User, SessionRecord), AuthError> {
        let user = self.store.get_user(&auth.user().id, now).await?;
        let user = user.filter(|record| record.user.is_anonymous);
        let session = self.store.get_session(auth.session_id(), now).await?;
        let session = session.filter(|session| session.user_id == auth.user().id);
        match (user, session) {
            (Some(record), Some(session)) => Ok((record.user, session)),
            _ => {
                tracing::debug!(user_id = %auth.user().id, "lazy token of a guest registered, linked or signed out since");
                Err(AuthError::Unauthenticated)
            }
        }
    }

    /// Revokes a lazy guest's token. Nothing of the guest stored: stores it without a session,
    /// which every later check of the token reads as "revoked". Stored meanwhile (a write of
    /// another request): revokes the token's session, as for any stored guest.
    pub(crate) async fn revoke_lazy(&self, auth: &Auth) -> Result<(), StoreError> {
        let now = now_millis();
        let expires_at = now.saturating_add(millis(self.config.anonymous_ttl));
        let record = UserRecord::new(auth.user().clone()).with_expires_at(Some(expires_at));
        self.sessions.forget(auth.session_id());
        match self.store.insert_user(&record, None, now).await {
            Err(StoreError::UserExists(_)) => {
                self.store.delete_session(auth.session_id()).await.map(drop)
            }
            other => other,
        }
    }

    /// Starts a new session for an existing user, and sets its cookie.
    #[allow(dead_code)] // the account flows (sign-in, register) use it
    pub(crate) async fn start_session(
        &self,
        user: &User,
        cookies: &Cookies,
    ) -> Result<Auth, AuthError> {
        let now = now_millis();
        let ttl = self.config.ttl_for(user.is_anonymous);
        let session = SessionRecord::new(
            new_session_id(&user.id),
            user.id.clone(),
            now,
            now.saturating_add(millis(ttl)),
        );
        self.store.insert_session(&session).await?;
        let auth = self.issue(user, &session, false)?;
        self.set_cookie(cookies, auth.token(), ttl);
        Ok(auth)
    }

    /// Signs a token for a user's stored session.
    pub(crate) fn issue(
        &self,
        user: &User,
        session: &SessionRecord,
        minted_now: bool,
    ) -> Result<Auth, AuthError> {
        self.sign(claims_for(user.clone(), session.clone(), false), minted_now)
    }

    fn sign(&self, claims: Claims, minted_now: bool) -> Result<Auth, AuthError> {
        let token = self
            .config
            .keys
            .sign(&claims)
            .map_err(|err: TokenError| AuthError::Internal(err.to_string()))?;
        Ok(Auth::from_claims(claims, token, minted_now))
    }

    /// Writes the auth cookie.
    pub(crate) fn set_cookie(&self, cookies: &Cookies, token: &str, ttl: Duration) {
        cookies.add(self.cookie_with_ttl(token.to_owned(), ttl));
    }

    fn cookie_with_ttl(&self, value: String, ttl: Duration) -> Cookie<'static> {
        let max_age = CookieDuration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        self.cookie(value).max_age(max_age).build()
    }

    /// The jar's `Set-Cookie` formatting of the auth cookie with `ttl`, split where the value
    /// goes (a token needs no percent-encoding: base64url and dots).
    fn cookie_template(&self, ttl: Duration) -> (String, String) {
        let formatted = self
            .cookie_with_ttl(String::new(), ttl)
            .encoded()
            .to_string();
        let value_at = formatted.find('=').map_or(formatted.len(), |at| at + 1);
        let (before, after) = formatted.split_at(value_at);
        (before.to_owned(), after.to_owned())
    }

    /// Removes the auth cookie from the browser: an explicit removal, even when the request
    /// carried no auth cookie (the layer then knows the cookie of a guest it minted for this
    /// request must not be set; see [`GuestCookie`]).
    pub(crate) fn clear_cookie(&self, cookies: &Cookies) {
        cookies.add(self.cookie(String::new()).removal().build());
    }

    /// The `Set-Cookie` value for a guest minted by the layer: the jar's formatting of the
    /// auth cookie with the anonymous TTL, made once (`template`), around the token.
    pub(crate) fn guest_cookie(&self, token: &str) -> Option<HeaderValue> {
        let (before, after) = &self.guest_cookie_template;
        let mut value = String::with_capacity(before.len() + token.len() + after.len());
        value.push_str(before);
        value.push_str(token);
        value.push_str(after);
        HeaderValue::try_from(value).ok()
    }

    fn cookie(&self, value: String) -> tower_cookies::cookie::CookieBuilder<'static> {
        let settings = &self.config.cookie;
        let same_site = match settings.same_site {
            SameSite::Lax => tower_cookies::cookie::SameSite::Lax,
            SameSite::Strict => tower_cookies::cookie::SameSite::Strict,
            SameSite::None => tower_cookies::cookie::SameSite::None,
        };
        let mut builder = Cookie::build((settings.name.clone(), value))
            .http_only(true)
            .secure(settings.secure)
            .same_site(same_site)
            .path(settings.path.clone());
        if let Some(domain) = &settings.domain {
            builder = builder.domain(domain.clone());
        }
        builder
    }
}

/// The claims of a token for `user`'s `session`.
fn claims_for(user: User, session: SessionRecord, lazy: bool) -> Claims {
    Claims::from_user(
        user,
        session.id,
        session.created_at / 1000,
        session.expires_at / 1000,
        lazy,
    )
}

/// A new guest's user id ([`new_id`]) and first session id ([`first_session_id`]).
fn new_guest_ids() -> (String, String) {
    let user = new_id();
    let session = first_session_id(&user);
    (user, session)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    #[tokio::test]
    async fn a_minted_guests_token_leaves_out_its_name_and_first_session() {
        use crate::config::AnonymousAuthConfig;
        use crate::store::{MemoryStore, UserStore};
        let store = Arc::new(MemoryStore::new());
        for lazy in [false, true] {
            let config = AnonymousAuthConfig::builder()
                .random_key()
                .lazy_persistence(lazy)
                .build()
                .unwrap();
            let engine = AuthEngine::new(store.clone(), config);
            let auth = engine.mint(None, None).await.unwrap();
            let id = auth.user().id.clone();
            assert_eq!(auth.user().name, crate::names::name_for_id(&id));
            assert_eq!(auth.session_id(), format!("{id}.0"));
            let payload = auth.token().split('.').nth(1).unwrap();
            let json: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
            for left_out in ["name", "sid", "sr", "email", "anon", "uca", "col"] {
                assert!(json.get(left_out).is_none(), "{left_out}: {json}");
            }
            // Read back, the token names the same user, name and session as the store.
            let verified = engine.verify(auth.token(), now_millis() / 1000).unwrap();
            assert_eq!(verified.user(), auth.user());
            assert_eq!(verified.session_id(), auth.session_id());
            let stored = store.get_user(&id, now_millis()).await.unwrap();
            assert_eq!(stored.is_some(), !lazy, "lazy: {lazy}");
            if let Some(stored) = stored {
                assert_eq!(stored.user.name, auth.user().name);
                let session = store.get_session(auth.session_id(), now_millis()).await;
                assert_eq!(session.unwrap().unwrap().user_id, id);
            }
        }
    }

    #[test]
    fn a_guests_ready_cookie_is_the_jars_formatting() {
        use crate::config::{AnonymousAuthConfig, SameSite};
        use crate::store::MemoryStore;
        let configs = [
            AnonymousAuthConfig::builder().random_key(),
            AnonymousAuthConfig::builder().random_key().secure(false),
            AnonymousAuthConfig::builder()
                .random_key()
                .same_site(SameSite::None)
                .cookie_domain("shop.example")
                .cookie_path("/app"),
            AnonymousAuthConfig::builder()
                .random_key()
                .same_site(SameSite::Strict)
                .cookie_name("guest")
                .anonymous_ttl(Duration::from_secs(3600)),
            AnonymousAuthConfig::builder()
                .random_key()
                .host_prefix(true),
        ];
        for config in configs {
            let engine = AuthEngine::new(Arc::new(MemoryStore::new()), config.build().unwrap());
            let (id, session_id) = new_guest_ids();
            let (user, session) = engine.new_guest(id, session_id, "a@b.example".into(), None, 0);
            let token = engine
                .issue_guest(user, session, false)
                .unwrap()
                .token()
                .to_owned();
            let expected = engine
                .cookie_with_ttl(token.clone(), engine.config.anonymous_ttl)
                .encoded()
                .to_string();
            assert_eq!(engine.guest_cookie(&token).unwrap(), expected.as_str());
        }
    }

    #[test]
    fn session_ids_name_their_user() {
        let user = new_id();
        let session = new_session_id(&user);
        let (named, random) = session.split_once('.').unwrap();
        assert_eq!(named, user);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(random).map(|bytes| bytes.len()),
            Ok(16)
        );
        assert_ne!(new_session_id(&user), session);
    }
}
