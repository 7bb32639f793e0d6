//! [`AuthHandle`]: what a handler uses to act on auth (sign in, sign out, claim resources).

use crate::accounts::{self, Registration};
use crate::engine::AuthEngine;
use crate::engine::CookieSlot;
use crate::error::AuthError;
use crate::request::fetch_metadata::RequestSite;
use crate::request::Caller;
use crate::store::{ClaimOutcome, Store};
use crate::token::auth::Auth;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// A per-request handle to act on auth. The layer puts one in every request's extensions
/// (with the `axum` feature it is also an extractor). Whatever it does shows in the
/// response's `Set-Cookie`. Clones share state.
///
/// ```
/// use tower_anonymous_auth::{AuthHandle, AuthError};
///
/// async fn continue_as_guest(handle: AuthHandle) -> Result<String, AuthError> {
///     let auth = handle.sign_in_anonymously().await?;
///     Ok(format!("welcome, {}", auth.user().name))
/// }
/// # let _ = continue_as_guest;
/// ```
#[derive(Clone)]
pub struct AuthHandle {
    inner: Arc<HandleState>,
}

struct HandleState {
    engine: Arc<AuthEngine>,
    set_cookie: CookieSlot,
    current: Mutex<Option<Auth>>,
    caller: Caller,
    site: RequestSite,
    /// The layer's mint was over the rate limit (retry after this many seconds).
    mint_refused: Option<u64>,
}

impl std::fmt::Debug for AuthHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthHandle")
            .field("current", &*self.current())
            .finish_non_exhaustive()
    }
}

impl AuthHandle {
    pub(crate) fn new(
        engine: Arc<AuthEngine>,
        set_cookie: CookieSlot,
        current: Option<Auth>,
        caller: Caller,
        site: RequestSite,
        mint_refused: Option<u64>,
    ) -> Self {
        Self {
            inner: Arc::new(HandleState {
                engine,
                set_cookie,
                current: Mutex::new(current),
                caller,
                site,
                mint_refused,
            }),
        }
    }

    /// Refuses a privilege change asked for by another site (see `csrf_guard`).
    pub(super) fn same_origin_only(&self) -> Result<(), AuthError> {
        if self.inner.site.foreign && self.engine().config.csrf_guard {
            tracing::info!("privilege change refused: the request came from another site");
            return Err(AuthError::CrossSiteRequest);
        }
        Ok(())
    }

    /// The client IP the layer resolved (peer, or forwarded by a trusted proxy), if known.
    ///
    /// ```
    /// # fn f(handle: tower_anonymous_auth::AuthHandle) {
    /// if let Some(ip) = handle.client_ip() { println!("{ip}"); }
    /// # }
    /// ```
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.inner.caller.client_ip
    }

    /// Who made the request (address and user agent).
    pub(super) fn caller(&self) -> &Caller {
        &self.inner.caller
    }

    fn current(&self) -> MutexGuard<'_, Option<Auth>> {
        self.inner
            .current
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub(super) fn set_current(&self, auth: Option<Auth>) {
        *self.current() = auth;
    }

    pub(crate) fn engine(&self) -> &AuthEngine {
        &self.inner.engine
    }

    pub(crate) fn set_cookie(&self) -> &CookieSlot {
        &self.inner.set_cookie
    }

    /// The current auth: the request's, or what the last action of this handle made it.
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) {
    /// if let Some(auth) = handle.auth() {
    ///     println!("user {}", auth.user().id);
    /// }
    /// # }
    /// ```
    pub fn auth(&self) -> Option<Auth> {
        self.current().clone()
    }

    /// The current auth, or [`AuthError::Unauthenticated`] ([`AuthError::RateLimited`] when
    /// the layer did not mint a guest for this request because its address is over the mint
    /// limit).
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) -> Result<(), tower_anonymous_auth::AuthError> {
    /// let auth = handle.require()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn require(&self) -> Result<Auth, AuthError> {
        self.auth().ok_or_else(|| self.missing_auth())
    }

    /// Why the request has no auth: [`AuthError::RateLimited`] when the layer's mint for it
    /// was over the rate limit, else [`AuthError::Unauthenticated`].
    pub(crate) fn missing_auth(&self) -> AuthError {
        match self.inner.mint_refused {
            Some(retry_after_secs) => AuthError::RateLimited { retry_after_secs },
            None => AuthError::Unauthenticated,
        }
    }

    /// The current auth, minting an anonymous user first when there is none (what the
    /// [`MintPolicy::OnDemand`](crate::MintPolicy::OnDemand) policy relies on).
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) -> Result<(), tower_anonymous_auth::AuthError> {
    /// let auth = handle.ensure().await?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub async fn ensure(&self) -> Result<Auth, AuthError> {
        if let Some(auth) = self.auth() {
            return Ok(auth);
        }
        self.mint_guest(None).await
    }

    /// Mints a guest as the handle's current auth, with its cookie in the jar.
    async fn mint_guest(&self, collection: Option<&str>) -> Result<Auth, AuthError> {
        if self.inner.site.no_mint {
            // The browser keeps the cookie from this request's response (see `RequestSite`).
            return Err(AuthError::CrossSiteRequest);
        }
        let engine = &self.inner.engine;
        let auth = engine.mint(collection, self.client_ip()).finish().await?;
        engine
            .cookie
            .set(self.set_cookie(), auth.token(), engine.config.anonymous_ttl);
        self.set_current(Some(auth.clone()));
        Ok(auth)
    }

    /// The current auth, stored first if it is a lazy guest (see `lazy_persistence`): what
    /// every write on behalf of the user goes through.
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) -> Result<(), tower_anonymous_auth::AuthError> {
    /// let auth = handle.ensure_persisted().await?;
    /// assert!(auth.persisted());
    /// # Ok(()) }
    /// ```
    pub async fn ensure_persisted(&self) -> Result<Auth, AuthError> {
        let auth = self.require()?;
        if auth.persisted() {
            return Ok(auth);
        }
        let stored = self
            .engine()
            .persist(&auth, self.set_cookie(), self.client_ip())
            .await?;
        self.set_current(Some(stored.clone()));
        Ok(stored)
    }

    /// The store behind the layer, for reads the handle does not wrap.
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) {
    /// let owner = handle.store().owner_of("cart:42").await;
    /// # let _ = owner; }
    /// ```
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.engine.store
    }

    /// Signs in as a new anonymous user of the configured collection. Fails with
    /// [`AuthError::AnonymousCannotSignInAgain`] when the caller already is anonymous; a
    /// signed-in registered user is signed out first (its session is revoked).
    ///
    /// ```
    /// # use tower_anonymous_auth::AuthHandle;
    /// # async fn f(handle: AuthHandle) -> Result<(), tower_anonymous_auth::AuthError> {
    /// let guest = handle.sign_in_anonymously().await?;
    /// assert!(guest.is_anonymous());
    /// # Ok(()) }
    /// ```
    pub async fn sign_in_anonymously(&self) -> Result<Auth, AuthError> {
        self.sign_in_anonymously_to(None).await
    }

    /// [`sign_in_anonymously`](Self::sign_in_anonymously) into another collection (user
    /// table) than the configured one.
    ///
    /// ```
    /// # use tower_anonymous_auth::AuthHandle;
    /// # async fn f(handle: AuthHandle) -> Result<(), tower_anonymous_auth::AuthError> {
    /// let guest = handle.sign_in_anonymously_in("shoppers").await?;
    /// assert_eq!(guest.user().collection, "shoppers");
    /// # Ok(()) }
    /// ```
    pub async fn sign_in_anonymously_in(&self, collection: &str) -> Result<Auth, AuthError> {
        self.sign_in_anonymously_to(Some(collection)).await
    }

    async fn sign_in_anonymously_to(&self, collection: Option<&str>) -> Result<Auth, AuthError> {
        let current = self.auth();
        if let Some(current) = &current {
            if current.is_anonymous() {
                return Err(AuthError::AnonymousCannotSignInAgain);
            }
            self.engine().revoke_session(current.session_id()).await?;
        }
        self.mint_guest(collection).await
    }

    /// Registers with email and password (see [`Registration`]).
    ///
    /// - As a guest: upgrades the guest in place — same id, `is_anonymous` becomes `false`,
    ///   everything it owns stays its own; `on_link_account` runs first with
    ///   [`LinkKind::Register`](crate::LinkKind::Register).
    /// - Signed out: creates a registered user.
    /// - Signed in as a registered user: [`AuthError::AlreadyRegistered`].
    ///
    /// The email is trimmed and lowercased ([`AuthError::InvalidEmail`] when implausible) and
    /// must be free in the collection ([`AuthError::EmailTaken`]); the password length must be
    /// within the configured bounds ([`AuthError::WeakPassword`]). The password is hashed with
    /// argon2id off the async executor, after the attempt is counted against the per-IP
    /// password limit ([`AuthError::RateLimited`] over it; [`AuthError::Busy`] when the
    /// hashing queue is full). On success a new session and cookie replace the old ones,
    /// which are revoked.
    ///
    /// ```
    /// use tower_anonymous_auth::{AuthError, AuthHandle, Registration};
    ///
    /// async fn sign_up(handle: AuthHandle) -> Result<String, AuthError> {
    ///     let auth = handle
    ///         .register_with_password(Registration::new("ann@example.com", "correct horse battery").name("Ann"))
    ///         .await?;
    ///     assert!(!auth.is_anonymous());
    ///     Ok(auth.user().id.clone())
    /// }
    /// # let _ = sign_up;
    /// ```
    pub async fn register_with_password(
        &self,
        registration: Registration,
    ) -> Result<Auth, AuthError> {
        self.same_origin_only()?;
        let current = self.auth();
        let auth = accounts::register(
            self.engine(),
            current.as_ref(),
            registration,
            self.set_cookie(),
            self.caller(),
        )
        .await?;
        self.set_current(Some(auth.clone()));
        Ok(auth)
    }

    /// Signs in with email and password. Unknown email and wrong password both give
    /// [`AuthError::InvalidCredentials`], in about the same time.
    ///
    /// - As a guest: the guest is linked to the account — `on_link_account` runs, what the
    ///   guest owns moves to the account, and the guest is deleted (unless
    ///   `disable_delete_anonymous_user`). A failing hook gives [`AuthError::LinkFailed`] and
    ///   leaves the guest intact; retrying completes the link. Two concurrent sign-ins of one
    ///   guest link it once; both succeed as the account.
    /// - As a registered user: switches to the account (the old session is revoked).
    /// - Signed out: signs in.
    ///
    /// In every case a new session and cookie are issued.
    ///
    /// Guessing is throttled before any password is hashed: per client IP
    /// ([`sign_in_limit_per_ip`](crate::AnonymousAuthConfigBuilder::sign_in_limit_per_ip)) and
    /// per email ([`sign_in_limit_per_email`](crate::AnonymousAuthConfigBuilder::sign_in_limit_per_email)),
    /// counted in the store; over either, [`AuthError::RateLimited`]. Password checks wait in
    /// a fair, bounded queue: each client address has its own lane, so a flood from one
    /// address delays others by about one check, and a full queue answers
    /// [`AuthError::Busy`] at once.
    ///
    /// ```
    /// use tower_anonymous_auth::{AuthError, AuthHandle};
    ///
    /// async fn sign_in(handle: AuthHandle) -> Result<String, AuthError> {
    ///     let auth = handle.sign_in_with_password("ann@example.com", "correct horse battery").await?;
    ///     Ok(auth.user().id.clone())
    /// }
    /// # let _ = sign_in;
    /// ```
    pub async fn sign_in_with_password(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Auth, AuthError> {
        self.same_origin_only()?;
        let current = self.auth();
        let auth = accounts::sign_in_with_password(
            self.engine(),
            current.as_ref(),
            email,
            password,
            self.set_cookie(),
            self.caller(),
        )
        .await?;
        self.set_current(Some(auth.clone()));
        Ok(auth)
    }

    /// Signs in with a token this layer issued elsewhere (e.g. returned by an API login): its
    /// signature, expiry and session are checked
    /// ([`AuthError::InvalidToken`] otherwise). A guest caller is linked to the token's user as
    /// with [`sign_in_with_password`](Self::sign_in_with_password) (kind
    /// [`LinkKind::Token`](crate::LinkKind::Token)). The caller gets a new session and cookie.
    /// The token is single use: its session is deleted, atomically, before the sign-in goes
    /// on, so of two exchanges at once only one succeeds (and a sign-in that then fails, a
    /// failing hook say, has spent it).
    /// Tokens of lazy guests (not yet stored, see `lazy_persistence`) are not accepted.
    ///
    /// ```
    /// use tower_anonymous_auth::{AuthError, AuthHandle};
    ///
    /// async fn exchange(handle: AuthHandle, token: String) -> Result<String, AuthError> {
    ///     let auth = handle.sign_in_with_token(&token).await?;
    ///     Ok(auth.user().id.clone())
    /// }
    /// # let _ = exchange;
    /// ```
    pub async fn sign_in_with_token(&self, token: &str) -> Result<Auth, AuthError> {
        self.same_origin_only()?;
        let current = self.auth();
        let auth = accounts::sign_in_with_token(
            self.engine(),
            current.as_ref(),
            token,
            self.set_cookie(),
            self.caller(),
        )
        .await?;
        self.set_current(Some(auth.clone()));
        Ok(auth)
    }

    /// Signs out: revokes the session in the store (its token stops working at once) and
    /// removes the cookie. Signing out without a session is not an error.
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) -> Result<(), tower_anonymous_auth::AuthError> {
    /// handle.sign_out().await?;
    /// assert!(handle.auth().is_none());
    /// # Ok(()) }
    /// ```
    pub async fn sign_out(&self) -> Result<(), AuthError> {
        if let Some(current) = self.auth() {
            if current.persisted() {
                self.engine().revoke_session(current.session_id()).await?;
            } else {
                self.engine().revoke_lazy(&current).await?;
            }
            tracing::debug!(user_id = %current.user().id, "signed out");
        }
        self.engine().cookie.clear(self.set_cookie());
        self.set_current(None);
        Ok(())
    }

    /// Makes the current user the owner of `resource` (e.g. `"cart:42"`), or confirms it
    /// already is; fails with [`AuthError::NotOwner`] (403 `NOT_OWNER`) when another user owns
    /// it, changing nothing. When the user later registers or signs in, what it owns moves
    /// with it. A visitor without auth gets a guest first (see [`ensure`](Self::ensure)).
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) -> Result<&'static str, tower_anonymous_auth::AuthError> {
    /// handle.claim("cart:42").await?; // 403 NOT_OWNER if it is someone else's cart
    /// Ok("added")
    /// # }
    /// ```
    pub async fn claim(&self, resource: &str) -> Result<(), AuthError> {
        match self.try_claim(resource).await? {
            ClaimOutcome::OwnedByOther(_) => Err(AuthError::NotOwner),
            ClaimOutcome::Claimed | ClaimOutcome::AlreadyOwned => Ok(()),
        }
    }

    /// [`claim`](Self::claim) that answers what happened instead of failing when another user
    /// owns `resource`: [`ClaimOutcome::Claimed`], [`ClaimOutcome::AlreadyOwned`] or
    /// [`ClaimOutcome::OwnedByOther`].
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) -> Result<(), tower_anonymous_auth::AuthError> {
    /// use tower_anonymous_auth::store::ClaimOutcome;
    /// match handle.try_claim("seat:12").await? {
    ///     ClaimOutcome::Claimed => println!("yours now"),
    ///     ClaimOutcome::AlreadyOwned => println!("yours already"),
    ///     ClaimOutcome::OwnedByOther(_) => println!("taken, pick another seat"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn try_claim(&self, resource: &str) -> Result<ClaimOutcome, AuthError> {
        let auth = self.ensure_persisted().await?;
        Ok(self.engine().store.claim(resource, &auth.user().id).await?)
    }

    /// Whether the current user owns `resource` (`false` when signed out).
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) -> Result<(), tower_anonymous_auth::AuthError> {
    /// if !handle.owns("cart:42").await? { /* 403 */ }
    /// # Ok(()) }
    /// ```
    pub async fn owns(&self, resource: &str) -> Result<bool, AuthError> {
        let Some(auth) = self.auth() else {
            return Ok(false);
        };
        let owner = self.engine().store.owner_of(resource).await?;
        Ok(owner.as_deref() == Some(auth.user().id.as_str()))
    }

    /// Every resource the current user owns, sorted (empty when signed out).
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) -> Result<(), tower_anonymous_auth::AuthError> {
    /// for resource in handle.resources().await? { println!("{resource}"); }
    /// # Ok(()) }
    /// ```
    pub async fn resources(&self) -> Result<Vec<String>, AuthError> {
        let Some(auth) = self.auth() else {
            return Ok(Vec::new());
        };
        Ok(self.engine().store.resources_of(&auth.user().id).await?)
    }

    /// Gives up ownership of `resource`; `false` when the current user did not own it.
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) -> Result<(), tower_anonymous_auth::AuthError> {
    /// handle.release("cart:42").await?;
    /// # Ok(()) }
    /// ```
    pub async fn release(&self, resource: &str) -> Result<bool, AuthError> {
        let auth = self.require()?;
        Ok(self
            .engine()
            .store
            .release(resource, &auth.user().id)
            .await?)
    }
}
