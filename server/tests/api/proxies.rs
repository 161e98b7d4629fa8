//! ASVS 4.1.3: the client IP comes from X-Forwarded-For only when the peer is a trusted proxy.

use reqwest::StatusCode;

use crate::support::{Backend, PASSWORD, TestApp, unique_email};

async fn ip_recorded_at_sign_up(app: &TestApp, forwarded_for: &str) -> Option<String> {
    let email = unique_email("proxy");
    let res = app
        .client
        .post(app.url("/rpc/sign_up"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[("email", email.as_str()), ("display_name", "Ada"), ("password", PASSWORD), ("accept_terms", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let account = app.account_id(&email).await;
    app::consent::store::list_consents(&app.db, account).await.unwrap()[0].ip.clone()
}

#[test]
fn asvs_4_1_3_forwarded_for_is_ignored_from_an_untrusted_peer() {
    crate::support::run(async {
        let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
        assert_eq!(ip_recorded_at_sign_up(&app, "203.0.113.9").await.as_deref(), Some("127.0.0.1"));
    });
}

#[test]
fn asvs_4_1_3_forwarded_for_is_believed_from_a_trusted_proxy_which_appends_the_real_client() {
    crate::support::run(async {
        let app = TestApp::spawn_with(Backend::Sqlite, |c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await.unwrap();
        // The client may send its own header; the proxy appends what it saw, and that is what counts.
        assert_eq!(ip_recorded_at_sign_up(&app, "10.9.9.9, 198.51.100.7").await.as_deref(), Some("198.51.100.7"));
        assert_eq!(ip_recorded_at_sign_up(&app, "not an ip").await.as_deref(), Some("127.0.0.1"));
    });
}
