//! Shortcuts the layer takes on the stores this crate ships, kept out of the [`Store`]
//! contract: a store author never sees them, and a third-party store simply takes the
//! general path.
//!
//! - [`MemoryStore`] answers a session check (a lazy guest's too) and stores a minted guest
//!   without waiting, so neither a returning nor a new visitor's request needs a boxed future.
//! - `RedisStore` on a single node writes a guest minted just now with one pipeline and no
//!   script, `PostgresStore` with one statement: its id was never handed out, so nobody can
//!   hold its placeholder email.
//! - `RedisStore` and `PostgresStore` announce every revocation to every app instance, so
//!   the layer's session memo can stay on by default and still see a sign-out on another
//!   instance at once.

use super::{MemoryStore, SessionRecord, Store, StoreError, UserRecord};
use std::any::Any;
use std::sync::Weak;

/// What a revocation feed tells: a session was revoked; the feed is connected or not.
pub(crate) trait RevocationListener: Send + Sync + 'static {
    /// Session `session_id` was revoked (on this instance or another).
    fn revoked(&self, session_id: &str);
    /// The feed is subscribed (`true`) or lost its connection (`false`).
    fn feed_connected(&self, connected: bool);
}

/// The concrete store behind a `dyn Store`, when it is one that has a shortcut.
#[derive(Debug, Clone)]
pub(crate) enum FastPath {
    Memory(MemoryStore),
    #[cfg(feature = "redis")]
    Redis(super::RedisStore),
    #[cfg(feature = "postgres")]
    Postgres(super::PostgresStore),
    None,
}

impl FastPath {
    /// The shortcuts of `store`, found once when the layer is built.
    pub(crate) fn of(store: &dyn Store) -> Self {
        let store: &dyn Any = store;
        if let Some(memory) = store.downcast_ref::<MemoryStore>() {
            return Self::Memory(memory.clone());
        }
        #[cfg(feature = "redis")]
        if let Some(redis) = store.downcast_ref::<super::RedisStore>() {
            return Self::Redis(redis.clone());
        }
        #[cfg(feature = "postgres")]
        if let Some(postgres) = store.downcast_ref::<super::PostgresStore>() {
            return Self::Postgres(postgres.clone());
        }
        Self::None
    }

    /// Whether session `id` is live at `now` and belongs to `user_id`, when the store can say
    /// without waiting; `None` means "ask [`get_session`](super::UserStore::get_session)".
    pub(crate) fn check_session_now(&self, id: &str, user_id: &str, now: u64) -> Option<bool> {
        match self {
            Self::Memory(memory) => Some(memory.is_session_live(id, user_id, now)),
            _ => None,
        }
    }

    /// [`check_session_now`](Self::check_session_now) for a lazy guest's token: good while
    /// nothing of its user is stored, else when its session is live.
    pub(crate) fn check_lazy_guest_now(&self, id: &str, user_id: &str, now: u64) -> Option<bool> {
        match self {
            Self::Memory(memory) => Some(memory.is_lazy_guest_live(id, user_id, now)),
            _ => None,
        }
    }

    /// The store, when it is a [`MemoryStore`]: it stores a minted guest (rate check and
    /// insert) without waiting, so the layer need not box a future for it.
    pub(crate) fn memory(&self) -> Option<&MemoryStore> {
        match self {
            Self::Memory(memory) => Some(memory),
            _ => None,
        }
    }

    /// Whether the store announces revocations to every app instance.
    pub(crate) fn has_revocation_feed(&self) -> bool {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(_) => true,
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => true,
            _ => false,
        }
    }

    /// Subscribes `listener` to the store's revocations (in a task of the current runtime)
    /// until it is dropped; nothing for a store without a feed.
    pub(crate) fn watch_revocations(&self, listener: Weak<dyn RevocationListener>) {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(redis) => redis.watch_revocations(listener),
            #[cfg(feature = "postgres")]
            Self::Postgres(postgres) => postgres.watch_revocations(listener),
            _ => drop(listener),
        }
    }

    /// [`insert_user`](super::UserStore::insert_user) for a guest whose id was made for this
    /// call and never handed out.
    pub(crate) async fn insert_fresh_guest(
        &self,
        store: &dyn Store,
        user: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(redis) => redis.insert_fresh_guest(user, session, now).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(postgres) => postgres.insert_fresh_guest(user, session).await,
            _ => store.insert_user(user, session, now).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::UserStore;
    use crate::User;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_memory_store_behind_an_arc_answers_session_checks_at_once() {
        let store = MemoryStore::new();
        let user = UserRecord::new(User::anonymous("u1", "users", "t@x.io", "Guest", 0))
            .with_expires_at(Some(10_000));
        let session = SessionRecord::new("s1", "u1", 0, 10_000);
        store.insert_user(&user, Some(&session), 0).await.unwrap();
        let shared: Arc<dyn Store> = Arc::new(store);
        let fast = FastPath::of(&*shared);
        assert_eq!(fast.check_session_now("s1", "u1", 5_000), Some(true));
        assert_eq!(fast.check_session_now("s1", "u2", 5_000), Some(false));
        assert_eq!(fast.check_session_now("s1", "u1", 10_000), Some(false));
        assert_eq!(fast.check_session_now("gone", "u1", 5_000), Some(false));
    }

    #[tokio::test]
    async fn a_lazy_guest_is_good_until_its_user_is_stored_then_its_session_decides() {
        let store = MemoryStore::new();
        let fast = FastPath::of(&store);
        assert_eq!(
            fast.check_lazy_guest_now("u1.0", "u1", 0),
            Some(true),
            "nothing stored"
        );
        // Signed out while lazy: the user is stored without a session.
        let user = UserRecord::new(User::anonymous("u1", "users", "t@x.io", "Guest", 0))
            .with_expires_at(Some(10_000));
        store.insert_user(&user, None, 0).await.unwrap();
        assert_eq!(fast.check_lazy_guest_now("u1.0", "u1", 1), Some(false));
        let session = SessionRecord::new("u1.0", "u1", 0, 10_000);
        store.insert_session(&session).await.unwrap();
        assert_eq!(
            fast.check_lazy_guest_now("u1.0", "u1", 1),
            Some(true),
            "stored with it"
        );
    }

    #[test]
    fn another_store_takes_the_general_path() {
        let wrapped: Arc<dyn Store> = Arc::new(Arc::new(MemoryStore::new()));
        assert!(matches!(FastPath::of(&*wrapped), FastPath::None));
    }
}
