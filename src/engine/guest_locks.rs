//! [`KeyedLocks`]: one async mutex per key (a guest's user id), so that two requests acting
//! on the same guest at once (a double-submitted form) run one after the other in this process;
//! and [`GuestLock`], which adds a store lease so that they also do across app instances. The
//! lease is renewed while it is held (a slow `on_link_account` keeps it), and a holder checks
//! [`GuestLock::ensure_held`] before it changes anything, so it never acts on a lease that
//! lapsed and another instance may have taken.

use crate::error::AuthError;
use crate::store::{Coordination, Coordinator};
use crate::util::ids::{millis, new_id};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::OwnedMutexGuard;

/// How long a request waits for another instance to finish with the same guest.
const LEASE_WAIT: Duration = Duration::from_secs(10);

/// A map of per-key async mutexes; entries disappear when nobody holds or waits for them.
#[derive(Debug, Default)]
pub(crate) struct KeyedLocks {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds the lock of one key until dropped.
pub(crate) struct KeyedGuard<'a> {
    locks: &'a KeyedLocks,
    key: String,
    mutex: Arc<tokio::sync::Mutex<()>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        self.map.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Waits for and takes the lock of `key`.
    pub(crate) async fn lock(&self, key: &str) -> KeyedGuard<'_> {
        let mutex = self.map().entry(key.to_owned()).or_default().clone();
        let guard = mutex.clone().lock_owned().await;
        KeyedGuard {
            locks: self,
            key: key.to_owned(),
            mutex,
            guard: Some(guard),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map().len()
    }
}

impl Drop for KeyedGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.map();
        // Clones are only made under the map lock: two references (the map's and ours) mean
        // nobody else holds or waits for this key.
        if map
            .get(&self.key)
            .is_some_and(|entry| Arc::ptr_eq(entry, &self.mutex) && Arc::strong_count(entry) == 2)
        {
            map.remove(&self.key);
        }
    }
}

/// The lock of one guest in this process and in the store; released on drop.
pub(crate) struct GuestLock<'a> {
    _local: KeyedGuard<'a>,
    store: Coordinator,
    key: String,
    holder: String,
    /// Until when the lease is surely ours: its TTL from the start of the last take or renewal.
    held_until: Arc<Mutex<Instant>>,
    renewal: tokio::task::JoinHandle<()>,
}

impl GuestLock<'_> {
    /// `Ok` while the lease is surely still ours; [`AuthError::LinkFailed`] once it may have
    /// lapsed (renewals failed for a whole TTL, or another holder took it), so that the caller
    /// changes nothing another instance may be changing too.
    pub(crate) fn ensure_held(&self) -> Result<(), AuthError> {
        let held_until = *self
            .held_until
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if Instant::now() < held_until {
            return Ok(());
        }
        tracing::warn!(lease = %self.key, "guest lease lapsed while acting on the guest");
        Err(AuthError::LinkFailed(
            "the guest's lock lapsed before the link finished; retry".into(),
        ))
    }
}

/// Renews the lease every third of its TTL until aborted; pushes `held_until` forward after
/// each renewal, and back to now when another holder has the lease.
fn renew_lease(
    store: Coordinator,
    key: String,
    holder: String,
    ttl: Duration,
    held_until: Arc<Mutex<Instant>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let ttl_ms = millis(ttl);
        loop {
            tokio::time::sleep(ttl / 3).await;
            let started = Instant::now();
            let renewed = store
                .acquire_lease(&key, &holder, ttl_ms, crate::util::clock::now_millis())
                .await;
            let mut until = held_until
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            match renewed {
                Ok(true) => *until = started + ttl,
                Ok(false) => {
                    *until = started;
                    return;
                }
                // The lease may still be ours; `held_until` runs out if this goes on.
                Err(_) => {}
            }
        }
    })
}

/// The locks of guests being registered or linked: one in this process ([`KeyedLocks`]),
/// then a lease in the store, renewed while held, across app instances.
pub(crate) struct GuestLocks {
    local: KeyedLocks,
    store: Coordinator,
    ttl: Duration,
}

impl GuestLocks {
    /// Guest locks whose store leases live `ttl` between renewals.
    pub(crate) fn new(store: Coordinator, ttl: Duration) -> Self {
        Self {
            local: KeyedLocks::default(),
            store,
            ttl,
        }
    }

    /// Serializes work on one guest: first among this process's requests, then across app
    /// instances with a store lease (waiting up to 10 s for another instance to finish).
    pub(crate) async fn lock(&self, guest_id: &str) -> Result<GuestLock<'_>, AuthError> {
        let local = self.local.lock(guest_id).await;
        let key = format!("guest:{guest_id}");
        let holder = new_id();
        let deadline = Instant::now() + LEASE_WAIT;
        let ttl = self.ttl;
        let mut backoff = Duration::from_millis(5);
        let taken_at = loop {
            let now = crate::util::clock::now_millis();
            let started = Instant::now();
            match self
                .store
                .acquire_lease(&key, &holder, millis(ttl), now)
                .await
            {
                Ok(true) => break started,
                Ok(false) => {}
                Err(error) => {
                    // The command may still be applied late (a frozen or restarting Redis):
                    // make sure such a lease of ours does not linger until its TTL.
                    release_soon(self.store.clone(), key, holder, true);
                    return Err(error.into());
                }
            }
            if Instant::now() >= deadline {
                return Err(AuthError::LinkFailed(
                    "another request is still linking this guest; retry shortly".into(),
                ));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(100));
        };
        let held_until = Arc::new(Mutex::new(taken_at + ttl));
        let renewal = renew_lease(
            self.store.clone(),
            key.clone(),
            holder.clone(),
            ttl,
            held_until.clone(),
        );
        Ok(GuestLock {
            _local: local,
            store: self.store.clone(),
            key,
            holder,
            held_until,
            renewal,
        })
    }
}

impl Drop for GuestLock<'_> {
    fn drop(&mut self) {
        self.renewal.abort();
        let key = std::mem::take(&mut self.key);
        let holder = std::mem::take(&mut self.holder);
        release_soon(self.store.clone(), key, holder, false);
    }
}

/// Releases a lease on the runtime (Drop cannot await), trying again over a few seconds when
/// it fails or, after a failed acquire (`acquire_failed`), in any case: while the store is
/// recovering, an acquire can be applied late, after a first release. The lease's TTL
/// covers whatever this misses.
fn release_soon(store: Coordinator, key: String, holder: String, acquire_failed: bool) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        if store.release_lease(&key, &holder).await.is_ok() && !acquire_failed {
            return;
        }
        for delay_ms in [200, 500, 1_000, 2_000, 4_000] {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            let _ = store.release_lease(&key, &holder).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn same_key_is_exclusive_and_entries_are_removed() {
        let locks = Arc::new(KeyedLocks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let max_inside = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (locks, inside, max_inside) =
                    (locks.clone(), inside.clone(), max_inside.clone());
                tokio::spawn(async move {
                    let _guard = locks.lock("guest").await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max_inside.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(max_inside.load(Ordering::SeqCst), 1);
        assert_eq!(locks.len(), 0);
    }

    #[tokio::test]
    async fn a_held_guest_lease_is_renewed_past_its_ttl() {
        use crate::store::MemoryStore;
        let memory = Arc::new(MemoryStore::new());
        let store = Coordinator::new(memory);
        let locks = GuestLocks::new(store.clone(), Duration::from_millis(90));
        let lock = locks.lock("g").await.unwrap();
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(75)).await;
            let now = crate::util::clock::now_millis();
            let taken = store.acquire_lease("guest:g", "other", 90, now).await;
            assert!(!taken.unwrap(), "the lease outlives its TTL while held");
            assert!(lock.ensure_held().is_ok());
        }
        drop(lock);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = crate::util::clock::now_millis();
        assert!(store
            .acquire_lease("guest:g", "other", 90, now)
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn different_keys_do_not_block() {
        let locks = KeyedLocks::default();
        let _a = locks.lock("a").await;
        let b = tokio::time::timeout(Duration::from_secs(1), locks.lock("b")).await;
        assert!(b.is_ok());
    }
}
