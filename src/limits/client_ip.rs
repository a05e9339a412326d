//! The client's IP address for rate limiting: the peer address, or the `X-Forwarded-For`
//! entry added by a configured trusted proxy (never a value a client could forge); and the
//! bucket every per-address limit counts it under ([`address_bucket`]).

use std::net::{IpAddr, Ipv6Addr};

use poem::Request;

/// Networks whose `X-Forwarded-For` we believe, e.g. the Swarm ingress network.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses a comma-separated list of IPs or CIDR networks (`10.0.0.0/8, ::1`).
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (addr, bits) = match item.split_once('/') {
                Some((addr, bits)) => (addr, Some(bits)),
                None => (item, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("`{item}` is not an IP address or network"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("`{item}` has a bad prefix length"))?,
                None => max,
            };
            nets.push((addr, bits));
        }
        Ok(TrustedProxies(nets))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // A dual-stack listener sees an IPv4 proxy as `::ffff:a.b.c.d`: still that proxy.
        let ip = ip.to_canonical();
        self.0.iter().any(|(net, bits)| in_network(ip, *net, *bits))
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// The client IP of a request (see [`resolve_client_ip`]).
pub fn client_ip(req: &Request, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip())?;
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    Some(resolve_client_ip(peer, forwarded, trusted))
}

/// When the peer is a trusted proxy, the right-most `X-Forwarded-For` entry that is not
/// itself a trusted proxy (entries further left could have been forged by the client);
/// otherwise the peer.
pub fn resolve_client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &TrustedProxies,
) -> IpAddr {
    if !trusted.contains(peer) {
        return peer;
    }
    let entries: Vec<IpAddr> = forwarded_for
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect();
    entries
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(*ip))
        .unwrap_or(peer)
}

/// Bits of an IPv6 address that name the network one subscriber is given.
const IPV6_SUBSCRIBER_PREFIX: u32 = 64;

/// The key every per-address limit and cap counts `ip` under: an IPv4 address as it is, an
/// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how a dual-stack listener sees IPv4 clients)
/// as that IPv4 address, any other IPv6 address as its /64 network. A /64 is the smallest
/// block a provider hands one customer, and a host picks addresses in it at will (privacy
/// addresses, or all 2^64 of them); keyed by whole address, it would get a fresh bucket per
/// request.
pub fn address_bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::MAX << (128 - IPV6_SUBSCRIBER_PREFIX);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & network))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_share_their_64_bucket_and_ipv4_keeps_its_own() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let bucket = |s: &str| address_bucket(ip(s));
        assert_eq!(bucket("203.0.113.7"), ip("203.0.113.7"));
        assert_ne!(bucket("203.0.113.7"), bucket("203.0.113.8"));
        // IPv4 seen through a dual-stack socket is the same client as plain IPv4.
        assert_eq!(bucket("::ffff:203.0.113.7"), ip("203.0.113.7"));
        // One /64: one bucket, whatever the interface identifier.
        let home = bucket("2001:db8:1:2::1");
        assert_eq!(home, ip("2001:db8:1:2::"));
        for other in [
            "2001:db8:1:2::2",
            "2001:db8:1:2:ffff:ffff:ffff:ffff",
            "2001:db8:1:2:a1b2:c3d4:e5f6:789",
        ] {
            assert_eq!(bucket(other), home, "{other}");
        }
        // The next /64 (another subscriber) is another bucket.
        assert_ne!(bucket("2001:db8:1:3::1"), home);
        assert_ne!(bucket("2001:db8:1:2::1"), bucket("2001:db8:1:1::1"));
        assert_eq!(bucket("::1"), ip("::"));
    }

    #[test]
    fn networks_match_by_prefix() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7, ::1").expect("parses");
        assert!(trusted.contains("10.1.2.3".parse().expect("ip")));
        assert!(!trusted.contains("11.0.0.1".parse().expect("ip")));
        assert!(trusted.contains("192.168.1.7".parse().expect("ip")));
        assert!(!trusted.contains("192.168.1.8".parse().expect("ip")));
        assert!(trusted.contains("::1".parse().expect("ip")));
        assert!(trusted.contains("::ffff:10.1.2.3".parse().expect("ip")));
        assert!(!trusted.contains("::ffff:11.0.0.1".parse().expect("ip")));
        assert!(TrustedProxies::parse("0.0.0.0/0")
            .expect("parses")
            .contains("8.8.8.8".parse().expect("ip")));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("nonsense").is_err());
        assert!(TrustedProxies::parse("")
            .expect("empty is fine")
            .0
            .is_empty());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").expect("parses");
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        // A client cannot pick its own key by sending the header itself.
        assert_eq!(
            resolve_client_ip(ip("1.2.3.4"), ["9.9.9.9"].into_iter(), &trusted),
            ip("1.2.3.4")
        );
        // Through the proxy: the entry the proxy appended, not a forged one before it.
        assert_eq!(
            resolve_client_ip(ip("10.0.0.2"), ["6.6.6.6, 1.2.3.4"].into_iter(), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            resolve_client_ip(ip("10.0.0.2"), [].into_iter(), &trusted),
            ip("10.0.0.2")
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(raw in "[0-9a-f:./, ]{0,60}|\\PC{0,40}") {
            let _ = TrustedProxies::parse(&raw);
        }
    }
}
