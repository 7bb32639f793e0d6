//! A test store: MemoryStore behind counters of reads and writes, an outage switch, and a
//! delay on upgrades.

use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tower_anonymous_auth::store::{
    ClaimOutcome, Coordination, IdentityRecord, IdentityStore, OwnershipStore, RateDecision,
    SessionRecord, Store, TransferReport, UserRecord, UserStore,
};
use tower_anonymous_auth::{MemoryStore, RateLimit, StoreError};

/// A MemoryStore that counts reads and writes, with a switch that makes every call fail as
/// if the backend were down.
#[derive(Default)]
pub struct FlakyStore {
    pub inner: MemoryStore,
    pub down: AtomicBool,
    pub reads: AtomicUsize,
    pub writes: AtomicUsize,
    /// Each `upgrade_user` waits this many ms first (to widen the window between a sign-in's
    /// steps).
    pub upgrade_delay_ms: std::sync::atomic::AtomicU64,
}

impl FlakyStore {
    fn count(&self, counter: &AtomicUsize) -> Result<(), StoreError> {
        counter.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("connection refused (test)".into()))
        } else {
            Ok(())
        }
    }

    fn read(&self) -> Result<(), StoreError> {
        self.count(&self.reads)
    }

    fn write(&self) -> Result<(), StoreError> {
        self.count(&self.writes)
    }
}

#[async_trait]
impl UserStore for FlakyStore {
    async fn insert_user(
        &self,
        user: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        self.write()?;
        self.inner.insert_user(user, session, now).await
    }
    async fn get_user(&self, id: &str, now: u64) -> Result<Option<UserRecord>, StoreError> {
        self.read()?;
        self.inner.get_user(id, now).await
    }
    async fn find_user_by_email(
        &self,
        collection: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.read()?;
        self.inner.find_user_by_email(collection, email, now).await
    }
    async fn upgrade_user(
        &self,
        id: &str,
        email: &str,
        name: &str,
        password_hash: Option<&str>,
        now: u64,
    ) -> Result<UserRecord, StoreError> {
        self.write()?;
        let delay = self.upgrade_delay_ms.load(Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        self.inner
            .upgrade_user(id, email, name, password_hash, now)
            .await
    }
    async fn mark_email_verified(
        &self,
        id: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.write()?;
        self.inner.mark_email_verified(id, email, now).await
    }
    async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
        self.write()?;
        self.inner.delete_user(id).await
    }
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.write()?;
        self.inner.insert_session(session).await
    }
    async fn get_session(&self, id: &str, now: u64) -> Result<Option<SessionRecord>, StoreError> {
        self.read()?;
        self.inner.get_session(id, now).await
    }
    async fn refresh(&self, session_id: &str, expires_at: u64) -> Result<(), StoreError> {
        self.write()?;
        self.inner.refresh(session_id, expires_at).await
    }
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        self.write()?;
        self.inner.delete_session(id).await
    }
    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        self.write()?;
        self.inner.delete_user_sessions(user_id).await
    }
}

#[async_trait]
impl OwnershipStore for FlakyStore {
    async fn claim(&self, resource: &str, owner: &str) -> Result<ClaimOutcome, StoreError> {
        self.write()?;
        self.inner.claim(resource, owner).await
    }
    async fn release(&self, resource: &str, owner: &str) -> Result<bool, StoreError> {
        self.write()?;
        self.inner.release(resource, owner).await
    }
    async fn owner_of(&self, resource: &str) -> Result<Option<String>, StoreError> {
        self.read()?;
        self.inner.owner_of(resource).await
    }
    async fn resources_of(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        self.read()?;
        self.inner.resources_of(owner).await
    }
    async fn transfer(&self, from: &str, to: &str) -> Result<TransferReport, StoreError> {
        self.write()?;
        self.inner.transfer(from, to).await
    }
}

#[async_trait]
impl Coordination for FlakyStore {
    async fn rate_limit(
        &self,
        key: &str,
        limit: RateLimit,
        now: u64,
    ) -> Result<RateDecision, StoreError> {
        self.write()?;
        self.inner
            .coordination()
            .unwrap()
            .rate_limit(key, limit, now)
            .await
    }
    async fn acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl_ms: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.write()?;
        self.inner
            .coordination()
            .unwrap()
            .acquire_lease(key, holder, ttl_ms, now)
            .await
    }
    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        self.write()?;
        self.inner
            .coordination()
            .unwrap()
            .release_lease(key, holder)
            .await
    }
}

#[async_trait]
impl tower_anonymous_auth::store::EmailCodeStore for FlakyStore {
    async fn put_email_code(
        &self,
        key: &str,
        code: &tower_anonymous_auth::store::EmailCodeRecord,
        now: u64,
    ) -> Result<(), StoreError> {
        self.write()?;
        self.inner.put_email_code(key, code, now).await
    }
    async fn try_email_code(
        &self,
        key: &str,
        proof: &str,
        now: u64,
    ) -> Result<tower_anonymous_auth::store::EmailCodeCheck, StoreError> {
        self.write()?;
        self.inner.try_email_code(key, proof, now).await
    }
}

#[async_trait]
impl IdentityStore for FlakyStore {
    async fn attach_identity(
        &self,
        collection: &str,
        identity: &IdentityRecord,
        now: u64,
    ) -> Result<(), StoreError> {
        self.write()?;
        self.inner.attach_identity(collection, identity, now).await
    }
    async fn find_identity(
        &self,
        collection: &str,
        provider: &str,
        subject: &str,
        now: u64,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        self.read()?;
        self.inner
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
        self.write()?;
        self.inner
            .detach_identity(collection, provider, subject, user_id)
            .await
    }
    async fn identities_of(
        &self,
        user_id: &str,
        now: u64,
    ) -> Result<Vec<IdentityRecord>, StoreError> {
        self.read()?;
        self.inner.identities_of(user_id, now).await
    }
}

impl Store for FlakyStore {
    fn coordination(&self) -> Option<&dyn Coordination> {
        Some(self)
    }
}
