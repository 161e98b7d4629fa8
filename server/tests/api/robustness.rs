//! No bad input may produce a 500 or change anything.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{cookie_value, session_cookie, unique_email};

on_both_backends! {
    async fn malformed_requests_get_4xx_never_5xx(app: TestApp) {
        let huge = "x".repeat(200_000);
        let endpoints = ["sign_up", "sign_in", "sign_out", "confirm_email", "resend_verification", "request_password_reset",
            "reset_password", "change_password", "viewer", "account_overview", "legal_document"];
        let bodies: Vec<(&str, Vec<u8>)> = vec![
            ("application/x-www-form-urlencoded", b"".to_vec()),
            ("application/x-www-form-urlencoded", b"email=%ZZ&password=%".to_vec()),
            ("application/x-www-form-urlencoded", b"email=\xff\xfe&password=\xc3".to_vec()),
            ("application/x-www-form-urlencoded", format!("email={huge}&password={huge}&token={huge}").into_bytes()),
            ("application/x-www-form-urlencoded", b"email=a@b.co&email=c@d.co&slug=../../etc/passwd".to_vec()),
            ("application/json", br#"{"email": 5, "password": null}"#.to_vec()),
            ("text/plain", b"\x00\x01\x02".to_vec()),
            ("multipart/form-data; boundary=nope", b"--nope\r\n".to_vec()),
        ];
        for endpoint in endpoints {
            for (content_type, body) in &bodies {
                let res = app.client.post(app.url(&format!("/rpc/{endpoint}"))).header("content-type", *content_type)
                    .body(body.clone()).send().await.unwrap();
                let status = res.status();
                assert!(!status.is_server_error(), "{endpoint} with {content_type} {:?}: {status}", String::from_utf8_lossy(&body[..body.len().min(40)]));
            }
        }
        assert_eq!(app.count_all("account").await, 0);

        for path in ["/verify-email?token=%ZZ", "/reset-password?token=", "/verify-email?token=".repeat(50).as_str(),
            "/%2e%2e/%2e%2e/etc/passwd", "/pkg/../../Cargo.toml", "/signin?__err=garbage&__path=x"] {
            let status = app.get(path).await.status();
            assert!(!status.is_server_error(), "{path}: {status}");
        }
        // A GET to a function and an unknown function are clear client errors too.
        assert!(app.get("/rpc/sign_in").await.status().is_client_error());
        assert!(app.rpc("no_such_function", &[]).await.status().is_client_error());
    }
}

on_both_backends! {
    async fn control_characters_in_profile_fields_are_refused(app: TestApp) {
        let email = unique_email("ctrl");
        let res = app.rpc("sign_up", &[("email", &email), ("display_name", "Ada\u{0}Lovelace"), ("password", crate::support::PASSWORD), ("accept_terms", "on")]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let res = app.rpc("sign_up", &[("email", &email), ("display_name", "Ada"), ("organisation", "Acme\u{1b}[31m"), ("password", crate::support::PASSWORD), ("accept_terms", "on")]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.count_all("account").await, 0);
    }
}

/// Starting a server lists the app's routes by rendering it with resource loading switched off
/// for the whole process (leptos-rs/leptos#4773). Servers started beside a busy one, as the tests
/// and the scale-out proof do, must not leave its pages waiting forever for their data.
#[test]
fn pages_keep_answering_while_more_servers_start_in_the_same_process() {
    crate::support::run(async {
        use crate::support::{Backend, TestApp};
        let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
        app.verified_account(&unique_email("busy")).await;
        let starting = tokio::spawn(async {
            let mut started = 0;
            for _ in 0..40 {
                TestApp::spawn(Backend::Sqlite).await.expect("another server");
                started += 1;
            }
            started
        });
        let mut answered = 0;
        while !starting.is_finished() || answered < 20 {
            for path in ["/dashboard", "/keys"] {
                let res = tokio::time::timeout(std::time::Duration::from_secs(10), app.get(path))
                    .await
                    .unwrap_or_else(|_| panic!("{path} did not answer within 10 s while other servers started"));
                assert_eq!(res.status(), StatusCode::OK, "{path}");
                let page = res.text().await.unwrap();
                assert!(page.contains("Ada Lovelace"), "{path} rendered without its data");
            }
            answered += 1;
        }
        assert_eq!(starting.await.unwrap(), 40);
    });
}

on_both_backends! {
    /// Clients that leave in the middle of a page, as closed tabs and impatient scripts do, must
    /// not cost anyone else anything: every abandoned page is rendered to its end and its tasks
    /// are gone, and the server goes on answering pages with their data. Pages render in a task
    /// of their own (server/src/run_to_end.rs) because a page dropped mid-render could deadlock a
    /// worker inside reactive_graph's owner tree: a race seen once, which this test cannot force,
    /// but a render stuck that way would stay among the live tasks and fail it.
    async fn clients_that_leave_mid_page_do_not_stop_the_server(app: TestApp) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let email = unique_email("leaving");
        app.verified_account(&email).await;
        // The same session, sent by hand on raw connections.
        let signed_in = app.sign_in(&email, crate::support::PASSWORD).await;
        let cookie = format!("mast_session={}", cookie_value(&session_cookie(&signed_in, "mast_session").expect("a session cookie")));
        let live_tasks = || tokio::runtime::Handle::current().metrics().num_alive_tasks();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await; // sign-in's connections close
        let before = live_tasks();
        let request = format!("GET /dashboard HTTP/1.1\r\nHost: localhost:{}\r\nCookie: {cookie}\r\n\r\n", app.addr.port());
        for i in 0..120u64 {
            let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
            tcp.write_all(request.as_bytes()).await.unwrap();
            match i % 3 {
                0 => {}                                                                        // gone at once
                1 => tokio::time::sleep(std::time::Duration::from_micros(200 * (i % 20))).await, // gone mid-render
                _ => { let _ = tcp.read(&mut [0u8; 512]).await; }                              // gone after the first bytes
            }
            drop(tcp);
        }
        let settled = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while live_tasks() > before {
            assert!(std::time::Instant::now() < settled, "{} tasks alive 10 s after the clients left, {before} before", live_tasks());
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        eprintln!("live tasks back to {} ({before} before the clients came)", live_tasks());
        for path in ["/dashboard", "/keys", "/account", "/dashboard"].iter().cycle().take(20) {
            let res = tokio::time::timeout(std::time::Duration::from_secs(10), app.get(path))
                .await
                .unwrap_or_else(|_| panic!("{path} did not answer within 10 s after clients left mid-page"));
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert!(res.text().await.unwrap().contains("Ada Lovelace"), "{path} rendered without its data");
        }
    }
}
