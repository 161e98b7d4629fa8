use reqwest::{Client, StatusCode};

use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp, browser, cookie_value, error_message, rpc_with, session_cookie, unique_email};

/// A client that sends exactly this session cookie and keeps no others.
fn with_cookie(base: &str, name: &str, value: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, base.parse().unwrap());
    headers.insert(reqwest::header::COOKIE, format!("{name}={value}").parse().unwrap());
    Client::builder().redirect(reqwest::redirect::Policy::none()).default_headers(headers).build().unwrap()
}

on_both_backends! {
    async fn wrong_password_and_unknown_email_get_one_generic_error_and_an_event(app: TestApp) {
        let email = unique_email("generic");
        app.sign_up(&email).await;
        let wrong = error_message(app.sign_in(&email, "not my password").await).await;
        let unknown = error_message(app.sign_in(&unique_email("nobody"), "not my password").await).await;
        let malformed = error_message(app.sign_in("no-at-sign", "x").await).await;
        assert_eq!(wrong.0, StatusCode::BAD_REQUEST);
        assert_eq!(wrong, unknown);
        assert_eq!(wrong, malformed);
        assert_eq!(wrong.2, "The email or password is not correct.");

        let account = app.account_id(&email).await;
        assert!(app.event_kinds(account).await.contains(&app::events::kind::SIGN_IN_FAILED.to_string()));
        let events = app.all_event_text().await;
        assert!(!events.contains("not my password"), "no password in the event log");
        assert!(events.contains("MastTests"), "events keep the user agent");
    }
}

on_both_backends! {
    async fn asvs_6_3_1_repeated_failures_are_throttled_even_with_the_right_password(app: TestApp) {
        let email = unique_email("throttle");
        app.sign_up(&email).await;
        for _ in 0..app::throttle::SIGN_IN_PER_ACCOUNT_AND_CLIENT.free + 1 {
            assert_eq!(app.sign_in(&email, "wrong password!").await.status(), StatusCode::BAD_REQUEST);
        }
        let res = app.sign_in(&email, PASSWORD).await;
        let (status, _, message) = error_message(res).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(message.starts_with("Too many sign-in attempts. Try again in"), "{message}");
        let account = app.account_id(&email).await;
        assert!(app.event_kinds(account).await.iter().any(|k| k == app::events::kind::SIGN_IN_FAILED));
        assert!(app.all_event_text().await.contains(app::events::kind::SIGN_IN_THROTTLED));

        // The back-off is short at first: after it, the right password works and clears the count.
        app.clock.advance(time::Duration::milliseconds(1100));
        assert_eq!(app.sign_in(&email, PASSWORD).await.status(), StatusCode::OK);
        assert_eq!(app.viewer(&app.client).await["display_name"], "Ada Lovelace");
    }
}

on_both_backends! {
    async fn asvs_7_2_4_sign_in_issues_a_new_session_id_and_ignores_a_planted_one(app: TestApp) {
        let email = unique_email("rotate");
        app.sign_up(&email).await;
        let planted = "AAAAAAAAAAAAAAAAAAAAAA";
        let attacker_set = with_cookie(&app.base, "mast_session", planted);
        let res = rpc_with(&attacker_set, &app.base, "sign_in", &[("email", &email), ("password", PASSWORD)]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let first = cookie_value(&session_cookie(&res, "mast_session").expect("a session cookie"));
        assert_ne!(first, planted);
        assert_eq!(app.viewer(&with_cookie(&app.base, "mast_session", planted)).await, serde_json::Value::Null);

        // Signing in again (same browser) rotates the id; the old one is dead.
        let again = rpc_with(&with_cookie(&app.base, "mast_session", &first), &app.base, "sign_in",
            &[("email", &email), ("password", PASSWORD)]).await;
        let second = cookie_value(&session_cookie(&again, "mast_session").expect("a new cookie"));
        assert_ne!(first, second);
        assert_eq!(app.viewer(&with_cookie(&app.base, "mast_session", &first)).await, serde_json::Value::Null);
        assert_eq!(app.viewer(&with_cookie(&app.base, "mast_session", &second)).await["display_name"], "Ada Lovelace");
    }
}

on_both_backends! {
    async fn asvs_3_3_the_session_cookie_is_httponly_lax_and_path_wide_and_stored_hashed(app: TestApp) {
        let email = unique_email("cookie");
        app.sign_up(&email).await;
        let res = app.sign_in(&email, PASSWORD).await;
        let cookie = session_cookie(&res, "mast_session").expect("session cookie");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.contains("Domain="), "host-only: {cookie}");
        let value = cookie_value(&cookie);
        // The database holds a hash of the id, never the id itself.
        let keys: Vec<String> = match &app.db {
            app::db::Db::Sqlite(p) => sqlx::query_scalar("select session_key_hash from session").fetch_all(p).await.unwrap(),
            app::db::Db::Postgres(p) => sqlx::query_scalar("select session_key_hash from session").fetch_all(p).await.unwrap(),
        };
        assert_eq!(keys.len(), 1);
        assert!(!keys[0].contains(&value));
        let account = app.account_id(&email).await;
        assert_eq!(app.count("session", "account_id", account).await, 1);
    }
}

#[test]
fn asvs_3_3_1_on_https_the_cookie_is_secure_with_the_host_prefix() {
    crate::support::run(async {
        let app =
            TestApp::spawn_with(crate::support::Backend::Sqlite, |c| c.public_url = "https://portal.example.test".into()).await.unwrap();
        let client = {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::ORIGIN, "https://portal.example.test".parse().unwrap());
            Client::builder().redirect(reqwest::redirect::Policy::none()).default_headers(headers).build().unwrap()
        };
        let email = unique_email("https");
        let res = rpc_with(
            &client,
            &app.base,
            "sign_up",
            &[("email", &email), ("display_name", "Ada"), ("password", PASSWORD), ("accept_terms", "on")],
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = rpc_with(&client, &app.base, "sign_in", &[("email", &email), ("password", PASSWORD)]).await;
        let cookie = session_cookie(&res, "__Host-mast_session").expect("__Host- cookie");
        assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/"), "{cookie}");
        assert!(res.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
    });
}

on_both_backends! {
    async fn sign_out_ends_the_session_on_the_server(app: TestApp) {
        let email = unique_email("signout");
        app.sign_up(&email).await;
        let res = app.sign_in(&email, PASSWORD).await;
        let value = cookie_value(&session_cookie(&res, "mast_session").unwrap());
        assert_eq!(app.rpc("sign_out", &[]).await.status(), StatusCode::OK);
        assert_eq!(app.viewer(&app.client).await, serde_json::Value::Null);
        // Replaying the old cookie does not bring the session back.
        assert_eq!(app.viewer(&with_cookie(&app.base, "mast_session", &value)).await, serde_json::Value::Null);
        let account = app.account_id(&email).await;
        assert_eq!(app.count("session", "account_id", account).await, 0);
        assert!(app.event_kinds(account).await.contains(&app::events::kind::SIGN_OUT.to_string()));
    }
}

on_both_backends! {
    async fn signed_out_visitors_are_sent_to_sign_in_and_get_401_from_account_functions(app: TestApp) {
        for path in ["/account", "/dashboard", "/security"] {
            let page = app.client.get(app.url(path)).header("accept", "text/html").send().await.unwrap();
            assert_eq!(page.status(), StatusCode::SEE_OTHER, "{path}");
            assert_eq!(page.headers()["location"], format!("/signin?next={path}").as_str(), "{path}");
        }
        let res = app.rpc("account_overview", &[]).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let stranger = browser(&app.base, app.addr);
        assert_eq!(rpc_with(&stranger, &app.base, "resend_verification", &[]).await.status(), StatusCode::UNAUTHORIZED);
    }
}

/// The one session row: its data and when it expires.
async fn session_row(app: &TestApp) -> (String, time::OffsetDateTime) {
    let sql = "select data, expires_at from session";
    match &app.db {
        app::db::Db::Sqlite(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
        app::db::Db::Postgres(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
    }
}

async fn set_session(app: &TestApp, data: &str, expires_at: time::OffsetDateTime) {
    let sql = "update session set data = $1, expires_at = $2";
    match &app.db {
        app::db::Db::Sqlite(p) => sqlx::query(sql).bind(data).bind(app::db::Ts(expires_at)).execute(p).await.unwrap().rows_affected(),
        app::db::Db::Postgres(p) => sqlx::query(sql).bind(data).bind(expires_at).execute(p).await.unwrap().rows_affected(),
    };
}

on_both_backends! {
    async fn asvs_7_3_1_a_session_idle_for_30_minutes_has_ended(app: TestApp) {
        let email = unique_email("idle");
        app.sign_up(&email).await;
        app.sign_in(&email, PASSWORD).await;
        assert_eq!(app.viewer(&app.client).await["display_name"], "Ada Lovelace");
        // Each request pushes the idle deadline to 30 minutes from now.
        let (data, expires_at) = session_row(&app).await;
        let left = (expires_at - app::db::now()).whole_minutes();
        assert!((29..=30).contains(&left), "idle deadline in {left} min");
        // 31 minutes later, without a request in between:
        set_session(&app, &data, app::db::now() - time::Duration::minutes(1)).await;
        assert_eq!(app.viewer(&app.client).await, serde_json::Value::Null);
        assert_eq!(app.rpc("account_overview", &[]).await.status(), StatusCode::UNAUTHORIZED);
    }
}

on_both_backends! {
    async fn asvs_7_3_2_a_session_ends_12_hours_after_sign_in_however_active(app: TestApp) {
        let email = unique_email("absolute");
        app.sign_up(&email).await;
        app.sign_in(&email, PASSWORD).await;
        let (data, expires_at) = session_row(&app).await;
        let mut data: serde_json::Value = serde_json::from_str(&data).unwrap();
        let signed_in_at = data["auth"]["signed_in_at"].as_i64().expect("sign-in time kept in the session");
        data["auth"]["signed_in_at"] = (signed_in_at - 12 * 3600 - 60).into();
        set_session(&app, &data.to_string(), expires_at).await;
        assert_eq!(app.viewer(&app.client).await, serde_json::Value::Null);
        assert_eq!(app.count_all("session").await, 0, "the expired session is deleted, not kept");
    }
}
