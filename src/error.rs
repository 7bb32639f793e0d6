//! [`AuthError`], [`ConfigError`] and their HTTP mapping.

use crate::store::StoreError;
use http::StatusCode;

/// What went wrong while acting on auth: signing in, registering, signing out, claiming.
///
/// Every variant has a stable machine-readable [`code`](Self::code) and an HTTP
/// [`status`](Self::status). With the `axum` feature it is an `IntoResponse` that answers
/// `{"code": "...", "message": "..."}` in JSON.
///
/// ```
/// use tower_anonymous_auth::AuthError;
/// use http::StatusCode;
///
/// let err = AuthError::AnonymousCannotSignInAgain;
/// assert_eq!(err.code(), "ANONYMOUS_CANNOT_SIGN_IN_AGAIN");
/// assert_eq!(err.status(), StatusCode::BAD_REQUEST);
/// ```
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The caller already is an anonymous user; a second one is not minted for it.
    #[error("anonymous users cannot sign in anonymously again")]
    AnonymousCannotSignInAgain,
    /// The request carries no valid credential, and the action needs one.
    #[error("not signed in")]
    Unauthenticated,
    /// The action needs a registered user; the caller is anonymous.
    #[error("this action needs a registered account; anonymous users cannot use it")]
    RegisteredUserRequired,
    /// Unknown email or wrong password (the two are never told apart).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Another user of the collection already has this email.
    #[error("email already taken")]
    EmailTaken,
    /// The caller is signed in as a registered user and asked to register again.
    #[error("already registered: sign out before creating another account")]
    AlreadyRegistered,
    /// The email is not a plausible address.
    #[error("invalid email address")]
    InvalidEmail,
    /// The password is shorter or longer than the configured bounds.
    #[error("password must be between {min} and {max} characters")]
    WeakPassword {
        /// Minimum length in characters.
        min: usize,
        /// Maximum length in characters.
        max: usize,
    },
    /// The token given to sign in with is invalid, expired or revoked.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The resource is owned by another user.
    #[error("resource is owned by another user")]
    NotOwner,
    /// The identity (provider and subject) is linked to another account.
    #[error(
        "this sign-in is linked to another account: sign in to that account, or unlink it there"
    )]
    IdentityTaken,
    /// An identity signed in with an email that an account of this site has, and it was not
    /// linked to that account: matching emails alone never join accounts.
    #[error(
        "an account with this email exists already: sign in to it another way, then link this \
         sign-in from that account"
    )]
    IdentityEmailInUse,
    /// An identity's provider or subject, or an app account's id, is empty, longer than 255
    /// bytes or has control characters.
    #[error("invalid identity: a provider, subject or account id must be 1 to 255 bytes, without control characters")]
    InvalidIdentity,
    /// The one-time email code (or the link mailed with it) is wrong, used, expired, or was
    /// guessed at too often. The same answer for every case, and whether or not the email
    /// has an account.
    #[error("this code is wrong or has expired: check it, or ask for a new one")]
    InvalidEmailCode,
    /// The app's `send_email_code` hook is not configured, or it failed to send the code.
    #[error("the sign-in code could not be sent; retry in a moment")]
    EmailNotSent,
    /// Unlinking would leave the account without a way to sign in (no password, no other
    /// identity).
    #[error("this is the account's last way to sign in: add another before removing it")]
    LastSignInMethod,
    /// A sign-in, registration or guest mint was asked for by a page of another site (or of a
    /// sibling subdomain): refused, so that no other site can sign a visitor in to an account
    /// of its choosing (login CSRF) or replace the visitor's cookie.
    #[error("this request came from another site; sign in from this site's own pages")]
    CrossSiteRequest,
    /// The request did not pass the layer (no `AuthHandle` in extensions): the layer is missing.
    #[error(
        "no AnonymousAuthLayer ran for this request: axum's `.layer(...)` wraps only the routes \
         added before it, so add this route before the layer (or layer the whole Router)"
    )]
    LayerMissing,
    /// An `on_link_account` hook failed; the guest's data is intact and a retry completes the link.
    #[error("linking the guest to the account failed: {0}")]
    LinkFailed(String),
    /// Over a rate limit: too many anonymous users minted from one client address, or too
    /// many password attempts from one address or against one email.
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// Too many password checks are already waiting for the hashing workers; refused at once
    /// rather than queued, so that a flood cannot delay everyone's sign-in.
    #[error("the server is busy checking other passwords; retry in {retry_after_secs} s")]
    Busy {
        /// Seconds to wait before retrying.
        retry_after_secs: u64,
    },
    /// The store failed. A store's [`StoreError::EmailTaken`] and
    /// [`StoreError::IdentityTaken`] convert to [`AuthError::EmailTaken`] and
    /// [`AuthError::IdentityTaken`] instead.
    #[error(transparent)]
    Store(StoreError),
    /// Hashing or token signing failed unexpectedly.
    #[error("internal auth error: {0}")]
    Internal(String),
}

impl From<StoreError> for AuthError {
    /// A store error as the caller sees it: a taken email is [`AuthError::EmailTaken`], every
    /// other one [`AuthError::Store`].
    ///
    /// ```
    /// use tower_anonymous_auth::{AuthError, StoreError};
    /// assert_eq!(AuthError::from(StoreError::EmailTaken), AuthError::EmailTaken);
    /// assert_eq!(AuthError::from(StoreError::EmailTaken).code(), "EMAIL_TAKEN");
    /// ```
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::EmailTaken => Self::EmailTaken,
            StoreError::IdentityTaken => Self::IdentityTaken,
            StoreError::LinkHookFailed(message) => Self::LinkFailed(message),
            other => Self::Store(other),
        }
    }
}

impl AuthError {
    /// Stable machine-readable code, e.g. `"INVALID_CREDENTIALS"`.
    ///
    /// ```
    /// use tower_anonymous_auth::{AuthError, StoreError};
    /// assert_eq!(AuthError::InvalidCredentials.code(), "INVALID_CREDENTIALS");
    /// assert_eq!(AuthError::Store(StoreError::Unavailable("down".into())).code(), "STORE_UNAVAILABLE");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Self::AnonymousCannotSignInAgain => "ANONYMOUS_CANNOT_SIGN_IN_AGAIN",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::RegisteredUserRequired => "REGISTERED_USER_REQUIRED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::AlreadyRegistered => "ALREADY_REGISTERED",
            Self::InvalidEmail => "INVALID_EMAIL",
            Self::WeakPassword { .. } => "WEAK_PASSWORD",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::NotOwner => "NOT_OWNER",
            Self::IdentityTaken => "IDENTITY_TAKEN",
            Self::IdentityEmailInUse => "IDENTITY_EMAIL_IN_USE",
            Self::InvalidIdentity => "INVALID_IDENTITY",
            Self::LastSignInMethod => "LAST_SIGN_IN_METHOD",
            Self::InvalidEmailCode => "INVALID_EMAIL_CODE",
            Self::EmailNotSent => "EMAIL_NOT_SENT",
            Self::CrossSiteRequest => "CROSS_SITE_REQUEST",
            Self::LayerMissing => "LAYER_MISSING",
            Self::LinkFailed(_) => "LINK_FAILED",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Busy { .. } => "BUSY",
            Self::Store(StoreError::Unavailable(_)) => "STORE_UNAVAILABLE",
            Self::Store(_) => "STORE_ERROR",
            Self::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The HTTP status the error maps to.
    ///
    /// ```
    /// use tower_anonymous_auth::AuthError;
    /// use http::StatusCode;
    /// assert_eq!(AuthError::Unauthenticated.status(), StatusCode::UNAUTHORIZED);
    /// assert_eq!(AuthError::RegisteredUserRequired.status(), StatusCode::FORBIDDEN);
    /// assert_eq!(AuthError::EmailTaken.status(), StatusCode::CONFLICT);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Self::AnonymousCannotSignInAgain
            | Self::InvalidEmail
            | Self::WeakPassword { .. }
            | Self::InvalidIdentity => StatusCode::BAD_REQUEST,
            Self::Unauthenticated
            | Self::InvalidCredentials
            | Self::InvalidToken
            | Self::InvalidEmailCode => StatusCode::UNAUTHORIZED,
            Self::RegisteredUserRequired | Self::NotOwner | Self::CrossSiteRequest => {
                StatusCode::FORBIDDEN
            }
            Self::EmailTaken
            | Self::AlreadyRegistered
            | Self::IdentityTaken
            | Self::IdentityEmailInUse
            | Self::LastSignInMethod => StatusCode::CONFLICT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy { .. } | Self::EmailNotSent | Self::Store(StoreError::Unavailable(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::LinkFailed(_) | Self::LayerMissing | Self::Store(_) | Self::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// How many seconds a client should wait before retrying, for the errors a retry can fix:
    /// a rate limit, a busy password queue, or a store that is down.
    ///
    /// ```
    /// use tower_anonymous_auth::{AuthError, StoreError};
    /// assert_eq!(AuthError::RateLimited { retry_after_secs: 7 }.retry_after_secs(), Some(7));
    /// assert_eq!(AuthError::Store(StoreError::Unavailable("down".into())).retry_after_secs(), Some(1));
    /// assert_eq!(AuthError::InvalidCredentials.retry_after_secs(), None);
    /// ```
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } | Self::Busy { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            Self::Store(store) if store.is_unavailable() => Some(1),
            _ => None,
        }
    }

    /// What the error tells the person or program that made the request: its `Display` text,
    /// except for failures inside the server (the store, hashing, signing), whose details
    /// (addresses, backend messages) belong in the logs, not in a response.
    ///
    /// ```
    /// use tower_anonymous_auth::{AuthError, StoreError};
    /// let down = AuthError::Store(StoreError::Unavailable("10.0.0.3:6379 refused".into()));
    /// assert_eq!(down.public_message(), "the service is unavailable right now; retry in a moment");
    /// assert_eq!(AuthError::EmailTaken.public_message(), "email already taken");
    /// ```
    pub fn public_message(&self) -> String {
        match self {
            Self::Store(StoreError::Unavailable(_)) => {
                "the service is unavailable right now; retry in a moment".to_owned()
            }
            Self::Store(_) | Self::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }

    /// The JSON body the error answers with: `{"code": ..., "message": ...}`, the message
    /// being [`public_message`](Self::public_message).
    ///
    /// ```
    /// use tower_anonymous_auth::AuthError;
    /// let body = AuthError::EmailTaken.to_json();
    /// assert_eq!(body["code"], "EMAIL_TAKEN");
    /// assert_eq!(body["message"], "email already taken");
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "code": self.code(), "message": self.public_message() });
        if let Self::RateLimited { retry_after_secs } | Self::Busy { retry_after_secs } = self {
            body["retry_after"] = (*retry_after_secs).into();
        }
        body
    }
}

/// Invalid configuration, reported by [`AnonymousAuthConfigBuilder::build`](crate::AnonymousAuthConfigBuilder::build).
///
/// ```
/// use tower_anonymous_auth::{AnonymousAuthConfig, ConfigError};
///
/// let err = AnonymousAuthConfig::builder().key("k1", b"short").build().unwrap_err();
/// assert_eq!(err, ConfigError::KeyTooShort { kid: "k1".into(), len: 5, min: 32 });
/// ```
#[derive(Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A signing key is shorter than its algorithm's hash (32 bytes for HS256, 48 for HS384,
    /// 64 for HS512).
    #[error("signing key {kid:?} is {len} bytes long; this algorithm needs keys of at least {min} bytes (generate one with `openssl rand -base64 64`)")]
    KeyTooShort {
        /// The key id.
        kid: String,
        /// The key's length in bytes.
        len: usize,
        /// The shortest key the algorithm accepts, in bytes.
        min: usize,
    },
    /// [`key_from_env`](crate::AnonymousAuthConfigBuilder::key_from_env) found its
    /// environment variable unset or empty.
    #[error("the environment variable {0} is not set: set it to a random secret of at least 32 bytes, for example `export {0}=$(openssl rand -base64 48)`")]
    MissingKeyVariable(String),
    /// No signing key was configured.
    #[error("no signing key configured: call `.key(kid, secret)` (or `.random_key()` for local development)")]
    NoSigningKey,
    /// Two keys share one `kid`.
    #[error("two signing keys share the kid {0:?}")]
    DuplicateKid(String),
    /// A key id is empty or contains characters other than ASCII letters, digits, `-`, `_` and `.`.
    #[error("invalid key id {0:?}: use ASCII letters, digits, '-', '_' or '.'")]
    InvalidKid(String),
    /// The cookie name is not a valid cookie token.
    #[error("invalid cookie name {0:?}")]
    InvalidCookieName(String),
    /// A `__Host-` cookie must be Secure, have path `/` and no domain.
    #[error("a __Host- cookie must be Secure, with path \"/\" and no Domain")]
    HostPrefixRequirements,
    /// A trusted proxy is neither an IP address nor a CIDR range.
    #[error("invalid trusted proxy {0:?}: use an IP address or a CIDR range such as 10.0.0.0/8")]
    InvalidProxy(String),
    /// A duration option is zero or out of range.
    #[error("option {0} is out of range")]
    OutOfRange(&'static str),
    /// A PostgreSQL schema, table or column name given to `PostgresStore::builder` is not a
    /// plain identifier.
    #[error("invalid {what} name {name:?}: use letters, digits and '_' (not starting with a digit), at most 63 bytes (55 for the store's schema); a table may be schema-qualified as \"schema.table\"")]
    InvalidIdentifier {
        /// What the name was for: `"schema"`, `"table"` or `"column"`.
        what: &'static str,
        /// The name as given.
        name: String,
    },
}

/// The message, so that a `main` returning `Result` (which prints the error's `Debug`) says
/// what to fix instead of a variant name.
///
/// ```
/// use tower_anonymous_auth::ConfigError;
/// let error = ConfigError::KeyTooShort { kid: "2026-11".into(), len: 10, min: 32 };
/// assert!(format!("{error:?}").starts_with("signing key \"2026-11\" is 10 bytes long"));
/// ```
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
