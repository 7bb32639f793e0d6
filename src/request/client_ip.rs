//! Who the client of a request is: its IP address (the socket peer, or a forwarded address
//! only when the peer is a trusted proxy), and the bucket that address counts in.

use http::{Extensions, HeaderMap};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

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
}
