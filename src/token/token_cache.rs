//! A bounded in-process memo of tokens whose signature this process already verified, so a
//! returning visitor's token is checked once rather than on every request.
//!
//! Entries hold the verified [`Auth`] (shared, so a hit copies no strings) and are keyed by the
//! token's signature segment, which is short and unique per token; a hit also compares the
//! whole token, so a forged token can only hit if it is byte-identical to a verified one (i.e.
//! not forged). Entries are dropped at the token's `exp`. Session revocation is checked
//! separately, so the memo never keeps a revoked session alive.

use crate::token::auth::Auth;
use crate::util::expiring_map::ExpiringMap;

#[derive(Debug)]
pub(crate) struct TokenCache {
    entries: ExpiringMap<Auth>,
}

/// The key of a token: its last `.`-separated segment (the signature of a JWS).
fn key(token: &str) -> &str {
    token.rsplit('.').next().unwrap_or(token)
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: ExpiringMap::new(capacity),
        }
    }

    /// The verified auth of exactly this token, unless it expired by `now_secs`.
    pub(crate) fn get(&self, token: &str, now_secs: u64) -> Option<Auth> {
        self.entries
            .get(key(token), now_secs)
            .filter(|auth| auth.token() == token)
    }

    /// Remembers `auth` (built from its verified `auth.token()`) until it expires.
    pub(crate) fn insert(&self, auth: &Auth, now_secs: u64) {
        self.entries
            .insert(key(auth.token()), auth.clone(), auth.expires_at(), now_secs);
    }
}

#[cfg(test)]
mod tests {
    use super::TokenCache;
    use crate::token::auth::Auth;
    use crate::token::Claims;

    fn auth(token: &str, exp: u64) -> Auth {
        let claims = Claims {
            sub: "u".into(),
            exp,
            ..Claims::default()
        };
        Auth::from_claims(claims, token.into(), false)
    }

    #[test]
    fn hits_only_the_exact_token_until_it_expires() {
        let cache = TokenCache::new(10);
        cache.insert(&auth("a.b.c", 100), 0);
        assert_eq!(
            cache.get("a.b.c", 99).map(|a| a.user().id.clone()),
            Some("u".into())
        );
        assert!(cache.get("a.b.d", 99).is_none());
        // Same signature segment, different token: no hit.
        assert!(cache.get("x.b.c", 99).is_none());
        assert!(cache.get("a.b.c", 100).is_none());
    }

    #[test]
    fn zero_capacity_disables_it() {
        let cache = TokenCache::new(0);
        cache.insert(&auth("t", 100), 0);
        assert!(cache.get("t", 0).is_none());
    }
}
