//! The security claims tried the way an attacker would break them (../shared/security-bar.md,
//! "Under concurrency, odd encodings and slow clients"): many requests at once, guesses from one
//! network and from many, paths in every encoding a parser accepts, and clients that are slow on
//! purpose. Each test is named after the finding it closes.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::authenticator::Authenticator;
use crate::on_both_backends;
use crate::support::{Backend, PASSWORD, TestApp, error_message, mails_to, rpc_with, unique_email};

const GUESSES: usize = 120;

/// Password checks allowed by a burst: the free ones of the tightest bucket, and one more.
fn free_plus_one() -> u64 {
    (app::throttle::SIGN_IN_PER_ACCOUNT_AND_CLIENT.free + 1) as u64
}

/// Status counts of a batch of answers.
fn tally(statuses: &[StatusCode]) -> (usize, usize) {
    let wrong = statuses.iter().filter(|s| **s == StatusCode::BAD_REQUEST).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(wrong + throttled, statuses.len(), "every answer is 'not correct' or 'wait': {statuses:?}");
    (wrong, throttled)
}

on_both_backends! {
    async fn throttle_race_concurrent_wrong_passwords_get_at_most_free_plus_one_checks(app: TestApp) {
        let email = unique_email("race");
        app.verified_account(&email).await;
        let before = app.hasher.verifications();
        let answers = join_all((0..GUESSES).map(|i| {
            let (app, email) = (&app, &email);
            async move { app.sign_in(email, &format!("wrong guess number {i}")).await.status() }
        }))
        .await;
        let checked = app.hasher.verifications() - before;
        let (wrong, throttled) = tally(&answers);
        assert!(checked <= free_plus_one(), "{checked} passwords checked for {GUESSES} concurrent guesses");
        assert_eq!(wrong as u64, checked, "each check is one 'not correct' answer, every other guess waits");
        assert_eq!(throttled, GUESSES - wrong);
        // The owner waits out a short back-off, not a lock.
        assert_eq!(app.sign_in(&email, PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
        app.clock.advance(time::Duration::seconds(2));
        assert_eq!(app.sign_in(&email, PASSWORD).await.status(), StatusCode::OK);
    }
}

on_both_backends! {
    async fn throttle_race_confirm_its_you_and_change_password_check_at_most_free_plus_one(app: TestApp) {
        let email = unique_email("race-session");
        app.verified_account(&email).await;
        for (endpoint, field) in [("reauthenticate_with_password", "password"), ("change_password", "current_password")] {
            let before = app.hasher.verifications();
            let answers = join_all((0..GUESSES).map(|i| {
                let app = &app;
                async move {
                    let guess = format!("wrong guess number {i}");
                    app.rpc(endpoint, &[(field, guess.as_str()), ("new_password", "a brand new passphrase")]).await.status()
                }
            }))
            .await;
            let checked = app.hasher.verifications() - before;
            let (wrong, _) = tally(&answers);
            assert!(checked <= free_plus_one(), "{endpoint}: {checked} passwords checked for {GUESSES} concurrent guesses");
            assert_eq!(wrong as u64, checked, "{endpoint}");
            // A new hour for the next round.
            app.clock.advance(time::Duration::minutes(61));
        }
    }
}

on_both_backends! {
    async fn throttle_race_concurrent_mail_requests_send_at_most_free_plus_one_mails(app: TestApp) {
        let email = unique_email("race-mail");
        app.verified_account(&email).await;
        let limit = (app::throttle::MAIL_PER_ADDRESS.free + 1) as usize;
        let answers = join_all((0..40).map(|_| {
            let (app, email) = (&app, &email);
            async move { app.rpc("request_password_reset", &[("email", email.as_str())]).await.status() }
        }))
        .await;
        assert!(answers.iter().all(|s| *s == StatusCode::OK), "a reset request always answers alike: {answers:?}");
        let unverified = unique_email("race-resend");
        let browser = unconfirmed_account_signed_in(&app, &unverified).await;
        let resent = join_all((0..40).map(|_| rpc_with(&browser, &app.base, "resend_verification", &[]))).await;
        let sent = resent.iter().filter(|r| r.status() == StatusCode::OK).count();
        assert!(sent <= limit, "{sent} resends accepted");
        // Mail goes out in the background: give it time, then count what arrived.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let resets = mails_to(&email).await.into_iter().filter(|m| m.subject.contains("Reset your")).count();
        assert!((1..=limit).contains(&resets), "{resets} reset mails for 40 concurrent requests");
        let confirmations = mails_to(&unverified).await.into_iter().filter(|m| m.subject.contains("Confirm your email")).count();
        assert_eq!(confirmations, 1 + sent, "the sign-up's mail and one per accepted resend");
    }
}

/// A browser that signed up with `email` (never confirmed) and signed in: the stranger who
/// typed someone else's address, or a newcomer who has not opened the mail yet.
async fn unconfirmed_account_signed_in(app: &TestApp, email: &str) -> reqwest::Client {
    let browser = app.new_browser();
    let sign_up = [("email", email), ("display_name", "Mallory"), ("password", PASSWORD), ("accept_terms", "on")];
    assert_eq!(rpc_with(&browser, &app.base, "sign_up", &sign_up).await.status(), StatusCode::OK);
    assert_eq!(rpc_with(&browser, &app.base, "sign_in", &[("email", email), ("password", PASSWORD)]).await.status(), StatusCode::OK);
    browser
}

/// A server behind a proxy on 127.0.0.1, so each request names its client in X-Forwarded-For.
async fn behind_a_proxy(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await
}

async fn sign_in_from(app: &TestApp, client: &reqwest::Client, network: &str, email: &str, password: &str) -> reqwest::Response {
    client
        .post(app.url("/rpc/sign_in"))
        .header("x-forwarded-for", network)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

fn lockout_abuse(backend: Backend) {
    crate::support::run(async move {
        let Some(app) = behind_a_proxy(backend).await else { return };
        let email = unique_email("lockout");
        app.verified_account(&email).await;
        let mut phone = Authenticator::new(&app.base);
        assert_eq!(crate::passkeys::add_passkey(&app, &mut phone).await.status(), StatusCode::OK);
        let stranger = app.new_browser();

        // Guesses from the owner's own network, spaced to beat the short waits, block password
        // sign-in there for minutes...
        for i in 0..15 {
            sign_in_from(&app, &stranger, "127.0.0.1", &email, &format!("guess {i}")).await;
            app.clock.advance(time::Duration::seconds(32));
        }
        assert_eq!(sign_in_from(&app, &stranger, "127.0.0.1", &email, PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
        // ...but never the passkey, which no password guess can stand in for...
        assert_eq!(crate::passkeys::passkey_sign_in(&app, &app.new_browser(), &mut phone).await.status(), StatusCode::OK);
        // ...and the owner's password from any other network still signs in.
        assert_eq!(sign_in_from(&app, &app.new_browser(), "198.51.100.7", &email, PASSWORD).await.status(), StatusCode::OK);

        // Guesses spread over many networks slow the address by seconds, never longer.
        for n in 0..40 {
            app.clock.advance(time::Duration::seconds(31));
            let answer = sign_in_from(&app, &stranger, &format!("203.0.113.{n}"), &email, "a distributed guess").await;
            assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "guess {n} is checked, and refused");
        }
        let (status, _, message) = error_message(sign_in_from(&app, &app.new_browser(), "198.51.100.7", &email, PASSWORD).await).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(message.contains("seconds"), "a wait of seconds: {message}");
        app.clock.advance(time::Duration::seconds(31));
        assert_eq!(sign_in_from(&app, &app.new_browser(), "198.51.100.7", &email, PASSWORD).await.status(), StatusCode::OK);
    });
}

mod lockout_abuse_guesses_never_block_a_passkey_nor_keep_the_owner_out {
    #[test]
    fn sqlite() {
        super::lockout_abuse(super::Backend::Sqlite);
    }

    #[test]
    fn postgres() {
        super::lockout_abuse(super::Backend::Postgres);
    }
}

#[test]
fn ipv6_clients_are_throttled_by_their_64_and_mapped_ipv4_as_ipv4() {
    crate::support::run(async {
        let app = behind_a_proxy(Backend::Sqlite).await.unwrap();
        let email = unique_email("ipv6");
        app.verified_account(&email).await;
        let browser = app.new_browser();
        // A new address of one /64 per guess is still one client.
        let mut statuses = Vec::new();
        for n in 1..=10 {
            statuses.push(sign_in_from(&app, &browser, &format!("2001:db8:7:7::{n:x}"), &email, "guess").await.status());
        }
        assert_eq!(tally(&statuses).0 as u64, free_plus_one(), "{statuses:?}");
        assert_eq!(sign_in_from(&app, &browser, "2001:db8:7:7:ffff::1", &email, PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            sign_in_from(&app, &browser, "2001:db8:7:8::1", &email, PASSWORD).await.status(),
            StatusCode::OK,
            "the next /64 is another client"
        );
        // An IPv4 client seen through an IPv6 socket is that IPv4 client.
        for n in 0..6 {
            sign_in_from(&app, &browser, "192.0.2.44", &email, &format!("guess {n}")).await;
        }
        assert_eq!(sign_in_from(&app, &browser, "::ffff:192.0.2.44", &email, PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    });
}

on_both_backends! {
    async fn change_password_is_no_oracle_it_needs_a_recent_confirmation(app: TestApp) {
        let email = unique_email("oracle");
        app.verified_account(&email).await;
        crate::passkeys::age_sign_in(&app, 6 * 60).await;
        let before = app.hasher.verifications();
        let res = app.rpc("change_password", &[("current_password", PASSWORD), ("new_password", "a brand new passphrase")]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "a sign-in 6 minutes old does not let the password change");
        assert_eq!(app.hasher.verifications(), before, "nor is the password even checked");
        assert_eq!(app.rpc("reauthenticate_with_password", &[("password", PASSWORD)]).await.status(), StatusCode::OK);
        let res = app.rpc("change_password", &[("current_password", PASSWORD), ("new_password", "a brand new passphrase")]).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
}

/// A server whose upstream answers with the path it was asked for, and records every one.
async fn upstream_recording_paths() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push(uri.path().to_string());
            format!("upstream saw {}", uri.path())
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/public"), seen)
}

/// One request written byte for byte, as `curl --path-as-is` would: no client normalises it.
async fn raw_request(app: &TestApp, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await.expect("an answer").unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn gateway_path_traversal_never_reaches_outside_the_upstream_base() {
    crate::support::run(async {
        let (upstream, seen) = upstream_recording_paths().await;
        let app = TestApp::spawn_with(Backend::Sqlite, move |c| c.upstream_url = Some(upstream)).await.unwrap();
        let (_, key, _) = crate::keys::account_with_key(&app, "traversal").await;
        for path in [
            "/api/../secret",
            "/api/%2e%2e/secret",
            "/api/.%2e/secret",
            "/api/%2E%2E/secret",
            "/api/v1/..%2fsecret",
            "/api/v1%2f..%2f..%2fsecret",
            "/api/%252e%252e/secret",
            "/api/..;/secret",
            "/api/..%5csecret",
            "/api/v1/%00",
        ] {
            let answer =
                raw_request(&app, &format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"))
                    .await;
            assert!(answer.starts_with("HTTP/1.1 400"), "{path}: {answer}");
            assert!(answer.contains("\"bad_path\""), "{path}: {answer}");
        }
        // A backslash is not even valid in a request line: whoever refuses it, nothing is forwarded.
        let answer = raw_request(
            &app,
            &format!("GET /api/..\\secret HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        let answer = raw_request(
            &app,
            &format!("GET /api/v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("upstream saw /public/v1/orders"), "{answer}");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen, vec!["/public/v1/orders".to_string()], "only the ordinary request reached the upstream");
        crate::support::wait_for_log(&app.db, 12).await;
    });
}

/// Waits until the server closes `stream` (or `within` passes); returns what it sent meanwhile.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    let mut received = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut received)).await {
        Ok(_) => Some(String::from_utf8_lossy(&received).into_owned()),
        Err(_) => None,
    }
}

#[test]
fn slow_clients_half_a_header_is_cut_off_after_the_header_read_timeout() {
    crate::support::run(async {
        let app = TestApp::spawn_with(Backend::Sqlite, |c| c.header_read_timeout_seconds = 1).await.unwrap();
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        // Dripping more header lines does not keep it open: the deadline is for the whole header.
        let drip = async {
            for n in 0..20 {
                if stream.write_all(format!("X-Drip-{n}: 1\r\n").as_bytes()).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        };
        drip.await;
        let closed = closed_within(&mut stream, Duration::from_secs(10)).await;
        assert!(closed.is_some(), "a connection sending half a header for 6 s was not closed");
        // A kept-alive connection that sends no next request is closed the same way.
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let answer = closed_within(&mut stream, Duration::from_secs(10)).await.expect("closed after the answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    });
}

#[test]
fn slow_clients_a_dripping_form_body_is_refused_after_the_body_read_timeout() {
    crate::support::run(async {
        let app = TestApp::spawn_with(Backend::Sqlite, |c| c.body_read_timeout_seconds = 1).await.unwrap();
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let head = format!(
            "POST /rpc/sign_in HTTP/1.1\r\nHost: localhost\r\nOrigin: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nemail=a",
            app.base
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        for _ in 0..10 {
            if stream.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let answer = closed_within(&mut stream, Duration::from_secs(10)).await.expect("the server ends the request");
        if let Some(status) = answer.get(9..12) {
            assert!(status.starts_with('4'), "a body that never arrives is the client's fault: {answer}");
        }
        assert_eq!(app.count_all("session").await, 0);
    });
}

#[test]
fn slow_clients_a_connection_that_stands_still_is_closed_and_connections_are_capped() {
    crate::support::run(async {
        let app = TestApp::spawn_with(Backend::Sqlite, |c| {
            c.header_read_timeout_seconds = 60;
            c.idle_timeout_seconds = 1;
            c.max_connections = 2;
        })
        .await
        .unwrap();
        let mut still = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        assert!(closed_within(&mut still, Duration::from_secs(10)).await.is_some(), "a silent connection is closed");

        // Two silent connections hold both slots: a third is not served until one leaves.
        let first = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let _second = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let third = reqwest::Client::new().get(app.url("/healthz")).timeout(Duration::from_millis(500)).send().await;
        assert!(third.is_err(), "a third connection was served beside two: {third:?}");
        drop(first);
        let fourth = reqwest::Client::new().get(app.url("/healthz")).timeout(Duration::from_secs(10)).send().await.unwrap();
        assert_eq!(fourth.status(), StatusCode::OK);
    });
}

#[tokio::test]
async fn short_operator_and_metrics_tokens_stop_the_start() {
    for (operator, metrics, named) in
        [(Some(""), None, "operator_token"), (Some("short"), None, "operator_token"), (None, Some("x".repeat(31)), "metrics_token")]
    {
        let data = tempfile::tempdir().unwrap();
        let config = app::config::Config {
            database_url: format!("sqlite://{}/mast.db", data.path().display()),
            data_dir: data.path().to_path_buf(),
            operator_token: operator.map(|t| secrecy::SecretString::from(t.to_string())),
            metrics_token: metrics.map(secrecy::SecretString::from),
            ..Default::default()
        };
        let err = server::startup::build_state(config).await.err().expect("the start is refused").to_string();
        assert!(err.contains(named) && err.contains("32 characters"), "{err}");
    }
}

/// The pages that need a signed-in person (all others are public).
const SIGNED_IN_PAGES: &[&str] = &["/dashboard", "/account", "/keys", "/keys/:id", "/security", "/consent"];

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> reqwest::Response {
    client.get(app.url(path)).header(reqwest::header::ACCEPT, "text/html").send().await.unwrap()
}

on_both_backends! {
    async fn signed_out_visits_get_303_to_sign_in_non_admins_403_and_unknown_ids_404(app: TestApp) {
        // Both keys are made on app.client, which stays signed in as the second: the developer.
        let (_, _, others_key) = crate::keys::account_with_key(&app, "statuses-other").await;
        let (developer_email, _, key_id) = crate::keys::account_with_key(&app, "statuses").await;
        let developer = app.client.clone();
        let (other, _) = crate::admin::admin_browser(&app).await;
        let account_id = app.account_id(&developer_email).await.to_string();
        let nobody = uuid::Uuid::now_v7().to_string();
        let visitor = app.new_browser();
        for route in crate::headers::app_routes() {
            let signed_in_page = SIGNED_IN_PAGES.contains(&route.as_str()) || route.starts_with("/admin");
            let paths: Vec<String> = match route.as_str() {
                "/keys/:id" => vec![format!("/keys/{key_id}"), format!("/keys/{others_key}"), format!("/keys/{nobody}")],
                "/admin/accounts/:id" => vec![format!("/admin/accounts/{account_id}"), format!("/admin/accounts/{nobody}")],
                "/admin/messages/:id" => vec![format!("/admin/messages/{nobody}")],
                // This installation publishes no products (tests/api/products.rs covers them).
                docs if docs.starts_with("/docs/") => {
                    let path = docs.replace(":product", "none").replace(":tag", "none").replace(":page", "none");
                    for client in [&visitor, &developer, &other] {
                        assert_eq!(page(client, &app, &path).await.status(), StatusCode::NOT_FOUND, "{path}");
                    }
                    continue;
                }
                other => vec![other.to_string()],
            };
            for path in paths {
                let res = page(&visitor, &app, &path).await;
                if signed_in_page {
                    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path} for a visitor");
                    let expected_location = format!("/signin?next={path}");
                    assert_eq!(res.headers()["location"], expected_location.as_str(), "{path}");
                    let body = res.text().await.unwrap();
                    assert!(!body.contains("<form") && !body.contains("admin-nav"), "{path}: a visitor sees none of the page: {body}");
                } else {
                    assert_eq!(res.status(), StatusCode::OK, "{path} for a visitor");
                }
                let expected = match path.as_str() {
                    // Nothing to accept: on to the dashboard.
                    "/consent" => StatusCode::SEE_OTHER,
                    p if p.starts_with("/admin") => StatusCode::FORBIDDEN,
                    p if p == format!("/keys/{others_key}") || p == format!("/keys/{nobody}") => StatusCode::NOT_FOUND,
                    _ => StatusCode::OK,
                };
                assert_eq!(page(&developer, &app, &path).await.status(), expected, "{path} for a developer");
                let expected = match path.as_str() {
                    "/consent" => StatusCode::SEE_OTHER,
                    p if p.ends_with(&nobody) => StatusCode::NOT_FOUND,
                    p if p.starts_with("/keys/") => StatusCode::NOT_FOUND,
                    _ => StatusCode::OK,
                };
                assert_eq!(page(&other, &app, &path).await.status(), expected, "{path} for an admin");
            }
        }
        // Signing in from the sign-in page a visitor was sent to leads back to where they were.
        let back = visitor
            .post(app.url("/rpc/sign_in"))
            .header(reqwest::header::ACCEPT, "text/html")
            .form(&[("email", developer_email.as_str()), ("password", PASSWORD), ("next", "/keys")])
            .send()
            .await
            .unwrap();
        assert!(back.status().is_redirection(), "{}", back.status());
        assert_eq!(back.headers()["location"], "/keys");
        let elsewhere = app
            .new_browser()
            .post(app.url("/rpc/sign_in"))
            .header(reqwest::header::ACCEPT, "text/html")
            .form(&[("email", developer_email.as_str()), ("password", PASSWORD), ("next", "//evil.example/x")])
            .send()
            .await
            .unwrap();
        assert_eq!(elsewhere.headers()["location"], "/dashboard", "next never leads off the site");
    }
}

on_both_backends! {
    async fn ended_sessions_stay_ended_even_for_a_request_in_flight_when_they_ended(app: TestApp) {
        let email = unique_email("resurrect");
        app.verified_account(&email).await;
        let account = app.account_id(&email).await;
        // The revocation, as "sign out everywhere" or an admin does it, in a transaction held open
        // while a request of the session is served: the request reads the session as it was...
        let mut revocation = app.db.begin().await.unwrap();
        app::on_tx!(&mut revocation, conn => sqlx::query("delete from session where account_id = $1").bind(account).execute(conn).await.unwrap().rows_affected());
        let in_flight = tokio::spawn({
            let (client, url) = (app.client.clone(), app.url("/dashboard"));
            async move { client.get(url).header(reqwest::header::ACCEPT, "text/html").send().await.unwrap() }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        revocation.commit().await.unwrap();
        // ...renders as signed in, and saves the session after it ended.
        let page = in_flight.await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "the request read the session before it ended");
        assert_eq!(app.count("session", "account_id", account).await, 0, "the ended session came back");
        assert_eq!(app.viewer(&app.client).await, serde_json::Value::Null, "the browser is signed out");
    }
}

on_both_backends! {
    async fn pre_account_takeover_a_strangers_unconfirmed_account_gives_the_owner_back_only_their_password(app: TestApp) {
        // A stranger signs up with the owner's address and signs in before anyone confirms it...
        let owner = unique_email("owner");
        let stranger = unconfirmed_account_signed_in(&app, &owner).await;
        // ...and may not add a passkey to it.
        let (status, _, message) = error_message(rpc_with(&stranger, &app.base, "add_passkey_start", &[]).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.contains("Confirm your email address first"), "{message}");

        // A passkey-only sign-up with another person's address: the stranger's passkey works...
        let second = unique_email("second-owner");
        let mut strangers_device = Authenticator::new(&app.base);
        let intruder = app.new_browser();
        let made = crate::passkeys::passkey_sign_up(&app, &intruder, &mut strangers_device, &second).await;
        assert_eq!(made.status(), StatusCode::OK);
        assert_eq!(crate::passkeys::passkey_sign_in(&app, &intruder, &mut strangers_device).await.status(), StatusCode::OK);
        let account = app.account_id(&second).await;
        assert_eq!(app.count("passkey", "account_id", account).await, 1);
        // ...until the address's owner resets the password: the link is mailed (the account has
        // no password, but its passkey was never shown to be the owner's)...
        app.new_browser().post(app.url("/rpc/request_password_reset")).form(&[("email", second.as_str())]).send().await.unwrap();
        let token = crate::support::token_from(&crate::support::wait_for_mail(&second, "Reset your").await);
        let new_password = "the owner's own passphrase";
        let reset = rpc_with(&app.new_browser(), &app.base, "reset_password", &[("token", &token), ("new_password", new_password)]).await;
        assert_eq!(reset.status(), StatusCode::OK);
        // ...which confirms the address, removes the stranger's passkey and ends their session.
        assert_eq!(app.count("passkey", "account_id", account).await, 0);
        assert_eq!(app.viewer(&intruder).await, serde_json::Value::Null);
        assert_eq!(crate::passkeys::passkey_sign_in(&app, &app.new_browser(), &mut strangers_device).await.status(), StatusCode::BAD_REQUEST);
        let owners = app.new_browser();
        assert_eq!(rpc_with(&owners, &app.base, "sign_in", &[("email", second.as_str()), ("password", new_password)]).await.status(), StatusCode::OK);
        assert_eq!(app.viewer(&owners).await["verified"], true, "the address is confirmed");
    }
}

on_both_backends! {
    async fn contact_messages_go_only_to_a_confirmed_holder_of_the_address(app: TestApp) {
        let owner = unique_email("contact-owner");
        // The owner writes while signed out, before any account has the address.
        crate::contact::send_ok(&app, &app.new_browser(), &owner, "Before I had an account").await;
        // A stranger signs up with that address and never confirms it.
        let stranger = unconfirmed_account_signed_in(&app, &owner).await;
        let export = stranger.get(app.url(app::privacy::EXPORT_PATH)).send().await.unwrap().text().await.unwrap();
        assert!(!export.contains("Before I had an account"), "an unconfirmed holder exported someone's message");
        let deleted = rpc_with(&stranger, &app.base, "delete_account", &[("confirm_email", owner.as_str())]).await;
        assert_eq!(deleted.status(), StatusCode::OK, "the stranger may delete their account");
        assert_eq!(app.count_all("contact_message").await, 1, "but not the message of the address's owner");
        // Whoever confirms the address sees it.
        let confirmed = app.new_browser();
        app.verified_account_in(&confirmed, &owner).await;
        let export = confirmed.get(app.url(app::privacy::EXPORT_PATH)).send().await.unwrap().text().await.unwrap();
        assert!(export.contains("Before I had an account"), "the confirmed holder's export holds the message");
    }
}

on_both_backends! {
    async fn rolling_keys_with_a_grace_period_cannot_hold_more_than_the_cap(app: TestApp) {
        let email = unique_email("roll-cap");
        app.verified_account(&email).await;
        let mut newest = String::new();
        for n in 0..app::api_keys::MAX_USABLE_KEYS {
            newest = crate::keys::create_key(&app, &app.client, &format!("key {n}"), "live", "never").await.1;
        }
        // A roll whose old key keeps working would be key number 21.
        let (status, _, message) = error_message(app.rpc("roll_key", &[("key_id", &newest), ("grace", "7d")]).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{message}");
        assert!(message.contains("20 usable keys"), "{message}");
        // A roll that stops the old key at once keeps the count, and is allowed.
        let res = app.rpc("roll_key", &[("key_id", &newest), ("grace", "now")]).await;
        assert_eq!(res.status(), StatusCode::OK);
        // Still 20 usable: the next new key is refused.
        let res = app.rpc("create_key", &[("label", "one more"), ("key_type", "live"), ("expires_in", "never")]).await;
        assert_eq!(error_message(res).await.2, app::api_keys::TOO_MANY);
    }
}

#[test]
fn headers_to_the_upstream_name_no_proxy_hop_session_or_mast_spoof_and_it_cannot_set_cookies() {
    crate::support::run(async {
        let upstream = crate::gateway::spawn_upstream().await;
        let app = TestApp::spawn_with(Backend::Sqlite, move |c| c.upstream_url = Some(upstream)).await.unwrap();
        let (_, key, _) = crate::keys::account_with_key(&app, "upstream-headers").await;
        let res = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/api/v1/whoami", app.addr.port()))
            .header("x-api-key", &key)
            .header("forwarded", "for=6.6.6.6;host=evil.example;proto=https")
            .header("x-real-ip", "6.6.6.6")
            .header("x-forwarded-host", "evil.example")
            .header("x-forwarded-proto", "https")
            .header("x_mast_plan", "enterprise")
            .header("x_mast_account_id", "00000000-0000-0000-0000-000000000000")
            .header("cookie", "mast_session=stolen-session-id; theme=dark")
            .header("x-request-id", "kept")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().get("set-cookie").is_none(), "an upstream cannot set cookies on the portal's origin");
        let answer: serde_json::Value = res.json().await.unwrap();
        let seen = &answer["headers"];
        for name in ["forwarded", "x-real-ip", "x-forwarded-host", "x-forwarded-proto", "x_mast_plan", "x_mast_account_id", "x-api-key"] {
            assert!(seen.get(name).is_none(), "{name} reached the upstream: {seen}");
        }
        assert_eq!(seen["x-forwarded-for"], "127.0.0.1", "Mast's own hop");
        assert_eq!(seen["x-mast-plan"], "free");
        assert_eq!(seen["cookie"], "theme=dark", "the portal's session cookie stays with the portal");
        assert_eq!(seen["x-request-id"], "kept");
    });
}

#[test]
fn a_key_anywhere_in_the_decoded_path_is_key_in_url_and_never_logged() {
    crate::support::run(async {
        let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
        let (_, key, _) = crate::keys::account_with_key(&app, "key-in-path").await;
        let secret = &key[10..30];
        for path in [
            format!("/api/x/key={key}"),
            format!("/api/x/{}", key.replacen('_', "%5F", 2)),
            format!("/api/x/{}", key.replacen('_', "%255F", 1)),
        ] {
            let answer =
                raw_request(&app, &format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"))
                    .await;
            assert!(answer.starts_with("HTTP/1.1 401") && answer.contains("\"key_in_url\""), "{path}: {answer}");
        }
        crate::support::wait_for_log(&app.db, 3).await;
        let routes: Vec<String> = match &app.db {
            app::db::Db::Sqlite(p) => sqlx::query_scalar("select route from request_log").fetch_all(p).await.unwrap(),
            app::db::Db::Postgres(p) => sqlx::query_scalar("select route from request_log").fetch_all(p).await.unwrap(),
        };
        assert!(routes.iter().all(|r| !r.contains(secret) && r.starts_with("(hidden")), "{routes:?}");
    });
}

#[test]
fn the_data_folder_outbox_and_database_are_for_the_servers_user_only() {
    use std::os::unix::fs::PermissionsExt;
    crate::support::run(async {
        let app = TestApp::spawn_with(Backend::Sqlite, |c| c.smtp_url = None).await.unwrap();
        let email = unique_email("outbox");
        app.sign_up(&email).await;
        let data = app.config.data_dir.clone();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("mast.db")), 0o600);
        let outbox = data.join("outbox");
        for _ in 0..50 {
            if std::fs::read_dir(&outbox).is_ok_and(|mut d| d.next().is_some()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(mode(&outbox), 0o700);
        let mail = std::fs::read_dir(&outbox).unwrap().next().expect("the confirmation mail").unwrap().path();
        assert_eq!(mode(&mail), 0o600);
        assert!(std::fs::read_to_string(&mail).unwrap().contains("token="), "the mail itself holds its link");
    });
}

#[test]
fn made_up_keys_from_one_network_are_limited_and_real_keys_keep_working() {
    crate::support::run(async {
        let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
        let (_, key, _) = crate::keys::account_with_key(&app, "unknown-keys").await;
        assert_eq!(crate::keys::call(&app, &key).await.status(), StatusCode::OK);
        let made_up = |n: usize| app::api_keys::format::assemble("mast", app::api_keys::format::KeyType::Live, &format!("{n:0>30}"));
        let limit = server::gateway::limits::UNKNOWN_KEYS_PER_MINUTE as usize;
        for n in 0..limit {
            let res = crate::keys::call(&app, &made_up(n)).await;
            // The minute may turn meanwhile: then its count starts over, and no refusal comes early.
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "made-up key {n}");
        }
        let mut refused = None;
        for n in limit..limit + 5 {
            let res = crate::keys::call(&app, &made_up(n)).await;
            if res.status() == StatusCode::TOO_MANY_REQUESTS {
                refused = Some(res);
                break;
            }
        }
        let refused = refused.expect("past 100 unknown keys in a minute, the network waits");
        assert!(refused.headers().contains_key("retry-after"));
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "too_many_unknown_keys");
        assert_eq!(crate::keys::call(&app, &key).await.status(), StatusCode::OK, "a key in use still works from there");
    });
}

#[test]
fn repeated_anonymous_refusals_are_counted_not_one_event_row_each() {
    crate::support::run(async {
        let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
        let evil = reqwest::Client::new();
        for _ in 0..30 {
            let res = evil.post(app.url("/rpc/sign_out")).header("origin", "https://evil.example").send().await.unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN);
        }
        let rows =
            crate::support::scalar_i64(&app.db, &format!("select count(*) from event where kind = '{}'", app::events::kind::CSRF_REFUSED))
                .await;
        assert_eq!(rows, 10, "ten events an hour per network, not one per refusal");
        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("mast_refusals_unrecorded_total 20"), "{metrics}");
    });
}

on_both_backends! {
    async fn the_email_change_answer_takes_as_long_for_a_taken_address_as_for_a_free_one(app: TestApp) {
        let taken = unique_email("taken");
        app.verified_account_in(&app.new_browser(), &taken).await;
        app.verified_account(&unique_email("changer")).await;
        let min = app::timing::ACCOUNT_LOOKUP_MIN;
        for address in [taken.clone(), unique_email("free")] {
            let started = std::time::Instant::now();
            let res = app.rpc("request_email_change", &[("new_email", address.as_str())]).await;
            assert_eq!(res.status(), StatusCode::OK, "{address}");
            let answer: String = res.json().await.unwrap();
            assert!(answer.starts_with(&format!("If {address} can be used")), "the same answer: {answer}");
            assert!(started.elapsed() >= min, "{address} answered in {:?}", started.elapsed());
        }
    }
}

on_both_backends! {
    async fn sign_ups_are_throttled_per_address_and_mail_a_stranger_only_a_few_times(app: TestApp) {
        let victim = unique_email("signup-flood");
        let form = [("email", victim.as_str()), ("display_name", "Hello, click evil.example"), ("password", PASSWORD), ("accept_terms", "on")];
        let statuses: Vec<StatusCode> =
            join_all((0..20).map(|_| async { rpc_with(&app.new_browser(), &app.base, "sign_up", &form).await.status() })).await;
        let limit = (app::throttle::MAIL_PER_ADDRESS.free + 1) as usize;
        let accepted = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
        assert!((1..=limit).contains(&accepted), "{statuses:?}");
        assert_eq!(accepted + throttled, statuses.len(), "{statuses:?}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(mails_to(&victim).await.len() <= limit, "at most {limit} mails to an address nobody confirmed");
        // Another address from the same network still signs up.
        assert_eq!(app.sign_up(&unique_email("signup-other")).await.status(), StatusCode::OK);
    }
}
