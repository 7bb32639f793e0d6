//! [`Coordination`]: what app instances sharing a store agree on through it (rate limits and
//! leases), and [`LocalCoordination`], the in-process default for a store that does not.

use super::rate_buckets::RateBuckets;
use super::{Store, StoreError};
use crate::rate_limit::{RateDecision, RateLimit};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Rate-limit buckets and leases, shared by every app instance that uses one store.
///
/// A store returns it from [`Store::coordination`](super::Store::coordination) when several
/// processes use the store at once: then a client's mint and sign-in limits count across all
/// of them, and two instances never link the same guest at the same time. A store used by one
/// process needs none of this; the layer then keeps both in memory.
///
/// ```
/// use tower_anonymous_auth::store::{Coordination, Store};
/// use tower_anonymous_auth::{MemoryStore, RateLimit};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let coordination = store.coordination().expect("MemoryStore counts in its own memory");
/// assert!(coordination.acquire_lease("guest:g", "me", 1_000, 0).await.unwrap());
/// assert!(!coordination.acquire_lease("guest:g", "you", 1_000, 500).await.unwrap());
/// let limit = RateLimit::new(1, 1);
/// assert!(coordination.rate_limit("ip:a", limit, 0).await.unwrap().is_allowed());
/// assert!(!coordination.rate_limit("ip:a", limit, 0).await.unwrap().is_allowed());
/// # });
/// ```
#[async_trait]
pub trait Coordination: Send + Sync {
    /// Counts one event against the rate-limit bucket `key` (GCRA, see
    /// [`RateLimit`]) and says whether it is allowed. Stores shared by several app
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

/// Rate-limit buckets and leases in this process's memory: what [`MemoryStore`] uses, and
/// what the layer uses for a store whose [`Store::coordination`] is `None`.
///
/// [`MemoryStore`]: super::MemoryStore
/// [`Store::coordination`]: super::Store::coordination
#[derive(Debug, Default)]
pub(crate) struct LocalCoordination {
    /// Apart from the leases: a rate check (every new visitor) never waits for a link.
    buckets: Mutex<RateBuckets>,
    /// Lease key -> (holder, expiry in ms).
    leases: Mutex<HashMap<String, (String, u64)>>,
}

impl LocalCoordination {
    /// [`rate_limit`](Coordination::rate_limit) without a future: nothing here waits.
    pub(crate) fn rate_limit_now(&self, key: &str, limit: RateLimit, now: u64) -> RateDecision {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        buckets.check(key, limit, now)
    }
}

#[async_trait]
impl Coordination for LocalCoordination {
    async fn rate_limit(
        &self,
        key: &str,
        limit: RateLimit,
        now: u64,
    ) -> Result<RateDecision, StoreError> {
        Ok(self.rate_limit_now(key, limit, now))
    }

    async fn acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl_ms: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut leases = self
            .leases
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let taken = leases
            .get(key)
            .is_some_and(|(current, until)| current != holder && *until > now);
        if taken {
            return Ok(false);
        }
        leases.retain(|_, (_, until)| *until > now);
        leases.insert(
            key.to_owned(),
            (holder.to_owned(), now.saturating_add(ttl_ms)),
        );
        Ok(true)
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let mut leases = self
            .leases
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if leases
            .get(key)
            .is_some_and(|(current, _)| current == holder)
        {
            leases.remove(key);
        }
        Ok(())
    }
}

/// The coordination one layer uses: its store's when the store has one, otherwise its own in
/// this process. Cheap to clone; clones share the buckets and leases.
#[derive(Clone)]
pub(crate) struct Coordinator {
    store: Arc<dyn Store>,
    local: Arc<LocalCoordination>,
}

impl Coordinator {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            local: Arc::default(),
        }
    }

    fn current(&self) -> &dyn Coordination {
        self.store.coordination().unwrap_or(&*self.local)
    }
}

#[async_trait]
impl Coordination for Coordinator {
    async fn rate_limit(
        &self,
        key: &str,
        limit: RateLimit,
        now: u64,
    ) -> Result<RateDecision, StoreError> {
        self.current().rate_limit(key, limit, now).await
    }

    async fn acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl_ms: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.current().acquire_lease(key, holder, ttl_ms, now).await
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        self.current().release_lease(key, holder).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{IdentityRecord, IdentityStore, OwnershipStore, UserStore};

    /// A store that one process uses and that coordinates nothing itself.
    struct Plain(crate::MemoryStore);
    #[async_trait]
    impl UserStore for Plain {
        async fn insert_user(
            &self,
            user: &crate::store::UserRecord,
            session: Option<&crate::store::SessionRecord>,
            now: u64,
        ) -> Result<(), StoreError> {
            self.0.insert_user(user, session, now).await
        }
        async fn get_user(
            &self,
            id: &str,
            now: u64,
        ) -> Result<Option<crate::store::UserRecord>, StoreError> {
            self.0.get_user(id, now).await
        }
        async fn find_user_by_email(
            &self,
            collection: &str,
            email: &str,
            now: u64,
        ) -> Result<Option<crate::store::UserRecord>, StoreError> {
            self.0.find_user_by_email(collection, email, now).await
        }
        async fn upgrade_user(
            &self,
            id: &str,
            email: &str,
            name: &str,
            hash: Option<&str>,
            now: u64,
        ) -> Result<crate::store::UserRecord, StoreError> {
            self.0.upgrade_user(id, email, name, hash, now).await
        }
        async fn mark_email_verified(
            &self,
            id: &str,
            email: &str,
            now: u64,
        ) -> Result<Option<crate::store::UserRecord>, StoreError> {
            self.0.mark_email_verified(id, email, now).await
        }
        async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
            self.0.delete_user(id).await
        }
        async fn insert_session(
            &self,
            session: &crate::store::SessionRecord,
        ) -> Result<(), StoreError> {
            self.0.insert_session(session).await
        }
        async fn get_session(
            &self,
            id: &str,
            now: u64,
        ) -> Result<Option<crate::store::SessionRecord>, StoreError> {
            self.0.get_session(id, now).await
        }
        async fn refresh(&self, id: &str, expires_at: u64) -> Result<(), StoreError> {
            self.0.refresh(id, expires_at).await
        }
        async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
            self.0.delete_session(id).await
        }
        async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
            self.0.delete_user_sessions(user_id).await
        }
    }
    #[async_trait]
    impl OwnershipStore for Plain {
        async fn claim(
            &self,
            resource: &str,
            owner: &str,
        ) -> Result<crate::store::ClaimOutcome, StoreError> {
            self.0.claim(resource, owner).await
        }
        async fn release(&self, resource: &str, owner: &str) -> Result<bool, StoreError> {
            self.0.release(resource, owner).await
        }
        async fn owner_of(&self, resource: &str) -> Result<Option<String>, StoreError> {
            self.0.owner_of(resource).await
        }
        async fn resources_of(&self, owner: &str) -> Result<Vec<String>, StoreError> {
            self.0.resources_of(owner).await
        }
        async fn transfer(
            &self,
            from: &str,
            to: &str,
        ) -> Result<crate::store::TransferReport, StoreError> {
            self.0.transfer(from, to).await
        }
    }
    #[async_trait]
    impl crate::store::EmailCodeStore for Plain {
        async fn put_email_code(
            &self,
            key: &str,
            code: &crate::store::EmailCodeRecord,
            now: u64,
        ) -> Result<(), StoreError> {
            self.0.put_email_code(key, code, now).await
        }
        async fn try_email_code(
            &self,
            key: &str,
            proof: &str,
            now: u64,
        ) -> Result<crate::store::EmailCodeCheck, StoreError> {
            self.0.try_email_code(key, proof, now).await
        }
    }
    #[async_trait]
    impl IdentityStore for Plain {
        async fn attach_identity(
            &self,
            collection: &str,
            identity: &IdentityRecord,
            now: u64,
        ) -> Result<(), StoreError> {
            self.0.attach_identity(collection, identity, now).await
        }
        async fn find_identity(
            &self,
            collection: &str,
            provider: &str,
            subject: &str,
            now: u64,
        ) -> Result<Option<IdentityRecord>, StoreError> {
            self.0
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
            self.0
                .detach_identity(collection, provider, subject, user_id)
                .await
        }
        async fn identities_of(
            &self,
            user_id: &str,
            now: u64,
        ) -> Result<Vec<IdentityRecord>, StoreError> {
            self.0.identities_of(user_id, now).await
        }
    }

    impl Store for Plain {}

    #[tokio::test]
    async fn a_store_without_coordination_gets_the_layers_own() {
        let store: Arc<dyn Store> = Arc::new(Plain(crate::MemoryStore::new()));
        assert!(store.coordination().is_none());
        let coordinator = Coordinator::new(store);
        let clone = coordinator.clone();
        assert!(coordinator.acquire_lease("k", "a", 1_000, 0).await.unwrap());
        assert!(!clone.acquire_lease("k", "b", 1_000, 10).await.unwrap());
        clone.release_lease("k", "a").await.unwrap();
        assert!(coordinator
            .acquire_lease("k", "b", 1_000, 20)
            .await
            .unwrap());
        let limit = RateLimit::new(1, 1);
        assert!(coordinator
            .rate_limit("ip", limit, 0)
            .await
            .unwrap()
            .is_allowed());
        assert!(!clone.rate_limit("ip", limit, 0).await.unwrap().is_allowed());
        // Another layer on the same store counts apart: the store shares nothing.
        let other = Coordinator::new(Arc::new(Plain(crate::MemoryStore::new())));
        assert!(other.rate_limit("ip", limit, 0).await.unwrap().is_allowed());
    }

    #[tokio::test]
    async fn a_store_with_coordination_is_used_by_every_layer() {
        let store: Arc<dyn Store> = Arc::new(crate::MemoryStore::new());
        let (a, b) = (Coordinator::new(store.clone()), Coordinator::new(store));
        assert!(a.acquire_lease("k", "a", 1_000, 0).await.unwrap());
        assert!(!b.acquire_lease("k", "b", 1_000, 0).await.unwrap());
    }
}
