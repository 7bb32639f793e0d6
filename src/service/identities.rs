//! [`AuthHandle`]'s methods for users verified elsewhere: signing in with an identity (see
//! [`crate::accounts::identity`]) or as a user of the app's own login, and managing the
//! identities of an account.

use crate::accounts::app_account::{self, AppAccount};
use crate::accounts::identity::{self, Identity};
use crate::error::AuthError;
use crate::service::handle::AuthHandle;
use crate::store::IdentityRecord;
use crate::token::auth::Auth;

impl AuthHandle {
    /// Signs in with an identity the app has verified: after an OpenID Connect or OAuth
    /// callback (ID token or user info checked, `state` matched), a passkey assertion, SSO.
    ///
    /// - The identity belongs to an account: signs in to it. A guest is linked into it as by
    ///   [`sign_in_with_password`](Self::sign_in_with_password) (`on_link_account` first, then
    ///   what the guest owns moves, the guest is deleted), with
    ///   [`LinkKind::Identity`](crate::LinkKind::Identity).
    /// - Nobody has it: a guest is upgraded in place (same id, now registered, holding the
    ///   identity); without a guest a new account is made. A verified email becomes the
    ///   account's email; an unverified one is only kept with the identity.
    /// - Its email belongs to an account it is not linked to: [`AuthError::IdentityEmailInUse`]
    ///   (the user signs in to that account another way, then calls
    ///   [`link_identity`](Self::link_identity)), unless the email is verified and
    ///   [`link_identities_by_verified_email`](crate::AnonymousAuthConfigBuilder::link_identities_by_verified_email)
    ///   is on.
    ///
    /// Two first sign-ins with one new identity at once make one account. A new session and
    /// cookie are issued. Unlike the password methods it accepts requests from other sites:
    /// an OAuth callback is a navigation from the provider, and its `state` check (the app's)
    /// is what stops a login CSRF.
    ///
    /// ```
    /// use tower_anonymous_auth::{AuthError, AuthHandle, Identity};
    ///
    /// // After the app checked the provider's ID token.
    /// async fn callback(handle: AuthHandle, subject: String, email: String) -> Result<String, AuthError> {
    ///     let identity = Identity::new("https://id.example.com", subject).email(email, true);
    ///     let auth = handle.sign_in_with_identity(identity).await?;
    ///     Ok(auth.user().id.clone())
    /// }
    /// # let _ = callback;
    /// ```
    pub async fn sign_in_with_identity(&self, identity: Identity) -> Result<Auth, AuthError> {
        let current = self.auth();
        let auth = identity::sign_in_with_identity(
            self.engine(),
            current.as_ref(),
            &identity,
            self.set_cookie(),
            self.caller(),
        )
        .await?;
        self.set_current(Some(auth.clone()));
        Ok(auth)
    }

    /// A value naming the current guest, for the app to carry through a sign-in round trip
    /// (the OAuth `state`, next to its own random value) and give back with
    /// [`Identity::link_state`]: the callback then links this guest even if it arrives
    /// without the guest's cookie (a mobile in-app browser, another device, a `SameSite=Strict`
    /// cookie). Signed, single use, valid 10 minutes; it names the guest only, so a stolen one
    /// gives its holder at most what the guest had, once. `None` when there is no guest (signed
    /// out, or registered). A lazy guest is stored first.
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) -> Result<(), tower_anonymous_auth::AuthError> {
    /// let csrf = "random value the app keeps in its own session";
    /// let oauth_state = match handle.link_state().await? {
    ///     Some(link) => format!("{csrf}~{link}"),
    ///     None => csrf.to_owned(),
    /// };
    /// # let _ = oauth_state; Ok(()) }
    /// ```
    pub async fn link_state(&self) -> Result<Option<String>, AuthError> {
        let current = self.auth();
        let made = identity::link_state(
            self.engine(),
            current.as_ref(),
            self.set_cookie(),
            self.client_ip(),
        )
        .await?;
        Ok(made.map(|(state, guest)| {
            self.set_current(Some(guest));
            state
        }))
    }

    /// Adds an identity to the signed-in registered user (a "Connect GitHub" button), so that
    /// it can sign in with it from then on. [`AuthError::IdentityTaken`] when another account
    /// holds it; linking one the user already holds updates its email.
    ///
    /// ```
    /// use tower_anonymous_auth::{AuthError, AuthHandle, Identity};
    ///
    /// async fn connect_github(handle: AuthHandle, github_id: String) -> Result<(), AuthError> {
    ///     handle.link_identity(Identity::new("github", github_id)).await?;
    ///     Ok(())
    /// }
    /// # let _ = connect_github;
    /// ```
    pub async fn link_identity(&self, identity: Identity) -> Result<IdentityRecord, AuthError> {
        identity::link_identity(self.engine(), self.auth().as_ref(), &identity).await
    }

    /// Removes an identity from the signed-in registered user; `false` when it did not hold
    /// it. Refused with [`AuthError::LastSignInMethod`] when it is the account's last way to
    /// sign in (no password, no other identity). Its sessions stay.
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) -> Result<(), tower_anonymous_auth::AuthError> {
    /// let removed = handle.unlink_identity("github", "583231").await?;
    /// # let _ = removed; Ok(()) }
    /// ```
    pub async fn unlink_identity(&self, provider: &str, subject: &str) -> Result<bool, AuthError> {
        identity::unlink_identity(self.engine(), self.auth().as_ref(), provider, subject).await
    }

    /// The identities of the signed-in user, oldest first (none for a guest).
    ///
    /// ```
    /// # async fn f(handle: tower_anonymous_auth::AuthHandle) -> Result<(), tower_anonymous_auth::AuthError> {
    /// for identity in handle.identities().await? {
    ///     println!("signed in with {} since {}", identity.provider, identity.linked_at);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn identities(&self) -> Result<Vec<IdentityRecord>, AuthError> {
        identity::identities(self.engine(), self.auth().as_ref()).await
    }

    /// Signs in as a user the app's own login verified (axum-login's `login`, the app's users
    /// table): this crate's record of the user takes the app's id (made on first use,
    /// registered, without a password), and the caller signs in to it as by
    /// [`sign_in_with_password`](Self::sign_in_with_password): a guest is linked into it
    /// (`on_link_account` with [`LinkKind::AppAccount`](crate::LinkKind::AppAccount), its
    /// resources move, it is deleted). A new session and cookie are issued. Like the password
    /// methods it refuses requests from other sites (`CROSS_SITE_REQUEST`).
    ///
    /// ```
    /// use tower_anonymous_auth::{AppAccount, AuthError, AuthHandle};
    ///
    /// // After the app's own password check passed for its user 42.
    /// async fn logged_in(handle: AuthHandle) -> Result<(), AuthError> {
    ///     let auth = handle.sign_in_as(AppAccount::new("42", "ann@example.com")).await?;
    ///     assert_eq!(auth.user().id, "42");
    ///     Ok(())
    /// }
    /// # let _ = logged_in;
    /// ```
    pub async fn sign_in_as(&self, account: AppAccount) -> Result<Auth, AuthError> {
        self.same_origin_only()?;
        let current = self.auth();
        let auth = app_account::sign_in_as(
            self.engine(),
            current.as_ref(),
            &account,
            self.set_cookie(),
            self.caller(),
        )
        .await?;
        self.set_current(Some(auth.clone()));
        Ok(auth)
    }
}
