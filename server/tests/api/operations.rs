//! What an operator's monitoring reads: liveness, readiness, Prometheus metrics, and JSON logs.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::keys::{account_with_key, call};
use crate::on_both_backends;
use crate::support::{Backend, PASSWORD, TestApp, unique_email, wait_for_log};

/// The value of one series in the text format, e.g. `mast_sign_in_failures_total{method="password"}`.
fn series(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map(|v| v.trim().parse().expect("a number"))
        .unwrap_or(0.0)
}

async fn metrics(app: &TestApp) -> String {
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    res.text().await.unwrap()
}

on_both_backends! {
    async fn operations_metrics_count_api_outcomes_responses_and_sign_in_failures(app: TestApp) {
        let (email, key, _) = account_with_key(&app, "metrics").await;
        let before = metrics(&app).await;
        assert!(before.contains("mast_build_info{version=\""), "{before}");

        for _ in 0..3 {
            assert_eq!(call(&app, &key).await.status(), StatusCode::OK);
        }
        let http = reqwest::Client::new();
        let echo = format!("http://127.0.0.1:{}/api/v1/echo", app.addr.port());
        assert_eq!(http.get(&echo).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
        assert_eq!(http.get(&echo).bearer_auth("nonsense").send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
        let wrong = app.new_browser();
        let res = crate::support::rpc_with(&wrong, &app.base, "sign_in", &[("email", &email), ("password", "not the password")]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let res = crate::support::rpc_with(&wrong, &app.base, "sign_in", &[("email", &unique_email("nobody")), ("password", PASSWORD)]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        wait_for_log(&app.db, 5).await;

        let after = metrics(&app).await;
        let grew = |name: &str| series(&after, name) - series(&before, name);
        assert_eq!(grew("mast_api_requests_total{outcome=\"accepted\",code=\"none\"}"), 3.0, "{after}");
        assert_eq!(grew("mast_api_requests_total{outcome=\"refused\",code=\"missing_key\"}"), 1.0);
        assert_eq!(grew("mast_api_requests_total{outcome=\"refused\",code=\"malformed_key\"}"), 1.0);
        assert_eq!(grew("mast_sign_in_failures_total{method=\"password\"}"), 2.0, "unknown account and wrong password both count");
        assert_eq!(grew("mast_http_responses_total{area=\"api\",class=\"2xx\"}"), 3.0);
        assert_eq!(grew("mast_http_responses_total{area=\"api\",class=\"4xx\"}"), 2.0);
        assert!(grew("mast_http_responses_total{area=\"rpc\",class=\"4xx\"}") >= 2.0);
        assert!(series(&after, "mast_request_log_written_total") >= 5.0);
        assert_eq!(series(&after, "mast_request_log_dropped_total"), 0.0);
        assert!(after.contains("mast_request_log_queue_depth "), "{after}");
        // Nothing that identifies a person or a key is a label.
        assert!(!after.contains(&email) && !after.contains(&key[..16]));
    }
}

#[test]
fn operations_metrics_are_not_served_through_a_proxy_or_without_the_token() {
    crate::support::run(async {
        let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
        let proxied = app.client.get(app.url("/metrics")).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
        assert_eq!(proxied.status(), StatusCode::NOT_FOUND, "a scraper beside Mast connects directly; a proxied visitor does not");

        let app =
            TestApp::spawn_with(Backend::Sqlite, |c| c.metrics_token = Some("scrape-token-0123456789-abcdefghijklmnop".to_string().into()))
                .await
                .unwrap();
        assert_eq!(app.client.get(app.url("/metrics")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
        let wrong = app.client.get(app.url("/metrics")).bearer_auth("scrape-token-x").send().await.unwrap();
        assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
        let right = app.client.get(app.url("/metrics")).bearer_auth("scrape-token-0123456789-abcdefghijklmnop").send().await.unwrap();
        assert_eq!(right.status(), StatusCode::OK);
        assert!(right.text().await.unwrap().contains("mast_http_responses_total"));
    });
}

on_both_backends! {
    async fn operations_readyz_says_ready_and_turns_unavailable_without_the_database(app: TestApp) {
        let health = app.get("/healthz").await;
        assert_eq!(health.status(), StatusCode::OK);
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), StatusCode::OK);
        assert_eq!(ready.text().await.unwrap(), "ready");
        // The pool closed under it (as when the database goes away): not ready, and still alive.
        app.db.close().await;
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ready.text().await.unwrap(), "database unavailable");
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    }
}

/// The real binary with `MAST_LOG_FORMAT=json`: every line on stderr is one JSON object, with an
/// access line per request when asked for, and the shutdown on SIGTERM is logged and clean.
#[test]
fn operations_json_logs_one_object_per_line_with_access_lines_and_a_clean_sigterm() {
    crate::support::run(async {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("serve")
            .env("MAST_BIND", format!("127.0.0.1:{port}"))
            .env("MAST_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("MAST_DATA_DIR", dir.path())
            .env("DATABASE_URL", format!("sqlite://{}/mast.db", dir.path().display()))
            .env("MAST_LOG_FORMAT", "json")
            .env("RUST_LOG", "info,mast::access=debug")
            .env("LEPTOS_SITE_ROOT", dir.path())
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let mut up = false;
        for _ in 0..100 {
            if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "the server answers /readyz");
        let secret_query = "token=do-not-log-me";
        http.get(format!("{base}/verify-email?{secret_query}")).send().await.unwrap();
        http.get(format!("{base}/api/v1/echo")).send().await.unwrap();
        let key_in_path = app::api_keys::format::assemble("mast", app::api_keys::format::KeyType::Live, &"Q".repeat(30));
        http.get(format!("{base}/api/v1/{key_in_path}")).send().await.unwrap();
        // Anywhere in a segment, and percent-encoded: still a key, still never logged.
        http.get(format!("{base}/api/v1/key={key_in_path}")).send().await.unwrap();
        http.get(format!("{base}/api/v1/{}", key_in_path.replacen('_', "%5F", 2))).send().await.unwrap();
        // A sign-up's confirmation mail goes to the outbox: the log says where, never its link.
        let sign_up =
            [("email", "outbox@example.test"), ("display_name", "Ada"), ("password", crate::support::PASSWORD), ("accept_terms", "on")];
        let res = http.post(format!("{base}/rpc/sign_up")).header("origin", &base).form(&sign_up).send().await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        for _ in 0..50 {
            if std::fs::read_dir(dir.path().join("outbox")).is_ok_and(|mut d| d.next().is_some()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // SIGTERM, as systemd and container runtimes stop a service.
        assert!(Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap().success());
        let status = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
        assert!(status.status.success(), "a clean exit on SIGTERM");
        let stderr = String::from_utf8_lossy(&status.stderr).to_string() + &String::from_utf8_lossy(&status.stdout);
        let lines: Vec<serde_json::Value> = BufReader::new(stderr.as_bytes())
            .lines()
            .map(|l| l.unwrap())
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(&l).unwrap_or_else(|_| panic!("not a JSON line: {l}")))
            .collect();
        let messages: Vec<&str> = lines.iter().filter_map(|l| l["fields"]["message"].as_str()).collect();
        assert!(messages.contains(&"listening") && messages.contains(&"shutting down"), "{messages:?}");
        let access: Vec<&serde_json::Value> = lines.iter().filter(|l| l["target"] == "mast::access").collect();
        let echo = access.iter().find(|l| l["fields"]["path"] == "/api/v1/echo").expect("an access line for the API call");
        assert_eq!(echo["fields"]["status"], 401);
        assert_eq!(echo["fields"]["method"], "GET");
        assert!(access.iter().any(|l| l["fields"]["path"] == "/verify-email"), "{access:?}");
        assert!(!stderr.contains("do-not-log-me"), "query strings carry tokens: never logged");
        assert!(stderr.contains("mail written to the outbox"), "the outbox mail is announced");
        assert!(!stderr.contains("token="), "a mail's link (its token) is never logged");
        let leaked: Vec<&str> = stderr.lines().filter(|l| l.contains(&key_in_path[..20])).collect();
        assert!(leaked.is_empty(), "a key in the path is never logged: {leaked:?}");
        assert!(!stderr.contains("QQQQQQQQQQ"), "nor any part of its secret, however it was written");
        assert_eq!(access.iter().filter(|l| l["fields"]["path"] == "(hidden: a key was in the URL)").count(), 3);
    });
}
