//! The work behind the layer and the handle, one job per file: [`verify`] turns a credential
//! into a confirmed [`Auth`](crate::token::auth::Auth), [`mint`] makes guests (and stores lazy ones
//! at their first write), [`issue`] starts sessions and signs their tokens, and [`cookie`]
//! writes the auth cookie. [`AuthEngine`] holds the state they share.

mod cookie;
pub(crate) mod guest_locks;
mod issue;
mod lost_cookie;
mod mint;
mod resolve;
pub(crate) mod session_cache;
mod verify;

pub(crate) use cookie::{AuthCookie, CookieSlot};
pub(crate) use resolve::Outcome;

use crate::config::AnonymousAuthConfig;
use crate::engine::guest_locks::{GuestLock, GuestLocks};
use crate::engine::session_cache::SessionCache;
use crate::error::AuthError;
use crate::store::fast_path::FastPath;
use crate::store::{Coordinator, Store};
use crate::token::token_cache::TokenCache;
use crate::util::clock::now_millis as millis_now;
use crate::util::ids::millis;
use futures::future::BoxFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A step that is done at once, or that still needs I/O (the store): the layer calls the
/// inner service right away on the first, and awaits the second in its response future.
/// `F` is the pending future: boxed where a step crosses to the layer, left unboxed inside
/// the engine so that each request boxes at most once.
pub(crate) enum Step<T, F = BoxFuture<'static, T>> {
    Ready(T),
    Pending(F),
}

impl<T, F: std::future::Future<Output = T>> Step<T, F> {
    /// The step's result, awaiting it when it is pending.
    pub(crate) async fn finish(self) -> T {
        match self {
            Self::Ready(done) => done,
            Self::Pending(pending) => pending.await,
        }
    }
}

/// How long the session memo trusts an entry when the store's revocation feed keeps it
/// current: a bound on what a lost message (a connection that died without a reset) could
/// cost, long enough that a returning visitor reads the store about once a minute.
const FED_MEMO_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// Shared state of one layer: the store, the configuration, the session memo, and the
/// per-guest locks of the link flow.
pub(crate) struct AuthEngine {
    pub(crate) store: Arc<dyn Store>,
    /// Shortcuts for the stores this crate ships (none for others).
    fast_path: FastPath,
    /// Rate limits and leases: the store's, or this layer's own.
    coordination: Coordinator,
    pub(crate) config: AnonymousAuthConfig,
    pub(crate) sessions: Arc<SessionCache>,
    /// Whether the store's revocation feed still has to be started (it needs a runtime,
    /// which building a layer may lack).
    feed_pending: AtomicBool,
    pub(crate) tokens: TokenCache,
    /// Serializes registering and linking one guest, in this process and across instances.
    pub(crate) guest_locks: GuestLocks,
    /// The auth cookie, and a minted guest's ready-made one.
    pub(crate) cookie: AuthCookie,
    /// Misconfiguration warnings (the mint limit's, a cookie browsers drop), logged once each.
    warned: Warnings,
}

/// Warnings a layer logs once, not per request.
#[derive(Default)]
struct Warnings {
    no_peer: AtomicBool,
    shared_bucket: AtomicBool,
    plain_http: AtomicBool,
    lost_cookie: AtomicBool,
    /// Who was minted for lately, until `lost_cookie` has been logged.
    recent_mints: Mutex<lost_cookie::RecentMints>,
}

impl Warnings {
    /// `true` the first time only.
    pub(super) fn first(flag: &AtomicBool) -> bool {
        !flag.swap(true, Ordering::Relaxed)
    }
}

impl AuthEngine {
    pub(crate) fn new(store: Arc<dyn Store>, config: AnonymousAuthConfig) -> Self {
        let fast_path = FastPath::of(&*store);
        let fed = fast_path.has_revocation_feed();
        let memo_ttl = match config.session_cache_ttl {
            Some(ttl) => ttl,
            None if fed => FED_MEMO_TTL,
            None => std::time::Duration::ZERO,
        };
        let fed = fed && !memo_ttl.is_zero();
        let sessions = Arc::new(SessionCache::new(millis(memo_ttl), fed));
        let tokens = TokenCache::new(config.token_cache_capacity);
        let coordination = Coordinator::new(store.clone());
        let guest_locks = GuestLocks::new(coordination.clone(), config.guest_lock_ttl);
        crate::password::warm_dummy();
        let cookie = AuthCookie::new(config.cookie.clone(), config.anonymous_ttl);
        let engine = Self {
            store,
            fast_path,
            coordination,
            config,
            sessions,
            feed_pending: AtomicBool::new(fed),
            tokens,
            guest_locks,
            cookie,
            warned: Warnings::default(),
        };
        engine.start_revocation_feed();
        engine
    }

    /// Starts the store's revocation feed, once, when a tokio runtime is at hand (else the
    /// next call tries again; until then the memo is not trusted).
    pub(crate) fn start_revocation_feed(&self) {
        if !self.feed_pending.load(Ordering::Relaxed)
            || tokio::runtime::Handle::try_current().is_err()
        {
            return;
        }
        if self.feed_pending.swap(false, Ordering::AcqRel) {
            let listener: Arc<dyn crate::store::fast_path::RevocationListener> =
                self.sessions.clone();
            self.fast_path.watch_revocations(Arc::downgrade(&listener));
        }
    }

    /// Marks `key` used for `ttl_ms`, in the store's coordination when it has one (so across
    /// app instances) or in this process; `true` for the first call only, atomically.
    pub(crate) async fn use_once(&self, key: &str, ttl_ms: u64) -> Result<bool, AuthError> {
        use crate::store::Coordination as _;
        let holder = crate::util::ids::new_id();
        let first = self
            .coordination
            .acquire_lease(key, &holder, ttl_ms.max(1), millis_now())
            .await?;
        Ok(first)
    }

    /// Serializes work on one guest, in this process and across app instances
    /// ([`GuestLocks::lock`]).
    pub(crate) async fn lock_guest(&self, guest_id: &str) -> Result<GuestLock<'_>, AuthError> {
        self.guest_locks.lock(guest_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::mint::new_guest_ids;
    use super::*;
    use crate::util::clock::now_millis;
    use crate::util::ids::{new_id, new_session_id};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use std::time::Duration;

    #[tokio::test]
    async fn a_minted_guests_token_leaves_out_its_name_and_first_session() {
        use crate::config::AnonymousAuthConfig;
        use crate::store::{MemoryStore, UserStore};
        let store = Arc::new(MemoryStore::new());
        for lazy in [false, true] {
            let config = AnonymousAuthConfig::builder()
                .random_key()
                .lazy_persistence(lazy)
                .build()
                .unwrap();
            let engine = Arc::new(AuthEngine::new(store.clone(), config));
            let auth = engine.mint(None, None).finish().await.unwrap();
            let id = auth.user().id.clone();
            assert_eq!(auth.user().name, crate::util::names::name_for_id(&id));
            assert_eq!(auth.session_id(), format!("{id}.0"));
            let payload = auth.token().split('.').nth(1).unwrap();
            let json: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
            for left_out in ["name", "sid", "sr", "email", "anon", "uca", "col"] {
                assert!(json.get(left_out).is_none(), "{left_out}: {json}");
            }
            // Read back, the token names the same user, name and session as the store.
            let verified = engine.verify(auth.token(), now_millis() / 1000).unwrap();
            assert_eq!(verified.user(), auth.user());
            assert_eq!(verified.session_id(), auth.session_id());
            let stored = store.get_user(&id, now_millis()).await.unwrap();
            assert_eq!(stored.is_some(), !lazy, "lazy: {lazy}");
            if let Some(stored) = stored {
                assert_eq!(stored.user.name, auth.user().name);
                let session = store.get_session(auth.session_id(), now_millis()).await;
                assert_eq!(session.unwrap().unwrap().user_id, id);
            }
        }
    }

    #[test]
    fn a_guests_ready_cookie_is_the_cookie_formatted_in_full() {
        use crate::config::{AnonymousAuthConfig, SameSite};
        use crate::store::MemoryStore;
        let configs = [
            AnonymousAuthConfig::builder().random_key(),
            AnonymousAuthConfig::builder().random_key().secure(false),
            AnonymousAuthConfig::builder()
                .random_key()
                .same_site(SameSite::None)
                .cookie_domain("shop.example")
                .cookie_path("/app"),
            AnonymousAuthConfig::builder()
                .random_key()
                .same_site(SameSite::Strict)
                .cookie_name("guest")
                .anonymous_ttl(Duration::from_secs(3600)),
            AnonymousAuthConfig::builder()
                .random_key()
                .host_prefix(true),
        ];
        for config in configs {
            let engine = AuthEngine::new(Arc::new(MemoryStore::new()), config.build().unwrap());
            let (id, session_id) = new_guest_ids();
            let (user, session) = engine.new_guest(id, session_id, "a@b.example".into(), None, 0);
            let token = engine
                .issue_guest(user, session, false)
                .unwrap()
                .token()
                .to_owned();
            let slot = CookieSlot::default();
            engine.cookie.set_guest(&slot, &token);
            let guest = slot.take().unwrap();
            engine
                .cookie
                .set(&slot, &token, engine.config.anonymous_ttl);
            assert_eq!(guest, slot.take().unwrap());
        }
    }

    #[test]
    fn session_ids_name_their_user() {
        let user = new_id();
        let session = new_session_id(&user);
        let (named, random) = session.split_once('.').unwrap();
        assert_eq!(named, user);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(random).map(|bytes| bytes.len()),
            Ok(16)
        );
        assert_ne!(new_session_id(&user), session);
    }
}
