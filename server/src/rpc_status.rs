//! Statuses that mean what they say. Server functions answer every error with 500 by default;
//! this gives each failure its real status (400 bad input, 401, 403, 404, 429), so a bad input is
//! never reported as our fault. And a page that redirects (a signed-out visit to a signed-in
//! page) sends no page along.

use app::error::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::StatusCode;

/// Error bodies are one small JSON object; anything larger is left alone.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn set_error_status(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR || !res.headers().contains_key("serverfnerror") {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = error.status();
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A `303 See Other` page answer carries only its `Location`: the page rendered on the way (an
/// admin's menu, a form) is not for whoever was sent elsewhere.
pub async fn redirects_carry_no_page(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::SEE_OTHER {
        return res;
    }
    let (mut parts, _page) = res.into_parts();
    parts.headers.remove(http::header::CONTENT_LENGTH);
    parts.headers.remove(http::header::CONTENT_TYPE);
    Response::from_parts(parts, Body::empty())
}
