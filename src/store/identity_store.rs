//! [`IdentityStore`]: which user each sign-in identity (an OpenID Connect subject, an OAuth
//! account, a passkey) belongs to.

use super::{IdentityRecord, StoreError};
use async_trait::async_trait;

/// Identities verified elsewhere (an OpenID Connect or OAuth provider, a passkey), each held
/// by at most one user per collection.
///
/// An identity is named by `(collection, provider, subject)`: the provider's stable id for
/// the person (`sub` in OpenID Connect), never an email. Times are milliseconds since the
/// Unix epoch, as in [`UserStore`](super::UserStore). An identity held by a user that is
/// missing or expired is not held: it reads as missing and may be attached to someone else.
///
/// ```
/// use tower_anonymous_auth::store::{IdentityRecord, IdentityStore, UserRecord, UserStore};
/// use tower_anonymous_auth::{MemoryStore, User};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let ann = UserRecord::new(User::registered("ann", "users", "ann@example.com", "Ann", 0));
/// store.insert_user(&ann, None, 0).await.unwrap();
/// let github = IdentityRecord::new("github", "583231", "ann", 0);
/// store.attach_identity("users", &github, 0).await.unwrap();
/// let found = store.find_identity("users", "github", "583231", 0).await.unwrap();
/// assert_eq!(found.map(|identity| identity.user_id), Some("ann".to_owned()));
/// assert_eq!(store.identities_of("ann", 0).await.unwrap(), vec![github]);
/// # });
/// ```
#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Attaches `identity` to the user it names (`identity.user_id`, of `collection`).
    /// Atomic: of two concurrent attaches of one identity to different users, one fails with
    /// [`StoreError::IdentityTaken`], which is also the answer when a live user holds it
    /// already. Attaching it again to the user that holds it replaces its record (its email).
    /// Fails with [`StoreError::UserNotFound`] when the user is missing or expired at `now`;
    /// on any error nothing changes.
    async fn attach_identity(
        &self,
        collection: &str,
        identity: &IdentityRecord,
        now: u64,
    ) -> Result<(), StoreError>;

    /// The identity `(collection, provider, subject)`, when a live user holds it.
    async fn find_identity(
        &self,
        collection: &str,
        provider: &str,
        subject: &str,
        now: u64,
    ) -> Result<Option<IdentityRecord>, StoreError>;

    /// Detaches an identity from `user_id`; `true` when this call removed it, `false` when
    /// that user did not hold it (another user's identity is left alone).
    async fn detach_identity(
        &self,
        collection: &str,
        provider: &str,
        subject: &str,
        user_id: &str,
    ) -> Result<bool, StoreError>;

    /// The identities a live user holds, in no particular order. Deleting a user
    /// ([`UserStore::delete_user`](super::UserStore::delete_user)) removes them.
    async fn identities_of(
        &self,
        user_id: &str,
        now: u64,
    ) -> Result<Vec<IdentityRecord>, StoreError>;
}

#[async_trait]
impl<S: IdentityStore + ?Sized> IdentityStore for std::sync::Arc<S> {
    async fn attach_identity(
        &self,
        collection: &str,
        identity: &IdentityRecord,
        now: u64,
    ) -> Result<(), StoreError> {
        (**self).attach_identity(collection, identity, now).await
    }

    async fn find_identity(
        &self,
        collection: &str,
        provider: &str,
        subject: &str,
        now: u64,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        (**self)
            .find_identity(collection, provider, subject, now)
            .await
    }

    async fn detach_identity(
        &self,
        collection: &str,
        provider: &str,
        subject: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        (**self)
            .detach_identity(collection, provider, subject, user_id)
            .await
    }

    async fn identities_of(
        &self,
        user_id: &str,
        now: u64,
    ) -> Result<Vec<IdentityRecord>, StoreError> {
        (**self).identities_of(user_id, now).await
    }
}
