//! Prometheus metrics, served at `/metrics`. Every figure Mast exports is declared here, so an
//! operator reading this file knows the whole list. Labels are small fixed sets (no account,
//! key, path or address), so the number of series stays bounded whatever the traffic.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// An answer of the protected API (`/api`, `/v1/keys/…`): `accepted`, `refused` or `failed`,
/// and the refusal code (`none` when accepted).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiOutcome {
    pub outcome: &'static str,
    pub code: &'static str,
}

/// Any HTTP answer, by the part of Mast that gave it and its status class (`2xx` … `5xx`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Response {
    pub area: &'static str,
    pub class: &'static str,
}

/// How a sign-in was attempted: `password` or `passkey`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignInMethod {
    pub method: &'static str,
}

/// The request-log writer's figures (the log itself is in `server::request_log`).
#[derive(Clone, Debug, Default)]
pub struct RequestLogMetrics {
    pub written: Counter,
    pub dropped: Counter,
    pub failed_batches: Counter,
    /// Records waiting for the writer; set when `/metrics` is read.
    pub queue_depth: Gauge,
}

pub struct Metrics {
    registry: Registry,
    pub api_requests: Family<ApiOutcome, Counter>,
    pub responses: Family<Response, Counter>,
    pub sign_in_failures: Family<SignInMethod, Counter>,
    pub sign_ins_throttled: Counter,
    /// Refusals of anonymous requests past the ones kept as events (see `events::record_anonymous_refusal`).
    pub refusals_unrecorded: Counter,
    pub request_log: RequestLogMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("mast");
        let api_requests = Family::<ApiOutcome, Counter>::default();
        let responses = Family::<Response, Counter>::default();
        let sign_in_failures = Family::<SignInMethod, Counter>::default();
        let sign_ins_throttled = Counter::default();
        let refusals_unrecorded = Counter::default();
        let request_log = RequestLogMetrics::default();
        registry.register("build", "The running version of Mast", Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]));
        registry.register("api_requests", "Protected API requests by outcome and refusal code", api_requests.clone());
        registry.register("http_responses", "HTTP answers by area (api, page, rpc, asset, ops) and status class", responses.clone());
        registry.register(
            "sign_in_failures",
            "Sign-ins refused for a wrong password, unknown account or failed passkey",
            sign_in_failures.clone(),
        );
        registry.register("sign_ins_throttled", "Sign-ins refused because too many attempts failed", sign_ins_throttled.clone());
        registry.register(
            "refusals_unrecorded",
            "Cross-site posts and contact-form bot hits refused past the ten an hour per network kept as events",
            refusals_unrecorded.clone(),
        );
        registry.register("request_log_written", "Request-log records written to the database", request_log.written.clone());
        registry.register("request_log_dropped", "Request-log records dropped (queue full or write failed)", request_log.dropped.clone());
        registry.register("request_log_failed_batches", "Request-log batches the database refused", request_log.failed_batches.clone());
        registry.register("request_log_queue_depth", "Request-log records waiting for the writer", request_log.queue_depth.clone());
        Metrics { registry, api_requests, responses, sign_in_failures, sign_ins_throttled, refusals_unrecorded, request_log }
    }

    pub fn sign_in_failed(&self, method: &'static str) {
        self.sign_in_failures.get_or_create(&SignInMethod { method }).inc();
    }

    /// The OpenMetrics text format, as Prometheus scrapes it.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// The status class label of an HTTP status.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_appear_in_the_text_format_with_their_labels() {
        let metrics = Metrics::new();
        metrics.sign_in_failed("password");
        metrics.sign_in_failed("password");
        metrics.api_requests.get_or_create(&ApiOutcome { outcome: "refused", code: "unknown_key" }).inc();
        metrics.request_log.queue_depth.set(7);
        let text = metrics.encode();
        assert!(text.contains("mast_sign_in_failures_total{method=\"password\"} 2"), "{text}");
        assert!(text.contains("mast_api_requests_total{outcome=\"refused\",code=\"unknown_key\"} 1"), "{text}");
        assert!(text.contains("mast_request_log_queue_depth 7"), "{text}");
        assert!(text.contains("mast_build_info{version=\""), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(303), "3xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
