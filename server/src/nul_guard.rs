//! Text holding U+0000 (NUL) is refused at the door with 400. PostgreSQL cannot store NUL in
//! text, so one that reached a query (an email at sign-in, an admin search) answered 500 there;
//! no field of Mast has a use for it, so refusing the whole request closes the class at once.
//!
//! Where a NUL can hide: `%00` or a raw zero byte in a server function's form body (decoded once),
//! and `%00` or `%2500` in a page's path or query (Leptos's router decodes query values twice).

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};

/// Server functions read at most this much (axum's default body limit, which server_fn applies).
pub const FORM_BODY_MAX: usize = 2 * 1024 * 1024;

/// True when `text` holds a NUL once decoded `times` times.
fn has_nul(text: &[u8], times: usize) -> bool {
    let mut current = text.to_vec();
    for _ in 0..=times {
        if current.contains(&0) {
            return true;
        }
        current = percent_encoding::percent_decode(&current).collect();
    }
    false
}

/// The request again (its body read into memory when it is a server function's form), or the
/// refusal.
pub async fn screen(req: Request) -> Result<Request, Response> {
    let uri = req.uri();
    if has_nul(uri.path().as_bytes(), 2) || uri.query().is_some_and(|q| has_nul(q.as_bytes(), 2)) {
        return Err((StatusCode::BAD_REQUEST, "This address holds a character no page accepts.").into_response());
    }
    if req.method() != Method::POST || !uri.path().starts_with("/rpc/") {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    let Some(bytes) = crate::body::read_at_most(body, FORM_BODY_MAX).await else {
        return Err(form_refused(StatusCode::PAYLOAD_TOO_LARGE, app::error::AppError::message(UNREADABLE_FORM)));
    };
    if has_nul(&bytes, 1) {
        // Named after its field where the form can be read, so the page shows it there.
        let field = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(name, value)| value.contains('\0') && !name.contains('\0')))
            .map(|(name, _)| name);
        let error = match field {
            Some(field) => app::error::AppError::invalid(&field, "This field contains characters that are not allowed."),
            None => app::error::AppError::message(UNREADABLE_FORM),
        };
        return Err(form_refused(StatusCode::BAD_REQUEST, error));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

const UNREADABLE_FORM: &str = "The form could not be read. Please check every field and try again.";

/// The error a server function gives for a form it cannot read, so the page shows its message.
fn form_refused(status: StatusCode, error: app::error::AppError) -> Response {
    let mut res = (status, serde_json::to_string(&error).unwrap_or_default()).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut().insert("serverfnerror", HeaderValue::from_static("1"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_found_raw_escaped_and_double_escaped_but_not_deeper() {
        assert!(has_nul(b"a\0b", 0));
        assert!(has_nul(b"email=a%00b", 1));
        assert!(!has_nul(b"email=a%2500b", 1), "a form is decoded once: this is the text %00");
        assert!(has_nul(b"search=a%2500b", 2), "page queries are decoded twice");
        assert!(has_nul(b"search=%25%30%30", 2));
        assert!(!has_nul(b"search=%252500", 2));
        assert!(!has_nul(b"search=%ZZ%&%0", 2), "broken escapes are text");
    }
}
