//! The [`Store`] trait, the records it keeps, and [`StoreError`].
//!
//! A store keeps three things: users (anonymous and registered), sessions (one per signed-in
//! browser or API client), and an ownership registry that maps application resources such as
//! `"cart:42"` to the user that owns them. [`MemoryStore`] is the embedded default; with the
//! `redis` feature, `RedisStore` keeps the same data in Redis or Redis Cluster.

mod memory;
mod rate_buckets;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisStore, RedisStoreConfig, SweepReport};
pub use memory::MemoryStore;

use crate::rate_limit::{RateDecision, RateLimit};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A user as the application sees it: what [`Auth::user`](crate::AuthInfo::user) holds.
///
/// ```
/// use tower_anonymous_auth::User;
///
/// let user = User::anonymous("42", "users", "temp-42@example.com", "Quiet Otter", 0);
/// assert!(user.is_anonymous);
/// assert_eq!(user.email, "temp-42@example.com");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// Stable user id. It stays the same when an anonymous user registers. The layer makes
    /// 128 random bits in base64url (22 characters of `A-Z a-z 0-9 - _`).
    pub id: String,
    /// The collection (user table) the user belongs to; `"users"` unless configured.
    pub collection: String,
    /// Email address: a random placeholder (`temp-{id}@{domain}`) for anonymous users.
    pub email: String,
    /// Display name: generated for anonymous users unless the app chose one.
    pub name: String,
    /// `true` until the user registers.
    pub is_anonymous: bool,
    /// Creation time, in milliseconds since the Unix epoch.
    pub created_at: u64,
}

impl User {
    /// Builds an anonymous user.
    ///
    /// ```
    /// let user = tower_anonymous_auth::User::anonymous("id", "users", "e@x.io", "n", 1);
    /// assert_eq!(user.created_at, 1);
    /// ```
    pub fn anonymous(
        id: impl Into<String>,
        collection: impl Into<String>,
        email: impl Into<String>,
        name: impl Into<String>,
        created_at: u64,
    ) -> Self {
        Self {
            id: id.into(),
            collection: collection.into(),
            email: email.into(),
            name: name.into(),
            is_anonymous: true,
            created_at,
        }
    }

    /// The name a guest gets when the configuration sets no name generator: "Adjective
    /// Animal", derived from the id, so the same id always has the same name and a guest's
    /// token and its Redis record can leave it out.
    ///
    /// ```
    /// use tower_anonymous_auth::User;
    ///
    /// let name = User::default_name("u1");
    /// assert_eq!(name, "Lucky Crane");
    /// assert_eq!(User::default_name("u1"), name, "the same for good");
    /// ```
    pub fn default_name(id: &str) -> String {
        crate::names::name_for_id(id)
    }

    /// Builds a registered (non-anonymous) user.
    ///
    /// ```
    /// let user = tower_anonymous_auth::User::registered("id", "users", "a@b.io", "Ann", 1);
    /// assert!(!user.is_anonymous);
    /// ```
    pub fn registered(
        id: impl Into<String>,
        collection: impl Into<String>,
        email: impl Into<String>,
        name: impl Into<String>,
        created_at: u64,
    ) -> Self {
        Self {
            is_anonymous: false,
            ..Self::anonymous(id, collection, email, name, created_at)
        }
    }
}

/// A user as the store keeps it: the [`User`] plus credentials and expiry.
///
/// ```
/// use tower_anonymous_auth::{User, store::UserRecord};
///
/// let record = UserRecord::new(User::anonymous("1", "users", "t@x.io", "n", 0))
///     .with_expires_at(Some(60_000));
/// assert_eq!(record.expires_at, Some(60_000));
/// assert!(record.password_hash.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserRecord {
    /// The user.
    pub user: User,
    /// PHC string of the password hash (argon2id), for users who registered with a password.
    pub password_hash: Option<String>,
    /// When the record expires (ms since the epoch). `None` for registered users: they never expire.
    pub expires_at: Option<u64>,
}

impl UserRecord {
    /// A record with no password and no expiry.
    ///
    /// ```
    /// # use tower_anonymous_auth::{User, store::UserRecord};
    /// let r = UserRecord::new(User::registered("1", "users", "a@b.io", "A", 0));
    /// assert!(r.expires_at.is_none());
    /// ```
    pub fn new(user: User) -> Self {
        Self {
            user,
            password_hash: None,
            expires_at: None,
        }
    }

    /// Sets the password hash (a PHC string).
    ///
    /// ```
    /// # use tower_anonymous_auth::{User, store::UserRecord};
    /// let r = UserRecord::new(User::registered("1", "users", "a@b.io", "A", 0))
    ///     .with_password_hash(Some("$argon2id$...".into()));
    /// assert!(r.password_hash.is_some());
    /// ```
    pub fn with_password_hash(mut self, hash: Option<String>) -> Self {
        self.password_hash = hash;
        self
    }

    /// Sets the expiry (ms since the epoch).
    ///
    /// ```
    /// # use tower_anonymous_auth::{User, store::UserRecord};
    /// let r = UserRecord::new(User::anonymous("1", "users", "a@b.io", "A", 0)).with_expires_at(Some(5));
    /// assert_eq!(r.expires_at, Some(5));
    /// ```
    pub fn with_expires_at(mut self, expires_at: Option<u64>) -> Self {
        self.expires_at = expires_at;
        self
    }

    /// Whether the record has expired at `now` (ms since the epoch).
    ///
    /// ```
    /// # use tower_anonymous_auth::{User, store::UserRecord};
    /// let r = UserRecord::new(User::anonymous("1", "users", "a@b.io", "A", 0)).with_expires_at(Some(5));
    /// assert!(r.is_expired(5));
    /// assert!(!r.is_expired(4));
    /// ```
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A session: one signed-in browser or API client of one user.
///
/// The session id travels in the token (`sid` claim); revoking a session (deleting it) makes
/// every token that names it invalid, even before the token's own `exp`. The layer makes
/// session ids of the form `{user_id}.{random}` (22 base64url characters of randomness; `0`
/// for the first session of a guest it mints), which lets a store keep a session inside its
/// user's record (`RedisStore` does); a store accepts any other id too.
///
/// ```
/// use tower_anonymous_auth::store::SessionRecord;
///
/// let s = SessionRecord::new("sid-1", "user-1", 0, 1_000);
/// assert!(!s.is_expired(999));
/// assert!(s.is_expired(1_000));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionRecord {
    /// Session id.
    pub id: String,
    /// The user the session belongs to.
    pub user_id: String,
    /// Creation time (ms since the epoch).
    pub created_at: u64,
    /// Expiry (ms since the epoch); sliding, pushed forward by [`Store::refresh`].
    pub expires_at: u64,
}

impl SessionRecord {
    /// Builds a session record.
    ///
    /// ```
    /// # use tower_anonymous_auth::store::SessionRecord;
    /// let s = SessionRecord::new("s", "u", 1, 2);
    /// assert_eq!(s.user_id, "u");
    /// ```
    pub fn new(
        id: impl Into<String>,
        user_id: impl Into<String>,
        created_at: u64,
        expires_at: u64,
    ) -> Self {
        Self {
            id: id.into(),
            user_id: user_id.into(),
            created_at,
            expires_at,
        }
    }

    /// Whether the session has expired at `now` (ms since the epoch).
    ///
    /// ```
    /// # use tower_anonymous_auth::store::SessionRecord;
    /// assert!(SessionRecord::new("s", "u", 0, 10).is_expired(10));
    /// ```
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at <= now
    }
}

/// What [`Store::claim`] did.
///
/// ```
/// use tower_anonymous_auth::store::ClaimOutcome;
/// assert!(ClaimOutcome::Claimed.is_owned_by_caller());
/// assert!(ClaimOutcome::AlreadyOwned.is_owned_by_caller());
/// assert!(!ClaimOutcome::OwnedByOther("u2".into()).is_owned_by_caller());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The resource had no owner and now belongs to the caller.
    Claimed,
    /// The caller already owned the resource; nothing changed.
    AlreadyOwned,
    /// Another user owns the resource (its id); nothing changed.
    OwnedByOther(String),
}

impl ClaimOutcome {
    /// `true` for [`Claimed`](Self::Claimed) and [`AlreadyOwned`](Self::AlreadyOwned).
    ///
    /// ```
    /// # use tower_anonymous_auth::store::ClaimOutcome;
    /// assert!(ClaimOutcome::Claimed.is_owned_by_caller());
    /// ```
    pub fn is_owned_by_caller(&self) -> bool {
        matches!(self, Self::Claimed | Self::AlreadyOwned)
    }
}

/// What a [`Store::transfer`] moved.
///
/// ```
/// use tower_anonymous_auth::store::TransferReport;
/// let report = TransferReport { moved: 3 };
/// assert_eq!(report.moved, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransferReport {
    /// Resources whose owner this call changed. A retry of a finished transfer reports 0.
    pub moved: usize,
}

/// Errors a [`Store`] returns.
///
/// ```
/// use tower_anonymous_auth::StoreError;
/// let err = StoreError::Unavailable("connection refused".into());
/// assert!(err.is_unavailable());
/// assert_eq!(err.to_string(), "store unavailable: connection refused");
/// ```
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
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
    /// [`Store::insert_user`] found a live user with this id already.
    #[error("a user with id {0} exists already")]
    UserExists(String),
    /// [`Store::upgrade_user`] found this user registered already (a concurrent registration
    /// won).
    #[error("user {0} is registered already")]
    AlreadyRegistered(String),
    /// The backend holds data this crate cannot read.
    #[error("corrupt record in store: {0}")]
    Corrupt(String),
    /// Any other backend failure.
    #[error("store error: {0}")]
    Backend(String),
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

/// Where users, sessions and ownership live.
///
/// All times are milliseconds since the Unix epoch, passed in by the caller so that stores
/// never read a clock on their own (tests can move time). Implementations must make
/// [`transfer`](Self::transfer) atomic for readers (no resource is ever seen owned by nobody or
/// by both users), idempotent (a retry after a crash finishes the job) and safe when two
/// transfers of the same user run at once (each resource moves exactly once).
///
/// ```
/// use tower_anonymous_auth::store::{MemoryStore, Store};
///
/// # tokio_test();
/// # fn tokio_test() { tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// store.claim("cart:1", "guest").await.unwrap();
/// let report = store.transfer("guest", "account").await.unwrap();
/// assert_eq!(report.moved, 1);
/// assert_eq!(store.owner_of("cart:1").await.unwrap().as_deref(), Some("account"));
/// # }) }
/// ```
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts a new user, and its first session when given, in one step, only if no live
    /// user has its id (atomically: of two concurrent inserts of one id, one fails).
    /// Fails with [`StoreError::UserExists`] when a live user has the id (an expired one is
    /// replaced), and with [`StoreError::EmailTaken`] when the email is taken in the user's
    /// collection (emails are compared as given: callers normalise them); either way nothing
    /// changes. An expired user holding the email at `now` does not count: it is removed.
    async fn insert_user(
        &self,
        user: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError>;

    /// [`insert_user`](Store::insert_user) for a guest whose id was made for this call and
    /// never handed out before (the layer's mint). Nobody can have registered such a guest's
    /// placeholder email as a real one, so a store may skip looking for its holder
    /// (`RedisStore` does: one command less per new guest). The default is `insert_user`.
    async fn insert_fresh_guest(
        &self,
        user: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        self.insert_user(user, session, now).await
    }

    /// Reads a user by id. Expired users read as `None`.
    async fn get_user(&self, id: &str, now: u64) -> Result<Option<UserRecord>, StoreError>;

    /// Finds a user by collection and email. Expired users read as `None`.
    async fn find_user_by_email(
        &self,
        collection: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError>;

    /// Turns an anonymous user into a registered one in place (same id): sets email, name and
    /// password hash, clears `is_anonymous` and removes the user's expiry (registered users
    /// never expire). Conditional on the user still being anonymous, atomically: fails with
    /// [`StoreError::AlreadyRegistered`] when it is registered (a concurrent registration
    /// won), [`StoreError::EmailTaken`] or [`StoreError::UserNotFound`], changing nothing.
    async fn upgrade_user(
        &self,
        id: &str,
        email: &str,
        name: &str,
        password_hash: Option<&str>,
        now: u64,
    ) -> Result<UserRecord, StoreError>;

    /// Deletes a user, its email index entry and all its sessions. Deleting a missing user is
    /// not an error. Resources it still owns keep their owner entry (transfer them first).
    async fn delete_user(&self, id: &str) -> Result<(), StoreError>;

    /// Stores a new session.
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError>;

    /// Reads a session. Expired sessions read as `None`.
    async fn get_session(&self, id: &str, now: u64) -> Result<Option<SessionRecord>, StoreError>;

    /// Whether session `id` is live at `now` and belongs to `user_id`, answered without
    /// waiting by a store that needs no I/O for it; `None` (the default) means "ask
    /// [`get_session`](Store::get_session)". The layer asks this first for every returning
    /// visitor whose session the memo does not vouch for: `MemoryStore` answers here, so its
    /// requests need no boxed future and no span, while `RedisStore` keeps the default.
    /// An answer must agree with `get_session` (a missing, expired or other user's session is
    /// `false`).
    ///
    /// ```
    /// use tower_anonymous_auth::store::{SessionRecord, Store, UserRecord};
    /// use tower_anonymous_auth::{MemoryStore, User};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// let user = UserRecord::new(User::anonymous("u1", "users", "temp-u1@x.io", "Guest", 0))
    ///     .with_expires_at(Some(10_000));
    /// let session = SessionRecord::new("s1", "u1", 0, 10_000);
    /// store.insert_user(&user, Some(&session), 0).await.unwrap();
    /// assert!(store.check_session_now("s1", "u1", 5_000).unwrap().unwrap());
    /// assert!(!store.check_session_now("s1", "u2", 5_000).unwrap().unwrap());
    /// assert!(!store.check_session_now("s1", "u1", 10_000).unwrap().unwrap());
    /// # });
    /// ```
    fn check_session_now(
        &self,
        id: &str,
        user_id: &str,
        now: u64,
    ) -> Option<Result<bool, StoreError>> {
        let _ = (id, user_id, now);
        None
    }

    /// Pushes a session's expiry to `expires_at`, and the expiry of its user to the same time
    /// when that user is anonymous (registered users never expire).
    async fn refresh(&self, session_id: &str, expires_at: u64) -> Result<(), StoreError>;

    /// Revokes (deletes) one session; `true` when this call removed it, `false` when it was
    /// not there. Atomic: of several concurrent deletes of one session exactly one returns
    /// `true` (what makes a single-use token single use).
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError>;

    /// Revokes every session of a user; returns how many were removed.
    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError>;

    /// Records `owner` as the owner of `resource` unless someone owns it already.
    async fn claim(&self, resource: &str, owner: &str) -> Result<ClaimOutcome, StoreError>;

    /// Gives up ownership; returns `false` when `owner` did not own `resource`.
    async fn release(&self, resource: &str, owner: &str) -> Result<bool, StoreError>;

    /// The owner of a resource, if any.
    async fn owner_of(&self, resource: &str) -> Result<Option<String>, StoreError>;

    /// Every resource a user owns, sorted.
    async fn resources_of(&self, owner: &str) -> Result<Vec<String>, StoreError>;

    /// Moves every resource of `from` to `to`: atomic for readers, idempotent, and safe
    /// under concurrent calls for the same `from`.
    async fn transfer(&self, from: &str, to: &str) -> Result<TransferReport, StoreError>;

    /// Counts one event against the rate-limit bucket `key` (GCRA, see
    /// [`RateLimit::apply`]) and says whether it is allowed. Stores shared by several app
    /// instances (Redis) share the buckets too.
    async fn rate_limit(
        &self,
        key: &str,
        limit: RateLimit,
        now: u64,
    ) -> Result<RateDecision, StoreError>;

    /// Takes the lease `key` for `holder` for `ttl_ms` (from `now`), unless another holder has
    /// it and it has not expired; `true` when taken. When `holder` has it already, the call
    /// renews it: it lives `ttl_ms` from `now`. Leases serialize work on one guest across
    /// app instances (two instances linking the same guest at once); the TTL frees a lease
    /// whose holder died.
    async fn acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl_ms: u64,
        now: u64,
    ) -> Result<bool, StoreError>;

    /// Gives up the lease `key` if `holder` still has it.
    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError>;
}

#[async_trait]
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    async fn insert_user(
        &self,
        user: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        (**self).insert_user(user, session, now).await
    }
    async fn insert_fresh_guest(
        &self,
        user: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        (**self).insert_fresh_guest(user, session, now).await
    }
    async fn get_user(&self, id: &str, now: u64) -> Result<Option<UserRecord>, StoreError> {
        (**self).get_user(id, now).await
    }
    async fn find_user_by_email(
        &self,
        collection: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        (**self).find_user_by_email(collection, email, now).await
    }
    async fn upgrade_user(
        &self,
        id: &str,
        email: &str,
        name: &str,
        password_hash: Option<&str>,
        now: u64,
    ) -> Result<UserRecord, StoreError> {
        (**self)
            .upgrade_user(id, email, name, password_hash, now)
            .await
    }
    async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
        (**self).delete_user(id).await
    }
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        (**self).insert_session(session).await
    }
    async fn get_session(&self, id: &str, now: u64) -> Result<Option<SessionRecord>, StoreError> {
        (**self).get_session(id, now).await
    }
    fn check_session_now(
        &self,
        id: &str,
        user_id: &str,
        now: u64,
    ) -> Option<Result<bool, StoreError>> {
        (**self).check_session_now(id, user_id, now)
    }
    async fn refresh(&self, session_id: &str, expires_at: u64) -> Result<(), StoreError> {
        (**self).refresh(session_id, expires_at).await
    }
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        (**self).delete_session(id).await
    }
    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        (**self).delete_user_sessions(user_id).await
    }
    async fn claim(&self, resource: &str, owner: &str) -> Result<ClaimOutcome, StoreError> {
        (**self).claim(resource, owner).await
    }
    async fn release(&self, resource: &str, owner: &str) -> Result<bool, StoreError> {
        (**self).release(resource, owner).await
    }
    async fn owner_of(&self, resource: &str) -> Result<Option<String>, StoreError> {
        (**self).owner_of(resource).await
    }
    async fn resources_of(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        (**self).resources_of(owner).await
    }
    async fn transfer(&self, from: &str, to: &str) -> Result<TransferReport, StoreError> {
        (**self).transfer(from, to).await
    }
    async fn rate_limit(
        &self,
        key: &str,
        limit: RateLimit,
        now: u64,
    ) -> Result<RateDecision, StoreError> {
        (**self).rate_limit(key, limit, now).await
    }
    async fn acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl_ms: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        (**self).acquire_lease(key, holder, ttl_ms, now).await
    }
    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        (**self).release_lease(key, holder).await
    }
}
