//! A `Store` wrapper that deletes its key prefix from the shared Redis when dropped, so the
//! account suite (which only ever sees `Arc<dyn Store>`) leaves nothing behind.

use async_trait::async_trait;
use tower_anonymous_auth::store::{
    ClaimOutcome, Coordination, IdentityRecord, IdentityStore, OwnershipStore, RedisStore,
    SessionRecord, Store, TransferReport, UserRecord, UserStore,
};
use tower_anonymous_auth::StoreError;

/// Owns a [`RedisStore`] on the shared server; deletes its prefix on drop.
pub struct CleanedUp(pub RedisStore);

impl Drop for CleanedUp {
    fn drop(&mut self) {
        let pattern = format!("{}*", self.0.prefix());
        let Ok(client) = redis::Client::open(super::redis_server::redis_url()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = match conn.scan_match(&pattern) {
            Ok(iter) => iter.filter_map(Result::ok).collect(),
            Err(_) => return,
        };
        for chunk in keys.chunks(1000) {
            let _: redis::RedisResult<()> = redis::cmd("UNLINK").arg(chunk).query(&mut conn);
        }
    }
}

use redis::Commands;

#[async_trait]
impl UserStore for CleanedUp {
    async fn insert_user(
        &self,
        user: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        self.0.insert_user(user, session, now).await
    }
    async fn get_user(&self, id: &str, now: u64) -> Result<Option<UserRecord>, StoreError> {
        self.0.get_user(id, now).await
    }
    async fn find_user_by_email(
        &self,
        collection: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.0.find_user_by_email(collection, email, now).await
    }
    async fn upgrade_user(
        &self,
        id: &str,
        email: &str,
        name: &str,
        password_hash: Option<&str>,
        now: u64,
    ) -> Result<UserRecord, StoreError> {
        self.0
            .upgrade_user(id, email, name, password_hash, now)
            .await
    }
    async fn mark_email_verified(
        &self,
        id: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.0.mark_email_verified(id, email, now).await
    }
    async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
        self.0.delete_user(id).await
    }
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.0.insert_session(session).await
    }
    async fn get_session(&self, id: &str, now: u64) -> Result<Option<SessionRecord>, StoreError> {
        self.0.get_session(id, now).await
    }
    async fn refresh(&self, session_id: &str, expires_at: u64) -> Result<(), StoreError> {
        self.0.refresh(session_id, expires_at).await
    }
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        self.0.delete_session(id).await
    }
    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        self.0.delete_user_sessions(user_id).await
    }
}

#[async_trait]
impl OwnershipStore for CleanedUp {
    async fn claim(&self, resource: &str, owner: &str) -> Result<ClaimOutcome, StoreError> {
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
    async fn transfer(&self, from: &str, to: &str) -> Result<TransferReport, StoreError> {
        self.0.transfer(from, to).await
    }
}

#[async_trait]
impl tower_anonymous_auth::store::EmailCodeStore for CleanedUp {
    async fn put_email_code(
        &self,
        key: &str,
        code: &tower_anonymous_auth::store::EmailCodeRecord,
        now: u64,
    ) -> Result<(), StoreError> {
        self.0.put_email_code(key, code, now).await
    }
    async fn try_email_code(
        &self,
        key: &str,
        proof: &str,
        now: u64,
    ) -> Result<tower_anonymous_auth::store::EmailCodeCheck, StoreError> {
        self.0.try_email_code(key, proof, now).await
    }
}

#[async_trait]
impl IdentityStore for CleanedUp {
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

impl Store for CleanedUp {
    fn coordination(&self) -> Option<&dyn Coordination> {
        self.0.coordination()
    }
}
