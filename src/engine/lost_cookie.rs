//! Noticing that browsers do not keep the auth cookie, from the requests that mint. A client
//! that never sends the cookie back gets a new guest on every request, which an app sees only
//! as carts that empty themselves. Two signs are logged, once each per layer: a `Secure`
//! cookie set on a request that came over plain http to a host that is not localhost, and
//! one client (address and user agent) given five guests within a minute.

use super::{AuthEngine, Warnings};
use crate::request::plain_http::plain_http_host;
use http::{header, HeaderMap, Uri};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::PoisonError;

/// Guests minted for one client within [`WINDOW_MS`] before the layer warns.
const REPEATS: u32 = 5;
const WINDOW_MS: u64 = 60_000;
/// Clients remembered at once: enough to see one client repeat among many new visitors,
/// small enough that a flood of new visitors costs a bounded amount of memory.
const CLIENTS: usize = 4096;

/// Recent mints per client, keyed by a hash of its address and user agent.
#[derive(Default)]
pub(super) struct RecentMints {
    hasher: RandomState,
    clients: HashMap<u64, (u64, u32)>,
}

impl RecentMints {
    /// Counts a mint for `client` at `now` (ms); `true` when it is the client's
    /// [`REPEATS`]-th within one window.
    fn count(&mut self, client: (IpAddr, &[u8]), now: u64) -> bool {
        let key = self.hasher.hash_one(client);
        if self.clients.len() >= CLIENTS && !self.clients.contains_key(&key) {
            self.clients
                .retain(|_, (since, _)| now.saturating_sub(*since) < WINDOW_MS);
            if self.clients.len() >= CLIENTS {
                // All are recent: start over rather than grow.
                self.clients.clear();
            }
        }
        let (since, count) = self.clients.entry(key).or_insert((now, 0));
        if now.saturating_sub(*since) >= WINDOW_MS {
            (*since, *count) = (now, 0);
        }
        *count += 1;
        *count == REPEATS
    }
}

impl AuthEngine {
    /// Looks at a request the layer just minted a guest for, and warns (once per layer) when
    /// its browser will probably not keep the cookie.
    pub(crate) fn watch_minted_cookie(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        client_ip: Option<IpAddr>,
        now: u64,
    ) {
        let warned = &self.warned;
        if self.config.cookie.secure && !warned.plain_http.load(Ordering::Relaxed) {
            if let Some((host, sign)) = plain_http_host(uri, headers) {
                if Warnings::first(&warned.plain_http) {
                    tracing::warn!(
                        host,
                        evidence = sign.describe(),
                        "the auth cookie is Secure but this request came over plain http, so \
                         browsers drop the cookie and every request becomes a new guest: serve \
                         the site over https, or call `.secure(false)` for plain-http development"
                    );
                }
            }
        }
        if warned.lost_cookie.load(Ordering::Relaxed) {
            return;
        }
        // Without an address, every client with the same browser would count as one.
        let Some(ip) = client_ip else { return };
        let user_agent = headers
            .get(header::USER_AGENT)
            .map_or(&[][..], |value| value.as_bytes());
        let repeated = warned
            .recent_mints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .count((ip, user_agent), now);
        if repeated && Warnings::first(&warned.lost_cookie) {
            tracing::warn!(
                %ip,
                user_agent = %String::from_utf8_lossy(user_agent),
                "one client was given {REPEATS} guests within a minute: it does not send the auth \
                 cookie back. Check that the cookie's Secure, Domain, Path and SameSite fit how \
                 the site is served, and that the client keeps cookies. Many people sharing one \
                 address (NAT) with the same browser can also cause this warning"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));

    #[test]
    fn the_fifth_mint_within_a_minute_is_the_one_that_counts() {
        let mut recent = RecentMints::default();
        let counted: Vec<bool> = (0..7)
            .map(|i| recent.count((IP, b"Firefox"), i * 1000))
            .collect();
        assert_eq!(counted, [false, false, false, false, true, false, false]);
        // Another browser at the same address is another client.
        assert!(!recent.count((IP, b"Chrome"), 7000));
    }

    #[test]
    fn mints_spread_over_more_than_a_minute_do_not_count() {
        let mut recent = RecentMints::default();
        for i in 0..20 {
            assert!(!recent.count((IP, b"Firefox"), i * 16_000), "mint {i}");
        }
    }

    #[test]
    fn many_clients_are_remembered_in_bounded_memory() {
        let mut recent = RecentMints::default();
        for i in 0..(3 * CLIENTS as u32) {
            let ip = IpAddr::V4(Ipv4Addr::from(i));
            recent.count((ip, b"bot"), u64::from(i));
            assert!(recent.clients.len() <= CLIENTS);
        }
    }
}
