//! Who is on the other end of a request: client IP (from `X-Forwarded-For` only when the peer
//! is a configured trusted proxy, ASVS 4.1.3) and the user agent, cut to a safe length and
//! stripped of control characters so it cannot forge log lines (ASVS 16.4.1).

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

pub const USER_AGENT_MAX: usize = 256;

impl ClientInfo {
    pub fn from_parts(peer: Option<SocketAddr>, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> ClientInfo {
        let peer_ip = peer.map(|p| p.ip());
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next_back())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        let ip = match (peer_ip, forwarded) {
            (Some(peer), Some(fwd)) if trusted_proxies.contains(&peer) => Some(fwd),
            (peer, _) => peer,
        };
        let user_agent = headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
        ClientInfo { ip: ip.map(|ip| ip.to_string()).unwrap_or_default(), user_agent: clean_text(user_agent, USER_AGENT_MAX) }
    }
}

/// Drops control characters and cuts to `max` characters.
pub fn clean_text(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// The client of the request being served by a server function.
#[cfg(feature = "ssr")]
pub async fn current() -> ClientInfo {
    use axum::extract::ConnectInfo;
    let trusted = leptos::prelude::use_context::<crate::state::AppState>().map(|s| s.config.trusted_proxies.clone()).unwrap_or_default();
    let headers: HeaderMap = leptos_axum::extract().await.unwrap_or_default();
    let peer = leptos_axum::extract::<ConnectInfo<SocketAddr>>().await.ok().map(|c| c.0);
    ClientInfo::from_parts(peer, &headers, &trusted)
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

    #[test]
    fn asvs_16_4_1_user_agent_cannot_inject_lines() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::USER_AGENT, "evil\tagent".parse().unwrap());
        let info = ClientInfo::from_parts(None, &headers, &[]);
        assert_eq!(info.user_agent, "evilagent");
        assert_eq!(clean_text(&"a".repeat(1000), USER_AGENT_MAX).len(), USER_AGENT_MAX);
    }
}
