//! Response headers on every answer (ASVS V3.4, 14.3.2), the cross-origin guard on every
//! state-changing request (ASVS 3.5), and [`crate::nul_guard`] on every request to the site.

use app::events::{kind, store::NewEvent};
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
        let event = NewEvent {
            kind: kind::CSRF_REFUSED,
            account_id: None,
            actor_account_id: None,
            client: Some(&client),
            detail: serde_json::json!({ "path": path }),
        };
        app::events::record_anonymous_refusal(&state.db, &state.metrics.refusals_unrecorded, event, state.clock.now()).await;
        tracing::warn!(path, ip = client.ip, "refused a state-changing request from another origin");
        let res = (StatusCode::FORBIDDEN, "This request did not come from this site's pages, so it was refused.").into_response();
        return refused(res, &state);
    }
    let mut req = match crate::nul_guard::screen(req).await {
        Ok(req) => req,
        Err(res) => return refused(res, &state),
    };
    let path = req.uri().path().to_owned();
    // Minted here, not while the page renders: the header below and the page's scripts
    // (app::provide_page_nonce) then always carry the same one.
    let nonce = leptos::nonce::Nonce::new().to_string();
    req.extensions_mut().insert(app::PageNonce(nonce.clone()));
    let mut res = next.run(req).await;
    if is_html(&res) {
        if let Ok(policy) = HeaderValue::from_str(&app::content_security_policy(&nonce)) {
            res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    let found = matches!(res.status(), StatusCode::OK | StatusCode::NOT_MODIFIED | StatusCode::PARTIAL_CONTENT);
    let cache = if found { cache_control(&path) } else { NO_STORE };
    res.headers_mut().entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static(cache));
    if cache != NO_STORE {
        // The same file goes out as brotli, gzip or plain: a shared cache must keep them apart.
        res.headers_mut().entry(header::VARY).or_insert(HeaderValue::from_static("accept-encoding"));
    }
    add_headers(&mut res, &state);
    res
}

const NO_STORE: &str = "no-store";

pub(crate) fn is_html(res: &Response) -> bool {
    res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html"))
}

/// A request the guard answers itself: never stored, with the usual headers.
fn refused(mut res: Response, state: &AppState) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    add_headers(&mut res, state);
    res
}

/// How long browsers may keep a response to `path`. Bundle files named after their content
/// (`/pkg/mast.<hash>.wasm`, Cargo.toml `hash-files`) never change: a year, without asking
/// again. Other static files are checked with the server on each use (Last-Modified), so a
/// new release is seen at once. Everything else, pages and API answers included, is not
/// stored at all (ASVS 14.3.2). Only for answers that were found: a 404 for a bundle file
/// another instance has not got yet must not stick.
fn cache_control(path: &str) -> &'static str {
    if let Some(file) = path.strip_prefix("/pkg/") {
        let named_after_content = !file.contains('/') && file.split('.').count() >= 3;
        if named_after_content { "public, max-age=31536000, immutable" } else { "no-cache" }
    } else if path == "/favicon.svg" {
        "public, max-age=86400"
    } else {
        NO_STORE
    }
}

fn add_headers(res: &mut Response, state: &AppState) {
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
    // Pages have their policy with this response's nonce (above); anything else may load nothing.
    set(headers, header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    if state.config.is_https() {
        set(headers, header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_files_named_after_their_content_are_kept_a_year_pages_never() {
        let year = "public, max-age=31536000, immutable";
        assert_eq!(cache_control("/pkg/mast.u3Jd-Pq_1x.wasm"), year);
        assert_eq!(cache_control("/pkg/mast.u3Jd-Pq_1x.js"), year);
        assert_eq!(cache_control("/pkg/mast.u3Jd-Pq_1x.css"), year);
        // Unhashed names and wasm-bindgen snippets can change under the same name.
        assert_eq!(cache_control("/pkg/mast.wasm"), "no-cache");
        assert_eq!(cache_control("/pkg/snippets/app-0cd1cead3f0174fd/inline0.js"), "no-cache");
        assert_eq!(cache_control("/favicon.svg"), "public, max-age=86400");
        for page in ["/", "/dashboard", "/rpc/viewer", "/api/v1/echo", "/pkg", "/pkgx/mast.a.js"] {
            assert_eq!(cache_control(page), "no-store", "{page}");
        }
    }

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
