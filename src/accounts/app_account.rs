//! Signing in as a user of the app's own login (axum-login, its own users table): the app has
//! verified the user, and this crate's record of them takes the app's id.

use super::finish_sign_in;
use super::link::Cause;
use crate::engine::{AuthEngine, CookieSlot};
use crate::error::AuthError;
use crate::link_event::LinkKind;
use crate::request::Caller;
use crate::store::{StoreError, User, UserRecord};
use crate::token::auth::Auth;
use crate::util::clock::now_millis;
use crate::util::email::normalize_email;

/// The longest app user id accepted, in bytes.
const MAX_ID_LEN: usize = 255;

/// A user the app's own login has verified: its id in the app's users table and its email.
/// Give it to [`AuthHandle::sign_in_as`](crate::AuthHandle::sign_in_as) once the app's own
/// check (a password, axum-login's `login`) passed.
///
/// ```
/// use tower_anonymous_auth::AppAccount;
/// let account = AppAccount::new("42", "ann@example.com").name("Ann");
/// assert_eq!(account.id, "42");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct AppAccount {
    /// The user's id in the app. This crate's user gets the same id, so `Auth::user().id` is
    /// the app's id.
    pub id: String,
    /// The user's email; this crate's record keeps the one it was first given.
    pub email: String,
    /// A display name (the generated one otherwise).
    pub name: Option<String>,
}

impl AppAccount {
    /// The app's user `id` with `email`.
    ///
    /// ```
    /// let account = tower_anonymous_auth::AppAccount::new("42", "ann@example.com");
    /// assert!(account.name.is_none());
    /// ```
    pub fn new(id: impl Into<String>, email: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            email: email.into(),
            name: None,
        }
    }

    /// The display name.
    ///
    /// ```
    /// let account = tower_anonymous_auth::AppAccount::new("42", "ann@example.com").name("Ann");
    /// assert_eq!(account.name.as_deref(), Some("Ann"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// Signs in as the app's user: its record is made on first use (registered, no password, the
/// app's id), then the caller signs in to it as by a password sign-in (a guest is linked).
pub(crate) async fn sign_in_as(
    engine: &AuthEngine,
    current: Option<&Auth>,
    account: &AppAccount,
    set_cookie: &CookieSlot,
    caller: &Caller,
) -> Result<Auth, AuthError> {
    let id = account.id.as_str();
    if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(|c| c.is_control()) {
        return Err(AuthError::InvalidIdentity);
    }
    let email = normalize_email(&account.email).ok_or(AuthError::InvalidEmail)?;
    let collection = super::collection_of(engine, current);
    let user = match known_account(engine, id, collection).await? {
        Some(user) => user,
        None => {
            let now = now_millis();
            let name = account
                .name
                .clone()
                .unwrap_or_else(|| (engine.config.generate_name)(id));
            let user = User::registered(id, collection, email, name, now);
            match engine
                .store
                .insert_user(&UserRecord::new(user.clone()), None, now)
                .await
            {
                Ok(()) => {
                    tracing::info!(user_id = %id, "record made for an app account");
                    user
                }
                // A concurrent first sign-in of the same account made it.
                Err(StoreError::UserExists(_)) => known_account(engine, id, collection)
                    .await?
                    .ok_or(AuthError::Store(StoreError::UserExists(id.to_owned())))?,
                Err(error) => return Err(error.into()),
            }
        }
    };
    let cause = Cause::new(LinkKind::AppAccount, caller);
    finish_sign_in(engine, current, &user, cause, set_cookie).await
}

/// This crate's record of the app's user `id`, if it has one. A guest with that id, or a
/// user of another collection, is not the app's user: refused rather than taken over.
async fn known_account(
    engine: &AuthEngine,
    id: &str,
    collection: &str,
) -> Result<Option<User>, AuthError> {
    let Some(record) = engine.store.get_user(id, now_millis()).await? else {
        return Ok(None);
    };
    if record.user.is_anonymous || record.user.collection != collection {
        return Err(AuthError::Store(StoreError::UserExists(id.to_owned())));
    }
    Ok(Some(record.user))
}
