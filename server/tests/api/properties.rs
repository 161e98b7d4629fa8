//! Property tests through the real HTTP path: arbitrary text and bytes in the fields of every
//! server function, and arbitrary JSON sent to the key endpoints. Case counts stay small: each
//! case is a request to a live server.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::StatusCode;
use serde_json::Value;

use crate::hostile::{FUNCTIONS, enc};
use crate::support::{Backend, TestApp, unique_email};

const OPERATOR_TOKEN: &str = "operator-token-for-the-properties";

/// Runs `check` on `cases` inputs from `strategy`, on this (multi-threaded) runtime.
fn run<S: Strategy>(cases: u32, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    tokio::task::block_in_place(|| runner.run(&strategy, check)).unwrap_or_else(|e| panic!("{e}"));
}

/// Any JSON: scalars of every kind, nested arrays and objects whose keys are often the real ones.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        "\\PC{0,40}".prop_map(Value::String),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("key|method|route|product|ip|\\PC{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn arbitrary_text_and_bytes_in_any_server_function_never_get_a_5xx() {
    crate::support::run(async {
        let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
        // Signed in, so the functions behind the sign-in check decode their fields too.
        app.verified_account(&unique_email("properties")).await;
        let functions: Vec<(&str, &[&str])> = FUNCTIONS.iter().copied().filter(|(f, _)| *f != "sign_out").collect();
        let handle = tokio::runtime::Handle::current();
        let strategy = (
            0..functions.len(),
            proptest::collection::vec(any::<String>(), 8),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        );
        run(160, strategy, |(index, values, raw)| {
            let (function, fields) = functions[index];
            let body = match raw {
                Some(bytes) => bytes,
                None => {
                    fields.iter().zip(&values).map(|(f, v)| format!("{}={}", enc(f), enc(v))).collect::<Vec<_>>().join("&").into_bytes()
                }
            };
            let status = handle.block_on(async {
                let req = app.client.post(app.url(&format!("/rpc/{function}"))).header("content-type", "application/x-www-form-urlencoded");
                req.body(body.clone()).send().await.expect("answer").status()
            });
            prop_assert!(!status.is_server_error(), "/rpc/{function} {:?}: {status}", String::from_utf8_lossy(&body));
            Ok(())
        });
    });
}

#[test]
fn arbitrary_json_to_the_key_endpoints_gets_the_documented_answer() {
    crate::support::run(async {
        let app =
            TestApp::spawn_with(Backend::Sqlite, |c| c.operator_token = Some(secrecy::SecretString::from(OPERATOR_TOKEN.to_string())))
                .await
                .expect("sqlite");
        let origin = format!("http://127.0.0.1:{}", app.addr.port());
        let http = reqwest::Client::new();
        let handle = tokio::runtime::Handle::current();
        let body = prop_oneof![
            json_value(),
            (json_value(), json_value(), json_value())
                .prop_map(|(key, method, route)| serde_json::json!({ "key": key, "method": method, "route": route })),
            ("\\PC{0,60}", proptest::option::of("\\PC{0,20}"), proptest::option::of("\\PC{0,60}"))
                .prop_map(|(key, method, route)| serde_json::json!({ "key": key, "method": method, "route": route })),
        ];
        run(200, body, |value| {
            // What `/v1/keys/verify` reads: an object with a string `key`, `method`, `route` and
            // `product` strings when present, and `ip` an address (or empty) when present. Such a
            // body gets a verdict, any other the `invalid_body` refusal.
            let optional_text = |name: &str| value.get(name).is_none_or(|v| v.is_null() || v.is_string());
            let address = value.get("ip").is_none_or(|v| {
                v.is_null() || v.as_str().is_some_and(|ip| ip.trim().is_empty() || ip.trim().parse::<std::net::IpAddr>().is_ok())
            });
            let readable = value.is_object()
                && value.get("key").is_some_and(Value::is_string)
                && optional_text("method")
                && optional_text("route")
                && optional_text("product")
                && address;
            let (status, answer) = handle.block_on(async {
                let res =
                    http.post(format!("{origin}/v1/keys/verify")).bearer_auth(OPERATOR_TOKEN).json(&value).send().await.expect("answer");
                (res.status(), res.json::<Value>().await.expect("a JSON answer"))
            });
            if readable {
                prop_assert_eq!(status, StatusCode::OK, "{}", value);
                prop_assert_eq!(&answer["valid"], &Value::Bool(false), "{}", value);
                prop_assert!(answer["code"].is_string());
            } else {
                prop_assert_eq!(status, StatusCode::BAD_REQUEST, "{}", value);
                prop_assert_eq!(&answer["error"]["code"], "invalid_body");
            }

            // Revocation reads only the key header: whatever string is presented, a 401 that says why.
            let presented = value.get("key").and_then(Value::as_str).unwrap_or_default().to_string();
            let (status, answer) = handle.block_on(async {
                let mut req = http.post(format!("{origin}/v1/keys/revoke")).json(&value);
                if let Ok(header) = reqwest::header::HeaderValue::from_str(&presented) {
                    req = req.header("x-api-key", header);
                }
                let res = req.send().await.expect("answer");
                (res.status(), res.json::<Value>().await.expect("a JSON answer"))
            });
            prop_assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", value);
            let code = answer["error"]["code"].as_str().unwrap_or_default();
            prop_assert!(["missing_key", "malformed_key", "bad_checksum", "unknown_key"].contains(&code), "{code}");
            Ok(())
        });
    });
}
