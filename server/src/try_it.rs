//! `POST /docs/<product>/try/<operation>`: the docs' try-it console.
//!
//! The server makes the call itself, with the session's console key (never in the browser),
//! through the gateway's own handler: checked, limited, counted, forwarded and logged like a
//! call from outside, from the developer's address. A browser without JavaScript is sent back
//! to the operation (303) and finds the answer there; `docs.js` asks for JSON and shows it in
//! place.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use app::error::AppError;
use app::products::try_it::{self, BODY_SHOWN_MAX, FLASH_KEY, TryAnswer, TryFlash, TryRequest};
use app::state::AppState;
use axum::Extension;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use tower_sessions::Session;

use crate::gateway::Gateway;

pub fn router(gateway: Arc<Gateway>) -> axum::Router<AppState> {
    axum::Router::new().route("/docs/{product}/try/{operation}", axum::routing::post(try_operation)).layer(Extension(gateway))
}

/// Headers of the developer's own request the console's call carries, so the gateway judges
/// it as coming from them (their address through the trusted proxies, their browser).
const CARRIED: [header::HeaderName; 2] = [header::USER_AGENT, header::HeaderName::from_static("x-forwarded-for")];

async fn try_operation(
    State(state): State<AppState>,
    Extension(gateway): Extension<Arc<Gateway>>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((slug, anchor)): Path<(String, String)>,
    headers: HeaderMap,
    form: Bytes,
) -> Response {
    let wants_json = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"));
    let refuse = |error: AppError| {
        if wants_json {
            (error.status(), axum::Json(serde_json::json!({ "problem": error.to_string() }))).into_response()
        } else {
            (error.status(), error.to_string()).into_response()
        }
    };
    let Some(product) = state.catalogue.find(&slug) else { return refuse(AppError::NotFound) };
    let Some(op) = product.reference.operations.iter().find(|o| o.anchor == anchor) else { return refuse(AppError::NotFound) };
    let page = product.reference.operation_href(&slug, op);
    let account = match app::sessions::auth::account_of(&state, &session).await {
        Ok(Some(account)) => account,
        Ok(None) if wants_json => return refuse(AppError::Unauthorized),
        Ok(None) => return see_other(&app::ui::sign_in_path(&page)),
        Err(e) => return refuse(e),
    };
    let Ok(values) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&form) else {
        return refuse(AppError::invalid("form", "The form could not be read: send it as the page does."));
    };
    let answer = match try_it::build(op, &values) {
        Err(problem) => TryAnswer { problem: Some(problem), ..TryAnswer::default() },
        Ok(call) => {
            let client = app::client::ClientInfo::from_parts(Some(peer), &headers, &state.config.trusted_proxies);
            let key = match session.id() {
                Some(id) => {
                    app::api_keys::issue::console_key(&state, &account, &app::sessions::store::session_key_hash(&id), &client).await
                }
                None => Err(AppError::Unauthorized),
            };
            match key {
                Ok(key) => send(&gateway, peer, &headers, &slug, call, &key).await,
                Err(e) => TryAnswer { problem: Some(e.to_string()), ..TryAnswer::default() },
            }
        }
    };
    if wants_json {
        return axum::Json(answer).into_response();
    }
    let flash = TryFlash { product: slug, operation: anchor.clone(), values, answer };
    if let Err(err) = session.insert(FLASH_KEY, flash).await {
        tracing::warn!(error = %err, "could not keep the try-it answer");
    }
    let page = page.split('#').next().unwrap_or_default().to_string();
    see_other(&format!("{page}#{anchor}-try"))
}

fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    res
}

/// Sends the call through the gateway and reads its answer (at most [`BODY_SHOWN_MAX`] of it).
async fn send(gateway: &Arc<Gateway>, peer: SocketAddr, developer: &HeaderMap, slug: &str, call: TryRequest, key: &str) -> TryAnswer {
    let shown = format!("{} /api/{slug}{}", call.method, call.path_and_query);
    let mut req = http::Request::new(axum::body::Body::empty());
    *req.method_mut() = call.method;
    match format!("/api/{slug}{}", call.path_and_query).parse() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return TryAnswer { problem: Some("These values do not make a valid address.".into()), ..TryAnswer::default() },
    }
    let h = req.headers_mut();
    for name in CARRIED {
        if let Some(value) = developer.get(&name) {
            h.insert(name, value.clone());
        }
    }
    for (name, value) in call.headers {
        h.append(name, value);
    }
    if let Ok(bearer) = HeaderValue::from_str(&format!("Bearer {key}")) {
        h.insert(header::AUTHORIZATION, bearer);
    }
    if let Some((media, body)) = call.body {
        if let Ok(media) = HeaderValue::from_str(&media) {
            h.insert(header::CONTENT_TYPE, media);
        }
        *req.body_mut() = axum::body::Body::from(body);
    }
    let started = Instant::now();
    let res = crate::gateway::api(axum::extract::State(gateway.clone()), ConnectInfo(peer), req).await;
    let status = res.status();
    let headers: Vec<(String, String)> =
        res.headers().iter().map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
    let content_type = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (bytes, cut) = read_at_most(res.into_body(), BODY_SHOWN_MAX).await;
    let (body, body_note) = try_it::shown_body(content_type.as_deref(), &bytes, cut);
    TryAnswer {
        request: shown,
        status: Some(status.as_u16()),
        reason: status.canonical_reason().unwrap_or_default().to_string(),
        millis: started.elapsed().as_millis() as u64,
        headers,
        body,
        body_note,
        problem: None,
    }
}

/// The first `max` bytes of a body, and whether there was more (the rest is never read).
async fn read_at_most(mut body: axum::body::Body, max: usize) -> (Vec<u8>, bool) {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Some(data) = frame.data_ref() {
            if bytes.len() + data.len() > max {
                bytes.extend_from_slice(&data[..max - bytes.len()]);
                return (bytes, true);
            }
            bytes.extend_from_slice(data);
        }
    }
    (bytes, false)
}
