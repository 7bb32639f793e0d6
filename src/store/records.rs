//! The records a store keeps: users, sessions, and the answers of the ownership registry.

use serde::{Deserialize, Serialize};

/// A user as the application sees it: what [`Auth::user`](crate::Auth::user) holds.
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
    /// Whether the user proved they control `email`: by a one-time email code, or by signing
    /// up with an identity whose provider verified it. `false` for a password registration
    /// until the user signs in with an email code once.
    pub email_verified: bool,
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
            email_verified: false,
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
        crate::util::names::name_for_id(id)
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
    /// Expiry (ms since the epoch); sliding, pushed forward by [`UserStore::refresh`](super::UserStore::refresh).
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

/// What [`OwnershipStore::claim`](super::OwnershipStore::claim) did.
///
/// ```
/// use tower_anonymous_auth::store::ClaimOutcome;
/// assert!(ClaimOutcome::Claimed.is_owned_by_caller());
/// assert!(ClaimOutcome::AlreadyOwned.is_owned_by_caller());
/// assert!(!ClaimOutcome::OwnedByOther("u2".into()).is_owned_by_caller());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a claim can find the resource owned by another user"]
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

/// What an [`OwnershipStore::transfer`](super::OwnershipStore::transfer) moved.
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

/// A sign-in identity held by a user: see [`IdentityStore`](super::IdentityStore).
///
/// ```
/// use tower_anonymous_auth::store::IdentityRecord;
/// let github = IdentityRecord::new("github", "583231", "ann", 0).with_email(Some("ann@example.com".into()));
/// assert_eq!(github.email.as_deref(), Some("ann@example.com"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdentityRecord {
    /// Who verified the identity: `"github"`, `"google"`, an issuer URL; chosen by the app.
    pub provider: String,
    /// The provider's stable id for the person (`sub` in OpenID Connect).
    pub subject: String,
    /// The user holding it.
    pub user_id: String,
    /// The email the provider gave when it was attached, verified or not (shown to the user,
    /// never used to find an account).
    pub email: Option<String>,
    /// When it was attached (ms since the epoch).
    pub linked_at: u64,
}

impl IdentityRecord {
    /// An identity without an email.
    ///
    /// ```
    /// # use tower_anonymous_auth::store::IdentityRecord;
    /// let passkey = IdentityRecord::new("passkey", "credential-id", "ann", 5);
    /// assert_eq!(passkey.linked_at, 5);
    /// ```
    pub fn new(
        provider: impl Into<String>,
        subject: impl Into<String>,
        user_id: impl Into<String>,
        linked_at: u64,
    ) -> Self {
        Self {
            provider: provider.into(),
            subject: subject.into(),
            user_id: user_id.into(),
            email: None,
            linked_at,
        }
    }

    /// The same identity with `email`.
    ///
    /// ```
    /// # use tower_anonymous_auth::store::IdentityRecord;
    /// let record = IdentityRecord::new("google", "1", "ann", 0).with_email(None);
    /// assert!(record.email.is_none());
    /// ```
    pub fn with_email(mut self, email: Option<String>) -> Self {
        self.email = email;
        self
    }
}

/// A one-time email code as the store keeps it: see
/// [`EmailCodeStore`](super::EmailCodeStore). The code and the link token are never stored,
/// only keyed hashes of them (`proof`s), so a copy of the store signs nobody in.
///
/// ```
/// use tower_anonymous_auth::store::EmailCodeRecord;
/// let code = EmailCodeRecord::new("ann@example.com", "code-proof", "link-proof", 600_000);
/// assert_eq!(code.attempts_left, EmailCodeRecord::ATTEMPTS);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmailCodeRecord {
    /// The normalised address the code was sent to.
    pub email: String,
    /// The keyed hash of the code the person types.
    pub code_proof: String,
    /// The keyed hash of the secret in the link that was mailed with it.
    pub link_proof: String,
    /// When the code dies (ms since the epoch).
    pub expires_at: u64,
    /// Wrong tries left before the code dies.
    pub attempts_left: u32,
}

impl EmailCodeRecord {
    /// How many wrong tries a new code survives: the fifth wrong one kills it.
    pub const ATTEMPTS: u32 = 5;

    /// A new code with [`ATTEMPTS`](Self::ATTEMPTS) tries.
    ///
    /// ```
    /// # use tower_anonymous_auth::store::EmailCodeRecord;
    /// let code = EmailCodeRecord::new("ann@example.com", "c", "l", 10);
    /// assert_eq!(code.expires_at, 10);
    /// ```
    pub fn new(
        email: impl Into<String>,
        code_proof: impl Into<String>,
        link_proof: impl Into<String>,
        expires_at: u64,
    ) -> Self {
        Self {
            email: email.into(),
            code_proof: code_proof.into(),
            link_proof: link_proof.into(),
            expires_at,
            attempts_left: Self::ATTEMPTS,
        }
    }
}

/// What trying a proof against a stored email code came to
/// ([`EmailCodeStore::try_email_code`](super::EmailCodeStore::try_email_code)).
///
/// ```
/// use tower_anonymous_auth::store::EmailCodeCheck;
/// assert_ne!(EmailCodeCheck::Missing, EmailCodeCheck::Wrong { attempts_left: 0 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "only an accepted proof signs anyone in"]
pub enum EmailCodeCheck {
    /// The proof matched: the code is used up (removed), and this is what it was.
    Accepted(EmailCodeRecord),
    /// The proof did not match; the code survives `attempts_left` more wrong tries (at 0 it
    /// is removed).
    Wrong {
        /// Wrong tries left.
        attempts_left: u32,
    },
    /// No live code: never sent, expired, used or killed by wrong tries.
    Missing,
}
