//! The protected API: every request under `/api/` is checked, limited, forwarded and logged.
//!
//! Checks, in order, each refusal with a stable code, status and JSON body (never a 500):
//! key in the URL, a path that could leave the upstream's base, a method the API does not answer, key missing, malformed, bad checksum,
//! unknown, revoked, expired, account suspended or unverified, new Terms not accepted (when the
//! installation says so), the key's plan or scope not allowing the product, a write with a
//! read-only key, a client address outside the key's networks, rate limited, monthly quota
//! exceeded. Also here: `POST
//! /v1/keys/verify` for operators' own gateways and `POST /v1/keys/revoke` for leaked keys.
//! `/openapi.json` describes all of it.

pub mod deprecations;
pub mod forward;
pub mod limits;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use app::api_keys::format::{self, FormatError};
use app::api_keys::store::{KeyLookup, KeyState, key_state};
use app::client::{ClientInfo, clean_text};
use app::config::Plan;
use app::state::AppState;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use secrecy::ExposeSecret;
use time::OffsetDateTime;

use crate::request_log::{RequestLog, RequestRecord};
use limits::{Quotas, RateLimiter, UnknownKeys, Window};

pub struct Gateway {
    pub app: AppState,
    pub limiter: RateLimiter,
    pub unknown_keys: UnknownKeys,
    pub quotas: Arc<Quotas>,
    pub log: RequestLog,
    pub routes: Routes,
}

/// Where accepted calls go.
pub enum Routes {
    /// No products configured: `/api/…` goes to `upstream_url`, or to the built-in echo.
    Single(Option<forward::Upstream>),
    /// `/api/<slug>/…` goes to that product's upstream; by slug.
    Products(std::collections::HashMap<String, ProductRoute>),
}

pub struct ProductRoute {
    /// The product's place in `app.catalogue.products`.
    pub index: usize,
    pub upstream: forward::Upstream,
    pub deprecations: deprecations::Deprecations,
}

/// The destination of one request: the upstream (none: the echo) and the length of the path's
/// start that names the product (`/api` or `/api/<slug>`), which the upstream does not get.
pub struct Target<'a> {
    pub upstream: Option<&'a forward::Upstream>,
    pub prefix_len: usize,
    pub product: Option<&'a app::config::ProductConfig>,
    pub deprecations: Option<&'a deprecations::Deprecations>,
}

impl Routes {
    pub fn from_config(config: &app::config::Config, catalogue: &app::products::catalogue::Catalogue) -> Result<Routes, String> {
        let timeout = std::time::Duration::from_secs(config.upstream_timeout_seconds);
        if catalogue.products.is_empty() {
            let upstream =
                config.upstream_url.as_deref().map(|url| forward::Upstream::new(url, timeout, config.session_cookie_name())).transpose()?;
            return Ok(Routes::Single(upstream));
        }
        let mut routes = std::collections::HashMap::new();
        for (index, product) in catalogue.products.iter().enumerate() {
            let upstream = forward::Upstream::new(&product.config.upstream_url, timeout, config.session_cookie_name())?;
            routes.insert(product.config.slug.clone(), ProductRoute { index, upstream, deprecations: Default::default() });
        }
        Ok(Routes::Products(routes))
    }

    /// Reads each product's deprecated operations, recording them in the database once.
    pub async fn load_deprecations(
        &mut self,
        catalogue: &app::products::catalogue::Catalogue,
        db: &app::db::Db,
        public_url: &str,
        now: OffsetDateTime,
    ) -> Result<(), sqlx::Error> {
        if let Routes::Products(routes) = self {
            for route in routes.values_mut() {
                route.deprecations = deprecations::Deprecations::load(&catalogue.products[route.index], db, public_url, now).await?;
            }
        }
        Ok(())
    }
}

impl Gateway {
    /// The destination of `path` (which starts with `/api`), or `unknown_product`.
    fn target(&self, path: &str) -> Result<Target<'_>, Refusal> {
        match &self.routes {
            Routes::Single(upstream) => {
                Ok(Target { upstream: upstream.as_ref(), prefix_len: "/api".len(), product: None, deprecations: None })
            }
            Routes::Products(routes) => {
                let rest = path.strip_prefix("/api/").unwrap_or("");
                let slug = rest.split('/').next().unwrap_or("");
                let route = routes.get(slug).ok_or_else(|| Refusal::new("unknown_product"))?;
                let product = &self.app.catalogue.products[route.index].config;
                Ok(Target {
                    upstream: Some(&route.upstream),
                    prefix_len: "/api/".len() + slug.len(),
                    product: Some(product),
                    deprecations: Some(&route.deprecations),
                })
            }
        }
    }
}

pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/api", any(api))
        // `{*rest}` matches no empty rest: without this, `/api/` fell through to the site's pages.
        .route("/api/", any(api))
        .route("/api/{*rest}", any(api))
        .route("/v1/keys/verify", post(verify))
        .route("/v1/keys/revoke", post(self_revoke))
        .with_state(gateway)
}

/// API answers are data for one caller: never cached, never sniffed. (Set here rather than in a
/// middleware layer: this path is the hot one.)
fn api_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

/// A request that passed every check.
pub struct Granted<'a> {
    pub key: Arc<KeyLookup>,
    pub plan: &'a Plan,
    pub rate: Window,
    pub quota: Window,
    /// The key came in `Authorization` (so it is removed before forwarding).
    pub key_in_authorization: bool,
}

impl Granted<'_> {
    /// Who is calling, for the upstream.
    pub fn identity_headers(&self) -> [(&'static str, String); 4] {
        [
            ("x-mast-account-id", self.key.account_id.to_string()),
            ("x-mast-key-id", self.key.api_key_id.to_string()),
            ("x-mast-key-type", self.key.key_type.clone()),
            ("x-mast-plan", self.plan.name.clone()),
        ]
    }
}

/// Why a request was refused; `key` is set once the key is known, so its owner sees the refusal.
pub struct Refusal {
    pub code: &'static str,
    pub key: Option<Arc<KeyLookup>>,
    pub window: Option<Window>,
}

impl Refusal {
    fn new(code: &'static str) -> Refusal {
        Refusal { code, key: None, window: None }
    }

    fn of(code: &'static str, key: &Arc<KeyLookup>) -> Refusal {
        Refusal { code, key: Some(key.clone()), window: None }
    }

    pub fn status(&self) -> StatusCode {
        match self.code {
            "method_not_allowed" => StatusCode::METHOD_NOT_ALLOWED,
            "bad_path" => StatusCode::BAD_REQUEST,
            "unknown_product" => StatusCode::NOT_FOUND,
            "account_suspended"
            | "account_unverified"
            | "consent_required"
            | "product_not_allowed"
            | "read_only_key"
            | "ip_not_allowed" => StatusCode::FORBIDDEN,
            "too_many_unknown_keys" | "rate_limited" | "quota_exceeded" => StatusCode::TOO_MANY_REQUESTS,
            "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    pub fn message(&self) -> &'static str {
        match self.code {
            "key_in_url" => {
                "API keys must not be sent in the URL, where logs and browsers keep them. Send the key in the Authorization header (Bearer) or X-API-Key, and replace this key: it may have leaked."
            }
            "bad_path" => {
                "This path holds a dot segment (such as /../), an encoded slash (%2F), a backslash or NUL, raw or percent-encoded. Send the path without them."
            }
            "method_not_allowed" => "This API answers GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS.",
            "unknown_product" => "No API of this portal is published at this path: calls go to /api/<product>/…, as its docs say.",
            "product_not_allowed" => {
                "This API key may not call this API: the key is limited to other APIs, or the plan of its account does not include this one."
            }
            "read_only_key" => "This API key may only read (GET, HEAD and OPTIONS). Use a key that may also write.",
            "ip_not_allowed" => "This API key may not be used from this address: it is limited to other networks.",
            "missing_key" => "This API needs a key: send it in the Authorization header (Bearer) or X-API-Key.",
            "malformed_key" => "This is not an API key of this portal. Check that you copied the whole key.",
            "bad_checksum" => "This API key is mistyped: its checksum does not match. Copy it again.",
            "too_many_unknown_keys" => {
                "Too many keys that do not exist came from your network this minute. Retry after the number of seconds in Retry-After."
            }
            "unknown_key" => "This API key does not exist.",
            "revoked_key" => "This API key was revoked. Use another key or create a new one.",
            "expired_key" => "This API key has expired. Create a new one.",
            "account_suspended" => "The account of this API key is suspended.",
            "account_unverified" => "The account of this API key has not confirmed its email address.",
            "consent_required" => {
                "The account of this API key has to accept the updated Terms of Use or Privacy Policy: sign in to the portal to review them."
            }
            "rate_limited" => "Too many requests with this key this minute. Retry after the number of seconds in Retry-After.",
            "quota_exceeded" => "This account has used all requests of its plan this month.",
            _ => "The service is briefly unavailable. Please retry.",
        }
    }

    fn into_response(self) -> Response {
        let mut res = error_body(self.status(), self.code, self.message());
        if let Some(window) = self.window {
            rate_limit_headers(res.headers_mut(), window);
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(window.reset));
        }
        if self.status() == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status() == StatusCode::METHOD_NOT_ALLOWED {
            res.headers_mut().insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
        }
        res
    }
}

pub fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": { "code": code, "message": message } }))).into_response()
}

fn rate_limit_headers(h: &mut HeaderMap, w: Window) {
    h.insert("ratelimit-limit", HeaderValue::from(w.limit));
    h.insert("ratelimit-remaining", HeaderValue::from(w.remaining));
    h.insert("ratelimit-reset", HeaderValue::from(w.reset));
    // The window is the quota's month when the quota was reached, not a minute.
    if let Ok(policy) = HeaderValue::from_str(&format!("{};w={}", w.limit, w.period)) {
        h.insert("ratelimit-policy", policy);
    }
}

/// The methods the protected API passes on. Any other (QUERY, CONNECT, WebDAV's) is refused as
/// a router would; so is TRACE, which would echo the caller's headers, credentials included.
const METHODS: [http::Method; 7] = [
    http::Method::GET,
    http::Method::HEAD,
    http::Method::POST,
    http::Method::PUT,
    http::Method::PATCH,
    http::Method::DELETE,
    http::Method::OPTIONS,
];
const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Query parameter names that mean "here is a key", whatever the value looks like.
const KEY_PARAMS: &[&str] = &["api_key", "apikey", "api-key", "key", "access_token", "token", "x-api-key"];

/// A key anywhere in `text`, raw or percent-encoded once or twice (`/x/key=mast_live_…`,
/// `mast%5Flive_…`), in any case.
pub fn holds_key(text: &str, word: &str) -> bool {
    let markers = [format!("{word}_live_"), format!("{word}_test_")];
    let mut text = text.to_ascii_lowercase();
    for _ in 0..3 {
        if markers.iter().any(|m| text.contains(m.as_str())) {
            return true;
        }
        let decoded = percent_encoding::percent_decode_str(&text).decode_utf8_lossy().to_ascii_lowercase();
        if decoded == text {
            return false;
        }
        text = decoded;
    }
    false
}

/// A key in the path or the query, or a query parameter whose name means "key": such a URL is
/// refused, and neither the request log nor the access log keeps its path.
fn key_in_url(uri: &http::Uri, word: &str) -> bool {
    let key_param = |q: &str| {
        q.split('&').any(|pair| {
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            KEY_PARAMS.iter().any(|k| name.eq_ignore_ascii_case(k))
        })
    };
    holds_key(uri.path(), word) || uri.query().is_some_and(|q| holds_key(q, word) || key_param(q))
}

/// The key from `Authorization: Bearer` or `X-API-Key`; both must agree when both are sent.
fn presented_key(headers: &HeaderMap) -> Result<(&str, bool), Refusal> {
    let bearer = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let text = value.to_str().map_err(|_| Refusal::new("malformed_key"))?.trim();
            match text.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
                _ => None,
            }
        }
    };
    let header_key = match headers.get("x-api-key") {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| Refusal::new("malformed_key"))?.trim()),
    };
    match (bearer, header_key) {
        (Some(a), Some(b)) if a != b => Err(Refusal::new("malformed_key")),
        (Some(a), _) => Ok((a, true)),
        (None, Some(b)) => Ok((b, false)),
        (None, None) if headers.contains_key(header::AUTHORIZATION) => Err(Refusal::new("malformed_key")),
        (None, None) => Err(Refusal::new("missing_key")),
    }
}

/// What a call asks for, as the checks after the key judge it. A fact left out (`None`) fails
/// every scope that needs it.
#[derive(Clone, Copy, Default)]
pub struct Call<'a> {
    /// The product called, when the installation has products.
    pub product: Option<&'a app::config::ProductConfig>,
    pub method: Option<&'a http::Method>,
    /// The caller's address (`ClientInfo::ip`), for keys limited to networks.
    pub client_ip: Option<&'a str>,
    /// Count unknown keys against the caller's network: not for an operator's own gateway,
    /// which speaks for all its callers.
    pub limit_unknown_keys: bool,
}

impl Gateway {
    /// Every check after the key has been taken from the request.
    pub async fn check(&self, key: &str, call: Call<'_>, now: OffsetDateTime) -> Result<Granted<'_>, Refusal> {
        let config = &self.app.config;
        match format::parse(&config.api_key_prefix, key) {
            Ok(_) => {}
            Err(FormatError::Malformed) => return Err(Refusal::new("malformed_key")),
            Err(FormatError::BadChecksum) => return Err(Refusal::new("bad_checksum")),
        }
        // A key the cache knows costs nothing more; only a look-up counts against the network.
        let found = match self.app.keys.cached_answer(key) {
            Some(found) => found,
            None => {
                let network = call.client_ip.filter(|_| call.limit_unknown_keys).map(app::client::network_of);
                if let Some(window) = network.as_deref().and_then(|n| self.unknown_keys.exhausted(n, now)) {
                    return Err(Refusal { window: Some(window), ..Refusal::new("too_many_unknown_keys") });
                }
                let found = self.app.keys.find(key).await.map_err(|err| {
                    tracing::error!(error = %err, "key look-up failed");
                    Refusal::new("unavailable")
                })?;
                if let (None, Some(network)) = (&found, &network) {
                    self.unknown_keys.count(network, now);
                }
                found
            }
        };
        let key = found.ok_or_else(|| Refusal::new("unknown_key"))?;
        match key_state(key.revoked_at, key.expires_at, now) {
            KeyState::Active | KeyState::Retiring { .. } => {}
            KeyState::Revoked => return Err(Refusal::of("revoked_key", &key)),
            KeyState::Expired => return Err(Refusal::of("expired_key", &key)),
        }
        if key.account_status != "active" {
            return Err(Refusal::of("account_suspended", &key));
        }
        if key.email_verified_at.is_none() {
            return Err(Refusal::of("account_unverified", &key));
        }
        if config.consent_blocks_api && !key.consents_current() {
            return Err(Refusal::of("consent_required", &key));
        }
        let plan = config.plan(key.plan.as_deref());
        if call.product.is_some_and(|p| !p.allows_plan(&plan.name)) || !key.scope.allows_product(call.product.map(|p| p.slug.as_str())) {
            return Err(Refusal::of("product_not_allowed", &key));
        }
        if !key.scope.allows_method(call.method) {
            return Err(Refusal::of("read_only_key", &key));
        }
        if !key.scope.allows_client(call.client_ip) {
            return Err(Refusal::of("ip_not_allowed", &key));
        }
        let rate = self
            .limiter
            .take(key.api_key_id, plan.requests_per_minute, now)
            .map_err(|window| Refusal { window: Some(window), ..Refusal::of("rate_limited", &key) })?;
        let quota = match self.quotas.take(key.account_id, plan.requests_per_month, now).await {
            Ok(Ok(quota)) => quota,
            Ok(Err(quota)) => return Err(Refusal { window: Some(quota), ..Refusal::of("quota_exceeded", &key) }),
            Err(err) => {
                tracing::error!(error = %err, "quota look-up failed");
                return Err(Refusal::of("unavailable", &key));
            }
        };
        Ok(Granted { key, plan, rate, quota, key_in_authorization: false })
    }

    fn record(&self, req_method: &str, route: String, client: ClientInfo, now: OffsetDateTime) -> RequestRecord {
        RequestRecord {
            at: now,
            method: clean_text(req_method, 16),
            route,
            status: 0,
            outcome: "refused",
            code: None,
            key: None,
            ip: client.ip,
            user_agent: client.user_agent,
            latency_us: 0,
            deprecated: None,
        }
    }
}

fn identify(record: &mut RequestRecord, key: &Arc<KeyLookup>) {
    record.key = Some(key.clone());
}

/// Route as logged: the path without its query, cut and cleaned; hidden when it held a key.
fn logged_route(uri: &http::Uri, hide: bool) -> String {
    if hide { "(hidden: a key was in the URL)".to_string() } else { clean_text(uri.path(), 200) }
}

/// One call of the protected API; the try-it console's calls come through here too.
pub(crate) async fn api(State(gw): State<Arc<Gateway>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request) -> Response {
    let started = Instant::now();
    let now = app::db::now();
    let client = ClientInfo::from_parts(Some(peer), req.headers(), &gw.app.config.trusted_proxies);
    let url_has_key = key_in_url(req.uri(), &gw.app.config.api_key_prefix);
    let mut record = gw.record(req.method().as_str(), logged_route(req.uri(), url_has_key), client, now);
    let mut target = None;
    let checked = if url_has_key {
        Err(Refusal::new("key_in_url"))
    } else if !forward::stays_inside_base(req.uri().path()) {
        Err(Refusal::new("bad_path"))
    } else if !METHODS.contains(req.method()) {
        Err(Refusal::new("method_not_allowed"))
    } else {
        match gw.target(req.uri().path()) {
            Err(refusal) => Err(refusal),
            Ok(found) => {
                let product = found.product;
                let path = req.uri().path();
                record.deprecated =
                    found.deprecations.and_then(|d| d.find(req.method(), &path[found.prefix_len.min(path.len())..])).cloned();
                target = Some(found);
                match presented_key(req.headers()) {
                    Ok((key, in_authorization)) => {
                        let call = Call { product, method: Some(req.method()), client_ip: Some(&record.ip), limit_unknown_keys: true };
                        gw.check(key, call, now).await.map(|g| Granted { key_in_authorization: in_authorization, ..g })
                    }
                    Err(refusal) => Err(refusal),
                }
            }
        }
    };
    let response = match checked {
        Err(refusal) => {
            record.code = Some(refusal.code);
            if let Some(key) = &refusal.key {
                identify(&mut record, key);
            }
            refusal.into_response()
        }
        Ok(granted) => {
            identify(&mut record, &granted.key);
            record.outcome = "accepted";
            let (upstream, prefix_len) = target.as_ref().map_or((None, "/api".len()), |t| (t.upstream, t.prefix_len));
            let mut response = match upstream {
                Some(upstream) => match upstream.forward(req, prefix_len, &granted, &record.ip).await {
                    Ok(response) => response,
                    Err(no_answer) => {
                        let (status, code, message) = no_answer.answer();
                        tracing::warn!(reason = %no_answer, "upstream gave no answer");
                        record.outcome = "failed";
                        record.code = Some(code);
                        error_body(status, code, message)
                    }
                },
                None if req.uri().path() == "/api/v1/echo" => forward::echo(req, &granted).await,
                None => error_body(StatusCode::NOT_FOUND, "not_found", "There is nothing at this path. Try /api/v1/echo."),
            };
            rate_limit_headers(response.headers_mut(), granted.rate);
            response
        }
    };
    let mut response = response;
    api_headers(&mut response);
    if let Some(deprecated) = &record.deprecated {
        deprecated.announce(response.headers_mut());
    }
    record.status = response.status().as_u16();
    record.latency_us = started.elapsed().as_micros() as i64;
    gw.log.push(record);
    response
}

#[derive(serde::Deserialize)]
struct VerifyRequest {
    key: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    route: Option<String>,
    /// The product's slug, where the installation has products.
    #[serde(default)]
    product: Option<String>,
    /// The caller's address, for keys limited to networks.
    #[serde(default)]
    ip: Option<String>,
}

/// `POST /v1/keys/verify`: the same checks for an operator's own gateway. Counts against the
/// key's rate limit and quota and is logged like a request, as Unkey's verify does.
async fn verify(State(gw): State<Arc<Gateway>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request) -> Response {
    let mut response = verify_inner(&gw, peer, req).await;
    api_headers(&mut response);
    response
}

/// The largest verify body read: a key, a method and a route fit many times over.
pub const VERIFY_BODY_MAX: usize = 64 * 1024;

/// The token of `Authorization: Bearer <token>` (the scheme in any case, RFC 9110 11.1).
fn bearer_token(headers: &HeaderMap) -> &str {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    match value.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => "",
    }
}

async fn verify_inner(gw: &Gateway, peer: SocketAddr, req: Request) -> Response {
    let Some(expected) = &gw.app.config.operator_token else {
        return error_body(StatusCode::NOT_FOUND, "verify_disabled", "Key verification is off: set operator_token to use it.");
    };
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    if !constant_time_eq(bearer_token(&headers).as_bytes(), expected.expose_secret().as_bytes()) {
        let mut res = error_body(StatusCode::UNAUTHORIZED, "invalid_operator_token", "Send the operator token as Authorization: Bearer.");
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return res;
    }
    // Read only after the token matched, and never more than this: strangers cannot make us buffer.
    let Some(body) = crate::body::read_at_most(body, VERIFY_BODY_MAX).await else {
        return error_body(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "Send at most 64 KiB of JSON.");
    };
    // An object, as documented: serde alone would also read a struct from an array.
    let asked = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .filter(serde_json::Value::is_object)
        .and_then(|value| serde_json::from_value::<VerifyRequest>(value).ok());
    let Some(asked) = asked else {
        return error_body(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "Send JSON: {\"key\": \"…\", \"method\": \"GET\", \"route\": \"/v1/…\"}.",
        );
    };
    // Any text is a method for the log; one that is no HTTP method is not a read either.
    let method = asked.method.as_deref().and_then(|m| http::Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes()).ok());
    // Exactly an address, as the document says: an empty or padded string is a mistake, not "none".
    let ip = match asked.ip.as_deref() {
        None => None,
        // Folded as the gateway folds its own clients' addresses.
        Some(ip) => match ip.parse::<std::net::IpAddr>() {
            Ok(ip) => Some(app::client::folded(ip).to_string()),
            Err(_) => return error_body(StatusCode::BAD_REQUEST, "invalid_body", "ip must be an IPv4 or IPv6 address."),
        },
    };
    let started = Instant::now();
    let now = app::db::now();
    let client = ClientInfo::from_parts(Some(peer), &headers, &gw.app.config.trusted_proxies);
    let route =
        asked.route.as_deref().map(|r| clean_text(r.split('?').next().unwrap_or(""), 200)).unwrap_or_else(|| "/v1/keys/verify".into());
    let hide = holds_key(&route, &gw.app.config.api_key_prefix) || route.contains(&format!("{}_", gw.app.config.api_key_prefix));
    let mut record = gw.record(
        asked.method.as_deref().unwrap_or("VERIFY"),
        if hide { logged_route(&http::Uri::from_static("/"), true) } else { route },
        client,
        now,
    );
    let product = match asked.product.as_deref() {
        None => Ok(None),
        Some(slug) => gw.app.catalogue.find(slug).map(|p| Some(&p.config)).ok_or_else(|| Refusal::new("unknown_product")),
    };
    let checked = match product {
        Ok(product) => {
            let call = Call { product, method: method.as_ref(), client_ip: ip.as_deref(), limit_unknown_keys: false };
            gw.check(asked.key.trim(), call, now).await
        }
        Err(refusal) => Err(refusal),
    };
    let product = asked.product.as_deref().filter(|slug| gw.app.catalogue.find(slug).is_some());
    let answer = match checked {
        Ok(granted) => {
            identify(&mut record, &granted.key);
            record.outcome = "accepted";
            serde_json::json!({
                "valid": true,
                "code": null,
                "account_id": granted.key.account_id,
                "key_id": granted.key.api_key_id,
                "key_type": granted.key.key_type,
                "plan": granted.plan,
                "product": product,
                "scope": granted.key.scope.to_json(),
                "ratelimit": granted.rate,
                "quota": granted.quota,
            })
        }
        Err(refusal) => {
            record.code = Some(refusal.code);
            if let Some(key) = &refusal.key {
                identify(&mut record, key);
            }
            serde_json::json!({
                "valid": false,
                "code": refusal.code,
                "status": refusal.status().as_u16(),
                "message": refusal.message(),
                "account_id": refusal.key.as_ref().map(|k| k.account_id),
                "key_id": refusal.key.as_ref().map(|k| k.api_key_id),
                "product": product,
                "scope": refusal.key.as_ref().map(|k| k.scope.to_json()),
                "ratelimit": refusal.window.filter(|_| refusal.code == "rate_limited"),
                "quota": refusal.window.filter(|_| refusal.code == "quota_exceeded"),
            })
        }
    };
    record.status = 200;
    record.latency_us = started.elapsed().as_micros() as i64;
    gw.log.push(record);
    (StatusCode::OK, axum::Json(answer)).into_response()
}

/// Compares secrets without telling an attacker, by timing, how much of a guess was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// `POST /v1/keys/revoke` with the key itself: anyone who finds a leaked key (a secret scanner,
/// a stranger) can stop it. Its owner gets an email.
async fn self_revoke(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: http::Uri,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let now = app::db::now();
    let client = ClientInfo::from_parts(Some(peer), &headers, &gw.app.config.trusted_proxies);
    let mut record = gw.record("POST", "/v1/keys/revoke".into(), client.clone(), now);
    let outcome = async {
        if key_in_url(&uri, &gw.app.config.api_key_prefix) {
            return Err(Refusal::new("key_in_url"));
        }
        let (key, _) = presented_key(&headers)?;
        match format::parse(&gw.app.config.api_key_prefix, key) {
            Ok(_) => {}
            Err(FormatError::Malformed) => return Err(Refusal::new("malformed_key")),
            Err(FormatError::BadChecksum) => return Err(Refusal::new("bad_checksum")),
        }
        let found = gw.app.keys.find(key).await.map_err(|_| Refusal::new("unavailable"))?;
        let key = found.ok_or_else(|| Refusal::new("unknown_key"))?;
        let by = app::api_keys::issue::Revoker::Holder(&client);
        match app::api_keys::issue::revoke(&gw.app, key.account_id, key.api_key_id, by).await {
            Ok(app::api_keys::issue::Revoked::Now { .. }) => Ok((key, false)),
            Ok(_) => Ok((key, true)),
            Err(_) => Err(Refusal::of("unavailable", &key)),
        }
    }
    .await;
    let response = match outcome {
        Ok((key, already)) => {
            identify(&mut record, &key);
            record.outcome = "accepted";
            let masked = format!("{}…{}", key.display_prefix, key.last4);
            (StatusCode::OK, axum::Json(serde_json::json!({ "revoked": true, "already_revoked": already, "key": masked }))).into_response()
        }
        Err(refusal) => {
            record.code = Some(refusal.code);
            if let Some(key) = &refusal.key {
                identify(&mut record, key);
            }
            refusal.into_response()
        }
    };
    let mut response = response;
    api_headers(&mut response);
    record.status = response.status().as_u16();
    record.latency_us = started.elapsed().as_micros() as i64;
    gw.log.push(record);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_paths_and_queries_are_spotted() {
        let uri = |s: &str| s.parse::<http::Uri>().unwrap();
        assert!(key_in_url(&uri("/api/v1/echo?api_key=x"), "mast"));
        assert!(key_in_url(&uri("/api/v1/echo?q=1&Token=abc"), "mast"));
        assert!(key_in_url(&uri("/api/v1/echo?x=mast_live_abc"), "mast"));
        assert!(key_in_url(&uri("/api/mast_test_abc/echo"), "mast"));
        assert!(key_in_url(&uri("/api/x/key=mast_live_abc"), "mast"), "anywhere in a segment");
        assert!(key_in_url(&uri("/api/x/mast%5Flive_abc"), "mast"), "percent-encoded");
        assert!(key_in_url(&uri("/api/x/mast%255Ftest_abc"), "mast"), "encoded twice");
        assert!(key_in_url(&uri("/api/x/MAST_LIVE_abc"), "mast"), "in capitals");
        assert!(key_in_url(&uri("/api/v1/echo?q=x%3Dmast_live_abc"), "mast"));
        assert!(key_in_url(&uri("/api/v1/echo?api%5Fkey=abc"), "mast"), "an encoded parameter name");
        assert!(!key_in_url(&uri("/api/v1/echo?q=mast"), "mast"));
        assert!(!key_in_url(&uri("/api/v1/echo"), "mast"));
    }

    #[test]
    fn the_key_may_come_in_either_header_but_they_must_agree() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h).err().map(|r| r.code), Some("missing_key"));
        h.insert(header::AUTHORIZATION, "Basic dXNlcjpwYXNz".parse().unwrap());
        assert_eq!(presented_key(&h).err().map(|r| r.code), Some("malformed_key"));
        h.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(presented_key(&h).ok(), Some(("abc", true)));
        h.insert("x-api-key", "abc".parse().unwrap());
        assert!(presented_key(&h).is_ok());
        h.insert("x-api-key", "xyz".parse().unwrap());
        assert_eq!(presented_key(&h).err().map(|r| r.code), Some("malformed_key"));
        h.remove(header::AUTHORIZATION);
        assert_eq!(presented_key(&h).ok(), Some(("xyz", false)));
    }

    proptest::proptest! {
        #[test]
        fn any_header_bytes_and_any_url_are_answered_without_panic(auth in proptest::collection::vec(proptest::num::u8::ANY, 0..120),
                                                                   api_key in "\\PC{0,80}", path in "[ -~]{0,80}") {
            let mut h = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_bytes(&auth) {
                h.insert(header::AUTHORIZATION, value);
            }
            if let Ok(value) = HeaderValue::from_str(&api_key) {
                h.insert("x-api-key", value);
            }
            let _ = presented_key(&h);
            if let Ok(uri) = format!("/api/{path}").parse::<http::Uri>() {
                let _ = key_in_url(&uri, "mast");
                let _ = logged_route(&uri, false);
            }
        }
    }
}
