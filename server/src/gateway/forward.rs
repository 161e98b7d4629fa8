//! Where accepted requests go: the operator's upstream (streamed both ways), or, when none is
//! configured, the built-in `/api/v1/echo`, so a new installation answers out of the box.

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use std::time::Duration;

use super::Granted;

/// Headers that belong to one connection and are never passed on (RFC 9110 7.6.1).
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"];

/// Headers about the connection that only Mast may state towards the upstream: whatever a caller
/// sends in them is dropped (Mast sets its own `X-Forwarded-For`).
const PROXY_HEADERS: &[&str] = &["forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip"];

pub struct Upstream {
    base: String,
    /// The portal's session cookie: never passed to the upstream.
    session_cookie: &'static str,
    client: reqwest::Client,
    /// Until the answer's status and headers; a body that streams slowly is the upstream's business.
    answer_within: Duration,
}

/// Why an accepted request got no answer from the upstream.
#[derive(Debug)]
pub enum NoAnswer {
    /// Refused, reset, or not reachable at all.
    Unavailable(reqwest::Error),
    /// Reachable, but it had not begun to answer within `upstream_timeout_seconds`.
    TimedOut(Duration),
}

impl NoAnswer {
    /// What the caller gets instead: status, stable code, message.
    pub fn answer(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            NoAnswer::Unavailable(_) => {
                (StatusCode::BAD_GATEWAY, "upstream_unavailable", "The API behind this portal did not answer. Please retry.")
            }
            NoAnswer::TimedOut(_) => {
                (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout", "The API behind this portal did not answer in time. Please retry.")
            }
        }
    }
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoAnswer::Unavailable(err) => write!(f, "unavailable: {err}"),
            NoAnswer::TimedOut(after) => write!(f, "no answer within {} s", after.as_secs()),
        }
    }
}

impl Upstream {
    pub fn new(url: &str, answer_within: Duration, session_cookie: &'static str) -> Result<Upstream, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("upstream_url must start with http:// or https:// (got {url:?})"));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the upstream client: {e}"))?;
        Ok(Upstream { base: url.trim_end_matches('/').to_string(), session_cookie, client, answer_within })
    }

    /// `<prefix>/v1/x?y` → `<upstream>/v1/x?y` (the prefix, `prefix_len` bytes, is `/api` or
    /// `/api/<product>`), with the key removed and the caller named. The path passed
    /// [`stays_inside_base`] before any check ran.
    pub async fn forward(&self, req: Request, prefix_len: usize, granted: &Granted<'_>, client_ip: &str) -> Result<Response, NoAnswer> {
        let (parts, body) = req.into_parts();
        let url = upstream_url(&self.base, prefix_len, &parts.uri);
        let mut headers = self.request_headers(&parts.headers, granted);
        if let Ok(ip) = HeaderValue::from_str(client_ip) {
            headers.insert("x-forwarded-for", ip);
        }
        let sent = self.client.request(parts.method, url).headers(headers).body(reqwest::Body::wrap_stream(body.into_data_stream())).send();
        let answer = match tokio::time::timeout(self.answer_within, sent).await {
            // The error names the URL, query included: the caller's, and not for the logs.
            Ok(answer) => answer.map_err(|e| NoAnswer::Unavailable(e.without_url()))?,
            Err(_) => return Err(NoAnswer::TimedOut(self.answer_within)),
        };
        let mut response = Response::builder().status(answer.status());
        if let Some(h) = response.headers_mut() {
            *h = without_hop_by_hop(answer.headers());
            // The answer is served from the portal's origin: a cookie set there would be the
            // portal's, readable beside its session.
            h.remove(header::SET_COOKIE);
        }
        Ok(response.body(Body::from_stream(answer.bytes_stream())).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response()))
    }
}

/// The upstream URL of an API request: the base, then the path after its first `prefix_len`
/// bytes (the product's part), then the query.
pub fn upstream_url(base: &str, prefix_len: usize, uri: &http::Uri) -> String {
    let path = uri.path().get(prefix_len..).unwrap_or("");
    match uri.query() {
        Some(q) => format!("{base}{path}?{q}"),
        None => format!("{base}{path}"),
    }
}

/// False for a path that could leave the upstream's base once a URL parser or the upstream reads
/// it: a dot segment (`..`, `.`, `..;x`), raw or percent-encoded once or twice (`%2e%2e`,
/// `.%2E`, `%252e`), an encoded slash (`%2f`), a backslash (`\`, `%5c`) or NUL (`%00`).
pub fn stays_inside_base(path: &str) -> bool {
    let mut text = path.to_string();
    // The raw path, then as decoded once and twice: an upstream may decode again.
    for _ in 0..3 {
        let dot_segment = text.split('/').any(|segment| {
            let name = segment.split(';').next().unwrap_or(segment);
            name == "." || name == ".."
        });
        if dot_segment || text.contains(['\\', '\0']) {
            return false;
        }
        let decoded = String::from_utf8_lossy(&percent_encoding::percent_decode_str(&text).collect::<Vec<u8>>()).into_owned();
        if decoded.matches('/').count() != text.matches('/').count() {
            return false;
        }
        if decoded == text {
            return true;
        }
        text = decoded;
    }
    // Still changing after a third decoding: nobody sends that in good faith.
    false
}

impl Upstream {
    /// The caller's headers as the upstream gets them: without hop-by-hop headers, the key, the
    /// portal's session cookie and anything that poses as Mast or as a proxy hop (also spelt with
    /// underscores, which some servers read as dashes); with the caller's identity.
    fn request_headers(&self, sent: &HeaderMap, granted: &Granted<'_>) -> HeaderMap {
        let mut headers = without_hop_by_hop(sent);
        headers.remove(header::HOST);
        headers.remove("x-api-key");
        if granted.key_in_authorization {
            headers.remove(header::AUTHORIZATION);
        }
        let spoofed: Vec<HeaderName> = headers
            .keys()
            .filter(|name| {
                let dashed = name.as_str().replace('_', "-");
                dashed.starts_with("x-mast-") || dashed == "x-api-key" || PROXY_HEADERS.contains(&dashed.as_str())
            })
            .cloned()
            .collect();
        for name in spoofed {
            headers.remove(name);
        }
        let cookies = without_cookie(&headers, self.session_cookie);
        headers.remove(header::COOKIE);
        if let Some(cookies) = cookies {
            headers.insert(header::COOKIE, cookies);
        }
        for (name, value) in granted.identity_headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        headers
    }
}

/// Every cookie of the request but `name`, in one `Cookie` header; `None` when none is left.
fn without_cookie(headers: &HeaderMap, name: &str) -> Option<HeaderValue> {
    let kept: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && pair.split('=').next().is_some_and(|n| n.trim() != name))
        .collect();
    (!kept.is_empty()).then(|| HeaderValue::from_str(&kept.join("; ")).ok()).flatten()
}

fn without_hop_by_hop(headers: &HeaderMap) -> HeaderMap {
    let named_in_connection: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|n| n.trim().to_ascii_lowercase()))
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let n = name.as_str();
        if !HOP_BY_HOP.contains(&n) && !named_in_connection.iter().any(|c| c == n) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// The largest body the echo endpoint reads.
pub const ECHO_BODY_MAX: usize = 1024 * 1024;

#[derive(serde::Serialize)]
struct Echo<'a> {
    ok: bool,
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    body_bytes: usize,
    account_id: uuid::Uuid,
    key_id: uuid::Uuid,
    key_type: &'a str,
    plan: &'a app::config::Plan,
}

/// Answers with what Mast knows about the call: proof that the key works, without an upstream.
pub async fn echo(req: Request, granted: &Granted<'_>) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let body = match axum::body::to_bytes(req.into_body(), ECHO_BODY_MAX).await {
        Ok(body) => body,
        Err(_) => {
            return super::error_body(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "The echo endpoint reads at most 1 MiB.");
        }
    };
    let answer = Echo {
        ok: true,
        method: &method,
        path: &path,
        query: query.as_deref(),
        body_bytes: body.len(),
        account_id: granted.key.account_id,
        key_id: granted.key.api_key_id,
        key_type: &granted.key.key_type,
        plan: granted.plan,
    };
    (StatusCode::OK, axum::Json(answer)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_path_traversal_every_dot_segment_encoded_slash_backslash_and_nul_is_refused() {
        for bad in [
            "/api/../secret",
            "/api/%2e%2e/secret",
            "/api/.%2e/secret",
            "/api/%2E%2E/secret",
            "/api/%2e./secret",
            "/api/v1/./x",
            "/api/v1/%2e/x",
            "/api/..;/secret",
            "/api/%2e%2e;x/secret",
            "/api/%252e%252e/secret",
            "/api/v1%2fsecret",
            "/api/v1%2F..%2Fsecret",
            "/api/..%5csecret",
            "/api/v1\\..\\secret",
            "/api/v1/%00",
            "/api/%25252e%25252e/x",
            "/api/..",
        ] {
            assert!(!stays_inside_base(bad), "{bad} must be refused");
        }
        for good in
            ["/api", "/api/", "/api/v1/orders/7", "/api/v1/file.json", "/api/v1/..a/b", "/api/v1/a..b", "/api/v1/%41", "/api/v1/100%25"]
        {
            assert!(stays_inside_base(good), "{good} is an ordinary path");
        }
    }

    proptest::proptest! {
        #[test]
        fn random_paths_are_refused_or_forwarded_inside_the_base(segments in proptest::collection::vec("[./%2eEfF5cC0;a\\\\]{0,8}", 0..6)) {
            let path = format!("/api/{}", segments.join("/"));
            let Ok(uri) = path.parse::<http::Uri>() else { return Ok(()) };
            if stays_inside_base(uri.path()) {
                let base = "http://127.0.0.1:9000/public";
                let url = reqwest::Url::parse(&upstream_url(base, "/api".len(), &uri)).expect("a URL");
                proptest::prop_assert!(url.path() == "/public" || url.path().starts_with("/public/"), "{} left the base: {}", path, url);
                proptest::prop_assert!(!url.path().contains("/../") && !url.path().ends_with("/.."));
            }
        }
    }

    #[test]
    fn connection_scoped_headers_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, "keep-alive, x-secret-hop".parse().unwrap());
        h.insert("x-secret-hop", "1".parse().unwrap());
        h.insert(header::TRANSFER_ENCODING, "chunked".parse().unwrap());
        h.insert(header::ACCEPT, "application/json".parse().unwrap());
        let out = without_hop_by_hop(&h);
        assert_eq!(out.len(), 1);
        assert!(out.contains_key(header::ACCEPT));
    }
}
