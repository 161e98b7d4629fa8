//! What operators and their load balancers read: `/healthz` (the process answers), `/readyz`
//! (it can serve: the database answers and no shutdown has begun) and `/metrics` (Prometheus).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use app::metrics::{Response as ResponseLabel, status_class};
use app::state::AppState;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use secrecy::ExposeSecret;

use crate::request_log::RequestLog;

/// Set when shutdown begins, so `/readyz` tells the load balancer to send no more.
#[derive(Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn begin(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
struct Ops {
    app: AppState,
    log: RequestLog,
    draining: Draining,
}

pub fn router(app: AppState, log: RequestLog, draining: Draining) -> Router {
    Router::new().route("/healthz", get(|| async { "ok" })).route("/readyz", get(readyz)).route("/metrics", get(metrics)).with_state(Ops {
        app,
        log,
        draining,
    })
}

async fn readyz(State(ops): State<Ops>) -> Response {
    if ops.draining.is_on() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match tokio::time::timeout(Duration::from_secs(2), ops.app.db.ping()).await {
        Ok(Ok(())) => plain(StatusCode::OK, "ready"),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness: database did not answer");
            plain(StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
        Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "database too slow"),
    }
}

/// Counts are not secrets, but they tell an outsider how busy the portal is and how many
/// sign-ins fail: with `metrics_token` set they need it as a bearer token; without it they are
/// served only to a direct connection from this machine (a scraper beside Mast), never through
/// a proxy.
async fn metrics(State(ops): State<Ops>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap) -> Response {
    let allowed = match &ops.app.config.metrics_token {
        Some(token) => {
            let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
            given.is_some_and(|given| crate::gateway::constant_time_eq(given.trim().as_bytes(), token.expose_secret().as_bytes()))
        }
        None => peer.ip().is_loopback() && !headers.contains_key("x-forwarded-for") && !headers.contains_key(header::FORWARDED),
    };
    if !allowed {
        return plain(StatusCode::NOT_FOUND, "Not found");
    }
    let metrics = &ops.app.metrics;
    metrics.request_log.queue_depth.set(ops.log.queue_depth() as i64);
    let mut res = metrics.encode().into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    res
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut res = (status, text).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Counts every answer by area and status class (`mast_http_responses_total`) and writes one
/// access-log line per request at debug level (`RUST_LOG=info,mast::access=debug`): method,
/// path (never the query, where links carry their tokens; hidden when it holds an API key),
/// status and time taken.
pub async fn observe(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let area = area_of(req.uri().path());
    let access_log = tracing::enabled!(target: "mast::access", tracing::Level::DEBUG);
    let line = access_log.then(|| {
        let word = &app.config.api_key_prefix;
        let path = if crate::gateway::holds_key(req.uri().path(), word) {
            "(hidden: a key was in the URL)".to_string()
        } else {
            app::client::clean_text(req.uri().path(), 200)
        };
        (req.method().clone(), path)
    });
    let res = next.run(req).await;
    let status = res.status().as_u16();
    app.metrics.responses.get_or_create(&ResponseLabel { area, class: status_class(status) }).inc();
    if let Some((method, path)) = line {
        tracing::debug!(target: "mast::access", %method, path, status, area, ms = started.elapsed().as_secs_f64() * 1000.0);
    }
    res
}

fn area_of(path: &str) -> &'static str {
    if path == "/api" || path.starts_with("/api/") || path.starts_with("/v1/") {
        "api"
    } else if path.starts_with("/rpc/") {
        "rpc"
    } else if path.starts_with("/pkg/") || path == "/favicon.ico" {
        "asset"
    } else if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        "ops"
    } else {
        "page"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn areas() {
        assert_eq!(super::area_of("/api/v1/echo"), "api");
        assert_eq!(super::area_of("/v1/keys/verify"), "api");
        assert_eq!(super::area_of("/apiary"), "page");
        assert_eq!(super::area_of("/rpc/sign_in"), "rpc");
        assert_eq!(super::area_of("/pkg/mast.wasm"), "asset");
        assert_eq!(super::area_of("/metrics"), "ops");
        assert_eq!(super::area_of("/dashboard"), "page");
    }
}
