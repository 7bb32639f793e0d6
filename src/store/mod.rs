//! Stores: where users, sessions and ownership live, and how to write your own.
//!
//! The layer keeps these in a store: users (anonymous and registered) with their
//! sessions, the sign-in identities (OpenID Connect, OAuth, passkeys) each user holds, the
//! one-time email codes on their way to someone's inbox, an ownership registry that maps application resources such as `"cart:42"` to the
//! user that owns them, and, when several app instances share the store, the rate-limit
//! buckets and leases they agree on. [`MemoryStore`] is the embedded default; with the `redis`
//! feature, [`RedisStore`] keeps the same data in Redis or Redis Cluster.
//!
//! # Implementing a store
//!
//! A store is a type that implements these traits, each about one concern:
//!
//! - [`UserStore`]: users and sessions. `insert_user` and `upgrade_user` are conditional
//!   (insert only if absent, upgrade only if still anonymous) and must be atomic, since two
//!   requests of one visitor race; `delete_session` says whether *this* call removed the
//!   session, which is what makes a single-use token single use.
//! - [`IdentityStore`]: which user holds each `(collection, provider, subject)`; attaching is
//!   conditional (one holder per identity) and must be atomic.
//! - [`EmailCodeStore`]: one-time email codes; a try compares and counts atomically, so a
//!   code is used once and survives only a few wrong guesses.
//! - [`OwnershipStore`]: claims, lookups and `transfer`, which moves everything a guest owns
//!   to an account atomically and idempotently.
//! - [`Store`]: ties them together. Its two methods have defaults. `coordination` says
//!   whether the store coordinates app instances: a store that one process uses leaves it
//!   out, and the layer counts rate limits and holds leases in memory; a store shared by
//!   several processes returns a [`Coordination`] so that their limits and leases are shared
//!   too. `complete_link` is the store's part of a link (transfer, then delete the guest); a
//!   store with transactions can do it in one.
//!
//! Times are milliseconds since the Unix epoch, passed in by the layer, so a store never reads
//! a clock (its tests can move time). Records carry their expiry; expired ones read as missing.
//! Errors are [`StoreError`]s: [`StoreError::Unavailable`] for an outage, which the layer
//! treats according to its `store_failure_mode`, and the typed conflicts each method names.
//!
//! Here is the shape of a store, wrapping [`MemoryStore`] to log every transfer:
//!
//! ```
//! use async_trait::async_trait;
//! use tower_anonymous_auth::store::{
//!     ClaimOutcome, EmailCodeCheck, EmailCodeRecord, EmailCodeStore, IdentityRecord,
//!     IdentityStore, OwnershipStore, SessionRecord, Store, StoreError, TransferReport,
//!     UserRecord, UserStore,
//! };
//! use tower_anonymous_auth::MemoryStore;
//!
//! #[derive(Default)]
//! struct LoggedStore(MemoryStore);
//!
//! #[async_trait]
//! impl UserStore for LoggedStore {
//!     async fn insert_user(&self, user: &UserRecord, session: Option<&SessionRecord>, now: u64)
//!         -> Result<(), StoreError> { self.0.insert_user(user, session, now).await }
//!     async fn get_user(&self, id: &str, now: u64) -> Result<Option<UserRecord>, StoreError> {
//!         self.0.get_user(id, now).await
//!     }
//!     async fn find_user_by_email(&self, collection: &str, email: &str, now: u64)
//!         -> Result<Option<UserRecord>, StoreError> {
//!         self.0.find_user_by_email(collection, email, now).await
//!     }
//!     async fn upgrade_user(&self, id: &str, email: &str, name: &str, hash: Option<&str>,
//!         now: u64) -> Result<UserRecord, StoreError> {
//!         self.0.upgrade_user(id, email, name, hash, now).await
//!     }
//!     async fn mark_email_verified(&self, id: &str, email: &str, now: u64)
//!         -> Result<Option<UserRecord>, StoreError> {
//!         self.0.mark_email_verified(id, email, now).await
//!     }
//!     async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
//!         self.0.delete_user(id).await
//!     }
//!     async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
//!         self.0.insert_session(session).await
//!     }
//!     async fn get_session(&self, id: &str, now: u64)
//!         -> Result<Option<SessionRecord>, StoreError> { self.0.get_session(id, now).await }
//!     async fn refresh(&self, id: &str, expires_at: u64) -> Result<(), StoreError> {
//!         self.0.refresh(id, expires_at).await
//!     }
//!     async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
//!         self.0.delete_session(id).await
//!     }
//!     async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
//!         self.0.delete_user_sessions(user_id).await
//!     }
//! }
//!
//! #[async_trait]
//! impl OwnershipStore for LoggedStore {
//!     async fn claim(&self, resource: &str, owner: &str) -> Result<ClaimOutcome, StoreError> {
//!         self.0.claim(resource, owner).await
//!     }
//!     async fn release(&self, resource: &str, owner: &str) -> Result<bool, StoreError> {
//!         self.0.release(resource, owner).await
//!     }
//!     async fn owner_of(&self, resource: &str) -> Result<Option<String>, StoreError> {
//!         self.0.owner_of(resource).await
//!     }
//!     async fn resources_of(&self, owner: &str) -> Result<Vec<String>, StoreError> {
//!         self.0.resources_of(owner).await
//!     }
//!     async fn transfer(&self, from: &str, to: &str) -> Result<TransferReport, StoreError> {
//!         let report = self.0.transfer(from, to).await?;
//!         println!("moved {} resources from {from} to {to}", report.moved);
//!         Ok(report)
//!     }
//! }
//!
//! #[async_trait]
//! impl IdentityStore for LoggedStore {
//!     async fn attach_identity(&self, collection: &str, identity: &IdentityRecord, now: u64)
//!         -> Result<(), StoreError> { self.0.attach_identity(collection, identity, now).await }
//!     async fn find_identity(&self, collection: &str, provider: &str, subject: &str, now: u64)
//!         -> Result<Option<IdentityRecord>, StoreError> {
//!         self.0.find_identity(collection, provider, subject, now).await
//!     }
//!     async fn detach_identity(&self, collection: &str, provider: &str, subject: &str,
//!         user_id: &str) -> Result<bool, StoreError> {
//!         self.0.detach_identity(collection, provider, subject, user_id).await
//!     }
//!     async fn identities_of(&self, user_id: &str, now: u64)
//!         -> Result<Vec<IdentityRecord>, StoreError> { self.0.identities_of(user_id, now).await }
//! }
//!
//! #[async_trait]
//! impl EmailCodeStore for LoggedStore {
//!     async fn put_email_code(&self, key: &str, code: &EmailCodeRecord, now: u64)
//!         -> Result<(), StoreError> { self.0.put_email_code(key, code, now).await }
//!     async fn try_email_code(&self, key: &str, proof: &str, now: u64)
//!         -> Result<EmailCodeCheck, StoreError> { self.0.try_email_code(key, proof, now).await }
//! }
//!
//! // One process uses this store: rate limits and leases stay in the layer's memory.
//! impl Store for LoggedStore {}
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = LoggedStore::default();
//! store.claim("cart:1", "guest").await.unwrap();
//! assert_eq!(store.transfer("guest", "account").await.unwrap().moved, 1);
//! # });
//! ```
//!
//! # Proving a store
//!
//! With the `test-kit` feature, `store_suite!` (module `test_kit`) runs the conformance
//! suite this crate's own stores pass (every guarantee above, concurrency included) as one
//! test per case, against a fresh store from the expression you give:
//!
//! ```ignore
//! // tests/conformance.rs of your store's crate, with
//! // tower-anonymous-auth = { version = "0.1", features = ["test-kit"] } in [dev-dependencies]
//! tower_anonymous_auth::store_suite!(async { my_store::MyStore::connect_fresh().await });
//! ```

mod coordination;
mod email_code_store;
mod error;
pub(crate) mod fast_path;
mod identity_store;
mod memory;
mod ownership_store;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
mod rate_buckets;
mod records;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod revocation_feed;
mod user_store;

pub use crate::rate_limit::RateDecision;
pub use coordination::Coordination;
pub(crate) use coordination::{Coordinator, LocalCoordination};
pub use email_code_store::EmailCodeStore;
pub use error::StoreError;
pub use identity_store::IdentityStore;
pub use memory::MemoryStore;
pub use ownership_store::OwnershipStore;
pub use records::{
    ClaimOutcome, EmailCodeCheck, EmailCodeRecord, IdentityRecord, SessionRecord, TransferReport,
    User, UserRecord,
};
pub use user_store::UserStore;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use self::postgres::{PostgresStore, PostgresStoreBuilder};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisStore, RedisStoreConfig, SweepReport};

use std::any::Any;

/// A complete store: users and sessions ([`UserStore`]), ownership ([`OwnershipStore`]),
/// sign-in identities ([`IdentityStore`]), and
/// whether app instances coordinate through it. See the [module docs](self) for how to write
/// one.
///
/// ```
/// use tower_anonymous_auth::store::Store;
/// use tower_anonymous_auth::{AnonymousAuthConfig, AnonymousAuthLayer, MemoryStore};
///
/// fn layer_for(store: impl Store) -> AnonymousAuthLayer {
///     let config = AnonymousAuthConfig::builder().random_key().build().unwrap();
///     AnonymousAuthLayer::new(store, config)
/// }
/// let _ = layer_for(MemoryStore::new());
/// ```
#[async_trait::async_trait]
pub trait Store: UserStore + OwnershipStore + IdentityStore + EmailCodeStore + Any {
    /// Where rate limits and leases are kept when several app instances share this store, so
    /// that a client's limits count across all of them and two instances never link one guest
    /// at once. `None` (the default): the layer keeps them in its own memory, which is right
    /// for a store that one process uses.
    ///
    /// ```
    /// use tower_anonymous_auth::store::Store;
    /// assert!(tower_anonymous_auth::MemoryStore::new().coordination().is_some());
    /// ```
    fn coordination(&self) -> Option<&dyn Coordination> {
        None
    }

    /// The store's part of a link, once the app's `on_link_account` hook agreed: moves
    /// everything the guest owns to the account and deletes the guest with its sessions (or,
    /// when [`LinkStep::delete_guest`] is `false`, only revokes its sessions). The default
    /// makes the three calls in turn, each atomic and the whole safe to repeat; a store with
    /// transactions does them in one (`PostgresStore` also moves the app's own rows there).
    ///
    /// ```
    /// use tower_anonymous_auth::store::{LinkStep, OwnershipStore, Store};
    /// use tower_anonymous_auth::MemoryStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// store.claim("cart:1", "guest").await.unwrap();
    /// let report = store.complete_link(&LinkStep::new("guest", "account")).await.unwrap();
    /// assert_eq!(report.moved, 1);
    /// assert_eq!(store.owner_of("cart:1").await.unwrap().as_deref(), Some("account"));
    /// # });
    /// ```
    async fn complete_link(&self, step: &LinkStep<'_>) -> Result<TransferReport, StoreError> {
        let report = self.transfer(step.guest_id, step.account_id).await?;
        if step.delete_guest {
            self.delete_user(step.guest_id).await?;
        } else {
            self.delete_user_sessions(step.guest_id).await?;
        }
        Ok(report)
    }
}

/// What [`Store::complete_link`] is asked to do.
///
/// ```
/// let step = tower_anonymous_auth::store::LinkStep::new("guest", "account").keep_guest();
/// assert!(!step.delete_guest);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkStep<'a> {
    /// The guest's user id.
    pub guest_id: &'a str,
    /// The account's user id.
    pub account_id: &'a str,
    /// Delete the guest (`true`, the default) or only revoke its sessions (the layer's
    /// `disable_delete_anonymous_user`).
    pub delete_guest: bool,
}

impl<'a> LinkStep<'a> {
    /// Links `guest_id` into `account_id`, deleting the guest.
    ///
    /// ```
    /// let step = tower_anonymous_auth::store::LinkStep::new("g", "a");
    /// assert!(step.delete_guest);
    /// ```
    pub fn new(guest_id: &'a str, account_id: &'a str) -> Self {
        Self {
            guest_id,
            account_id,
            delete_guest: true,
        }
    }

    /// Keeps the guest's record; only its sessions are revoked.
    ///
    /// ```
    /// assert!(!tower_anonymous_auth::store::LinkStep::new("g", "a").keep_guest().delete_guest);
    /// ```
    pub fn keep_guest(mut self) -> Self {
        self.delete_guest = false;
        self
    }
}

#[async_trait::async_trait]
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn coordination(&self) -> Option<&dyn Coordination> {
        (**self).coordination()
    }

    async fn complete_link(&self, step: &LinkStep<'_>) -> Result<TransferReport, StoreError> {
        (**self).complete_link(step).await
    }
}
