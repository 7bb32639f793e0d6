//! An in-process memo of sessions recently confirmed live in the store, so a returning
//! visitor's request can skip the store read.
//!
//! Two kinds. A memo with a plain TTL (`session_cache_ttl`) trusts each entry for that long,
//! so a session revoked on another app instance lives on here until its entry expires. A
//! memo kept current by the store's revocation feed (RedisStore and PostgresStore announce
//! every revocation to every instance) drops an entry as soon as its revocation arrives, and is
//! trusted only while the feed is connected: while it is down or reconnecting every request
//! asks the store, and it starts empty when the feed is back, so no revocation is missed.
//!
//! A store read that began before a revocation arrived must not be remembered after it (its
//! answer may predate the revocation): each revocation bumps an epoch, and an entry is kept
//! only if the epoch did not move between the read's start and the entry's insertion.

use crate::store::fast_path::RevocationListener;
use crate::util::expiring_map::ExpiringMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Past this many entries, stale ones are swept; if all are fresh, the memo starts over.
const MAX_ENTRIES: usize = 100_000;

/// Session id -> until when (ms since the epoch) it is trusted without asking the store.
#[derive(Debug)]
pub(crate) struct SessionCache {
    ttl_ms: u64,
    entries: ExpiringMap<()>,
    /// Whether entries vouch for sessions: always for a TTL memo; for a fed one, only while
    /// its feed is connected.
    trusted: AtomicBool,
    /// Bumped by every revocation and flush.
    epoch: AtomicU64,
}

impl SessionCache {
    /// A memo whose entries live `ttl_ms` (0: off). `fed`: a revocation feed keeps it
    /// current, and it is not trusted until the feed says it is connected.
    pub(crate) fn new(ttl_ms: u64, fed: bool) -> Self {
        let capacity = if ttl_ms > 0 { MAX_ENTRIES } else { 0 };
        Self {
            ttl_ms,
            entries: ExpiringMap::new(capacity),
            trusted: AtomicBool::new(!fed),
            epoch: AtomicU64::new(0),
        }
    }

    /// Whether `session_id` may be taken as live without asking the store.
    pub(crate) fn is_fresh(&self, session_id: &str, now: u64) -> bool {
        self.trusted.load(Ordering::Acquire) && self.entries.get(session_id, now).is_some()
    }

    /// The epoch to give [`remember`](Self::remember) for a store read starting now.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Records that the store confirmed `session_id` live, in a read that started at
    /// `epoch`. Inserted, then dropped again if a revocation came in meanwhile: a revocation
    /// bumps the epoch before it removes, so one of the two always sees the other.
    pub(crate) fn remember(&self, session_id: &str, now: u64, epoch: u64) {
        if !self.trusted.load(Ordering::Acquire) || self.epoch() != epoch {
            return;
        }
        self.entries
            .insert(session_id, (), now.saturating_add(self.ttl_ms), now);
        if self.epoch() != epoch {
            self.entries.remove(session_id);
        }
    }

    /// Forgets a revoked session, here at once (and, fed by the store, on every instance
    /// when its revocation arrives).
    pub(crate) fn forget(&self, session_id: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.remove(session_id);
    }

    /// The feed connected (`true`, after a flush) or lost its connection (`false`, then a
    /// flush): revocations may have been missed, so nothing remembered before counts.
    pub(crate) fn set_trusted(&self, trusted: bool) {
        if !trusted {
            self.trusted.store(false, Ordering::Release);
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
        if trusted {
            self.trusted.store(true, Ordering::Release);
        }
    }
}

impl RevocationListener for SessionCache {
    fn revoked(&self, session_id: &str) {
        self.forget(session_id);
    }

    fn feed_connected(&self, connected: bool) {
        self.set_trusted(connected);
    }
}

#[cfg(test)]
mod tests {
    use super::SessionCache;

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let cache = SessionCache::new(100, false);
        assert!(!cache.is_fresh("s", 0));
        cache.remember("s", 0, cache.epoch());
        assert!(cache.is_fresh("s", 99));
        assert!(!cache.is_fresh("s", 100));
        cache.remember("s", 200, cache.epoch());
        cache.forget("s");
        assert!(!cache.is_fresh("s", 201));
    }

    #[test]
    fn a_zero_ttl_disables_it() {
        let cache = SessionCache::new(0, false);
        cache.remember("s", 0, cache.epoch());
        assert!(!cache.is_fresh("s", 0));
    }

    #[test]
    fn a_read_that_began_before_a_revocation_is_not_remembered() {
        let cache = SessionCache::new(1_000, false);
        let epoch = cache.epoch();
        cache.forget("other");
        cache.remember("s", 0, epoch);
        assert!(
            !cache.is_fresh("s", 1),
            "its answer may predate the revocation"
        );
        cache.remember("s", 0, cache.epoch());
        assert!(cache.is_fresh("s", 1));
    }

    #[test]
    fn a_fed_memo_is_trusted_only_while_its_feed_is_connected() {
        let cache = SessionCache::new(1_000, true);
        cache.remember("s", 0, cache.epoch());
        assert!(!cache.is_fresh("s", 1), "not before the feed connects");
        cache.set_trusted(true);
        cache.remember("s", 0, cache.epoch());
        assert!(cache.is_fresh("s", 1));
        cache.set_trusted(false);
        assert!(!cache.is_fresh("s", 1));
        cache.set_trusted(true);
        assert!(!cache.is_fresh("s", 1), "flushed on reconnect");
    }
}
