//! Rate limits per client IP (minting guests, password attempts) and per email: their
//! configuration, client IP resolution (trusting forwarded headers only from configured
//! proxies), and the GCRA arithmetic the stores share.

use http::{Extensions, HeaderMap};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// How many times one client (an IP, or for password attempts an email) may do a thing: a
/// burst, then a steady rate (a token bucket, computed as GCRA). IPv6 clients are counted
/// per /64.
///
/// ```
/// use tower_anonymous_auth::RateLimit;
/// let limit = RateLimit::new(20, 60);
/// assert_eq!(limit.burst, 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Attempts allowed at once from a fresh client.
    pub burst: u32,
    /// Attempts per minute after the burst is spent.
    pub per_minute: u32,
}

impl RateLimit {
    /// A limit of `burst` at once and `per_minute` afterwards (both at least 1).
    ///
    /// ```
    /// let limit = tower_anonymous_auth::RateLimit::new(0, 0);
    /// assert_eq!((limit.burst, limit.per_minute), (1, 1));
    /// ```
    pub fn new(burst: u32, per_minute: u32) -> Self {
        Self {
            burst: burst.max(1),
            per_minute: per_minute.max(1),
        }
    }

    /// Milliseconds between two attempts at the steady rate.
    pub(crate) fn interval_ms(&self) -> u64 {
        60_000 / u64::from(self.per_minute.max(1))
    }

    /// How far ahead of now the arrival time may run: room for `burst - 1` extra attempts.
    pub(crate) fn tolerance_ms(&self) -> u64 {
        self.interval_ms()
            .saturating_mul(u64::from(self.burst.max(1)) - 1)
    }

    /// Applies one request at `now` to the stored theoretical arrival time `tat` (GCRA).
    /// Returns the decision and, when allowed, the new `tat` to store (it can expire at `tat`).
    ///
    /// ```
    /// use tower_anonymous_auth::{RateLimit, RateDecision};
    /// let limit = RateLimit::new(2, 60);
    /// let (first, tat) = limit.apply(None, 0);
    /// let (second, tat) = limit.apply(tat, 0);
    /// let (third, _) = limit.apply(tat, 0);
    /// assert_eq!((first, second), (RateDecision::Allowed, RateDecision::Allowed));
    /// assert_eq!(third, RateDecision::Limited { retry_after_ms: 1_000 });
    /// ```
    pub fn apply(&self, tat: Option<u64>, now: u64) -> (RateDecision, Option<u64>) {
        let interval = self.interval_ms();
        let tolerance = self.tolerance_ms();
        let tat = tat.unwrap_or(now).max(now);
        let allow_at = tat.saturating_sub(tolerance);
        if now < allow_at {
            return (
                RateDecision::Limited {
                    retry_after_ms: allow_at - now,
                },
                None,
            );
        }
        (RateDecision::Allowed, Some(tat.saturating_add(interval)))
    }
}

impl Default for RateLimit {
    /// 60 at once, then 60 per minute per IP.
    fn default() -> Self {
        Self::new(60, 60)
    }
}

/// What a rate-limit check decided.
///
/// ```
/// use tower_anonymous_auth::RateDecision;
/// assert!(RateDecision::Allowed.is_allowed());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Go ahead.
    Allowed,
    /// Over the limit; retry after this many milliseconds.
    Limited {
        /// Milliseconds until the next attempt is allowed.
        retry_after_ms: u64,
    },
}

impl RateDecision {
    /// `true` for [`RateDecision::Allowed`].
    ///
    /// ```
    /// # use tower_anonymous_auth::RateDecision;
    /// assert!(!RateDecision::Limited { retry_after_ms: 5 }.is_allowed());
    /// ```
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed)
    }
}

/// The peer address of a connection, for servers that are not axum: insert it in each
/// request's extensions (axum's `ConnectInfo<SocketAddr>` is read too).
///
/// ```
/// use tower_anonymous_auth::PeerAddr;
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(PeerAddr("127.0.0.1:5000".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The peer IP of a request, from [`PeerAddr`] or axum's `ConnectInfo`.
fn peer_ip(extensions: &Extensions) -> Option<IpAddr> {
    if let Some(PeerAddr(addr)) = extensions.get::<PeerAddr>() {
        return Some(addr.ip());
    }
    #[cfg(feature = "axum")]
    if let Some(info) = extensions.get::<axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(info.0.ip());
    }
    None
}

/// The client IP: the peer, or — only when the peer is a trusted proxy — the rightmost
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub(crate) fn client_ip(
    extensions: &Extensions,
    headers: &HeaderMap,
    trusted_proxies: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer_ip(extensions)?;
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(value) = value.to_str() else {
            return Some(client);
        };
        for entry in value.rsplit(',') {
            let Some(ip) = parse_forwarded_ip(entry.trim()) else {
                return Some(client);
            };
            client = ip;
            if !trusted(&ip) {
                return Some(client);
            }
        }
    }
    Some(client)
}

/// Whether `ip` is one a reverse proxy on the same host or network would have (loopback,
/// private, link-local, unique local): as the peer of every request, all visitors would
/// share its rate-limit bucket.
pub(crate) fn is_shared_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_shared_address(IpAddr::V4(v4)))
        }
    }
}

/// Parses `1.2.3.4`, `1.2.3.4:80`, `::1` or `[::1]:80`.
fn parse_forwarded_ip(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

/// The rate-limit bucket of a client: its IPv4 address, or its IPv6 /64 (one household or
/// host gets a whole /64, so counting addresses inside it would count nothing).
pub(crate) fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn request(peer: &str, forwarded: &[&'static str]) -> (Extensions, HeaderMap) {
        let mut extensions = Extensions::new();
        extensions.insert(PeerAddr(peer.parse().unwrap()));
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_static(value));
        }
        (extensions, headers)
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn forwarded_headers_are_ignored_unless_the_peer_is_trusted() {
        let (ext, headers) = request("203.0.113.9:4000", &["1.1.1.1"]);
        assert_eq!(
            client_ip(&ext, &headers, &[]),
            Some("203.0.113.9".parse().unwrap())
        );
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(&ext, &headers, &trusted),
            Some("203.0.113.9".parse().unwrap())
        );
    }

    #[test]
    fn the_rightmost_untrusted_forwarded_entry_wins() {
        let trusted = nets(&["10.0.0.0/8"]);
        let (ext, headers) = request("10.0.0.2:4000", &["6.6.6.6, 198.51.100.7, 10.0.0.5"]);
        assert_eq!(
            client_ip(&ext, &headers, &trusted),
            Some("198.51.100.7".parse().unwrap()),
            "a client cannot spoof by prepending entries"
        );
        let (ext, headers) = request("10.0.0.2:4000", &["garbage, 10.0.0.9"]);
        assert_eq!(
            client_ip(&ext, &headers, &trusted),
            Some("10.0.0.9".parse().unwrap())
        );
        let (ext, headers) = request("10.0.0.2:4000", &["[2001:db8::1]:443"]);
        assert_eq!(
            client_ip(&ext, &headers, &trusted),
            Some("2001:db8::1".parse().unwrap())
        );
    }

    #[test]
    fn no_peer_means_no_ip() {
        assert_eq!(client_ip(&Extensions::new(), &HeaderMap::new(), &[]), None);
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        assert_eq!(
            client_key("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            client_key("2001:db8:1:2:ffff::1".parse().unwrap())
        );
        assert_eq!(client_key("::ffff:1.2.3.4".parse().unwrap()), "1.2.3.4");
    }

    #[test]
    fn gcra_allows_a_burst_then_the_steady_rate() {
        let limit = RateLimit::new(3, 60);
        let mut tat = None;
        for _ in 0..3 {
            let (decision, next) = limit.apply(tat, 10_000);
            assert!(decision.is_allowed());
            tat = next;
        }
        let (decision, _) = limit.apply(tat, 10_000);
        assert_eq!(
            decision,
            RateDecision::Limited {
                retry_after_ms: 1_000
            }
        );
        let (decision, _) = limit.apply(tat, 11_000);
        assert!(decision.is_allowed());
    }
}
