//! A bounded in-process memo of tokens whose signature this process already verified, so a
//! returning visitor's token is checked once rather than on every request.
//!
//! Entries are keyed by the exact token string (a forged token can only hit if it is
//! byte-identical to a verified one, i.e. not forged) and are dropped at the token's `exp`.
//! Session revocation is checked separately, so the memo never keeps a revoked session alive.

use crate::expiring_map::ExpiringMap;
use crate::token::Claims;

#[derive(Debug)]
pub(crate) struct TokenCache {
    entries: ExpiringMap<Claims>,
}

impl TokenCache {
    /// A memo of at most `capacity` tokens (0: off).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: ExpiringMap::new(capacity),
        }
    }

    /// The claims of a token verified before and not yet expired at `now_secs`.
    pub(crate) fn get(&self, token: &str, now_secs: u64) -> Option<Claims> {
        self.entries.get(token, now_secs)
    }

    /// Remembers a token that just verified, until its `exp`.
    pub(crate) fn insert(&self, token: &str, claims: &Claims, now_secs: u64) {
        self.entries
            .insert(token, claims.clone(), claims.exp, now_secs);
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
    fn zero_capacity_disables_it() {
        let cache = TokenCache::new(0);
        cache.insert("t", &claims(100), 0);
        assert!(cache.get("t", 0).is_none());
    }
}
