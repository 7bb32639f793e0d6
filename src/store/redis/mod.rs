//! [`RedisStore`]: users, sessions and ownership in Redis or Redis Cluster.
//!
//! One submodule per job: [`keys`] (the key layout), [`codec`] (records as compact hashes),
//! [`scripts`] (the Lua scripts), [`users`] (user records), [`emails`] (the email index),
//! [`sessions`] (sessions and sliding expiry),
//! [`ownership`] (claim, release, lookups), [`transfer`] (the batched ownership rewrite) and
//! [`sweep`] (releasing what evicted guests owned).
//! Their module docs explain the protocols; in short:
//!
//! - Every key carries its own hash tag (`P{u:ID}`, `P{s:SID}`, `P{e:..}`, `P{r:RES}`,
//!   `P{o:OWNER}`), so every script used in cluster mode runs on a single slot and the same
//!   data layout serves a single node and a cluster. A guest is one key: its session lives in
//!   its user hash (the layer's session ids name their user, `{user_id}.{random}`), and its
//!   placeholder email `temp-{id}@domain` names it and needs no index key.
//! - Anonymous users, their email entry and their sessions carry a real Redis TTL derived from
//!   their `expires_at` (plus a grace period), so Redis itself evicts guests that went away;
//!   [`UserStore::refresh`](crate::store::UserStore::refresh) slides it and `upgrade_user` removes it. Ownership keys carry no TTL;
//!   [`RedisStore::sweep_orphaned_ownership`], run periodically, releases what evicted guests
//!   owned.
//! - `transfer` moves at most 500 resources per call; on a single node each batch is one
//!   atomic script, on a cluster each resource moves by a compare-and-set on its owner key.
//! - Connection failures, timeouts and cluster-down replies are [`StoreError::Unavailable`];
//!   the connection reconnects by itself when Redis is back.

mod codec;
mod conn;
mod email_codes;
mod emails;
mod identities;
mod keys;
mod lease;
mod ownership;
mod rate_limit;
pub(crate) mod revocations;
mod scripts;
mod sessions;
mod sweep;
mod transfer;
mod users;

pub use conn::RedisStoreConfig;
pub use sweep::SweepReport;

use crate::rate_limit::{RateDecision, RateLimit};
use crate::store::{
    ClaimOutcome, Coordination, OwnershipStore, SessionRecord, Store, StoreError, TransferReport,
    UserRecord, UserStore,
};
use async_trait::async_trait;
use conn::Conn;
use keys::Keys;
use std::fmt;
use std::time::Duration;

/// The default key prefix.
const DEFAULT_PREFIX: &str = "taa:";
/// The default extra time Redis keeps an expired guest before evicting it.
const DEFAULT_GRACE: Duration = Duration::from_secs(60);

/// A [`Store`] in Redis (single node via a reconnecting `ConnectionManager`) or in Redis
/// Cluster (via the async cluster client).
///
/// Clones share the connection. Keys live under a prefix (default `"taa:"`), so several apps or
/// tenants can share one Redis.
///
/// ```no_run
/// use tower_anonymous_auth::store::{OwnershipStore, RedisStore};
///
/// # async fn run() -> Result<(), tower_anonymous_auth::StoreError> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379")
///     .await?
///     .with_prefix("shop:");
/// store.claim("cart:42", "user-1").await?;
/// assert_eq!(store.owner_of("cart:42").await?.as_deref(), Some("user-1"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    keys: Keys,
    grace_ms: u64,
    /// Where the revocation feed subscribes.
    feed_source: revocations::FeedSource,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field(
                "mode",
                &if self.conn.is_cluster() {
                    "cluster"
                } else {
                    "single"
                },
            )
            .field("prefix", &self.keys.prefix())
            .field("grace_ms", &self.grace_ms)
            .finish()
    }
}

impl RedisStore {
    /// Connects to one Redis node with the default [`RedisStoreConfig`].
    ///
    /// Fails with [`StoreError::Unavailable`] when Redis cannot be reached now; once
    /// connected, the store reconnects by itself after Redis restarts.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tower_anonymous_auth::StoreError> {
    /// let store = tower_anonymous_auth::store::RedisStore::connect("redis://127.0.0.1/").await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_config(url, RedisStoreConfig::default()).await
    }

    /// Connects to one Redis node with the given timeouts.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tower_anonymous_auth::store::{RedisStore, RedisStoreConfig};
    /// # async fn run() -> Result<(), tower_anonymous_auth::StoreError> {
    /// let config = RedisStoreConfig::default().response_timeout(Duration::from_millis(250));
    /// let store = RedisStore::connect_with_config("redis://127.0.0.1/", config).await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn connect_with_config(
        url: &str,
        config: RedisStoreConfig,
    ) -> Result<Self, StoreError> {
        let (conn, client) = Conn::single(url, &config).await?;
        Ok(Self::with_conn(
            conn,
            revocations::FeedSource::Single(client),
        ))
    }

    /// Connects to a Redis Cluster through any of its nodes, with the default config.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tower_anonymous_auth::StoreError> {
    /// let store = tower_anonymous_auth::store::RedisStore::connect_cluster(&[
    ///     "redis://127.0.0.1:7101",
    ///     "redis://127.0.0.1:7102",
    /// ])
    /// .await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn connect_cluster(urls: &[&str]) -> Result<Self, StoreError> {
        Self::connect_cluster_with_config(urls, RedisStoreConfig::default()).await
    }

    /// Connects to a Redis Cluster with the given timeouts.
    ///
    /// ```no_run
    /// use tower_anonymous_auth::store::{RedisStore, RedisStoreConfig};
    /// # async fn run() -> Result<(), tower_anonymous_auth::StoreError> {
    /// let store = RedisStore::connect_cluster_with_config(
    ///     &["redis://127.0.0.1:7101"],
    ///     RedisStoreConfig::default(),
    /// )
    /// .await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn connect_cluster_with_config(
        urls: &[&str],
        config: RedisStoreConfig,
    ) -> Result<Self, StoreError> {
        let conn = Conn::cluster(urls, &config).await?;
        let nodes = urls.iter().map(|url| (*url).to_owned()).collect();
        Ok(Self::with_conn(
            conn,
            revocations::FeedSource::Cluster(nodes),
        ))
    }

    fn with_conn(conn: Conn, feed_source: revocations::FeedSource) -> Self {
        Self {
            conn,
            keys: Keys::new(DEFAULT_PREFIX),
            grace_ms: duration_ms(DEFAULT_GRACE),
            feed_source,
        }
    }

    /// Puts every key under `prefix` instead of `"taa:"`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tower_anonymous_auth::StoreError> {
    /// let store = tower_anonymous_auth::store::RedisStore::connect("redis://127.0.0.1/")
    ///     .await?
    ///     .with_prefix("tenant-7:");
    /// # let _ = store; Ok(()) }
    /// ```
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.keys = Keys::new(prefix);
        self
    }

    /// How long after its `expires_at` Redis keeps an expired guest before evicting it
    /// (default 60 s). Reads already treat it as gone at `expires_at`; the grace only absorbs
    /// request latency and clock reading differences.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tower_anonymous_auth::StoreError> {
    /// let store = tower_anonymous_auth::store::RedisStore::connect("redis://127.0.0.1/")
    ///     .await?
    ///     .with_expiry_grace(std::time::Duration::from_secs(5));
    /// # let _ = store; Ok(()) }
    /// ```
    pub fn with_expiry_grace(mut self, grace: Duration) -> Self {
        self.grace_ms = duration_ms(grace);
        self
    }

    /// The key prefix in use.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tower_anonymous_auth::StoreError> {
    /// let store = tower_anonymous_auth::store::RedisStore::connect("redis://127.0.0.1/").await?;
    /// assert_eq!(store.prefix(), "taa:");
    /// # Ok(()) }
    /// ```
    pub fn prefix(&self) -> &str {
        self.keys.prefix()
    }

    fn conn(&self) -> Conn {
        self.conn.clone()
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[async_trait]
impl UserStore for RedisStore {
    async fn insert_user(
        &self,
        user: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        self.insert_user_impl(user, session, now).await
    }

    async fn get_user(&self, id: &str, now: u64) -> Result<Option<UserRecord>, StoreError> {
        self.live_user(id, now).await
    }

    async fn find_user_by_email(
        &self,
        collection: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.find_by_email(collection, email, now).await
    }

    async fn upgrade_user(
        &self,
        id: &str,
        email: &str,
        name: &str,
        password_hash: Option<&str>,
        now: u64,
    ) -> Result<UserRecord, StoreError> {
        self.upgrade_user_impl(id, email, name, password_hash, now)
            .await
    }

    async fn mark_email_verified(
        &self,
        id: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.mark_email_verified_impl(id, email, now).await
    }

    async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
        let sessions = self.remove_user(id).await?;
        self.publish_revoked(&sessions).await
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.insert_session_impl(session).await
    }

    async fn get_session(&self, id: &str, now: u64) -> Result<Option<SessionRecord>, StoreError> {
        self.live_session(id, now).await
    }

    async fn refresh(&self, session_id: &str, expires_at: u64) -> Result<(), StoreError> {
        self.refresh_impl(session_id, expires_at).await
    }

    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let removed = self.delete_session_impl(id).await?;
        self.publish_revoked(&[id]).await?;
        Ok(removed)
    }

    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        let (removed, ids) = self.delete_user_sessions_impl(user_id).await?;
        self.publish_revoked(&ids).await?;
        Ok(removed)
    }
}

#[async_trait]
impl OwnershipStore for RedisStore {
    async fn claim(&self, resource: &str, owner: &str) -> Result<ClaimOutcome, StoreError> {
        self.claim_impl(resource, owner).await
    }

    async fn release(&self, resource: &str, owner: &str) -> Result<bool, StoreError> {
        self.release_impl(resource, owner).await
    }

    async fn owner_of(&self, resource: &str) -> Result<Option<String>, StoreError> {
        self.owner_of_impl(resource).await
    }

    async fn resources_of(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        self.resources_of_impl(owner).await
    }

    async fn transfer(&self, from: &str, to: &str) -> Result<TransferReport, StoreError> {
        self.transfer_impl(from, to).await
    }
}

#[async_trait]
impl Coordination for RedisStore {
    async fn rate_limit(
        &self,
        key: &str,
        limit: RateLimit,
        now: u64,
    ) -> Result<RateDecision, StoreError> {
        self.rate_limit_impl(key, limit, now).await
    }

    async fn acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl_ms: u64,
        _now: u64,
    ) -> Result<bool, StoreError> {
        self.acquire_lease_impl(key, holder, ttl_ms).await
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        self.release_lease_impl(key, holder).await
    }
}

/// App instances on one Redis share their rate limits and leases through it.
impl Store for RedisStore {
    fn coordination(&self) -> Option<&dyn Coordination> {
        Some(self)
    }
}
