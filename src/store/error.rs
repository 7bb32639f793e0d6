//! [`StoreError`]: what a store answers when an operation cannot be done.

/// Errors a store returns.
///
/// ```
/// use tower_anonymous_auth::StoreError;
/// let err = StoreError::Unavailable("connection refused".into());
/// assert!(err.is_unavailable());
/// assert_eq!(err.to_string(), "store unavailable: connection refused");
/// ```
#[derive(Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend cannot be reached or timed out; the operation may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Another user of the same collection already has this email.
    #[error("email already taken in this collection")]
    EmailTaken,
    /// The user the operation names does not exist (or has expired).
    #[error("user not found: {0}")]
    UserNotFound(String),
    /// [`UserStore::insert_user`](super::UserStore::insert_user) found a live user with this id already.
    #[error("a user with id {0} exists already")]
    UserExists(String),
    /// [`UserStore::upgrade_user`](super::UserStore::upgrade_user) found this user registered already (a concurrent registration
    /// won).
    #[error("user {0} is registered already")]
    AlreadyRegistered(String),
    /// [`IdentityStore::attach_identity`](super::IdentityStore::attach_identity) found the
    /// identity held by another live user.
    #[error("the identity belongs to another user")]
    IdentityTaken,
    /// The backend holds data this crate cannot read.
    #[error("corrupt record in store: {0}")]
    Corrupt(String),
    /// The app's in-transaction link hook (`PostgresStore`'s `on_link_in_transaction`)
    /// failed, so the link rolled back; the layer answers it as a failed link.
    #[error("the in-transaction link hook failed: {0}")]
    LinkHookFailed(String),
    /// Any other backend failure.
    #[error("store error: {0}")]
    Backend(String),
}

/// The message, so that a `main` returning `Result` (which prints the error's `Debug`) says
/// what went wrong instead of a variant name.
///
/// ```
/// use tower_anonymous_auth::StoreError;
/// let error = StoreError::Unavailable("connection refused".into());
/// assert_eq!(format!("{error:?}"), "store unavailable: connection refused");
/// ```
impl std::fmt::Debug for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl StoreError {
    /// Whether the error means the backend is down or unreachable (so a retry may succeed).
    ///
    /// ```
    /// # use tower_anonymous_auth::StoreError;
    /// assert!(!StoreError::EmailTaken.is_unavailable());
    /// ```
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
