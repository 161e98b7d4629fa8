//! The admin console: only admins reach it, every action is an event, suspension stops keys at
//! once (on every instance), and logs are filtered and paged by keyset with keys masked.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::gateway::{SHARED_SECRET, SecondProcess};
use crate::keys::{account_with_key, call};
use crate::on_both_backends;
use crate::support::{Backend, TestApp, rpc_with, unique_email};
use crate::usage::{lookup, record};

/// A second browser signed in as a fresh admin (granted the way `server admin grant` does).
pub async fn admin_browser(app: &TestApp) -> (Client, String) {
    let email = unique_email("admin");
    let client = app.new_browser();
    app.verified_account_in(&client, &email).await;
    assert!(app::accounts::store::set_role(&app.db, &email, "admin", app::db::now()).await.unwrap());
    (client, email)
}

/// Every admin server function, with arguments that would otherwise be valid.
fn admin_calls(account_id: &str) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    vec![
        ("admin_accounts", vec![]),
        ("admin_account", vec![("account_id", account_id.to_string())]),
        ("admin_set_status", vec![("account_id", account_id.to_string()), ("action", "suspend".into())]),
        ("admin_set_plan", vec![("account_id", account_id.to_string()), ("plan", "free".into())]),
        ("admin_resend_verification", vec![("account_id", account_id.to_string())]),
        ("admin_end_sessions", vec![("account_id", account_id.to_string())]),
        ("admin_logs", vec![]),
        ("admin_events", vec![]),
    ]
}

async fn call_rpc(client: &Client, app: &TestApp, endpoint: &str, form: &[(&'static str, String)]) -> reqwest::Response {
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    rpc_with(client, &app.base, endpoint, &form).await
}

on_both_backends! {
    async fn a_non_admin_gets_403_from_every_admin_function_and_page(app: TestApp) {
        let (email, _, _) = account_with_key(&app, "developer").await;
        let id = app.account_id(&email).await.to_string();
        for (endpoint, form) in admin_calls(&id) {
            let res = call_rpc(&app.client, &app, endpoint, &form).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{endpoint} as a developer");
            let stranger = app.new_browser();
            assert_eq!(call_rpc(&stranger, &app, endpoint, &form).await.status(), StatusCode::UNAUTHORIZED, "{endpoint} signed out");
        }
        for page in ["/admin", "/admin/logs", "/admin/events", &format!("/admin/accounts/{id}"), "/admin/logs/export.csv"] {
            assert_eq!(app.get(page).await.status(), StatusCode::FORBIDDEN, "{page}");
        }
        let account = app::accounts::store::find_account(&app.db, app.account_id(&email).await).await.unwrap().unwrap();
        assert_eq!(account.status, "active", "nothing was changed");
        assert!(app.event_kinds(account.account_id).await.iter().any(|k| k == "admin.refused"), "refusals are security events");
    }
}

on_both_backends! {
    async fn suspension_ends_sessions_and_refuses_keys_at_once_and_reactivation_restores_them(app: TestApp) {
        let (email, key, _) = account_with_key(&app, "suspend").await;
        let id = app.account_id(&email).await;
        assert_eq!(call(&app, &key).await.status(), StatusCode::OK, "the key works (and is cached)");
        let (admin, admin_email) = admin_browser(&app).await;

        let res = rpc_with(&admin, &app.base, "admin_set_status", &[("account_id", &id.to_string()), ("action", "suspend")]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = call(&app, &key).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "refused at once, cache or not");
        assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "account_suspended");
        assert_eq!(app.viewer(&app.client).await, Value::Null, "the developer's session has ended");
        assert_eq!(app.count("session", "account_id", id).await, 0);
        let (status, _, message) = crate::support::error_message(app.sign_in(&email, crate::support::PASSWORD).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "and cannot sign in again: {message}");

        // Who did what to whom, from where.
        let events = app::events::store::list_events_of_account(&app.db, id, 10).await.unwrap();
        let suspended = events.iter().find(|e| e.kind == "admin.account_suspended").expect("suspension event");
        assert_eq!(suspended.ip.as_deref(), Some("127.0.0.1"));
        let detail: Value = rpc_with(&admin, &app.base, "admin_account", &[("account_id", &id.to_string())]).await.json().await.unwrap();
        assert_eq!(detail["account"]["status"], "suspended");
        let shown = detail["events"].as_array().unwrap().iter().find(|e| e["kind"] == "admin.account_suspended").expect("shown to admins");
        assert_eq!(shown["actor"], admin_email.as_str());

        let res = rpc_with(&admin, &app.base, "admin_set_status", &[("account_id", &id.to_string()), ("action", "reactivate")]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(call(&app, &key).await.status(), StatusCode::OK, "reactivated keys work again");

        // An admin cannot lock themselves out.
        let own = app.account_id(&admin_email).await.to_string();
        let res = rpc_with(&admin, &app.base, "admin_set_status", &[("account_id", &own), ("action", "suspend")]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
}

on_both_backends! {
    async fn asvs_7_4_5_an_admin_ends_every_session_of_an_account_and_the_account_stays_usable(app: TestApp) {
        let (email, key, _) = account_with_key(&app, "lost-laptop").await;
        let id = app.account_id(&email).await.to_string();
        let (admin, admin_email) = admin_browser(&app).await;
        let ended: Value = rpc_with(&admin, &app.base, "admin_end_sessions", &[("account_id", &id)]).await.json().await.unwrap();
        assert_eq!(ended, 1);
        assert_eq!(app.viewer(&app.client).await, Value::Null, "signed out");
        assert_eq!(call(&app, &key).await.status(), StatusCode::OK, "keys are not sessions: they keep working");
        assert_eq!(app.sign_in(&email, crate::support::PASSWORD).await.status(), StatusCode::OK, "and the owner can sign in again");
        assert!(app.event_kinds(app.account_id(&email).await).await.contains(&"admin.sessions_ended".to_string()));
        let own = app.account_id(&admin_email).await.to_string();
        assert_eq!(rpc_with(&admin, &app.base, "admin_end_sessions", &[("account_id", &own)]).await.status(), StatusCode::BAD_REQUEST);
    }
}

on_both_backends! {
    async fn an_admin_changes_the_plan_and_the_gateway_applies_it_at_once(app: TestApp) {
        let (email, key, _) = account_with_key(&app, "plan").await;
        let id = app.account_id(&email).await.to_string();
        let (admin, _) = admin_browser(&app).await;
        let before = call(&app, &key).await;
        assert_eq!(before.headers()["ratelimit-limit"], "60");
        let res = rpc_with(&admin, &app.base, "admin_set_plan", &[("account_id", &id), ("plan", "nope")]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "only configured plans");
        let res = rpc_with(&admin, &app.base, "admin_set_plan", &[("account_id", &id), ("plan", "pro")]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let after = call(&app, &key).await;
        assert_ne!(after.headers()["ratelimit-limit"], "60", "the new plan's limit, without waiting for the cache");
        let kinds = app.event_kinds(app.account_id(&email).await).await;
        assert!(kinds.iter().any(|k| k == "admin.plan_changed"));
    }
}

on_both_backends! {
    async fn admin_request_log_filters_by_account_and_code_pages_by_keyset_and_masks_keys(app: TestApp) {
        let (email, key, key_id) = account_with_key(&app, "logs-a").await;
        let k = lookup(&app, &key_id).await;
        let now = app::db::now();
        let mut records = Vec::new();
        for i in 0..130 {
            let code = if i % 2 == 0 { Some("rate_limited") } else { Some("quota_exceeded") };
            records.push(record(now - time::Duration::seconds(i), Some(k.clone()), code, "/api/v1/echo"));
            records.push(record(now - time::Duration::seconds(i), None, Some("unknown_key"), "/api/v1/echo"));
        }
        let mut evil = record(now, Some(k.clone()), Some("rate_limited"), "/api/v1/echo");
        evil.user_agent = "=HYPERLINK(\"http://evil.example\")".into();
        records.push(evil);
        server::request_log::write_batch(&app.db, &records).await.unwrap();
        let (admin, _) = admin_browser(&app).await;

        let mut seen = std::collections::HashSet::new();
        let mut before = String::new();
        let mut pages = 0;
        loop {
            let form = [("filter[account]", email.as_str()), ("filter[common][code]", "rate_limited"), ("filter[common][before]", before.as_str())];
            let res = rpc_with(&admin, &app.base, "admin_logs", &form).await;
            assert_eq!(res.status(), StatusCode::OK);
            let page: Value = res.json().await.unwrap();
            let text = page.to_string();
            assert!(!text.contains(&key), "never the full key");
            for row in page["rows"].as_array().unwrap() {
                assert_eq!(row["row"]["code"], "rate_limited");
                assert_eq!(row["account"], email.as_str());
                assert_eq!(row["key"], format!("{}…{}", &key[..14], &key[key.len() - 4..]).as_str());
                assert!(seen.insert(row["row"]["id"].as_i64().unwrap()), "no row on two pages");
            }
            pages += 1;
            match page["older"].as_i64() {
                Some(cursor) => before = cursor.to_string(),
                None => break,
            }
        }
        assert_eq!((seen.len(), pages), (66, 2), "65 + the evil one, 50 per page");

        // A filter that matches nobody is a clear error, not an empty page.
        let res = rpc_with(&admin, &app.base, "admin_logs", &[("filter[account]", "nobody@example.test")]).await;
        let (status, field, _) = crate::support::error_message(res).await;
        assert_eq!((status, field.as_deref()), (StatusCode::BAD_REQUEST, Some("account")));
        // Account and key together: only that account's keys. Another account's key is an error.
        let form = [("filter[account]", email.as_str()), ("filter[key]", "mast_live_")];
        let page: Value = rpc_with(&admin, &app.base, "admin_logs", &form).await.json().await.unwrap();
        let rows = page["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 50);
        assert!(rows.iter().all(|r| r["account"] == email.as_str()), "{page}");
        let (_, other_key, _) = account_with_key(&app, "logs-b").await;
        let form = [("filter[account]", email.as_str()), ("filter[key]", &other_key[..14])];
        let (status, field, message) = crate::support::error_message(rpc_with(&admin, &app.base, "admin_logs", &form).await).await;
        assert_eq!((status, field.as_deref()), (StatusCode::BAD_REQUEST, Some("key")), "{message}");
        for (field, value) in [("filter[ip]", "not-an-ip"), ("filter[common][status]", "999"), ("filter[from]", "yesterday"), ("filter[common][code]", "nope")] {
            let res = rpc_with(&admin, &app.base, "admin_logs", &[(field, value)]).await;
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{field}={value}");
        }

        // The CSV of the same view: every row, keys masked, formulas neutralised.
        let res = admin.get(app.url(&format!("/admin/logs/export.csv?account={}&code=rate_limited", crate::support::encode(&email)))).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
        let csv = res.text().await.unwrap();
        assert_eq!(csv.lines().count(), 1 + 66);
        assert!(!csv.contains(&key));
        assert!(csv.contains("\"'=HYPERLINK(\"\"http://evil.example\"\")\""), "{csv}");

        // And the pages, rendered on the server, hold no full key either.
        for page in [format!("/admin/logs?account={}", crate::support::encode(&email)), format!("/admin/accounts/{}", app.account_id(&email).await), "/admin".into()] {
            let res = admin.get(app.url(&page)).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{page}");
            let html = res.text().await.unwrap();
            assert!(!html.contains(&key), "{page} shows a full key");
            assert!(html.contains(&email), "{page} shows the account");
        }
    }
}

on_both_backends! {
    async fn admins_search_accounts_and_filter_security_events(app: TestApp) {
        let (email, _, _) = account_with_key(&app, "findme").await;
        let (admin, _) = admin_browser(&app).await;
        let list: Value = rpc_with(&admin, &app.base, "admin_accounts", &[("search", "FINDME"), ("sort", "email")]).await.json().await.unwrap();
        assert_eq!(list["total"], 1);
        assert_eq!(list["rows"][0]["email"], email.as_str());
        assert_eq!(list["rows"][0]["keys"], 1);
        // `%` is searched for, not a wildcard.
        let none: Value = rpc_with(&admin, &app.base, "admin_accounts", &[("search", "%")]).await.json().await.unwrap();
        assert_eq!(none["total"], 0);

        let events: Value = rpc_with(&admin, &app.base, "admin_events", &[("filter[account]", email.as_str()), ("filter[kind]", "api_key.")]).await.json().await.unwrap();
        let kinds: Vec<&str> = events["rows"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, vec!["api_key.created"]);
        let sign_ins: Value = rpc_with(&admin, &app.base, "admin_events", &[("filter[kind]", "session.sign_in")]).await.json().await.unwrap();
        assert!(sign_ins["rows"].as_array().unwrap().len() >= 2, "both sign-ins");
        assert!(sign_ins["rows"].as_array().unwrap().iter().all(|e| e["kind"] == "session.sign_in"));
    }
}

#[tokio::test]
async fn the_command_line_grants_and_revokes_the_admin_role() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let email = unique_email("cli");
    app.verified_account(&email).await;
    let run = |action: &str, who: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["admin", action, who])
            .env("DATABASE_URL", &app.database_url)
            .env("MAST_DATA_DIR", tempfile::tempdir().unwrap().path())
            .output()
            .expect("run server admin")
    };
    let out = run("grant", &email.to_uppercase());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(app.viewer(&app.client).await["is_admin"], true);
    assert_eq!(app.get("/admin").await.status(), StatusCode::OK);
    let out = run("grant", "nobody@example.test");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account with the email"));
    assert!(run("revoke", &email).status.success());
    assert_eq!(app.get("/admin").await.status(), StatusCode::FORBIDDEN);
    let kinds = app.event_kinds(app.account_id(&email).await).await;
    assert!(kinds.contains(&"admin.granted".to_string()) && kinds.contains(&"admin.revoked".to_string()));
}

#[test]
fn a_suspension_reaches_a_second_server_process_within_one_second() {
    crate::support::run(async {
        let shared = |c: &mut app::config::Config| c.api_key_secret = Some(secrecy::SecretString::from(SHARED_SECRET));
        let Some(app) = TestApp::spawn_with(Backend::Postgres, shared).await else { return };
        let (email, key, _) = account_with_key(&app, "suspend-two").await;
        let id = app.account_id(&email).await.to_string();
        let (admin, _) = admin_browser(&app).await;
        let second = SecondProcess::start(&app.database_url).await;
        let on_second = || reqwest::Client::new().get(format!("{}/api/v1/echo", second.base)).bearer_auth(&key).send();
        assert_eq!(on_second().await.unwrap().status(), StatusCode::OK, "the second instance accepts (and caches) the key");

        let suspended_at = Instant::now();
        assert_eq!(
            rpc_with(&admin, &app.base, "admin_set_status", &[("account_id", &id), ("action", "suspend")]).await.status(),
            StatusCode::OK
        );
        loop {
            let res = on_second().await.unwrap();
            if res.status() == StatusCode::FORBIDDEN {
                assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "account_suspended");
                break;
            }
            assert!(suspended_at.elapsed() < Duration::from_secs(1), "the second instance still accepts the key after 1 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("suspension seen by the second process after {:?}", suspended_at.elapsed());
    });
}
