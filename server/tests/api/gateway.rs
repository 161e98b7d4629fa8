//! The protected API over HTTP: every refusal code, limits, forwarding, the verify endpoint, the
//! request log (flushed on shutdown, never holding a key) and revocation across instances.

use std::time::{Duration, Instant};

use app::config::Plan;
use app::db::Db;
use reqwest::StatusCode;
use serde_json::Value;

use crate::keys::{account_with_key, call, create_key};
use crate::on_both_backends;
use crate::support::{Backend, TestApp, execute_with_id, scalar_i64, wait_for_log};

fn api(app: &TestApp, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", app.addr.port())
}

/// Asserts the refusal: status, stable code, a JSON body with a message.
async fn assert_refused(res: reqwest::Response, status: StatusCode, code: &str) -> reqwest::header::HeaderMap {
    assert_eq!(res.status(), status, "{code}");
    let headers = res.headers().clone();
    assert!(headers[reqwest::header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let body: Value = res.json().await.expect("JSON body");
    assert_eq!(body["error"]["code"], code);
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.len() > 10), "{code} has a message");
    headers
}

/// Every text column of the request log, for "never the key" checks.
async fn request_log_text(db: &Db) -> String {
    let sql = "select method || ' ' || route || ' ' || outcome || ' ' || coalesce(code, '') || ' ' || coalesce(key_label, '') \
               || ' ' || coalesce(ip, '') || ' ' || coalesce(user_agent, '') from request_log";
    let rows: Vec<String> = match db {
        Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
    };
    rows.join("\n")
}

async fn log_codes(db: &Db) -> Vec<String> {
    let sql = "select coalesce(code, outcome) from request_log order by request_log_id";
    match db {
        Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
    }
}

on_both_backends! {
    async fn every_refusal_has_a_stable_code_status_and_json_body_and_is_logged(app: TestApp) {
        let (email, key, _) = account_with_key(&app, "refusals").await;
        let http = reqwest::Client::new();
        let echo = api(&app, "/api/v1/echo");

        assert_refused(http.get(&echo).send().await.unwrap(), StatusCode::UNAUTHORIZED, "missing_key").await;
        for bare in ["/api", "/api/"] {
            assert_refused(http.post(api(&app, bare)).send().await.unwrap(), StatusCode::UNAUTHORIZED, "missing_key").await;
        }
        for method in ["TRACE", "QUERY", "PROPFIND"] {
            let odd = http.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), &echo).bearer_auth(&key).send().await.unwrap();
            let h = assert_refused(odd, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
            assert_eq!(h["allow"], "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
        }
        let h = assert_refused(http.get(&echo).bearer_auth("hello").send().await.unwrap(), StatusCode::UNAUTHORIZED, "malformed_key").await;
        assert_eq!(h["www-authenticate"], "Bearer");
        let typo = format!("{}{}{}", &key[..20], if &key[20..21] == "a" { "b" } else { "a" }, &key[21..]);
        assert_refused(http.get(&echo).bearer_auth(&typo).send().await.unwrap(), StatusCode::UNAUTHORIZED, "bad_checksum").await;
        let made_up = app::api_keys::format::assemble("mast", app::api_keys::format::KeyType::Live, &"Q".repeat(30));
        assert_refused(http.get(&echo).bearer_auth(&made_up).send().await.unwrap(), StatusCode::UNAUTHORIZED, "unknown_key").await;
        // In the URL: refused even with a good key in the header, and the URL is not logged.
        let in_query = http.get(format!("{echo}?api_key={key}")).bearer_auth(&key).send().await.unwrap();
        assert_refused(in_query, StatusCode::UNAUTHORIZED, "key_in_url").await;
        let in_path = http.get(api(&app, &format!("/api/v1/{key}/echo"))).send().await.unwrap();
        assert_refused(in_path, StatusCode::UNAUTHORIZED, "key_in_url").await;

        let account = app.account_id(&email).await;
        let expired = create_key(&app, &app.client, "expired", "live", "7").await;
        let expired_id = uuid::Uuid::parse_str(&expired.1).unwrap();
        execute_with_id(&app.db, "update api_key set expires_at = created_at where api_key_id = $1", expired_id).await;
        assert_refused(call(&app, &expired.0).await, StatusCode::UNAUTHORIZED, "expired_key").await;
        let revoked = create_key(&app, &app.client, "revoked", "live", "never").await;
        assert_eq!(app.rpc("revoke_key", &[("key_id", &revoked.1)]).await.status(), StatusCode::OK);
        assert_refused(call(&app, &revoked.0).await, StatusCode::UNAUTHORIZED, "revoked_key").await;

        // Account states, set before the keys are first used (so not cached yet).
        let (other_email, unverified_key, _) = account_with_key(&app, "unverified").await;
        let other = app.account_id(&other_email).await;
        execute_with_id(&app.db, "update account set email_verified_at = null where account_id = $1", other).await;
        assert_refused(call(&app, &unverified_key).await, StatusCode::FORBIDDEN, "account_unverified").await;
        let (third_email, suspended_key, _) = account_with_key(&app, "suspended").await;
        let third = app.account_id(&third_email).await;
        execute_with_id(&app.db, "update account set status = 'suspended' where account_id = $1", third).await;
        assert_refused(call(&app, &suspended_key).await, StatusCode::FORBIDDEN, "account_suspended").await;

        wait_for_log(&app.db, 15).await;
        let codes = log_codes(&app.db).await;
        assert_eq!(codes, ["missing_key", "missing_key", "missing_key", "method_not_allowed", "method_not_allowed", "method_not_allowed",
            "malformed_key", "bad_checksum", "unknown_key", "key_in_url", "key_in_url", "expired_key",
            "revoked_key", "account_unverified", "account_suspended"]);
        let text = request_log_text(&app.db).await;
        for secret in [&key[14..], &expired.0[14..], &revoked.0[14..], &typo[14..]] {
            assert!(!text.contains(secret), "the request log never holds a key");
        }
        assert!(text.contains("(hidden: a key was in the URL)"));
        // Refusals of a known key are the owner's to see: they carry the account and key.
        let mine = scalar_i64(&app.db, &format!("select count(*) from request_log where account_id = {}", id_literal(&app.db, account))).await;
        assert_eq!(mine, 2, "expired and revoked refusals name the account");
    }
}

fn id_literal(db: &Db, id: uuid::Uuid) -> String {
    match db {
        Db::Sqlite(_) => format!("x'{}'", id.simple()),
        Db::Postgres(_) => format!("'{id}'"),
    }
}

on_both_backends! {
    async fn an_accepted_call_is_echoed_counted_and_logged_with_its_key(app: TestApp) {
        let (email, key, _) = account_with_key(&app, "accepted").await;
        let res = reqwest::Client::new()
            .post(api(&app, "/api/v1/echo?page=2"))
            .header("x-api-key", &key)
            .header("user-agent", "curl/8.5\tInjected: yes")
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["ratelimit-limit"], "60");
        assert_eq!(res.headers()["ratelimit-remaining"], "59");
        assert!(res.headers()["ratelimit-reset"].to_str().unwrap().parse::<u64>().unwrap() <= 60);
        let body: Value = res.json().await.unwrap();
        let account = app.account_id(&email).await;
        assert_eq!(body["account_id"], account.to_string());
        assert_eq!(body["method"], "POST");
        assert_eq!(body["query"], "page=2");
        assert_eq!(body["body_bytes"], 5);
        assert_eq!(body["plan"]["name"], "free");
        assert!(!body.to_string().contains(&key), "the echo never repeats the key");

        wait_for_log(&app.db, 1).await;
        let row: (String, String, i32, String, Option<String>, String, String, i64) = match &app.db {
            Db::Sqlite(p) => sqlx::query_as("select method, route, status, outcome, code, key_label, ip, latency_us from request_log").fetch_one(p).await.unwrap(),
            Db::Postgres(p) => sqlx::query_as("select method, route, status, outcome, code, key_label, ip, latency_us from request_log").fetch_one(p).await.unwrap(),
        };
        assert_eq!((row.0.as_str(), row.1.as_str(), row.2, row.3.as_str(), row.4), ("POST", "/api/v1/echo", 200, "accepted", None));
        assert_eq!((row.5.as_str(), row.6.as_str()), ("Production server", "127.0.0.1"));
        assert!(row.7 > 0, "latency recorded");
        let text = request_log_text(&app.db).await;
        assert!(!text.contains('\t') && text.contains("curl/8.5Injected: yes"), "control characters are dropped from the user agent");
        assert!(!text.contains("page=2"), "the route is logged without its query");

        // The rollup and last use follow from the same batch.
        assert_eq!(scalar_i64(&app.db, "select cast(sum(requests) as bigint) from usage_minute where outcome = 'accepted'").await, 1);
        let listed = crate::keys::overview(&app, &app.client).await;
        assert!(listed["keys"][0]["last_used_at"].is_string(), "last used shows on the Keys page");
        assert_eq!(listed["plan"]["used_this_month"], 1);
    }
}

fn tiny_plan(per_minute: u32, per_month: u64) -> impl FnOnce(&mut app::config::Config) {
    move |c| {
        c.plans = vec![Plan { name: "tiny".into(), requests_per_minute: per_minute, requests_per_month: per_month }];
        c.default_plan = "tiny".into();
    }
}

#[test]
fn a_key_over_its_plan_per_minute_gets_429_with_retry_after_and_ratelimit_headers() {
    crate::support::run(async {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let Some(app) = TestApp::spawn_with(backend, tiny_plan(3, 1000)).await else { continue };
            let (_, key, _) = account_with_key(&app, "ratelimit").await;
            // Stay inside one clock minute, so the window cannot start over mid-test.
            let second = time::OffsetDateTime::now_utc().second();
            if second > 50 {
                tokio::time::sleep(Duration::from_secs(u64::from(61 - second))).await;
            }
            for remaining in ["2", "1", "0"] {
                let res = call(&app, &key).await;
                assert_eq!(res.status(), StatusCode::OK);
                assert_eq!(res.headers()["ratelimit-remaining"], remaining);
            }
            let h = assert_refused(call(&app, &key).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
            let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry), "Retry-After {retry}");
            assert_eq!(h["ratelimit-limit"], "3");
            assert_eq!(h["ratelimit-remaining"], "0");
            assert_eq!(h["ratelimit-policy"], "3;w=60");
            let (other_key, _) = create_key(&app, &app.client, "second", "live", "never").await;
            assert_eq!(call(&app, &other_key).await.status(), StatusCode::OK, "each key has its own window");
        }
    });
}

#[test]
fn an_account_over_its_monthly_quota_gets_429_and_refusals_do_not_count() {
    crate::support::run(async {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let Some(app) = TestApp::spawn_with(backend, tiny_plan(1000, 4)).await else { continue };
            let (_, key, _) = account_with_key(&app, "quota").await;
            let (second_key, _) = create_key(&app, &app.client, "second", "test", "never").await;
            for k in [&key, &second_key, &key] {
                assert_eq!(call(&app, k).await.status(), StatusCode::OK);
            }
            let no_key = reqwest::Client::new().get(api(&app, "/api/v1/echo")).send().await.unwrap();
            assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(call(&app, &second_key).await.status(), StatusCode::OK, "the 4th accepted request of the account");
            let h = assert_refused(call(&app, &key).await, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
            assert!(h.contains_key("retry-after"), "says when the next month starts");
            let policy = h["ratelimit-policy"].to_str().unwrap();
            let month_days: u64 = policy.strip_prefix("4;w=").and_then(|w| w.parse::<u64>().ok()).map(|w| w / 86_400).unwrap_or(0);
            assert!((28..=31).contains(&month_days), "the policy names the month, not a minute: {policy}");
            // Still refused once everything is written and read back from the rollup.
            wait_for_log(&app.db, 6).await;
            tokio::time::sleep(gateway_quota_refresh()).await;
            assert_refused(call(&app, &second_key).await, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
        }
    });
}

fn gateway_quota_refresh() -> Duration {
    server::gateway::limits::QUOTA_REFRESH + Duration::from_millis(200)
}

on_both_backends! {
    async fn odd_headers_never_cause_a_server_error(app: TestApp) {
        let http = reqwest::Client::new();
        let echo = api(&app, "/api/v1/echo");
        let long = "a".repeat(8000);
        let values: Vec<Vec<u8>> = vec![
            b"Bearer \xff\xfe".to_vec(),
            b"Bearer ".to_vec(),
            b"Bearer mast_live_".to_vec(),
            format!("Bearer mast_live_{long}").into_bytes(),
            b"Bearer mast_live_\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9".to_vec(),
            b"Bearer '; drop table api_key; --".to_vec(),
            b"Token abc".to_vec(),
        ];
        for value in values {
            let header = reqwest::header::HeaderValue::from_bytes(&value).unwrap();
            let res = http.get(&echo).header("authorization", header).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{:?}", String::from_utf8_lossy(&value));
        }
        let res = http.get(&echo).header("x-api-key", reqwest::header::HeaderValue::from_bytes(b"\x80abc").unwrap()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        for path in ["/api", "/api/", "/api/%00", "/api/v1/%E2%80%AE"] {
            let res = http.get(api(&app, path)).send().await.unwrap();
            assert!(res.status().is_client_error(), "{path}: {}", res.status());
        }
        assert_eq!(app.count_all("api_key").await, 0);
    }
}

on_both_backends! {
    async fn api_calls_need_no_session_and_pass_no_csrf_check(app: TestApp) {
        let (_, key, _) = account_with_key(&app, "nocookie").await;
        // A server-to-server POST from elsewhere: no Origin, no cookie. Accepted, and no cookie set.
        let res = reqwest::Client::new().post(api(&app, "/api/v1/echo")).header("origin", "https://elsewhere.example").bearer_auth(&key).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().get("set-cookie").is_none());
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
}

#[test]
fn the_client_ip_comes_from_x_forwarded_for_only_behind_a_trusted_proxy() {
    crate::support::run(async {
        for trusted in [false, true] {
            let app = TestApp::spawn_with(Backend::Sqlite, |c| {
                if trusted {
                    c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
                }
            })
            .await
            .unwrap();
            let res = reqwest::Client::new().get(api(&app, "/api/v1/echo")).header("x-forwarded-for", "203.0.113.7").send().await.unwrap();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
            wait_for_log(&app.db, 1).await;
            let ip: String = match &app.db {
                Db::Sqlite(p) => sqlx::query_scalar("select ip from request_log").fetch_one(p).await.unwrap(),
                Db::Postgres(_) => unreachable!(),
            };
            assert_eq!(ip, if trusted { "203.0.113.7" } else { "127.0.0.1" });
        }
    });
}

on_both_backends! {
    async fn operators_verify_keys_with_their_token_and_get_plan_and_limits(app: TestApp) {
        let (_, key, _) = account_with_key(&app, "verify").await;
        let res = reqwest::Client::new().post(api(&app, "/v1/keys/verify")).json(&serde_json::json!({ "key": key })).send().await.unwrap();
        assert_refused(res, StatusCode::NOT_FOUND, "verify_disabled").await;
    }
}

#[test]
fn the_verify_endpoint_answers_like_the_gateway_for_operator_gateways() {
    crate::support::run(async {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let Some(app) = TestApp::spawn_with(backend, |c| {
                c.operator_token = Some(secrecy::SecretString::from("operator-token-of-at-least-32-chars!"))
            })
            .await
            else {
                continue;
            };
            let (email, key, id) = account_with_key(&app, "verify").await;
            let http = reqwest::Client::new();
            let url = api(&app, "/v1/keys/verify");
            let wrong = http.post(&url).bearer_auth("guess").json(&serde_json::json!({ "key": key })).send().await.unwrap();
            let h = assert_refused(wrong, StatusCode::UNAUTHORIZED, "invalid_operator_token").await;
            assert_eq!(h["www-authenticate"], "Bearer", "a 401 says how to authenticate (RFC 9110)");
            let garbage = http.post(&url).bearer_auth("operator-token-of-at-least-32-chars!").body("{not json").send().await.unwrap();
            assert_refused(garbage, StatusCode::BAD_REQUEST, "invalid_body").await;
            // Larger than any request needs, even beyond axum's own 2 MB limit: the same JSON refusal.
            for size in [65 * 1024, 3 << 20] {
                let big = http.post(&url).bearer_auth("operator-token-of-at-least-32-chars!").body(vec![b' '; size]).send().await.unwrap();
                assert_refused(big, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
            }
            let lower_case_scheme = http
                .post(&url)
                .header("authorization", "bearer operator-token-of-at-least-32-chars!")
                .json(&serde_json::json!({ "key": "nope" }))
                .send()
                .await
                .unwrap();
            assert_eq!(lower_case_scheme.status(), StatusCode::OK, "the scheme is case-insensitive (RFC 9110 11.1)");

            let ask = |key: String| {
                http.post(&url)
                    .bearer_auth("operator-token-of-at-least-32-chars!")
                    .json(&serde_json::json!({ "key": key, "method": "GET", "route": "/v2/orders?limit=5" }))
                    .send()
            };
            let valid: Value = ask(key.clone()).await.unwrap().json().await.unwrap();
            assert_eq!(valid["valid"], true);
            assert_eq!(valid["account_id"], app.account_id(&email).await.to_string());
            assert_eq!(valid["key_id"], id);
            assert_eq!(valid["plan"]["name"], "free");
            assert_eq!(valid["ratelimit"]["remaining"], 59);
            assert_eq!(valid["quota"]["limit"], 10_000);
            assert!(!valid.to_string().contains(&key[14..]));

            assert_eq!(app.rpc("revoke_key", &[("key_id", &id)]).await.status(), StatusCode::OK);
            let refused: Value = ask(key.clone()).await.unwrap().json().await.unwrap();
            assert_eq!(
                (refused["valid"].clone(), refused["code"].clone(), refused["status"].clone()),
                (Value::Bool(false), "revoked_key".into(), 401.into())
            );
            let malformed: Value = ask("nope".into()).await.unwrap().json().await.unwrap();
            assert_eq!(malformed["code"], "malformed_key");

            wait_for_log(&app.db, 3).await;
            let routes = request_log_text(&app.db).await;
            assert!(routes.contains("GET /v2/orders"), "verifications are logged with the operator's route, without query: {routes}");
        }
    });
}

/// A small upstream that answers with what it received, and tries to set a cookie.
pub(crate) async fn spawn_upstream() -> String {
    use axum::extract::Request;
    let app = axum::Router::new().fallback(|req: Request| async move {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let headers: serde_json::Map<String, Value> =
            parts.headers.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_str().unwrap_or("?").to_string()))).collect();
        let answer = serde_json::json!({ "uri": parts.uri.to_string(), "method": parts.method.as_str(), "headers": headers, "body": String::from_utf8_lossy(&body) });
        ([("x-upstream", "yes"), ("connection", "close"), ("set-cookie", "mast_session=from-upstream; Path=/")], axum::Json(answer))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[test]
fn accepted_requests_are_forwarded_upstream_without_the_key_and_with_the_callers_identity() {
    crate::support::run(async {
        let upstream = spawn_upstream().await;
        let app = TestApp::spawn_with(Backend::Sqlite, move |c| c.upstream_url = Some(upstream)).await.unwrap();
        let (email, key, id) = account_with_key(&app, "forward").await;
        let res = reqwest::Client::new()
            .put(api(&app, "/api/v2/orders/7?expand=items"))
            .bearer_auth(&key)
            .header("x-mast-plan", "enterprise")
            .header("x-request-id", "abc-123")
            .body("{\"qty\":2}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-upstream"], "yes", "the upstream's headers come back");
        assert!(res.headers().get("connection").is_none_or(|v| v != "close"), "hop-by-hop headers stay on their hop");
        assert_eq!(res.headers()["ratelimit-limit"], "60");
        let seen: Value = res.json().await.unwrap();
        assert_eq!(seen["uri"], "/v2/orders/7?expand=items");
        assert_eq!(seen["method"], "PUT");
        assert_eq!(seen["body"], "{\"qty\":2}");
        let h = &seen["headers"];
        assert!(h.get("authorization").is_none(), "the key is not passed on");
        assert_eq!(h["x-mast-account-id"], app.account_id(&email).await.to_string());
        assert_eq!(h["x-mast-key-id"], id);
        assert_eq!(h["x-mast-plan"], "free", "a caller cannot pose as another plan");
        assert_eq!(h["x-mast-key-type"], "live");
        assert_eq!(h["x-request-id"], "abc-123");
        assert_eq!(h["x-forwarded-for"], "127.0.0.1");
        assert!(!seen.to_string().contains(&key[14..]));
    });
}

#[test]
fn an_upstream_that_does_not_answer_gives_502_not_500() {
    crate::support::run(async {
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let app = TestApp::spawn_with(Backend::Sqlite, move |c| c.upstream_url = Some(format!("http://{closed}"))).await.unwrap();
        let (_, key, _) = account_with_key(&app, "down").await;
        assert_refused(call(&app, &key).await, StatusCode::BAD_GATEWAY, "upstream_unavailable").await;
    });
}

/// An upstream that takes connections and requests but never answers. Returns its URL and a
/// receiver that yields once per request it has read.
async fn spawn_hung_upstream() -> (String, tokio::sync::mpsc::UnboundedReceiver<()>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (arrived, arrivals) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let arrived = arrived.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                    if head.windows(4).any(|w| w == b"\r\n\r\n") {
                        let _ = arrived.send(());
                        head.clear();
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), arrivals)
}

#[test]
fn an_upstream_that_never_answers_gives_504_upstream_timeout_and_is_logged_as_failed() {
    crate::support::run(async {
        let (upstream, mut arrivals) = spawn_hung_upstream().await;
        let app = TestApp::spawn_with(Backend::Sqlite, move |c| {
            c.upstream_url = Some(upstream);
            c.upstream_timeout_seconds = 1;
        })
        .await
        .unwrap();
        let (_, key, _) = account_with_key(&app, "hung").await;
        assert_refused(call(&app, &key).await, StatusCode::GATEWAY_TIMEOUT, "upstream_timeout").await;
        assert!(arrivals.try_recv().is_ok(), "the request did reach the upstream before the timeout");
        wait_for_log(&app.db, 1).await;
        let logged: (String, String, i64) = app::on_db!(&app.db, pool => sqlx::query_as(
            "select outcome, code, cast(status as bigint) from request_log").fetch_one(pool).await)
        .unwrap();
        assert_eq!(logged, ("failed".to_string(), "upstream_timeout".to_string(), 504));
    });
}

#[test]
fn a_stop_ends_after_its_grace_period_although_a_request_still_waits_for_its_upstream() {
    crate::support::run(async {
        let (upstream, mut arrivals) = spawn_hung_upstream().await;
        let mut app = TestApp::spawn_with(Backend::Sqlite, move |c| {
            c.upstream_url = Some(upstream);
            c.upstream_timeout_seconds = 3_600;
            c.shutdown_grace_seconds = 1;
            c.request_log_flush_ms = 60_000;
        })
        .await
        .unwrap();
        let (_, key, _) = account_with_key(&app, "grace").await;
        // One refused request, which only the shutdown flush can write, then one left hanging.
        let refused = reqwest::Client::new().get(api(&app, "/api/v1/orders")).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let hanging = tokio::spawn({
            let url = api(&app, "/api/v1/slow");
            let key = key.clone();
            async move { reqwest::Client::new().get(url).bearer_auth(key).send().await }
        });
        tokio::time::timeout(Duration::from_secs(10), arrivals.recv()).await.expect("the request reached the upstream");
        let stopped = tokio::time::timeout(Duration::from_secs(30), app.stop_gracefully()).await;
        let db = stopped.expect("the stop ended after its grace period, not when the upstream would have answered");
        assert_eq!(
            scalar_i64(&db, "select count(*) from request_log where code = 'missing_key'").await,
            1,
            "the request log was still written out after the grace period"
        );
        assert!(!hanging.is_finished() || hanging.await.unwrap().is_err(), "the hanging request got no made-up answer");
        db.close().await;
    });
}

#[test]
fn a_graceful_stop_writes_every_accepted_request_to_the_log() {
    crate::support::run(async {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            // A writer that would otherwise wait a minute: only the shutdown flush can write these.
            let Some(mut app) = TestApp::spawn_with(backend, |c| {
                c.request_log_flush_ms = 60_000;
                c.request_log_batch = 100_000;
            })
            .await
            else {
                continue;
            };
            let (_, key, _) = account_with_key(&app, "flush").await;
            let calls = (0..40).map(|_| call(&app, &key));
            for res in futures::future::join_all(calls).await {
                assert_eq!(res.status(), StatusCode::OK);
            }
            assert_eq!(scalar_i64(&app.db, "select count(*) from request_log").await, 0, "nothing written yet");
            let db = app.stop_gracefully().await;
            assert_eq!(scalar_i64(&db, "select count(*) from request_log where outcome = 'accepted'").await, 40);
            assert_eq!(scalar_i64(&db, "select cast(sum(requests) as bigint) from usage_minute").await, 40);
            assert_eq!(scalar_i64(&db, "select count(*) from api_key where last_used_at is not null").await, 1);
            db.close().await;
        }
    });
}

/// Revocation on one instance is seen by another instance (a separate server process on the
/// same PostgreSQL database) within a second, although that one had the key cached.
#[test]
fn a_revocation_reaches_a_second_server_process_within_one_second() {
    crate::support::run(async {
        let shared = |c: &mut app::config::Config| c.api_key_secret = Some(secrecy::SecretString::from(SHARED_SECRET));
        let Some(app) = TestApp::spawn_with(Backend::Postgres, shared).await else { return };
        let (_, key, id) = account_with_key(&app, "instances").await;
        let second = SecondProcess::start(&app.database_url).await;
        let on_second = || reqwest::Client::new().get(format!("{}/api/v1/echo", second.base)).bearer_auth(&key).send();
        assert_eq!(on_second().await.unwrap().status(), StatusCode::OK, "the second instance accepts (and caches) the key");
        assert_eq!(on_second().await.unwrap().status(), StatusCode::OK);

        let revoked_at = Instant::now();
        assert_eq!(app.rpc("revoke_key", &[("key_id", &id)]).await.status(), StatusCode::OK);
        loop {
            let res = on_second().await.unwrap();
            if res.status() == StatusCode::UNAUTHORIZED {
                assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "revoked_key");
                break;
            }
            assert!(revoked_at.elapsed() < Duration::from_secs(1), "the second instance still accepts the key after 1 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("revocation seen by the second process after {:?}", revoked_at.elapsed());
    });
}

pub struct SecondProcess {
    pub base: String,
    child: std::process::Child,
    _data: tempfile::TempDir,
}

impl SecondProcess {
    pub async fn start(database_url: &str) -> SecondProcess {
        let data = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // The same key secret as the first instance: instances of one installation share it.
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("MAST_BIND", format!("127.0.0.1:{port}"))
            .env("MAST_PUBLIC_URL", format!("http://localhost:{port}"))
            .env("MAST_DATA_DIR", data.path())
            .env("MAST_API_KEY_SECRET", SHARED_SECRET)
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("start the server binary");
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if reqwest::get(format!("{base}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
                return SecondProcess { base, child, _data: data };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the second server process did not start");
    }
}

impl Drop for SecondProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const SHARED_SECRET: &str = "a-shared-secret-for-two-instances-0123456789";

// One thread: the writer cannot run between the pushes, so exactly the queue's 2 records wait.
#[tokio::test(flavor = "current_thread")]
async fn a_full_log_queue_drops_and_counts_records_and_never_waits() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/log.db", dir.path().display())).await.unwrap();
    db.migrate().await.unwrap();
    let quotas = std::sync::Arc::new(server::gateway::limits::Quotas::new(db.clone()));
    let (log, writer) = server::request_log::start(db.clone(), quotas, Default::default(), 2, 1000, Duration::from_secs(60));
    let record = server::request_log::RequestRecord {
        at: app::db::now(),
        method: "GET".into(),
        route: "/api/v1/echo".into(),
        status: 401,
        outcome: "refused",
        code: Some("missing_key"),
        key: None,
        ip: "127.0.0.1".into(),
        user_agent: String::new(),
        latency_us: 10,
        deprecated: None,
    };
    let started = Instant::now();
    for _ in 0..10 {
        log.push(record.clone());
    }
    assert!(started.elapsed() < Duration::from_secs(1), "pushing never waits for the writer");
    let dropped = log.counters.dropped.get();
    assert_eq!(dropped, 8, "a queue of 2 cannot hold 10 records");
    writer.shutdown().await;
    let written = log.counters.written.get();
    assert_eq!(written, 2, "what was queued is written at shutdown");
    assert_eq!(scalar_i64(&db, "select count(*) from request_log").await as u64, written);
}
