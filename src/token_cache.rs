//! A bounded in-process memo of tokens whose signature this process already verified, so a
//! returning visitor's token is checked once rather than on every request.
//!
//! Entries are keyed by the exact token string (a forged token can only hit if it is
//! byte-identical to a verified one, i.e. not forged) and are dropped at the token's `exp`.
//! Session revocation is checked separately, so the memo never keeps a revoked session alive.

use crate::token::Claims;
use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Debug)]
pub(crate) struct TokenCache {
    capacity: usize,
    entries: RwLock<HashMap<String, Claims>>,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The claims of a token verified before and not yet expired at `now_secs`.
    pub(crate) fn get(&self, token: &str, now_secs: u64) -> Option<Claims> {
        if self.capacity == 0 {
            return None;
        }
        self.entries
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(token)
            .filter(|claims| claims.exp > now_secs)
            .cloned()
    }

    /// Remembers a token that just verified.
    pub(crate) fn insert(&self, token: &str, claims: &Claims, now_secs: u64) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, claims| claims.exp > now_secs);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(token.to_owned(), claims.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::TokenCache;
    use crate::token::Claims;

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "u".into(),
            exp,
            ..Claims::default()
        }
    }

    #[test]
    fn hits_only_the_exact_token_until_it_expires() {
        let cache = TokenCache::new(10);
        cache.insert("a.b.c", &claims(100), 0);
        assert_eq!(cache.get("a.b.c", 99).map(|c| c.sub), Some("u".into()));
        assert!(cache.get("a.b.d", 99).is_none());
        assert!(cache.get("a.b.c", 100).is_none());
    }

    #[test]
    fn stays_bounded() {
        let cache = TokenCache::new(2);
        for i in 0..5 {
            cache.insert(&format!("t{i}"), &claims(100), 0);
        }
        let size = cache.entries.read().unwrap().len();
        assert!(size <= 2, "{size}");
    }

    #[test]
    fn zero_capacity_disables_it() {
        let cache = TokenCache::new(0);
        cache.insert("t", &claims(100), 0);
        assert!(cache.get("t", 0).is_none());
    }
}
