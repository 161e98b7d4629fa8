//! Response headers on every answer (ASVS V3.4, 14.3.2) and the cross-origin guard on every
//! state-changing request (ASVS 3.5).

use app::events::{
    kind,
    store::{NewEvent, record},
};
use app::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use std::net::SocketAddr;

/// True when a browser says this request comes from our own pages.
pub fn is_same_origin(headers: &http::HeaderMap, public_origin: &str) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.to_str().map(|o| o.eq_ignore_ascii_case(public_origin)).unwrap_or(false);
    }
    matches!(headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()), Some("same-origin"))
}

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_change = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if is_change && !is_same_origin(req.headers(), &state.config.public_origin()) {
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let client = app::client::ClientInfo::from_parts(peer, req.headers(), &state.config.trusted_proxies);
        let path = app::client::clean_text(req.uri().path(), 200);
        record(
            &state.db,
            NewEvent {
                kind: kind::CSRF_REFUSED,
                account_id: None,
                actor_account_id: None,
                client: Some(&client),
                detail: serde_json::json!({ "path": path }),
            },
        )
        .await;
        tracing::warn!(path, ip = client.ip, "refused a state-changing request from another origin");
        let mut res = (StatusCode::FORBIDDEN, "This request did not come from this site's pages, so it was refused.").into_response();
        add_headers(&mut res, &state, false);
        return res;
    }
    let is_static = req.uri().path().starts_with("/pkg/") || req.uri().path() == "/favicon.ico";
    let mut res = next.run(req).await;
    add_headers(&mut res, &state, is_static);
    res
}

fn add_headers(res: &mut Response, state: &AppState, is_static: bool) {
    let headers = res.headers_mut();
    let set = |headers: &mut http::HeaderMap, name: header::HeaderName, value: &'static str| {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // same-origin: our own forms still get a Referer (no-JS posts return to it); links out never do.
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, http::HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(headers, http::HeaderName::from_static("cross-origin-resource-policy"), "same-origin");
    set(headers, http::HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=(), interest-cohort=()");
    // Pages set their own policy with a nonce; anything else may load nothing at all.
    set(headers, header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    if state.config.is_https() {
        set(headers, header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains");
    }
    if !is_static {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asvs_3_5_origin_must_match_or_fetch_metadata_say_same_origin() {
        let mut h = http::HeaderMap::new();
        assert!(!is_same_origin(&h, "http://localhost:3000"), "no evidence is refused");
        h.insert(header::ORIGIN, "http://localhost:3000".parse().unwrap());
        assert!(is_same_origin(&h, "http://localhost:3000"));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!is_same_origin(&h, "http://localhost:3000"));
        let mut h = http::HeaderMap::new();
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!is_same_origin(&h, "http://localhost:3000"));
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(is_same_origin(&h, "http://localhost:3000"));
    }
}
