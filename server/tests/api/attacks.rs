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
        let browser = app.new_browser();
        let sign_up = [("email", unverified.as_str()), ("display_name", "Ada"), ("password", PASSWORD), ("accept_terms", "on")];
        assert_eq!(rpc_with(&browser, &app.base, "sign_up", &sign_up).await.status(), StatusCode::OK);
        let sign_in = [("email", unverified.as_str()), ("password", PASSWORD)];
        assert_eq!(rpc_with(&browser, &app.base, "sign_in", &sign_in).await.status(), StatusCode::OK);
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
