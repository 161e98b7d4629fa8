//! The docs' try-it console: what a developer fills in for one operation, the call made of it,
//! and the answer shown. The server sends the call through the gateway with the session's
//! console key (`server/src/try_it.rs`); nothing secret is in the form or the answer.
//!
//! Form fields: `path.<name>`, `query.<name>`, `header.<name>`, `cookie.<name>` for parameters,
//! `body` for the request body (sent as the operation's first media type).

use http::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::openapi::{Operation, Reference};
use super::samples::{encode, example_text};

/// Where a browser without JavaScript finds its answer after the redirect (one read, then gone).
pub const FLASH_KEY: &str = "try_it";
/// The most of an answer's body shown.
pub const BODY_SHOWN_MAX: usize = 1024 * 1024;
/// The most of a request body sent (the gateway's own limit).
pub const BODY_SENT_MAX: usize = 1024 * 1024;

/// What the page shows after a try.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TryAnswer {
    /// `GET /api/pets/v1/pets?limit=2`: the call as it was sent.
    pub request: String,
    /// None when no call was made (see `problem`).
    pub status: Option<u16>,
    /// `OK`, `Not Found`.
    pub reason: String,
    pub millis: u64,
    pub headers: Vec<(String, String)>,
    /// JSON pretty-printed; other text as it came.
    pub body: String,
    /// Why the body is not all there: cut at 1 MB, or not text.
    pub body_note: Option<String>,
    /// Why no call was made: a required field left empty, a header that cannot be sent.
    pub problem: Option<String>,
}

/// The last try of a session, kept for the page it redirects to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TryFlash {
    pub product: String,
    pub operation: String,
    /// The form as it was sent, to fill it in again.
    pub values: Vec<(String, String)>,
    pub answer: TryAnswer,
}

impl TryFlash {
    pub fn value(&self, field: &str) -> Option<&str> {
        self.values.iter().find(|(name, _)| name == field).map(|(_, value)| value.as_str())
    }
}

/// The call made of a filled-in form, relative to the product (`/v1/pets/7?limit=2`).
#[derive(Debug, PartialEq)]
pub struct TryRequest {
    pub method: http::Method,
    pub path_and_query: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<(String, Vec<u8>)>,
}

/// Headers the console sets itself or that would change who is calling: never from the form.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "x-api-key",
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "cookie",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
];

/// The form field of a parameter.
pub fn field_name(location: &str, name: &str) -> String {
    format!("{location}.{name}")
}

/// What a field starts with: the parameter's example, else one made from its schema.
pub fn prefill(reference: &Reference, p: &super::openapi::Parameter) -> String {
    if p.example.is_none() && !p.required {
        return String::new();
    }
    example_text(reference, p)
}

/// Builds the call, or says which field is wrong.
pub fn build(op: &Operation, values: &[(String, String)]) -> Result<TryRequest, String> {
    let value = |field: &str| values.iter().find(|(name, _)| name == field).map(|(_, v)| v.trim()).filter(|v| !v.is_empty());
    let method = http::Method::from_bytes(op.method.as_bytes()).map_err(|_| "This operation's method cannot be sent.".to_string())?;
    let mut path = op.path.clone();
    let mut query = Vec::new();
    let mut headers = Vec::new();
    let mut cookies = Vec::new();
    for p in &op.parameters {
        let field = field_name(&p.location, &p.name);
        let Some(v) = value(&field) else {
            if p.required {
                return Err(format!("Fill in {} ({} parameter): this operation needs it.", p.name, p.location));
            }
            continue;
        };
        match p.location.as_str() {
            "path" => path = path.replace(&format!("{{{}}}", p.name), &encode(v)),
            "query" => query.push(format!("{}={}", encode(&p.name), encode(v))),
            "header" => {
                let name = HeaderName::from_bytes(p.name.as_bytes())
                    .ok()
                    .filter(|n| !RESERVED_HEADERS.contains(&n.as_str()))
                    .ok_or_else(|| format!("The console cannot send the header {}: the portal sets it itself.", p.name))?;
                let v = HeaderValue::from_str(v).map_err(|_| format!("{} must be one line of visible characters.", p.name))?;
                headers.push((name, v));
            }
            "cookie" => cookies.push(format!("{}={}", p.name, encode(v))),
            _ => {}
        }
    }
    if !cookies.is_empty() {
        let cookie = HeaderValue::from_str(&cookies.join("; ")).map_err(|_| "The cookie parameters cannot be sent.".to_string())?;
        headers.push((http::header::COOKIE, cookie));
    }
    let body = match (op.request_body.as_ref(), values.iter().find(|(n, _)| n == "body").map(|(_, v)| v.as_str())) {
        (Some(doc), Some(text)) if !text.trim().is_empty() => {
            if text.len() > BODY_SENT_MAX {
                return Err("The body is over 1 MB, more than the API takes.".into());
            }
            let media = doc.contents.first().map_or("application/json", |c| c.media_type.as_str());
            if media.contains("json") {
                serde_json::from_str::<serde_json::Value>(text).map_err(|e| format!("The body is not valid JSON: {e}."))?;
            }
            Some((media.to_string(), text.as_bytes().to_vec()))
        }
        (Some(doc), _) if doc.required => return Err("Fill in the body: this operation needs one.".into()),
        _ => None,
    };
    let mut path_and_query = path;
    if !query.is_empty() {
        path_and_query.push('?');
        path_and_query.push_str(&query.join("&"));
    }
    Ok(TryRequest { method, path_and_query, headers, body })
}

/// The answer's body as the page shows it: JSON pretty-printed, text as it is, cut at
/// [`BODY_SHOWN_MAX`]; `cut` says the answer had more.
pub fn shown_body(content_type: Option<&str>, bytes: &[u8], cut: bool) -> (String, Option<String>) {
    let cut_note = cut.then(|| "Only the first 1 MB of the answer is shown.".to_string());
    let is_json = content_type.is_some_and(|t| t.contains("json"));
    if is_json && !cut {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
            return (serde_json::to_string_pretty(&value).unwrap_or_default(), None);
        }
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), cut_note),
        // A cut may fall inside a character: keep what is whole.
        Err(e) if cut && e.error_len().is_none() => (String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned(), cut_note),
        Err(_) => {
            (String::new(), Some(format!("{} bytes that are not text ({}): not shown.", bytes.len(), content_type.unwrap_or("no type"))))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::products::openapi::{Documents, Parameter, build as read};

    fn pets() -> Reference {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/tests/apis/petstore.yaml");
        read(&Documents::load(&path, Path::new("petstore.yaml")).unwrap()).unwrap()
    }

    fn op<'a>(r: &'a Reference, id: &str) -> &'a Operation {
        r.operations.iter().find(|o| o.operation_id.as_deref() == Some(id)).unwrap()
    }

    fn values(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn a_form_becomes_the_call_with_its_values_encoded_and_empty_fields_left_out() {
        let r = pets();
        let call = build(op(&r, "getPet"), &values(&[("path.petId", "a b/c")])).unwrap();
        assert_eq!(call.method, http::Method::GET);
        assert_eq!(call.path_and_query, "/v1/pets/a%20b%2Fc", "a value cannot leave its segment");
        assert!(call.body.is_none());
        let missing = build(op(&r, "getPet"), &values(&[("path.petId", "  ")])).unwrap_err();
        assert!(missing.contains("petId"), "{missing}");

        let list =
            values(&[("query.species", "cat & dog"), ("query.limit", ""), ("header.X-Request-Id", "r-1"), ("cookie.session", "s 1")]);
        let call = build(op(&r, "listPets"), &list).unwrap();
        assert_eq!(call.path_and_query, "/v1/pets?species=cat%20%26%20dog");
        let headers: Vec<_> = call.headers.iter().map(|(n, v)| format!("{n}: {}", v.to_str().unwrap())).collect();
        assert_eq!(headers, ["x-request-id: r-1", "cookie: session=s%201"]);
    }

    #[test]
    fn the_console_never_sends_the_key_or_address_headers_from_the_form() {
        let mut r = pets();
        for name in ["Authorization", "X-API-Key", "X-Forwarded-For"] {
            r.operations[0].parameters.push(Parameter {
                name: name.into(),
                location: "header".into(),
                required: false,
                deprecated: false,
                description: None,
                schema: None,
                example: None,
            });
        }
        let mut form = values(&[("query.species", "cat")]);
        for name in ["Authorization", "X-API-Key", "X-Forwarded-For"] {
            form.push((format!("header.{name}"), "stolen".into()));
            let refused = build(&r.operations[0], &form).unwrap_err();
            assert!(refused.contains(name) && refused.contains("sets it itself"), "{refused}");
            form.pop();
        }
        let bad = build(op(&r, "listPets"), &values(&[("query.species", "cat"), ("header.X-Request-Id", "a\r\nb")])).unwrap_err();
        assert!(bad.contains("one line"), "{bad}");
    }

    #[test]
    fn a_body_must_be_json_when_the_operation_takes_json() {
        let r = pets();
        let create = op(&r, "createPet");
        assert_eq!(build(create, &[]).unwrap_err(), "Fill in the body: this operation needs one.");
        assert!(build(create, &values(&[("body", "{\"name\": ")])).unwrap_err().starts_with("The body is not valid JSON"));
        let call = build(create, &values(&[("body", "{\"name\": \"Rex\"}")])).unwrap();
        assert_eq!(call.method, http::Method::POST);
        assert_eq!(call.body, Some(("application/json".to_string(), b"{\"name\": \"Rex\"}".to_vec())));
    }

    #[test]
    fn answers_are_shown_pretty_cut_or_described() {
        assert_eq!(shown_body(Some("application/json"), b"{\"a\":[1,2]}", false).0, "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
        let (text, note) = shown_body(Some("application/json"), "{\"a\": \"é".as_bytes().split_last().unwrap().1, true);
        assert_eq!(text, "{\"a\": \"");
        assert!(note.unwrap().contains("first 1 MB"));
        let (text, note) = shown_body(Some("image/png"), &[0x89, 0x50, 0xff, 0xfe], false);
        assert!(text.is_empty() && note.unwrap().contains("4 bytes that are not text (image/png)"));
    }
}
