//! An in-process memo of sessions recently confirmed live in the store, so a returning
//! visitor's request can skip the store read for a configured time (off by default).

use crate::util::expiring_map::ExpiringMap;

/// Past this many entries, stale ones are swept; if all are fresh, the memo starts over.
const MAX_ENTRIES: usize = 100_000;

/// Session id -> until when (ms since the epoch) it is trusted without asking the store.
#[derive(Debug)]
pub(crate) struct SessionCache {
    ttl_ms: u64,
    entries: ExpiringMap<()>,
}

impl SessionCache {
    pub(crate) fn new(ttl_ms: u64) -> Self {
        let capacity = if ttl_ms > 0 { MAX_ENTRIES } else { 0 };
        Self {
            ttl_ms,
            entries: ExpiringMap::new(capacity),
        }
    }

    /// Whether `session_id` was confirmed live less than the TTL ago.
    pub(crate) fn is_fresh(&self, session_id: &str, now: u64) -> bool {
        self.entries.get(session_id, now).is_some()
    }

    /// Records that the store just confirmed `session_id` live.
    pub(crate) fn remember(&self, session_id: &str, now: u64) {
        self.entries
            .insert(session_id, (), now.saturating_add(self.ttl_ms), now);
    }

    /// Forgets a session this process revoked, so it stops working here at once.
    pub(crate) fn forget(&self, session_id: &str) {
        self.entries.remove(session_id);
    }
}

#[cfg(test)]
mod tests {
    use super::SessionCache;

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let cache = SessionCache::new(100);
        assert!(!cache.is_fresh("s", 0));
        cache.remember("s", 0);
        assert!(cache.is_fresh("s", 99));
        assert!(!cache.is_fresh("s", 100));
        cache.remember("s", 200);
        cache.forget("s");
        assert!(!cache.is_fresh("s", 201));
    }

    #[test]
    fn a_zero_ttl_disables_it() {
        let cache = SessionCache::new(0);
        cache.remember("s", 0);
        assert!(!cache.is_fresh("s", 0));
    }
}
