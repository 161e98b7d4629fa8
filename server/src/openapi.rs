//! `GET /openapi.json`: the protected API described as OpenAPI 3.1, written by hand in
//! `openapi.json` beside this file. The API tests call every operation it lists and fail on any
//! status it does not list, and `.ci/schemathesis` fuzzes the running server against it.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> Response {
    let mut res = DOCUMENT.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // It changes only with a new release; clients may keep it, but ask again each time.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_json_with_every_gateway_route() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        for path in ["/api/v1/echo", "/api/{path}", "/v1/keys/verify", "/v1/keys/revoke", "/openapi.json"] {
            assert!(doc["paths"][path].is_object(), "{path} is described");
        }
    }

    #[test]
    fn every_reference_in_the_document_resolves() {
        fn walk(value: &serde_json::Value, root: &serde_json::Value, broken: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                        let pointer = target.strip_prefix('#').unwrap_or(target);
                        if root.pointer(pointer).is_none() {
                            broken.push(target.clone());
                        }
                    }
                    map.values().for_each(|v| walk(v, root, broken));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, root, broken)),
                _ => {}
            }
        }
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("JSON");
        let mut broken = Vec::new();
        walk(&doc, &doc, &mut broken);
        assert!(broken.is_empty(), "unresolved: {broken:?}");
    }
}
