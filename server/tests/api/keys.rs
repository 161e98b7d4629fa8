//! API keys on the Keys page's server functions: issue, list, roll, revoke, email, and who may
//! touch which key.

use reqwest::{Client, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp, error_message, rpc_with, scalar_i64, unique_email, wait_for_mail, wait_for_mail_saying};

/// A key created through the page's server function: (full key, key id).
pub async fn create_key(app: &TestApp, client: &Client, label: &str, key_type: &str, expires_in: &str) -> (String, String) {
    let res = rpc_with(client, &app.base, "create_key", &[("label", label), ("key_type", key_type), ("expires_in", expires_in)]).await;
    assert_eq!(res.status(), StatusCode::OK, "create_key");
    let issued: Value = res.json().await.expect("json");
    (issued["key"].as_str().expect("key").to_string(), issued["info"]["id"].as_str().expect("id").to_string())
}

/// A verified, signed-in account with one live key.
pub async fn account_with_key(app: &TestApp, tag: &str) -> (String, String, String) {
    let email = unique_email(tag);
    app.verified_account(&email).await;
    let (key, id) = create_key(app, &app.client, "Production server", "live", "never").await;
    (email, key, id)
}

pub async fn call(app: &TestApp, key: &str) -> reqwest::Response {
    reqwest::Client::new().get(format!("http://127.0.0.1:{}/api/v1/echo", app.addr.port())).bearer_auth(key).send().await.expect("GET")
}

pub async fn overview(app: &TestApp, client: &Client) -> Value {
    let res = rpc_with(client, &app.base, "keys_overview", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("json")
}

on_both_backends! {
    async fn a_new_key_is_shown_once_then_only_as_prefix_and_last_four(app: TestApp) {
        let (email, key, id) = account_with_key(&app, "keys").await;
        let parsed = app::api_keys::format::parse("mast", &key);
        assert_eq!(parsed, Ok(app::api_keys::format::KeyType::Live), "{key} has the documented format");
        assert_eq!(key.len(), "mast_live_".len() + 36);

        let listed = overview(&app, &app.client).await;
        let text = listed.to_string();
        assert!(!text.contains(&key), "the list never holds the key");
        let item = &listed["keys"][0];
        assert_eq!(item["id"], id.as_str());
        assert_eq!(item["label"], "Production server");
        assert_eq!(item["masked"], format!("{}…{}", &key[..14], &key[key.len() - 4..]));
        assert_eq!(item["state"], "active");
        assert!(item["last_used_at"].is_null());
        assert_eq!(listed["plan"]["name"], "free");
        assert_eq!(listed["plan"]["requests_per_minute"], 60);

        // Stored as HMAC-SHA256 under the secret in the data folder, never as the key.
        let stored: String = match &app.db {
            app::db::Db::Sqlite(p) => sqlx::query_scalar("select key_hash from api_key").fetch_one(p).await.unwrap(),
            app::db::Db::Postgres(p) => sqlx::query_scalar("select key_hash from api_key").fetch_one(p).await.unwrap(),
        };
        assert_eq!(stored.len(), 64);
        assert_ne!(stored, key);
        assert!(!app.all_event_text().await.contains(&key[14..]), "no event holds the key's secret part");

        let account = app.account_id(&email).await;
        assert!(app.event_kinds(account).await.contains(&app::events::kind::API_KEY_CREATED.to_string()));
        let notice = wait_for_mail(&email, "An API key changed").await;
        assert!(notice.text.contains("Production server") && !notice.text.contains(&key), "notice names the key, never in full");
    }
}

on_both_backends! {
    async fn only_a_confirmed_account_can_create_keys(app: TestApp) {
        let email = unique_email("unconfirmed");
        assert_eq!(app.sign_up(&email).await.status(), StatusCode::OK);
        assert_eq!(app.sign_in(&email, PASSWORD).await.status(), StatusCode::OK);
        let res = app.rpc("create_key", &[("label", "x"), ("key_type", "live"), ("expires_in", "never")]).await;
        let (status, _, message) = error_message(res).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(message, app::api_keys::UNVERIFIED);
        assert_eq!(app.count_all("api_key").await, 0);
        let signed_out = app.new_browser();
        let res = rpc_with(&signed_out, &app.base, "create_key", &[("label", "x"), ("key_type", "live"), ("expires_in", "never")]).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}

on_both_backends! {
    async fn bad_key_forms_get_clear_errors_and_create_nothing(app: TestApp) {
        app.verified_account(&unique_email("forms")).await;
        let cases: [(&[(&str, &str)], &str); 5] = [
            (&[("label", "  "), ("key_type", "live"), ("expires_in", "never")], "label"),
            (&[("label", &"x".repeat(61)), ("key_type", "live"), ("expires_in", "never")], "label"),
            (&[("label", "a\nb"), ("key_type", "live"), ("expires_in", "never")], "label"),
            (&[("label", "ok"), ("key_type", "prod"), ("expires_in", "never")], "key_type"),
            (&[("label", "ok"), ("key_type", "live"), ("expires_in", "11")], "expires_in"),
        ];
        for (form, field) in cases {
            let (status, got_field, _) = error_message(app.rpc("create_key", form).await).await;
            assert_eq!((status, got_field.as_deref()), (StatusCode::BAD_REQUEST, Some(field)), "{form:?}");
        }
        let res = app.rpc("create_key", &[("label", "only a label")]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "a form missing fields is the user's error, not a 500");
        assert_eq!(app.count_all("api_key").await, 0);
    }
}

on_both_backends! {
    async fn an_account_holds_at_most_twenty_usable_keys(app: TestApp) {
        app.verified_account(&unique_email("many")).await;
        for i in 0..20 {
            create_key(&app, &app.client, &format!("key {i}"), "test", "never").await;
        }
        let res = app.rpc("create_key", &[("label", "one more"), ("key_type", "live"), ("expires_in", "never")]).await;
        let (status, _, message) = error_message(res).await;
        assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, app::api_keys::TOO_MANY));
        let first = overview(&app, &app.client).await["keys"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(app.rpc("revoke_key", &[("key_id", &first)]).await.status(), StatusCode::OK);
        create_key(&app, &app.client, "after a revocation", "live", "never").await;
    }
}

on_both_backends! {
    async fn rolling_keeps_the_old_key_for_each_grace_period_chosen(app: TestApp) {
        let email = unique_email("roll");
        app.verified_account(&email).await;
        for (grace, seconds) in [("now", 0i64), ("1h", 3600), ("24h", 86_400), ("7d", 604_800)] {
            let (old_key, old_id) = create_key(&app, &app.client, &format!("rolled {grace}"), "live", "30").await;
            assert_eq!(call(&app, &old_key).await.status(), StatusCode::OK, "old key works (and is cached) before the roll");
            let res = app.rpc("roll_key", &[("key_id", &old_id), ("grace", grace)]).await;
            assert_eq!(res.status(), StatusCode::OK, "roll {grace}");
            let issued: Value = res.json().await.unwrap();
            let new_key = issued["key"].as_str().unwrap();
            assert_ne!(new_key, old_key);
            assert_eq!(issued["info"]["label"], format!("rolled {grace}"), "the new key keeps the label");
            assert!(issued["info"]["expires_at"].is_string(), "and a lifetime as long as the old one's");
            assert_eq!(call(&app, new_key).await.status(), StatusCode::OK, "the new key works at once");

            let old = call(&app, &old_key).await;
            let old_id = Uuid::parse_str(&old_id).unwrap();
            let revoked_in = scalar_i64(&app.db, &revoked_in_seconds_sql(&app.db, old_id)).await;
            if seconds == 0 {
                assert_eq!(old.status(), StatusCode::UNAUTHORIZED, "grace now: the old key stops at once");
                let body: Value = old.json().await.unwrap();
                assert_eq!(body["error"]["code"], "revoked_key");
                assert!(revoked_in <= 1);
            } else {
                assert_eq!(old.status(), StatusCode::OK, "grace {grace}: the old key still works");
                assert!((revoked_in - seconds).abs() <= 5, "old key stops in {revoked_in}s, expected {seconds}s");
                let listed = overview(&app, &app.client).await;
                let item = listed["keys"].as_array().unwrap().iter().find(|k| k["id"] == old_id.to_string()).unwrap().clone();
                assert_eq!(item["state"], "retiring");
                assert!(item["retiring_until"].is_string());
                assert!(item["requests_last_hour"].is_i64(), "the page shows the old key's traffic");
                let again = app.rpc("roll_key", &[("key_id", &old_id.to_string()), ("grace", "1h")]).await;
                assert_eq!(error_message(again).await.2, app::api_keys::ALREADY_ROLLED);
            }
        }
        let account = app.account_id(&email).await;
        assert_eq!(app.event_kinds(account).await.iter().filter(|k| *k == app::events::kind::API_KEY_ROLLED).count(), 4);
        let bad = app.rpc("roll_key", &[("key_id", &Uuid::now_v7().to_string()), ("grace", "2h")]).await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "an unknown grace period is refused");
    }
}

/// Seconds from now until the key's `revoked_at`, in each backend's SQL.
fn revoked_in_seconds_sql(db: &app::db::Db, id: Uuid) -> String {
    match db {
        app::db::Db::Sqlite(_) => format!(
            "select cast(round((julianday(revoked_at) - julianday('now')) * 86400) as integer) from api_key where hex(api_key_id) = '{}'",
            id.simple().to_string().to_uppercase()
        ),
        app::db::Db::Postgres(_) => {
            format!("select cast(round(extract(epoch from revoked_at - now())) as bigint) from api_key where api_key_id = '{id}'")
        }
    }
}

on_both_backends! {
    async fn revoking_stops_a_cached_key_at_once_and_tells_the_owner(app: TestApp) {
        let (email, key, id) = account_with_key(&app, "revoke").await;
        assert_eq!(call(&app, &key).await.status(), StatusCode::OK);
        assert_eq!(app.rpc("revoke_key", &[("key_id", &id)]).await.status(), StatusCode::OK);
        let res = call(&app, &key).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "revoked_key");
        assert_eq!(overview(&app, &app.client).await["keys"][0]["state"], "revoked");
        let account = app.account_id(&email).await;
        assert!(app.event_kinds(account).await.contains(&app::events::kind::API_KEY_REVOKED.to_string()));
        let notice = wait_for_mail_saying(&email, "was revoked").await;
        assert!(notice.subject.contains("An API key changed"));
        // Revoking twice changes nothing and is not an error.
        assert_eq!(app.rpc("revoke_key", &[("key_id", &id)]).await.status(), StatusCode::OK);
    }
}

on_both_backends! {
    async fn another_account_can_neither_see_nor_change_my_keys(app: TestApp) {
        let (_, key, id) = account_with_key(&app, "owner").await;
        let other = app.new_browser();
        let email = unique_email("intruder");
        crate::support::rpc_with(&other, &app.base, "sign_up", &[("email", &email), ("display_name", "Eve"), ("password", PASSWORD), ("accept_terms", "on")]).await;
        let token = crate::support::token_from(&wait_for_mail(&email, "Confirm your email").await);
        rpc_with(&other, &app.base, "confirm_email", &[("token", &token)]).await;
        assert_eq!(rpc_with(&other, &app.base, "sign_in", &[("email", &email), ("password", PASSWORD)]).await.status(), StatusCode::OK);

        assert_eq!(overview(&app, &other).await["keys"].as_array().unwrap().len(), 0, "not listed");
        let roll = rpc_with(&other, &app.base, "roll_key", &[("key_id", &id), ("grace", "now")]).await;
        assert_eq!(roll.status(), StatusCode::NOT_FOUND);
        let revoke = rpc_with(&other, &app.base, "revoke_key", &[("key_id", &id)]).await;
        assert_eq!(revoke.status(), StatusCode::NOT_FOUND);
        for garbage in ["not-a-uuid", "", "'; drop table api_key; --"] {
            let res = rpc_with(&other, &app.base, "revoke_key", &[("key_id", garbage)]).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{garbage:?}");
        }
        assert_eq!(call(&app, &key).await.status(), StatusCode::OK, "the owner's key still works");
        assert_eq!(app.count_all("api_key").await, 1);
    }
}

on_both_backends! {
    async fn a_key_found_in_public_can_be_revoked_by_whoever_holds_it(app: TestApp) {
        let (email, key, _) = account_with_key(&app, "leaked").await;
        assert_eq!(call(&app, &key).await.status(), StatusCode::OK);
        let scanner = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{}/v1/keys/revoke", app.addr.port());
        let res = scanner.post(&url).bearer_auth(&key).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["revoked"], true);
        assert_eq!(body["key"], format!("{}…{}", &key[..14], &key[key.len() - 4..]));
        assert_eq!(call(&app, &key).await.json::<Value>().await.unwrap()["error"]["code"], "revoked_key");

        let mail = wait_for_mail_saying(&email, "someone who holds it reported it").await;
        assert!(mail.subject.contains("An API key changed"));
        let account = app.account_id(&email).await;
        assert!(app.event_kinds(account).await.contains(&app::events::kind::API_KEY_REPORTED.to_string()));

        let again = scanner.post(&url).header("x-api-key", &key).send().await.unwrap();
        assert_eq!(again.json::<Value>().await.unwrap()["already_revoked"], true);
        let made_up = app::api_keys::format::assemble("mast", app::api_keys::format::KeyType::Live, &"x".repeat(30));
        let unknown = scanner.post(&url).bearer_auth(&made_up).send().await.unwrap();
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(unknown.json::<Value>().await.unwrap()["error"]["code"], "unknown_key");
    }
}

on_both_backends! {
    async fn keys_are_only_mailed_where_the_installation_allows_it(app: TestApp) {
        app.verified_account(&unique_email("nomail")).await;
        let res = app.rpc("email_me_a_key", &[]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.count_all("api_key").await, 0);
    }
}

#[test]
fn with_email_keys_on_verification_and_a_request_each_mail_a_working_key() {
    crate::support::run(async {
        let app = TestApp::spawn_with(crate::support::Backend::Sqlite, |c| c.email_api_keys = true).await.unwrap();
        let email = unique_email("mailkeys");
        app.verified_account(&email).await;
        let first = wait_for_mail(&email, "Your new Mast API key").await;
        let key = mailed_key(&first.text);
        assert_eq!(call(&app, &key).await.status(), StatusCode::OK, "the key mailed after verification works");
        assert_eq!(app.rpc("email_me_a_key", &[]).await.status(), StatusCode::OK);
        for _ in 0..100 {
            if crate::support::mails_to(&email).await.iter().filter(|m| m.subject.contains("Your new Mast API key")).count() == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let mails: Vec<_> =
            crate::support::mails_to(&email).await.into_iter().filter(|m| m.subject.contains("Your new Mast API key")).collect();
        assert_eq!(mails.len(), 2);
        let second = mailed_key(&mails[1].text);
        assert_ne!(key, second);
        assert_eq!(call(&app, &second).await.status(), StatusCode::OK);
        let account = app.account_id(&email).await;
        assert_eq!(app.event_kinds(account).await.iter().filter(|k| *k == app::events::kind::API_KEY_EMAILED).count(), 2);
        // The event log names the key by prefix only.
        assert!(!app.all_event_text().await.contains(&key[14..]));
    });
}

fn mailed_key(text: &str) -> String {
    let start = text.find("mast_live_").expect("a key in the mail");
    text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}
