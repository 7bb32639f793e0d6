//! [`AuthHandle`]'s methods for one-time email codes (see [`crate::accounts::email_code`]).

use crate::accounts::email_code;
use crate::error::AuthError;
use crate::service::handle::AuthHandle;
use crate::token::auth::Auth;

impl AuthHandle {
    /// Sends a one-time sign-in code to `email` through the app's
    /// [`send_email_code`](crate::AnonymousAuthConfigBuilder::send_email_code) hook: six
    /// digits to type, and a link token for a link. Both work once, for
    /// [`email_code_ttl`](crate::AnonymousAuthConfigBuilder::email_code_ttl) (10 minutes by
    /// default), and a new code replaces the previous one.
    ///
    /// The answer is the same whether or not the email has an account (show "check your
    /// inbox" either way). Fails with [`AuthError::InvalidEmail`], [`AuthError::RateLimited`]
    /// (per address and per client), [`AuthError::EmailNotSent`] (no hook, or it failed) or
    /// [`AuthError::CrossSiteRequest`] for a request from another site.
    ///
    /// ```
    /// use tower_anonymous_auth::{AuthError, AuthHandle};
    ///
    /// async fn send_code(handle: AuthHandle, email: String) -> Result<&'static str, AuthError> {
    ///     handle.request_email_code(&email).await?;
    ///     Ok("If the address is right, a code is on its way.")
    /// }
    /// # let _ = send_code;
    /// ```
    pub async fn request_email_code(&self, email: &str) -> Result<(), AuthError> {
        self.same_origin_only()?;
        let current = self.auth();
        email_code::request_email_code(self.engine(), current.as_ref(), email, self.caller()).await
    }

    /// Signs in with the code sent to `email`, proving the address: to the account with that
    /// email (now [`email_verified`](crate::User::email_verified)), linking a guest into it
    /// as [`sign_in_with_password`](Self::sign_in_with_password) does
    /// ([`LinkKind::EmailCode`](crate::LinkKind::EmailCode)); for an email nobody has, a
    /// guest is upgraded in place (same id, no password) or a new account is made. A new
    /// session and cookie are issued.
    ///
    /// A wrong, used or expired code is [`AuthError::InvalidEmailCode`], the same answer in
    /// every case; five wrong tries kill the code.
    ///
    /// ```
    /// use tower_anonymous_auth::{AuthError, AuthHandle};
    ///
    /// async fn enter_code(handle: AuthHandle, email: String, code: String) -> Result<String, AuthError> {
    ///     let auth = handle.sign_in_with_email_code(&email, &code).await?;
    ///     Ok(format!("Signed in as {}", auth.user().email))
    /// }
    /// # let _ = enter_code;
    /// ```
    pub async fn sign_in_with_email_code(
        &self,
        email: &str,
        code: &str,
    ) -> Result<Auth, AuthError> {
        self.same_origin_only()?;
        let current = self.auth();
        let auth = email_code::sign_in_with_email_code(
            self.engine(),
            current.as_ref(),
            email,
            code,
            self.set_cookie(),
            self.caller(),
        )
        .await?;
        self.set_current(Some(auth.clone()));
        Ok(auth)
    }

    /// [`sign_in_with_email_code`](Self::sign_in_with_email_code) with the link token
    /// ([`EmailCode::link_token`](crate::EmailCode::link_token)) instead of email and code.
    /// It uses up the same code.
    ///
    /// Let the mailed link open a page of yours with a button that posts the token back,
    /// rather than signing in on the link's `GET`: mail scanners open links (and would use
    /// the token up), and a page of another site could otherwise sign a visitor in to an
    /// account of its choosing. Like every sign-in, this one is refused from another site.
    ///
    /// ```
    /// use tower_anonymous_auth::{AuthError, AuthHandle};
    ///
    /// async fn confirm_link(handle: AuthHandle, token: String) -> Result<String, AuthError> {
    ///     let auth = handle.sign_in_with_email_link(&token).await?;
    ///     Ok(format!("Signed in as {}", auth.user().email))
    /// }
    /// # let _ = confirm_link;
    /// ```
    pub async fn sign_in_with_email_link(&self, token: &str) -> Result<Auth, AuthError> {
        self.same_origin_only()?;
        let current = self.auth();
        let auth = email_code::sign_in_with_email_link(
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
}
