//! Minting guests: a stored one (rate limited, written at once) or a lazy one that lives only
//! in its token until its first write, when [`AuthEngine::persist`] stores it.

use super::issue::claims_for;
use super::{AuthEngine, Step, Warnings};
use crate::engine::CookieSlot;
use crate::error::AuthError;
use crate::rate_limit::{RateDecision, RateLimit};
use crate::store::{Coordination, MemoryStore, SessionRecord, StoreError, User, UserRecord};
use crate::token::auth::Auth;
use crate::util::clock::now_millis;
use crate::util::ids::{first_session_id, millis, new_id};
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

impl AuthEngine {
    /// Mints an anonymous user (in `collection`, default the configured one): a lazy guest at
    /// once (nothing stored, no rate limit: the new visitor's hot path in lazy mode), a stored
    /// one after the mint rate limit and its write.
    pub(crate) fn mint(
        self: &Arc<Self>,
        collection: Option<&str>,
        client_ip: Option<IpAddr>,
    ) -> Step<Result<Auth, AuthError>> {
        match self.start_mint(collection, client_ip) {
            Step::Ready(minted) => Step::Ready(minted),
            Step::Pending(stored) => Step::Pending(Box::pin(stored)),
        }
    }

    /// [`mint`](Self::mint) with its pending future unboxed, for a caller that boxes it
    /// once with more around it (the layer's span).
    pub(super) fn start_mint(
        self: &Arc<Self>,
        collection: Option<&str>,
        client_ip: Option<IpAddr>,
    ) -> Step<Result<Auth, AuthError>, impl Future<Output = Result<Auth, AuthError>> + Send + 'static>
    {
        let now = now_millis();
        let (id, session_id) = new_guest_ids();
        let email = self.config.email_for(&id);
        let (user, session) = self.new_guest(id, session_id, email, collection, now);
        if self.config.lazy_persistence {
            return Step::Ready(self.issue_guest(user, session, true));
        }
        if let Some(memory) = self.fast_path.memory() {
            return Step::Ready(self.store_guest_now(memory, user, session, client_ip, now));
        }
        let engine = self.clone();
        Step::Pending(async move {
            engine.check_mint_rate(client_ip, now).await?;
            let record = UserRecord::new(user).with_expires_at(Some(session.expires_at));
            // The id was made just now: nobody can hold its placeholder email.
            engine
                .fast_path
                .insert_fresh_guest(&*engine.store, &record, Some(&session), now)
                .await?;
            engine.issue_guest(record.user, session, false)
        })
    }

    /// A new anonymous user (in `collection`, default the configured one) and its first
    /// session, created at `now`.
    pub(super) fn new_guest(
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

    /// The stored mint on a [`MemoryStore`]: rate check and insert answer without waiting,
    /// so the request needs no boxed future (a new visitor's throughput on this store rests
    /// on it). Same steps, same order as the general path.
    fn store_guest_now(
        &self,
        memory: &MemoryStore,
        user: User,
        session: SessionRecord,
        client_ip: Option<IpAddr>,
        now: u64,
    ) -> Result<Auth, AuthError> {
        if let Some((key, limit)) = self.mint_bucket(client_ip) {
            rate_verdict(memory.rate_limit_now(&key, limit, now))
                .inspect_err(refused_mint(client_ip))?;
        }
        let record = UserRecord::new(user).with_expires_at(Some(session.expires_at));
        memory.insert_user_now(&record, Some(&session), now)?;
        self.issue_guest(record.user, session, false)
    }

    /// Signs the first token of a guest minted just now.
    pub(super) fn issue_guest(
        &self,
        user: User,
        session: SessionRecord,
        lazy: bool,
    ) -> Result<Auth, AuthError> {
        tracing::debug!(user_id = %user.id, lazy, "minted anonymous user");
        self.sign(claims_for(user, session, lazy), true)
    }

    /// Refuses with [`AuthError::RateLimited`] when `client_ip` is over the mint rate limit.
    pub(super) async fn check_mint_rate(
        &self,
        client_ip: Option<IpAddr>,
        now: u64,
    ) -> Result<(), AuthError> {
        let Some((key, limit)) = self.mint_bucket(client_ip) else {
            return Ok(());
        };
        self.check_rate(&key, limit, now)
            .await
            .inspect_err(refused_mint(client_ip))
    }

    /// The mint rate bucket of `client_ip` and its limit; `None` when no limit applies (none
    /// configured, or no client address known: said once in the log).
    fn mint_bucket(&self, client_ip: Option<IpAddr>) -> Option<(String, RateLimit)> {
        let limit = self.config.mint_rate_limit?;
        let Some(ip) = client_ip else {
            if Warnings::first(&self.warned.no_peer) {
                tracing::warn!(
                    "no client address is known, so the per-IP mint limit is off: serve axum \
                     with `into_make_service_with_connect_info::<SocketAddr>()`, or put a \
                     `PeerAddr` in the request extensions"
                );
            }
            return None;
        };
        if self.config.trusted_proxies.is_empty()
            && crate::request::client_ip::is_shared_address(ip)
            && Warnings::first(&self.warned.shared_bucket)
        {
            tracing::warn!(
                %ip,
                "a new visitor arrived from a loopback or private address and no trusted \
                 proxies are set: behind a reverse proxy every visitor shares the proxy's \
                 mint limit; set `trusted_proxies` to the proxy's addresses"
            );
        }
        let key = format!("mint:{}", crate::request::client_ip::client_key(ip));
        Some((key, limit))
    }

    /// Counts one attempt in the store's bucket `key`: [`AuthError::RateLimited`] when the
    /// bucket is over `limit`.
    pub(crate) async fn check_rate(
        &self,
        key: &str,
        limit: RateLimit,
        now: u64,
    ) -> Result<(), AuthError> {
        let decision = self.coordination.rate_limit(key, limit, now).await?;
        rate_verdict(decision)
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
        set_cookie: &CookieSlot,
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
        self.cookie.set(set_cookie, stored.token(), ttl);
        Ok(stored)
    }

    /// What a lazy token names once its guest is stored: the stored guest and the token's
    /// session, or [`AuthError::Unauthenticated`] when the guest is registered, linked or
    /// signed out since.
    pub(super) async fn stored_lazy_guest(
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
            // Deleting the session that was never stored is how the store hears of the
            // revocation: a store that announces revocations (RedisStore) tells every
            // instance, whose session memo may vouch for the lazy token.
            Ok(()) | Err(StoreError::UserExists(_)) => {
                self.store.delete_session(auth.session_id()).await.map(drop)
            }
            other => other,
        }
    }
}

/// [`AuthError::RateLimited`] when `decision` says so.
fn rate_verdict(decision: RateDecision) -> Result<(), AuthError> {
    match decision {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after_ms } => Err(AuthError::RateLimited {
            retry_after_secs: retry_after_ms.div_ceil(1000).max(1),
        }),
    }
}

/// Logs a mint by `client_ip` that the rate limit refused.
fn refused_mint(client_ip: Option<IpAddr>) -> impl FnOnce(&AuthError) {
    move |_| {
        if let Some(ip) = client_ip {
            tracing::info!(%ip, "anonymous mint rate limited");
        }
    }
}

/// A new guest's user id ([`new_id`]) and first session id ([`first_session_id`]).
pub(super) fn new_guest_ids() -> (String, String) {
    let user = new_id();
    let session = first_session_id(&user);
    (user, session)
}
