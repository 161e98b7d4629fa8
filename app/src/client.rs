//! Who is on the other end of a request: client IP (from `X-Forwarded-For` only when the peer
//! is a configured trusted proxy, ASVS 4.1.3) and the user agent, cut to a safe length and
//! stripped of control characters so it cannot forge log lines (ASVS 16.4.1).
//!
//! Throttles key a client by its [`ClientInfo::network`]: an IPv4 address, or the /64 of an IPv6
//! one (one subscriber's prefix: an attacker changes the last 64 bits for free).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use http::HeaderMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

pub const USER_AGENT_MAX: usize = 256;

/// `::ffff:192.0.2.1` is the IPv4 client 192.0.2.1 (a dual-stack socket's view of it).
pub fn folded(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The client behind `peer`: the right-most address of `X-Forwarded-For`, read across every
/// header line, that is not one of the trusted proxies; only trusted hops may add to it.
fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|t| folded(*t) == *ip);
    let mut client = peer;
    if !trusted(&client) {
        return client;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .collect();
    for hop in hops.iter().rev() {
        // A hop we cannot read ends the chain: the last trusted proxy is all we know.
        let Ok(ip) = hop.parse::<IpAddr>().map(folded) else { break };
        client = ip;
        if !trusted(&ip) {
            break;
        }
    }
    client
}

impl ClientInfo {
    pub fn from_parts(peer: Option<SocketAddr>, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> ClientInfo {
        let ip = peer.map(|p| client_ip(folded(p.ip()), headers, trusted_proxies));
        let user_agent = headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
        ClientInfo { ip: ip.map(|ip| ip.to_string()).unwrap_or_default(), user_agent: clean_text(user_agent, USER_AGENT_MAX) }
    }

    /// The client's network as throttles key it: the IPv4 address, or the IPv6 /64.
    pub fn network(&self) -> String {
        network_of(&self.ip)
    }
}

/// The network of the client at `ip`: the IPv4 address itself, or the /64 of an IPv6 one.
pub fn network_of(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        Ok(v4) => v4.to_string(),
        Err(_) => ip.to_string(),
    }
}

/// Drops control characters and cuts to `max` characters.
pub fn clean_text(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asvs_4_1_3_forwarded_for_only_from_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        let peer: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        assert_eq!(ClientInfo::from_parts(Some(peer), &headers, &[]).ip, "10.0.0.2");
        let trusted = ["10.0.0.2".parse().unwrap()];
        assert_eq!(ClientInfo::from_parts(Some(peer), &headers, &trusted).ip, "203.0.113.9");
    }

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", line.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_right_most_untrusted_forwarded_address_across_every_line_is_the_client() {
        let peer: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let proxies: Vec<IpAddr> = ["10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap()].to_vec();
        // The client may write anything left of what the proxies add: the forged first line and
        // the forged left entries are ignored.
        let headers = forwarded(&["6.6.6.6", "7.7.7.7, 203.0.113.9", "10.0.0.3"]);
        assert_eq!(ClientInfo::from_parts(Some(peer), &headers, &proxies).ip, "203.0.113.9");
        // Every hop trusted: the left-most is the client.
        assert_eq!(ClientInfo::from_parts(Some(peer), &forwarded(&["10.0.0.3"]), &proxies).ip, "10.0.0.3");
        // An unreadable hop ends the chain at the last proxy that is known.
        assert_eq!(ClientInfo::from_parts(Some(peer), &forwarded(&["203.0.113.9, junk"]), &proxies).ip, "10.0.0.2");
        // An untrusted peer's header is not read at all.
        let stranger: SocketAddr = "198.51.100.1:5000".parse().unwrap();
        assert_eq!(ClientInfo::from_parts(Some(stranger), &headers, &proxies).ip, "198.51.100.1");
    }

    #[test]
    fn ipv6_clients_are_throttled_by_their_64_and_mapped_ipv4_is_ipv4() {
        let info = |peer: &str| ClientInfo::from_parts(Some(peer.parse().unwrap()), &HeaderMap::new(), &[]);
        let a = info("[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:443");
        let b = info("[2001:db8:1:2::1]:443");
        assert_eq!(a.network(), "2001:db8:1:2::/64");
        assert_eq!(a.network(), b.network());
        assert_ne!(a.network(), info("[2001:db8:1:3::1]:443").network());
        let mapped = info("[::ffff:192.0.2.7]:443");
        assert_eq!(mapped.ip, "192.0.2.7");
        assert_eq!(mapped.network(), "192.0.2.7");
        assert_eq!(info("192.0.2.7:443").network(), "192.0.2.7");
    }

    #[test]
    fn asvs_16_4_1_user_agent_cannot_inject_lines() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::USER_AGENT, "evil\tagent".parse().unwrap());
        let info = ClientInfo::from_parts(None, &headers, &[]);
        assert_eq!(info.user_agent, "evilagent");
        assert_eq!(clean_text(&"a".repeat(1000), USER_AGENT_MAX).len(), USER_AGENT_MAX);
    }
}
