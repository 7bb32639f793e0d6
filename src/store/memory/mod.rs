//! [`MemoryStore`]: the embedded default store.

mod session_table;

use super::{
    ClaimOutcome, Coordination, EmailCodeCheck, EmailCodeRecord, EmailCodeStore, IdentityRecord,
    IdentityStore, LocalCoordination, OwnershipStore, SessionRecord, Store, StoreError,
    TransferReport, UserRecord, UserStore,
};
use crate::rate_limit::{RateDecision, RateLimit};
use crate::util::email::placeholder_owner;
use async_trait::async_trait;
use session_table::SessionTable;
use std::collections::BTreeSet;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// An in-process store: no setup, nothing persisted, one process only.
///
/// Good for development, tests and single-instance apps that can lose guests on restart.
/// Every operation takes one lock, so [`transfer`](OwnershipStore::transfer) is trivially
/// atomic.
/// Clones share the same data.
///
/// ```
/// use tower_anonymous_auth::{AnonymousAuthConfig, AnonymousAuthLayer, MemoryStore};
///
/// let config = AnonymousAuthConfig::builder().random_key().build().unwrap();
/// let layer = AnonymousAuthLayer::new(MemoryStore::new(), config);
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<RwLock<Inner>>,
    /// Apart from the records: a rate check (every new visitor) never waits for the store's
    /// lock, nor holds it. Shared by every layer on this store (and its clones).
    coordination: Arc<LocalCoordination>,
}

/// The store's maps hash with foldhash, seeded at random per process: SipHash was the largest
/// single cost of storing a new guest (four inserts), and a random seed still keeps keys an
/// attacker chooses (emails) from being aimed at one bucket.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

#[derive(Debug, Default)]
struct Inner {
    users: HashMap<String, UserRecord>,
    emails: EmailIndex,
    sessions: SessionTable,
    owners: HashMap<String, String>,
    owned: HashMap<String, BTreeSet<String>>,
    /// By (collection, provider, subject).
    identities: HashMap<IdentityKey, IdentityRecord>,
    /// The keys of each user's identities.
    user_identities: HashMap<String, HashSet<IdentityKey>>,
    /// One-time email codes by key.
    email_codes: HashMap<String, EmailCodeRecord>,
}

/// (collection, provider, subject)
type IdentityKey = (String, String, String);

/// Which user holds each email, by collection then email, so that a lookup borrows its
/// strings instead of building a key. A user's own placeholder email (`temp-{id}@domain`,
/// every guest's) has no entry: it names its user (see [`Inner::email_holder`]), and a guest
/// costs two strings and a table entry fewer.
#[derive(Debug, Default)]
struct EmailIndex(HashMap<String, HashMap<String, String>>);

impl EmailIndex {
    fn holder(&self, collection: &str, email: &str) -> Option<&str> {
        self.0.get(collection)?.get(email).map(String::as_str)
    }

    fn insert(&mut self, collection: &str, email: &str, user_id: &str) {
        if !self.0.contains_key(collection) {
            self.0.insert(collection.to_owned(), HashMap::default());
        }
        if let Some(emails) = self.0.get_mut(collection) {
            emails.insert(email.to_owned(), user_id.to_owned());
        }
    }

    /// Removes the entry when `user_id` holds it.
    fn remove_if_held_by(&mut self, collection: &str, email: &str, user_id: &str) {
        if let Some(emails) = self.0.get_mut(collection) {
            if emails.get(email).is_some_and(|holder| holder == user_id) {
                emails.remove(email);
            }
        }
    }
}

fn identity_key(collection: &str, provider: &str, subject: &str) -> IdentityKey {
    (
        collection.to_owned(),
        provider.to_owned(),
        subject.to_owned(),
    )
}

impl MemoryStore {
    /// An empty store.
    ///
    /// ```
    /// let store = tower_anonymous_auth::MemoryStore::new();
    /// assert_eq!(store.user_count(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// How many users (live or expired but not yet purged) the store holds.
    ///
    /// ```
    /// assert_eq!(tower_anonymous_auth::MemoryStore::new().user_count(), 0);
    /// ```
    pub fn user_count(&self) -> usize {
        self.read().users.len()
    }

    /// How many sessions (live or expired but not yet purged) the store holds.
    ///
    /// ```
    /// assert_eq!(tower_anonymous_auth::MemoryStore::new().session_count(), 0);
    /// ```
    pub fn session_count(&self) -> usize {
        self.read().sessions.len()
    }

    /// Removes every user and session that expired at `now` (ms since the epoch), with the
    /// ownership entries of the removed users. Registered users never expire, so they are never
    /// touched, nor is anything they own. Returns the number of users removed.
    ///
    /// Expired records already read as missing; purging frees their memory and releases what
    /// expired guests owned. It is cheap to run periodically: the expired records are found
    /// under the shared (read) lock, so requests go on meanwhile, and removed under the write
    /// lock in batches of [`PURGE_BATCH`](Self::PURGE_BATCH), each record checked again (a
    /// guest refreshed in between stays). Run it from a timer, for example every minute:
    ///
    /// ```
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    /// use tower_anonymous_auth::MemoryStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// let purger = store.clone();
    /// let task = tokio::spawn(async move {
    ///     let mut every_minute = tokio::time::interval(Duration::from_secs(60));
    ///     loop {
    ///         every_minute.tick().await;
    ///         let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    ///         purger.purge_expired(now);
    ///     }
    /// });
    /// # task.abort();
    /// # });
    /// ```
    ///
    /// What it removes:
    ///
    /// ```
    /// use tower_anonymous_auth::store::{OwnershipStore, UserRecord, UserStore};
    /// use tower_anonymous_auth::{MemoryStore, User};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// let guest = UserRecord::new(User::anonymous("g", "users", "t@x.io", "G", 0)).with_expires_at(Some(10));
    /// store.insert_user(&guest, None, 0).await.unwrap();
    /// store.claim("cart:1", "g").await.unwrap();
    /// assert_eq!(store.purge_expired(10), 1);
    /// assert_eq!(store.owner_of("cart:1").await.unwrap(), None);
    /// # });
    /// ```
    pub fn purge_expired(&self, now: u64) -> usize {
        let (expired_users, expired_sessions) = {
            let inner = self.read();
            let users: Vec<String> = inner
                .users
                .values()
                .filter(|record| record.is_expired(now))
                .map(|record| record.user.id.clone())
                .collect();
            let sessions: Vec<String> = inner
                .sessions
                .iter()
                .filter(|session| session.is_expired(now))
                .map(|session| session.id.clone())
                .collect();
            (users, sessions)
        };
        let mut removed = 0;
        for batch in expired_users.chunks(Self::PURGE_BATCH) {
            let mut inner = self.write();
            for id in batch {
                if inner.users.get(id).is_some_and(|r| r.is_expired(now)) {
                    inner.remove_user(id);
                    inner.release_all(id);
                    removed += 1;
                }
            }
        }
        for batch in expired_sessions.chunks(Self::PURGE_BATCH) {
            let mut inner = self.write();
            for id in batch {
                if inner.sessions.get(id).is_some_and(|s| s.is_expired(now)) {
                    inner.sessions.remove(id);
                }
            }
        }
        removed
    }

    /// How many records [`purge_expired`](Self::purge_expired) removes per write-lock hold.
    ///
    /// ```
    /// assert!(tower_anonymous_auth::MemoryStore::PURGE_BATCH > 0);
    /// ```
    pub const PURGE_BATCH: usize = 1_000;

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than refusing service forever, so recover from poisoning.
        self.inner
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl Inner {
    fn live_user(&self, id: &str, now: u64) -> Option<&UserRecord> {
        self.users.get(id).filter(|record| !record.is_expired(now))
    }

    fn live_session(&self, id: &str, now: u64) -> Option<&SessionRecord> {
        self.sessions
            .get(id)
            .filter(|session| !session.is_expired(now))
    }

    /// Who holds `email` in `collection`, live or not: the index's entry, else the user whose
    /// own placeholder it is.
    fn email_holder(&self, collection: &str, email: &str) -> Option<&str> {
        self.emails
            .holder(collection, email)
            .or_else(|| self.placeholder_holder(collection, email))
    }

    /// The user whose own placeholder `email` is, when that user has it in `collection`.
    fn placeholder_holder(&self, collection: &str, email: &str) -> Option<&str> {
        let (id, record) = self.users.get_key_value(placeholder_owner(email)?)?;
        let user = &record.user;
        (user.collection == collection && user.email == email).then_some(id.as_str())
    }

    /// Whether `email` in `collection` belongs to a live user other than `except`: by the
    /// index or as that user's own placeholder.
    fn email_in_use(&self, collection: &str, email: &str, except: &str, now: u64) -> bool {
        let held = |holder: &str| holder != except && self.live_user(holder, now).is_some();
        self.emails.holder(collection, email).is_some_and(held)
            || self.placeholder_holder(collection, email).is_some_and(held)
    }

    /// Records that `user_id` holds `email` in `collection` (nothing to record for the
    /// user's own placeholder).
    fn index_email(&mut self, collection: &str, email: &str, user_id: &str) {
        if placeholder_owner(email) != Some(user_id) {
            self.emails.insert(collection, email, user_id);
        }
    }

    fn remove_user(&mut self, id: &str) {
        if let Some(record) = self.users.remove(id) {
            let user = record.user;
            self.emails
                .remove_if_held_by(&user.collection, &user.email, id);
        }
        self.sessions.remove_user(id);
        for key in self.user_identities.remove(id).unwrap_or_default() {
            self.identities.remove(&key);
        }
    }

    /// The identity at `key`, when a live user holds it.
    fn live_identity(&self, key: &IdentityKey, now: u64) -> Option<&IdentityRecord> {
        self.identities
            .get(key)
            .filter(|identity| self.live_user(&identity.user_id, now).is_some())
    }

    /// Drops every ownership entry of `owner`.
    fn release_all(&mut self, owner: &str) {
        if let Some(resources) = self.owned.remove(owner) {
            for resource in resources {
                if self.owners.get(&resource).is_some_and(|o| o == owner) {
                    self.owners.remove(&resource);
                }
            }
        }
    }
}

/// Answers without waiting, since nothing here needs I/O: the layer asks this first for a
/// returning visitor whose session its memo does not vouch for, and stores a guest it mints
/// through it (see `store::fast_path`).
impl MemoryStore {
    /// Whether session `id` is live at `now` and belongs to `user_id`; agrees with
    /// [`get_session`](UserStore::get_session).
    pub(crate) fn is_session_live(&self, id: &str, user_id: &str, now: u64) -> bool {
        self.read()
            .live_session(id, now)
            .is_some_and(|session| session.user_id == user_id)
    }

    /// Whether a lazy guest's token is good at `now`: nothing of its user stored (the token
    /// is all there is), or its user stored and session `id` live.
    pub(crate) fn is_lazy_guest_live(&self, id: &str, user_id: &str, now: u64) -> bool {
        let inner = self.read();
        inner.live_user(user_id, now).is_none()
            || inner
                .live_session(id, now)
                .is_some_and(|session| session.user_id == user_id)
    }

    /// [`insert_user`](UserStore::insert_user) without a future: the layer stores a guest it
    /// mints on this store without boxing a future for it (see `store::fast_path`).
    pub(crate) fn insert_user_now(
        &self,
        record: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut inner = self.write();
        let user = &record.user;
        if inner.live_user(&user.id, now).is_some() {
            return Err(StoreError::UserExists(user.id.clone()));
        }
        if inner.email_in_use(&user.collection, &user.email, &user.id, now) {
            return Err(StoreError::EmailTaken);
        }
        if inner.users.contains_key(&user.id) {
            // An expired user under this id is dead: it goes, with its sessions.
            inner.remove_user(&user.id);
        }
        if let Some(stale) = inner.email_holder(&user.collection, &user.email) {
            let stale = stale.to_owned();
            inner.remove_user(&stale);
        }
        inner.index_email(&user.collection, &user.email, &user.id);
        inner.users.insert(user.id.clone(), record.clone());
        if let Some(session) = session {
            inner.sessions.insert(session);
        }
        Ok(())
    }

    /// A rate check in this store's buckets, without a future.
    pub(crate) fn rate_limit_now(&self, key: &str, limit: RateLimit, now: u64) -> RateDecision {
        self.coordination.rate_limit_now(key, limit, now)
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert_user(
        &self,
        record: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        self.insert_user_now(record, session, now)
    }

    async fn get_user(&self, id: &str, now: u64) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.read().live_user(id, now).cloned())
    }

    async fn find_user_by_email(
        &self,
        collection: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        let inner = self.read();
        Ok(inner
            .email_holder(collection, email)
            .and_then(|id| inner.live_user(id, now))
            .cloned())
    }

    async fn upgrade_user(
        &self,
        id: &str,
        email: &str,
        name: &str,
        password_hash: Option<&str>,
        now: u64,
    ) -> Result<UserRecord, StoreError> {
        let mut inner = self.write();
        let Some(current) = inner.live_user(id, now).cloned() else {
            return Err(StoreError::UserNotFound(id.to_owned()));
        };
        if !current.user.is_anonymous {
            return Err(StoreError::AlreadyRegistered(id.to_owned()));
        }
        let collection = current.user.collection.clone();
        if inner.email_in_use(&collection, email, id, now) {
            return Err(StoreError::EmailTaken);
        }
        if let Some(stale) = inner.email_holder(&collection, email) {
            if stale != id {
                let stale = stale.to_owned();
                inner.remove_user(&stale);
            }
        }
        inner
            .emails
            .remove_if_held_by(&collection, &current.user.email, id);
        inner.index_email(&collection, email, id);
        let mut upgraded = current;
        upgraded.user.email = email.to_owned();
        upgraded.user.name = name.to_owned();
        upgraded.user.is_anonymous = false;
        upgraded.password_hash = password_hash.map(str::to_owned);
        upgraded.expires_at = None;
        inner.users.insert(id.to_owned(), upgraded.clone());
        Ok(upgraded)
    }

    async fn mark_email_verified(
        &self,
        id: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        let mut inner = self.write();
        if inner
            .live_user(id, now)
            .is_none_or(|record| record.user.is_anonymous || record.user.email != email)
        {
            return Ok(None);
        }
        let record = inner.users.get_mut(id).map(|record| {
            record.user.email_verified = true;
            record.clone()
        });
        Ok(record)
    }

    async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
        self.write().remove_user(id);
        Ok(())
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.write().sessions.insert(session);
        Ok(())
    }

    async fn get_session(&self, id: &str, now: u64) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.read().live_session(id, now).cloned())
    }

    async fn refresh(&self, session_id: &str, expires_at: u64) -> Result<(), StoreError> {
        let mut inner = self.write();
        let Some(session) = inner.sessions.get_mut(session_id) else {
            return Ok(());
        };
        session.expires_at = session.expires_at.max(expires_at);
        let user_id = session.user_id.clone();
        if let Some(user) = inner.users.get_mut(&user_id) {
            if let Some(at) = user.expires_at.as_mut() {
                *at = (*at).max(expires_at);
            }
        }
        Ok(())
    }

    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.write().sessions.remove(id))
    }

    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        Ok(self.write().sessions.remove_user(user_id))
    }
}

#[async_trait]
impl OwnershipStore for MemoryStore {
    async fn claim(&self, resource: &str, owner: &str) -> Result<ClaimOutcome, StoreError> {
        let mut inner = self.write();
        if let Some(current) = inner.owners.get(resource) {
            return Ok(if current == owner {
                ClaimOutcome::AlreadyOwned
            } else {
                ClaimOutcome::OwnedByOther(current.clone())
            });
        }
        inner.owners.insert(resource.to_owned(), owner.to_owned());
        inner
            .owned
            .entry(owner.to_owned())
            .or_default()
            .insert(resource.to_owned());
        Ok(ClaimOutcome::Claimed)
    }

    async fn release(&self, resource: &str, owner: &str) -> Result<bool, StoreError> {
        let mut inner = self.write();
        if inner.owners.get(resource).map(String::as_str) != Some(owner) {
            return Ok(false);
        }
        inner.owners.remove(resource);
        if let Some(set) = inner.owned.get_mut(owner) {
            set.remove(resource);
            if set.is_empty() {
                inner.owned.remove(owner);
            }
        }
        Ok(true)
    }

    async fn owner_of(&self, resource: &str) -> Result<Option<String>, StoreError> {
        Ok(self.read().owners.get(resource).cloned())
    }

    async fn resources_of(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .read()
            .owned
            .get(owner)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn transfer(&self, from: &str, to: &str) -> Result<TransferReport, StoreError> {
        if from == to {
            return Ok(TransferReport::default());
        }
        let mut inner = self.write();
        let Some(resources) = inner.owned.remove(from) else {
            return Ok(TransferReport::default());
        };
        let moved = resources.len();
        for resource in &resources {
            inner.owners.insert(resource.clone(), to.to_owned());
        }
        inner
            .owned
            .entry(to.to_owned())
            .or_default()
            .extend(resources);
        Ok(TransferReport { moved })
    }
}

#[async_trait]
impl IdentityStore for MemoryStore {
    async fn attach_identity(
        &self,
        collection: &str,
        identity: &IdentityRecord,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut inner = self.write();
        let user = &identity.user_id;
        if inner
            .live_user(user, now)
            .is_none_or(|record| record.user.collection != collection)
        {
            return Err(StoreError::UserNotFound(user.clone()));
        }
        let key = identity_key(collection, &identity.provider, &identity.subject);
        match inner.identities.get(&key) {
            Some(held) if held.user_id != *user && inner.live_identity(&key, now).is_some() => {
                return Err(StoreError::IdentityTaken);
            }
            Some(stale) if stale.user_id != *user => {
                let stale = stale.user_id.clone();
                if let Some(keys) = inner.user_identities.get_mut(&stale) {
                    keys.remove(&key);
                }
            }
            _ => {}
        }
        inner.identities.insert(key.clone(), identity.clone());
        inner
            .user_identities
            .entry(user.clone())
            .or_default()
            .insert(key);
        Ok(())
    }

    async fn find_identity(
        &self,
        collection: &str,
        provider: &str,
        subject: &str,
        now: u64,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        let key = identity_key(collection, provider, subject);
        Ok(self.read().live_identity(&key, now).cloned())
    }

    async fn detach_identity(
        &self,
        collection: &str,
        provider: &str,
        subject: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let mut inner = self.write();
        let key = identity_key(collection, provider, subject);
        if inner
            .identities
            .get(&key)
            .is_none_or(|held| held.user_id != user_id)
        {
            return Ok(false);
        }
        inner.identities.remove(&key);
        if let Some(keys) = inner.user_identities.get_mut(user_id) {
            keys.remove(&key);
        }
        Ok(true)
    }

    async fn identities_of(
        &self,
        user_id: &str,
        now: u64,
    ) -> Result<Vec<IdentityRecord>, StoreError> {
        let inner = self.read();
        if inner.live_user(user_id, now).is_none() {
            return Ok(Vec::new());
        }
        let keys = inner.user_identities.get(user_id);
        Ok(keys
            .into_iter()
            .flatten()
            .filter_map(|key| inner.identities.get(key))
            .filter(|identity| identity.user_id == user_id)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl EmailCodeStore for MemoryStore {
    async fn put_email_code(
        &self,
        key: &str,
        code: &EmailCodeRecord,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut inner = self.write();
        inner.email_codes.retain(|_, code| code.expires_at > now);
        inner.email_codes.insert(key.to_owned(), code.clone());
        Ok(())
    }

    async fn try_email_code(
        &self,
        key: &str,
        proof: &str,
        now: u64,
    ) -> Result<EmailCodeCheck, StoreError> {
        let mut inner = self.write();
        let Some(code) = inner.email_codes.get_mut(key) else {
            return Ok(EmailCodeCheck::Missing);
        };
        if code.expires_at <= now {
            inner.email_codes.remove(key);
            return Ok(EmailCodeCheck::Missing);
        }
        if proof == code.code_proof || proof == code.link_proof {
            let used = inner.email_codes.remove(key);
            return Ok(used.map_or(EmailCodeCheck::Missing, EmailCodeCheck::Accepted));
        }
        code.attempts_left = code.attempts_left.saturating_sub(1);
        let attempts_left = code.attempts_left;
        if attempts_left == 0 {
            inner.email_codes.remove(key);
        }
        Ok(EmailCodeCheck::Wrong { attempts_left })
    }
}

/// Every layer on one `MemoryStore` shares its rate limits and leases.
impl Store for MemoryStore {
    fn coordination(&self) -> Option<&dyn Coordination> {
        Some(&*self.coordination)
    }
}
