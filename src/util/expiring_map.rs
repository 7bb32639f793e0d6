//! [`ExpiringMap`]: the bounded, in-process memo behind the session and token caches.
//! Entries carry their own expiry; when the map is full, expired entries are swept and, if it
//! is still full, it starts over (a memo may forget: the caller then asks the source again).

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

#[derive(Debug)]
pub(crate) struct ExpiringMap<V> {
    capacity: usize,
    entries: RwLock<HashMap<String, (u64, V)>>,
}

impl<V: Clone> ExpiringMap<V> {
    /// A map of at most `capacity` entries; 0 turns it off (it remembers nothing).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, (u64, V)>> {
        self.entries
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, (u64, V)>> {
        self.entries
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The value of `key` if it is still live at `now` (its expiry is after `now`).
    pub(crate) fn get(&self, key: &str, now: u64) -> Option<V> {
        if !self.enabled() {
            return None;
        }
        self.read()
            .get(key)
            .filter(|(until, _)| *until > now)
            .map(|(_, value)| value.clone())
    }

    /// Remembers `value` for `key` until `until`.
    pub(crate) fn insert(&self, key: &str, value: V, until: u64, now: u64) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.write();
        if entries.len() >= self.capacity {
            entries.retain(|_, (expiry, _)| *expiry > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key.to_owned(), (until, value));
    }

    /// Removes every entry.
    pub(crate) fn clear(&self) {
        self.write().clear();
    }

    /// Forgets `key`.
    pub(crate) fn remove(&self, key: &str) {
        if self.enabled() {
            self.write().remove(key);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::ExpiringMap;

    #[test]
    fn entries_expire_and_can_be_removed() {
        let map = ExpiringMap::new(10);
        map.insert("a", 1, 100, 0);
        assert_eq!(map.get("a", 99), Some(1));
        assert_eq!(map.get("a", 100), None);
        assert_eq!(map.get("b", 0), None);
        map.remove("a");
        assert_eq!(map.get("a", 0), None);
    }

    #[test]
    fn stays_bounded() {
        let map = ExpiringMap::new(2);
        for i in 0..5 {
            map.insert(&format!("k{i}"), (), 100, 0);
        }
        assert!(map.len() <= 2, "{}", map.len());
    }

    #[test]
    fn zero_capacity_remembers_nothing() {
        let map = ExpiringMap::new(0);
        map.insert("a", (), 100, 0);
        assert_eq!(map.get("a", 0), None);
    }
}
