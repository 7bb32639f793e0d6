//! [`Auth`]: the resolved auth of a request (who is asking, and how), and the
//! [`AuthInfo`] it shares.

use crate::email::full_email;
use crate::store::User;
use crate::token::Claims;
use std::ops::Deref;
use std::sync::Arc;

/// The resolved auth of a request, put in its extensions by the layer.
///
/// `Auth` is a cheap, shared handle (an `Arc`) to an [`AuthInfo`], which it dereferences to:
/// `auth.user.id`, `auth.is_anonymous` and the other fields read as if they were its own, and
/// cloning it (into the extensions, an extractor, a task) copies no strings.
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
#[derive(Clone, PartialEq, Eq)]
pub struct Auth {
    info: Arc<AuthInfo>,
}

/// What an [`Auth`] says about the request's visitor: the user, the token and its session.
///
/// ```
/// # fn f(auth: tower_anonymous_auth::Auth) {
/// let info: &tower_anonymous_auth::AuthInfo = &auth;
/// println!("{} ({}), session {}", info.user.name, info.user.id, info.session_id);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthInfo {
    /// The user.
    pub user: User,
    /// The signed token (what the cookie or `Authorization: Bearer` header carries).
    pub token: String,
    /// The session id (the token's `sid`): `{user_id}.0` for a guest's first session, else
    /// `{user_id}.{random}` for sessions the layer starts.
    pub session_id: String,
    /// Whether the user is anonymous (same as `user.is_anonymous`).
    pub is_anonymous: bool,
    /// Whether the user was minted by this very request.
    pub minted_now: bool,
    /// When the token was issued or last refreshed (seconds since the Unix epoch).
    pub issued_at: u64,
    /// When the token expires (seconds since the Unix epoch).
    pub expires_at: u64,
    /// Whether the user and session are in the store. `false` only for lazy guests
    /// (see `lazy_persistence`), which are written at their first write.
    pub persisted: bool,
}

impl Auth {
    /// Builds the auth a verified token describes.
    pub(crate) fn from_claims(claims: Claims, token: String, minted_now: bool) -> Self {
        let email = full_email(&claims.sub, claims.email);
        let user = User {
            id: claims.sub,
            collection: claims.col,
            email,
            name: claims.name,
            is_anonymous: claims.anon,
            created_at: claims.uca,
        };
        Self {
            info: Arc::new(AuthInfo {
                is_anonymous: user.is_anonymous,
                user,
                token,
                session_id: claims.sid,
                minted_now,
                issued_at: claims.iat,
                expires_at: claims.exp,
                persisted: !claims.lz,
            }),
        }
    }

    /// The claims of the token this auth was built from.
    pub(crate) fn claims(&self) -> Claims {
        Claims::for_user(
            &self.user,
            &self.session_id,
            self.issued_at,
            self.expires_at,
            !self.persisted,
        )
    }

    /// The [`AuthInfo`], owned: moved out when this is its only handle, cloned otherwise.
    ///
    /// ```
    /// # fn f(auth: tower_anonymous_auth::Auth) {
    /// let user = auth.into_info().user;
    /// # let _ = user;
    /// # }
    /// ```
    pub fn into_info(self) -> AuthInfo {
        Arc::unwrap_or_clone(self.info)
    }
}

impl Deref for Auth {
    type Target = AuthInfo;

    fn deref(&self) -> &AuthInfo {
        &self.info
    }
}

impl AsRef<AuthInfo> for Auth {
    fn as_ref(&self) -> &AuthInfo {
        &self.info
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.info.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::ISSUER;

    fn claims() -> Claims {
        Claims {
            sub: "u1".into(),
            sid: "s1".into(),
            col: "users".into(),
            email: "@anonymous.invalid".into(),
            name: "Guest".into(),
            anon: true,
            uca: 7,
            iat: 100,
            exp: 200,
            iss: ISSUER.into(),
            lz: true,
        }
    }

    #[test]
    fn claims_round_trip_through_auth() {
        let auth = Auth::from_claims(claims(), "t".into(), false);
        assert_eq!(auth.claims(), claims());
        assert!(!auth.persisted);
        assert_eq!(auth.user.id, "u1");
        assert_eq!(auth.user.email, "temp-u1@anonymous.invalid");
    }

    #[test]
    fn clones_share_one_info() {
        let auth = Auth::from_claims(claims(), "t".into(), true);
        let copy = auth.clone();
        assert!(std::ptr::eq(&*auth, &*copy));
        assert_eq!(copy.into_info().token, "t");
    }
}
