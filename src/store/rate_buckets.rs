//! [`RateBuckets`]: `MemoryStore`'s rate-limit buckets, expired in order of expiry and capped.
//!
//! A bucket is the GCRA "theoretical arrival time" of one key (see
//! [`RateLimit::apply`]); once that time has passed the bucket is full again, so
//! forgetting it changes nothing. The buckets are also kept ordered by that time, so each
//! check forgets the ones that ran out without looking at the others: a check costs
//! O(log n), however many clients minted lately, where a sweep of the whole map would grow with
//! every address of a flood (`cargo bench --bench rate_limit` measures both; figures in
//! benches/README.md). A hard cap bounds the
//! memory a flood of new addresses can take: past it, the bucket closest to running out is
//! forgotten first.

use crate::rate_limit::{RateDecision, RateLimit};
use std::collections::{BTreeSet, HashMap};

/// The most buckets kept at once (about 100 bytes each).
pub(crate) const MAX_BUCKETS: usize = 100_000;

#[derive(Debug)]
pub(crate) struct RateBuckets {
    /// Each key's arrival time (ms).
    tats: HashMap<String, u64>,
    /// The same, ordered by arrival time: the next to run out first.
    by_expiry: BTreeSet<(u64, String)>,
    cap: usize,
}

impl Default for RateBuckets {
    fn default() -> Self {
        Self::with_cap(MAX_BUCKETS)
    }
}

impl RateBuckets {
    pub(crate) fn with_cap(cap: usize) -> Self {
        Self {
            tats: HashMap::new(),
            by_expiry: BTreeSet::new(),
            cap: cap.max(1),
        }
    }

    /// Counts one event against bucket `key` at `now` (ms).
    pub(crate) fn check(&mut self, key: &str, limit: RateLimit, now: u64) -> RateDecision {
        self.forget_full(now);
        let current = self.tats.get(key).copied();
        let (decision, tat) = limit.apply(current, now);
        if let Some(tat) = tat {
            match current {
                Some(old) => {
                    self.by_expiry.remove(&(old, key.to_owned()));
                }
                None if self.tats.len() >= self.cap => self.forget_soonest(),
                None => {}
            }
            self.tats.insert(key.to_owned(), tat);
            self.by_expiry.insert((tat, key.to_owned()));
        }
        decision
    }

    /// Forgets the buckets whose arrival time has passed (full again).
    fn forget_full(&mut self, now: u64) {
        while self.by_expiry.first().is_some_and(|(tat, _)| *tat <= now) {
            self.forget_soonest();
        }
    }

    fn forget_soonest(&mut self) {
        if let Some((_, key)) = self.by_expiry.pop_first() {
            self.tats.remove(&key);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.tats.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_expire_in_order_and_decide_as_gcra() {
        let limit = RateLimit::new(2, 60);
        let mut buckets = RateBuckets::default();
        assert!(buckets.check("a", limit, 0).is_allowed());
        assert!(buckets.check("a", limit, 0).is_allowed());
        assert!(!buckets.check("a", limit, 0).is_allowed(), "burst of two");
        assert!(buckets.check("b", limit, 500).is_allowed());
        assert_eq!(buckets.len(), 2);
        // a's arrival time is 2 s, b's 1.5 s: at 1.6 s only b is full again, and forgotten.
        assert!(buckets.check("c", limit, 1_600).is_allowed());
        assert_eq!(buckets.len(), 2, "b forgotten, c added");
        assert!(buckets.tats.contains_key("a") && !buckets.tats.contains_key("b"));
        assert!(buckets.check("d", limit, 10_000).is_allowed());
        assert_eq!(buckets.len(), 1, "everything ran out but the new one");
    }

    #[test]
    fn the_cap_holds_under_a_flood_of_new_keys() {
        let limit = RateLimit::new(1, 1);
        let mut buckets = RateBuckets::with_cap(100);
        for i in 0..1_000 {
            assert!(buckets.check(&format!("ip:{i}"), limit, i).is_allowed());
            assert!(buckets.len() <= 100);
            assert_eq!(buckets.by_expiry.len(), buckets.len());
        }
        // The newest are kept: the ones furthest from running out.
        assert!(!buckets.check("ip:999", limit, 1_000).is_allowed());
    }
}
