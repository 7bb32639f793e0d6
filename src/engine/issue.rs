//! Starting a session for a user and signing its token.

use super::AuthEngine;
use crate::engine::CookieSlot;
use crate::error::AuthError;
use crate::store::{SessionRecord, User};
use crate::token::auth::Auth;
use crate::token::{Claims, TokenError};
use crate::util::clock::now_millis;
use crate::util::ids::{millis, new_session_id};

impl AuthEngine {
    /// Starts a new session for an existing user, and sets its cookie.
    #[allow(dead_code)] // the account flows (sign-in, register) use it
    pub(crate) async fn start_session(
        &self,
        user: &User,
        set_cookie: &CookieSlot,
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
        self.cookie.set(set_cookie, auth.token(), ttl);
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

    pub(super) fn sign(&self, claims: Claims, minted_now: bool) -> Result<Auth, AuthError> {
        let token = self
            .config
            .keys
            .sign(&claims)
            .map_err(|err: TokenError| AuthError::Internal(err.to_string()))?;
        Ok(Auth::from_claims(claims, token, minted_now))
    }
}

/// The claims of a token for `user`'s `session`.
pub(super) fn claims_for(user: User, session: SessionRecord, lazy: bool) -> Claims {
    Claims::from_user(
        user,
        session.id,
        session.created_at / 1000,
        session.expires_at / 1000,
        lazy,
    )
}
