//! [`UserStore`]: where users and their sessions live.

use super::{SessionRecord, StoreError, UserRecord};
use async_trait::async_trait;

/// Users (anonymous and registered) and their sessions.
///
/// All times are milliseconds since the Unix epoch, passed in by the caller so that a store
/// never reads a clock on its own (tests can move time). Expired records read as missing;
/// when they are actually removed is the store's choice.
///
/// ```
/// use tower_anonymous_auth::store::{SessionRecord, UserRecord, UserStore};
/// use tower_anonymous_auth::{MemoryStore, User};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let guest = UserRecord::new(User::anonymous("u1", "users", "temp-u1@x.io", "Guest", 0))
///     .with_expires_at(Some(60_000));
/// let session = SessionRecord::new("u1.0", "u1", 0, 60_000);
/// store.insert_user(&guest, Some(&session), 0).await.unwrap();
/// assert_eq!(store.get_session("u1.0", 1_000).await.unwrap(), Some(session));
/// assert_eq!(store.get_user("u1", 60_000).await.unwrap(), None, "expired");
/// # });
/// ```
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
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

    /// Reads a user by id. Expired users read as `None`.
    async fn get_user(&self, id: &str, now: u64) -> Result<Option<UserRecord>, StoreError>;

    /// Finds a user by collection and email. Expired users read as `None`.
    async fn find_user_by_email(
        &self,
        collection: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError>;

    /// Marks the registered user `id` as having verified `email`
    /// ([`User::email_verified`](crate::User::email_verified)) and returns it. Conditional,
    /// atomically: `None` (nothing changed) when the user is missing, expired, anonymous or
    /// no longer has that email, so a code sent to an old address never verifies a new one.
    async fn mark_email_verified(
        &self,
        id: &str,
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

    /// Pushes a session's expiry to `expires_at`, and the expiry of its user to the same time
    /// when that user is anonymous (registered users never expire).
    async fn refresh(&self, session_id: &str, expires_at: u64) -> Result<(), StoreError>;

    /// Revokes (deletes) one session; `true` when this call removed it, `false` when it was
    /// not there. Atomic: of several concurrent deletes of one session exactly one returns
    /// `true` (what makes a single-use token single use).
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError>;

    /// Revokes every session of a user; returns how many were removed.
    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError>;
}

#[async_trait]
impl<S: UserStore + ?Sized> UserStore for std::sync::Arc<S> {
    async fn insert_user(
        &self,
        user: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        (**self).insert_user(user, session, now).await
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

    async fn mark_email_verified(
        &self,
        id: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        (**self).mark_email_verified(id, email, now).await
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

    async fn refresh(&self, session_id: &str, expires_at: u64) -> Result<(), StoreError> {
        (**self).refresh(session_id, expires_at).await
    }

    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        (**self).delete_session(id).await
    }

    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        (**self).delete_user_sessions(user_id).await
    }
}
