//! Is this token still good? Its signature (memoized per token), then its session: vouched
//! for by the session memo, answered at once by the store's fast path, or read from the store;
//! a token due for a refresh is re-signed with a pushed expiry.

use super::{AuthEngine, Step};
use crate::engine::CookieSlot;
use crate::request::credential::CredentialSource;
use crate::store::StoreError;
use crate::token::auth::Auth;
use crate::util::clock::now_millis;
use crate::util::ids::millis;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

impl AuthEngine {
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
    pub(super) fn refresh_due(&self, auth: &Auth, now: u64) -> bool {
        let refresh_after = auth
            .issued_at()
            .saturating_add(self.config.refresh_interval.as_secs());
        now / 1000 >= refresh_after
    }

    /// Checks the session of a verified `auth` and refreshes it when due. Ready at once when
    /// nothing needs I/O (the returning visitor's hot path: no boxed future): no refresh is
    /// due and the session memo vouches for the session, or the store answers without waiting
    /// ([`FastPath::check_session_now`](crate::store::fast_path::FastPath::check_session_now)).
    /// `Ok(None)`: the session is revoked, expired or another user's. `source` says where the
    /// token came from: only a cookie is re-issued on refresh.
    pub(crate) fn confirm(
        self: &Arc<Self>,
        auth: Auth,
        source: CredentialSource,
        set_cookie: &CookieSlot,
        now: u64,
    ) -> Step<
        Result<Option<Auth>, StoreError>,
        impl Future<Output = Result<Option<Auth>, StoreError>> + Send + 'static,
    > {
        if !self.refresh_due(&auth, now) {
            if self.sessions.is_fresh(auth.session_id(), now) {
                return Step::Ready(Ok(Some(auth)));
            }
            let (session_id, user_id) = (auth.session_id(), &auth.user().id);
            // Read before the store answers, like every memo epoch (see `SessionCache`).
            let epoch = self.sessions.epoch();
            let at_once = if auth.persisted() {
                self.fast_path.check_session_now(session_id, user_id, now)
            } else {
                self.fast_path
                    .check_lazy_guest_now(session_id, user_id, now)
            };
            if let Some(live) = at_once {
                let live = self.note_session(&auth, live, now, epoch);
                return Step::Ready(Ok(live.then_some(auth)));
            }
        }
        let (engine, set_cookie) = (self.clone(), set_cookie.clone());
        Step::Pending(async move { engine.confirm_in_store(auth, source, &set_cookie).await })
    }

    /// Takes the store's verdict on `auth`'s session, from a read that started at memo
    /// `epoch`: a live one is remembered by the session memo, a revoked, unknown or other
    /// user's one is logged. Returns `live`.
    pub(super) fn note_session(&self, auth: &Auth, live: bool, now: u64, epoch: u64) -> bool {
        if live {
            self.sessions.remember(auth.session_id(), now, epoch);
        } else {
            tracing::debug!(session_id = %auth.session_id(), "auth token names a revoked or unknown session");
        }
        live
    }

    /// [`confirm`](Self::confirm) when it needs the store.
    async fn confirm_in_store(
        &self,
        auth: Auth,
        source: CredentialSource,
        set_cookie: &CookieSlot,
    ) -> Result<Option<Auth>, StoreError> {
        let now = now_millis();
        if !self.sessions.is_fresh(auth.session_id(), now) {
            self.start_revocation_feed();
            let epoch = self.sessions.epoch();
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
            if !self.note_session(&auth, live, now, epoch) {
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
            self.cookie.set(set_cookie, &token, ttl);
        }
        Ok(Some(Auth::from_claims(refreshed, token, false)))
    }

    /// What is left of a registered session's absolute lifetime (`session_max_lifetime` from
    /// its creation) at `now`; `None`, and the session revoked, once it is over.
    pub(super) async fn lifetime_left(
        &self,
        auth: &Auth,
        now: u64,
    ) -> Result<Option<Duration>, StoreError> {
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
}
