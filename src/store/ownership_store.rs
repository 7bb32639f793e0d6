//! [`OwnershipStore`]: which user owns which application resource.

use super::{ClaimOutcome, StoreError, TransferReport};
use async_trait::async_trait;

/// The ownership registry: application resources such as `"cart:42"` mapped to the user that
/// owns them, so that they can follow a guest into an account.
///
/// [`transfer`](Self::transfer) carries the guarantees the link flow relies on: it is atomic
/// for readers (no resource is ever seen owned by nobody or by both users), idempotent (a retry
/// after a crash finishes the job) and safe when two transfers of the same user run at once
/// (each resource moves exactly once).
///
/// ```
/// use tower_anonymous_auth::store::OwnershipStore;
/// use tower_anonymous_auth::MemoryStore;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// store.claim("cart:1", "guest").await.unwrap();
/// let report = store.transfer("guest", "account").await.unwrap();
/// assert_eq!(report.moved, 1);
/// assert_eq!(store.owner_of("cart:1").await.unwrap().as_deref(), Some("account"));
/// # });
/// ```
#[async_trait]
pub trait OwnershipStore: Send + Sync + 'static {
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
}

#[async_trait]
impl<S: OwnershipStore + ?Sized> OwnershipStore for std::sync::Arc<S> {
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
}
