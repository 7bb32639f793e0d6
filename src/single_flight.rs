//! [`KeyedLocks`]: one async mutex per key (a guest's user id), so that two requests acting
//! on the same guest at once (a double-submitted form) run one after the other in this process;
//! and [`GuestLock`], which adds a store lease so that they also do across app instances.

use crate::engine::{new_id, AuthEngine};
use crate::error::AuthError;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::OwnedMutexGuard;

/// How long a lease lives if its holder dies without releasing it.
const LEASE_TTL_MS: u64 = 15_000;
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
    store: Arc<dyn Store>,
    key: String,
    holder: String,
}

impl AuthEngine {
    /// Serializes work on one guest: first among this process's requests, then across app
    /// instances with a store lease (waiting up to 10 s for another instance to finish).
    pub(crate) async fn lock_guest(&self, guest_id: &str) -> Result<GuestLock<'_>, AuthError> {
        let local = self.link_locks.lock(guest_id).await;
        let key = format!("guest:{guest_id}");
        let holder = new_id();
        let deadline = Instant::now() + LEASE_WAIT;
        let mut backoff = Duration::from_millis(5);
        loop {
            let now = crate::clock::now_millis();
            match self
                .store
                .acquire_lease(&key, &holder, LEASE_TTL_MS, now)
                .await
            {
                Ok(true) => break,
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
        }
        Ok(GuestLock {
            _local: local,
            store: self.store.clone(),
            key,
            holder,
        })
    }
}

impl Drop for GuestLock<'_> {
    fn drop(&mut self) {
        let key = std::mem::take(&mut self.key);
        let holder = std::mem::take(&mut self.holder);
        release_soon(self.store.clone(), key, holder, false);
    }
}

/// Releases a lease on the runtime (Drop cannot await), trying again over a few seconds when
/// it fails or, after a failed acquire (`acquire_failed`), in any case: while the store is
/// recovering, an acquire can be applied late, after a first release. The lease's TTL
/// covers whatever this misses.
fn release_soon(store: Arc<dyn Store>, key: String, holder: String, acquire_failed: bool) {
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
    async fn different_keys_do_not_block() {
        let locks = KeyedLocks::default();
        let _a = locks.lock("a").await;
        let b = tokio::time::timeout(Duration::from_secs(1), locks.lock("b")).await;
        assert!(b.is_ok());
    }
}
