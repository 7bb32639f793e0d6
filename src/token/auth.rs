//! [`Auth`]: the resolved auth of a request (who is asking, and how).

use crate::store::User;
use crate::token::Claims;
use crate::util::email::full_email;
use std::sync::Arc;

/// The resolved auth of a request, put in its extensions by the layer: who the visitor is
/// ([`user`](Self::user)), whether they are anonymous, and the token and session that say so.
///
/// Cheap to clone (one shared allocation), so that the extensions, an extractor and a task
/// can each hold it. It is a snapshot taken before the handler runs; after an action of the
/// [`AuthHandle`](crate::AuthHandle) (sign in, sign out), ask the handle for the current one.
///
/// ```
/// use tower_anonymous_auth::Auth;
///
/// async fn handler(request: http::Request<()>) -> String {
///     match request.extensions().get::<Auth>() {
///         Some(auth) if auth.is_anonymous() => format!("browsing as guest {}", auth.user().name),
///         Some(auth) => format!("signed in as {}", auth.user().email),
///         None => "no auth".to_owned(),
///     }
/// }
/// # let _ = handler;
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Auth {
    inner: Arc<Resolved>,
}

/// What an [`Auth`] shares between its clones.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resolved {
    user: User,
    token: String,
    session_id: String,
    minted_now: bool,
    issued_at: u64,
    expires_at: u64,
    persisted: bool,
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
            email_verified: claims.ev,
            created_at: claims.uca,
        };
        Self {
            inner: Arc::new(Resolved {
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
            self.user(),
            self.session_id(),
            self.issued_at(),
            self.expires_at(),
            !self.persisted(),
        )
    }

    /// The user.
    ///
    /// ```
    /// # fn f(auth: tower_anonymous_auth::Auth) {
    /// println!("{} ({})", auth.user().name, auth.user().id);
    /// # }
    /// ```
    pub fn user(&self) -> &User {
        &self.inner.user
    }

    /// The user, owned: moved out when this is the only clone, copied otherwise.
    ///
    /// ```
    /// # fn f(auth: tower_anonymous_auth::Auth) {
    /// let user: tower_anonymous_auth::User = auth.into_user();
    /// # let _ = user;
    /// # }
    /// ```
    pub fn into_user(self) -> User {
        Arc::unwrap_or_clone(self.inner).user
    }

    /// Whether the user is anonymous (a guest who has not registered).
    ///
    /// ```
    /// # fn f(auth: tower_anonymous_auth::Auth) {
    /// assert_eq!(auth.is_anonymous(), auth.user().is_anonymous);
    /// # }
    /// ```
    pub fn is_anonymous(&self) -> bool {
        self.inner.user.is_anonymous
    }

    /// The signed token (what the cookie or `Authorization: Bearer` header carries).
    ///
    /// ```
    /// # fn f(auth: tower_anonymous_auth::Auth) {
    /// let header = format!("Bearer {}", auth.token());
    /// # let _ = header;
    /// # }
    /// ```
    pub fn token(&self) -> &str {
        &self.inner.token
    }

    /// The session id (the token's `sid`): `{user_id}.0` for a guest's first session, else
    /// `{user_id}.{random}` for sessions the layer starts.
    ///
    /// ```
    /// # fn f(auth: tower_anonymous_auth::Auth) {
    /// assert!(auth.session_id().starts_with(&auth.user().id));
    /// # }
    /// ```
    pub fn session_id(&self) -> &str {
        &self.inner.session_id
    }

    /// Whether the user was minted by this very request.
    ///
    /// ```
    /// # fn f(auth: tower_anonymous_auth::Auth) {
    /// if auth.minted_now() { println!("welcome, new visitor"); }
    /// # }
    /// ```
    pub fn minted_now(&self) -> bool {
        self.inner.minted_now
    }

    /// When the token was issued or last refreshed (seconds since the Unix epoch).
    ///
    /// ```
    /// # fn f(auth: tower_anonymous_auth::Auth) {
    /// assert!(auth.issued_at() <= auth.expires_at());
    /// # }
    /// ```
    pub fn issued_at(&self) -> u64 {
        self.inner.issued_at
    }

    /// When the token expires (seconds since the Unix epoch).
    ///
    /// ```
    /// # fn f(auth: tower_anonymous_auth::Auth) {
    /// println!("valid until {}", auth.expires_at());
    /// # }
    /// ```
    pub fn expires_at(&self) -> u64 {
        self.inner.expires_at
    }

    /// Whether the user and session are in the store. `false` only for lazy guests (see
    /// `lazy_persistence`), which are written at their first write.
    ///
    /// ```
    /// # fn f(auth: tower_anonymous_auth::Auth) {
    /// if !auth.persisted() { println!("a guest nobody has stored yet"); }
    /// # }
    /// ```
    pub fn persisted(&self) -> bool {
        self.inner.persisted
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
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
            ev: false,
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
        assert!(!auth.persisted());
        assert_eq!(auth.user().id, "u1");
        assert_eq!(auth.user().email, "temp-u1@anonymous.invalid");
    }

    #[test]
    fn clones_share_one_info() {
        let auth = Auth::from_claims(claims(), "t".into(), true);
        let copy = auth.clone();
        assert!(std::ptr::eq(auth.user(), copy.user()));
        assert_eq!(copy.into_user().id, "u1");
    }
}
