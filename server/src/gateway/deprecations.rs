//! Calls of deprecated operations: found by method and path template, answered with
//! `Deprecation` (RFC 9745: since when), `Sunset` (RFC 8594: from when it stops answering) and
//! a `Link` to its docs (`rel="deprecation"`), and marked in the log record so the writer counts
//! who still makes them (see `app::deprecations`).

use std::sync::Arc;

use app::deprecations::store::{self, OperationKey};
use app::products::catalogue::Product;
use http::{HeaderMap, HeaderValue, Method};
use time::OffsetDateTime;

/// One deprecated operation of a product, ready to be matched and announced.
#[derive(Debug)]
pub struct Deprecated {
    pub key: OperationKey,
    method: Method,
    /// The path template's segments: `None` for a `{parameter}`.
    segments: Vec<Option<String>>,
    headers: Vec<(http::HeaderName, HeaderValue)>,
}

impl Deprecated {
    fn matches(&self, method: &Method, path: &str) -> bool {
        if *method != self.method {
            return false;
        }
        let mut given = path.trim_start_matches('/').split('/');
        for segment in &self.segments {
            match (given.next(), segment) {
                (Some(part), None) if !part.is_empty() => {}
                (Some(part), Some(literal)) if part == literal => {}
                _ => return false,
            }
        }
        given.next().is_none()
    }

    pub fn announce(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
    }
}

/// The deprecated operations of one product (usually none or a few: a linear look suffices).
#[derive(Default)]
pub struct Deprecations(Vec<Arc<Deprecated>>);

impl Deprecations {
    /// Records each of the product's deprecated operations (once per installation) and reads
    /// when it was first published as such, for the `Deprecation` date.
    pub async fn load(product: &Product, db: &app::db::Db, public_url: &str, now: OffsetDateTime) -> Result<Deprecations, sqlx::Error> {
        let mut found = Vec::new();
        for op in product.reference.operations.iter().filter(|op| op.deprecated || op.sunset.is_some()) {
            let Ok(method) = Method::from_bytes(op.method.as_bytes()) else { continue };
            let key = OperationKey { product: product.config.slug.clone(), method: op.method.clone(), path: op.path.clone() };
            let since = store::register_operation(db, &key, now).await?;
            let mut headers = Vec::new();
            if let Ok(value) = HeaderValue::from_str(&format!("@{}", since.unix_timestamp())) {
                headers.push((http::HeaderName::from_static("deprecation"), value));
            }
            if let Some(value) = op.sunset.as_deref().and_then(sunset_header) {
                headers.push((http::HeaderName::from_static("sunset"), value));
            }
            let docs = format!("{}{}", public_url.trim_end_matches('/'), product.reference.operation_href(&product.config.slug, op));
            if let Ok(value) = HeaderValue::from_str(&format!("<{docs}>; rel=\"deprecation\"; type=\"text/html\"")) {
                headers.push((http::header::LINK, value));
            }
            let segments = op.path.trim_start_matches('/').split('/').map(|s| (!s.contains('{')).then(|| s.to_string())).collect();
            found.push(Arc::new(Deprecated { key, method, segments, headers }));
        }
        Ok(Deprecations(found))
    }

    /// The deprecated operation `method path` calls (`path` below the product's prefix).
    pub fn find(&self, method: &Method, path: &str) -> Option<&Arc<Deprecated>> {
        if self.0.is_empty() {
            return None;
        }
        self.0.iter().find(|d| d.matches(method, path))
    }
}

/// `2027-06-30`, the last day an operation answers, as the instant it stops: the next midnight
/// UTC, as an HTTP date.
fn sunset_header(last_day: &str) -> Option<HeaderValue> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(last_day, &format).ok()?.next_day()?;
    let at = std::time::SystemTime::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(day.midnight().assume_utc().unix_timestamp()).ok()?);
    HeaderValue::from_str(&httpdate::fmt_http_date(at)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deprecated(method: Method, template: &str) -> Deprecated {
        Deprecated {
            key: OperationKey { product: "pets".into(), method: method.to_string(), path: template.into() },
            method,
            segments: template.trim_start_matches('/').split('/').map(|s| (!s.contains('{')).then(|| s.to_string())).collect(),
            headers: Vec::new(),
        }
    }

    #[test]
    fn calls_are_matched_to_templates_by_method_and_segments() {
        let get = deprecated(Method::GET, "/v1/pets/{petId}");
        assert!(get.matches(&Method::GET, "/v1/pets/42"));
        assert!(!get.matches(&Method::GET, "/v1/pets/"), "a parameter is never empty");
        assert!(!get.matches(&Method::GET, "/v1/pets"));
        assert!(!get.matches(&Method::GET, "/v1/pets/42/toys"));
        assert!(!get.matches(&Method::DELETE, "/v1/pets/42"));
        assert!(!get.matches(&Method::GET, "/v2/pets/42"));
        let list = deprecated(Method::GET, "/v1/pets");
        assert!(list.matches(&Method::GET, "/v1/pets"));
        assert!(!list.matches(&Method::GET, "/v1/pets/42"));
    }

    #[test]
    fn the_sunset_is_the_midnight_after_the_last_day() {
        assert_eq!(sunset_header("2027-06-30").unwrap(), "Thu, 01 Jul 2027 00:00:00 GMT");
        assert_eq!(sunset_header("2027-12-31").unwrap(), "Sat, 01 Jan 2028 00:00:00 GMT");
        assert!(sunset_header("2027-02-30").is_none());
    }
}
