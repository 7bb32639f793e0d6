//! [`Auth`]: the resolved auth of a request (the seeds' `request.auth`).

use crate::store::User;
use crate::token::Claims;

/// The resolved auth of a request, put in its extensions by the layer.
///
/// It is a snapshot taken before the handler runs; after an action of the
/// [`AuthHandle`](crate::AuthHandle) (sign in, sign out), ask the handle for the current one.
///
/// ```
/// use tower_anonymous_auth::Auth;
///
/// async fn handler(request: http::Request<()>) -> String {
///     match request.extensions().get::<Auth>() {
///         Some(auth) if auth.is_anonymous => format!("browsing as guest {}", auth.user.name),
///         Some(auth) => format!("signed in as {}", auth.user.email),
///         None => "no auth".to_owned(),
///     }
/// }
/// # let _ = handler;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Auth {
    /// The user.
    pub user: User,
    /// The signed token (what the cookie or `Authorization: Bearer` header carries).
    pub token: String,
    /// The session id (the token's `sid`).
    pub session_id: String,
    /// Whether the user is anonymous (same as `user.is_anonymous`).
    pub is_anonymous: bool,
    /// Whether the user was minted by this very request.
    pub minted_now: bool,
    /// When the token expires (seconds since the Unix epoch).
    pub expires_at: u64,
    /// Whether the user and session are in the store. `false` only for lazy guests
    /// (see `lazy_persistence`), which are written at their first write.
    pub persisted: bool,
}

impl Auth {
    /// Builds the auth a verified token describes.
    pub(crate) fn from_claims(claims: Claims, token: String, minted_now: bool) -> Self {
        let user = User {
            id: claims.sub,
            collection: claims.col,
            email: claims.email,
            name: claims.name,
            is_anonymous: claims.anon,
            created_at: claims.uca,
        };
        Self {
            is_anonymous: user.is_anonymous,
            user,
            token,
            session_id: claims.sid,
            minted_now,
            expires_at: claims.exp,
            persisted: !claims.lz,
        }
    }
}
