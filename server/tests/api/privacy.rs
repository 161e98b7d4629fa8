//! The Privacy Policy's promises as behaviour: re-acceptance of changed documents, export,
//! correction, deletion, sessions, retention from the settings, and the one cookie.
//! Each test is named after the promise it proves.

use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::authenticator::Authenticator;
use crate::keys::{account_with_key, call};
use crate::on_both_backends;
use crate::support::{
    Backend, PASSWORD, TestApp, error_message, execute_with_id, mails_to, ok_json, rpc_with, scalar_i64, token_from, unique_email,
    wait_for_log, wait_for_mail, wait_for_mail_saying,
};

/// Makes the account's acceptance of the Privacy Policy an older version, as if the operator had
/// shipped the current one after the account accepted.
async fn accepted_only_an_older_privacy_policy(app: &TestApp, account: Uuid) {
    execute_with_id(&app.db, "update consent set version = '1.2' where account_id = $1 and document = 'privacy'", account).await;
}

on_both_backends! {
    async fn policy_changed_documents_are_accepted_before_the_dashboard_and_every_acceptance_is_listed(app: TestApp) {
        let (email, key, _) = account_with_key(&app, "consent").await;
        let account = app.account_id(&email).await;
        accepted_only_an_older_privacy_policy(&app, account).await;

        // The dashboard sends the person to the interstitial, and comes back after.
        let res = app.client.get(app.url("/dashboard")).header("accept", "text/html").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()["location"], "/consent?next=/dashboard");
        let (status, _, message) = error_message(app.rpc("keys_overview", &[]).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(message.contains("ConsentRequired"), "{message}");
        // API keys keep working by default.
        assert_eq!(call(&app, &key).await.status(), StatusCode::OK);

        let pending = ok_json(app.rpc("pending_documents", &[]).await).await;
        assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
        assert_eq!(pending[0]["slug"], "privacy");
        assert_eq!(pending[0]["version"], app::consent::PRIVACY.version);
        assert_eq!(pending[0]["accepted_version"], "1.2");
        assert_eq!(pending[0]["changes"][0]["version"], app::consent::PRIVACY.version, "what changed since 1.2");
        let page = app.get("/consent?next=/keys").await.text().await.unwrap();
        assert!(page.contains("We have updated our terms") && page.contains(app::consent::PRIVACY.changes[0].summary.split(':').next().unwrap()));

        // The account page, export and deletion stay open meanwhile.
        assert_eq!(app.get("/account").await.status(), StatusCode::OK);
        assert_eq!(app.get(app::privacy::EXPORT_PATH).await.status(), StatusCode::OK);

        // Not ticking the box is a clear error that accepts nothing.
        let (status, field, _) = error_message(app.rpc("accept_documents", &[("next", "/keys")]).await).await;
        assert_eq!((status, field.as_deref()), (StatusCode::BAD_REQUEST, Some("accept")));
        assert_eq!(app.count("consent", "account_id", account).await, 2);

        let res = app.rpc("accept_documents", &[("next", "/keys"), ("accept", "on")]).await;
        assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
        assert_eq!(app.get("/dashboard").await.status(), StatusCode::OK);
        assert_eq!(ok_json(app.rpc("pending_documents", &[]).await).await, serde_json::json!([]));

        let consents = app::consent::store::list_consents(&app.db, account).await.unwrap();
        let newest = &consents[0];
        assert_eq!((newest.document.as_str(), newest.version.as_str()), ("privacy", app::consent::PRIVACY.version));
        assert_eq!(newest.ip.as_deref(), Some("127.0.0.1"));
        assert!(newest.user_agent.as_deref().unwrap().contains("MastTests"));
        let listed = ok_json(app.rpc("account_page", &[]).await).await;
        let accepted = listed["overview"]["accepted"].as_array().unwrap();
        assert_eq!(accepted.len(), 3, "both first acceptances and the new one: {accepted:?}");
        assert!(accepted.iter().all(|a| a["user_agent"].as_str().unwrap().contains("MastTests") && a["ip"] == "127.0.0.1"));
        assert!(app.event_kinds(account).await.contains(&"consent.accepted".to_string()));
    }
}

on_both_backends! {
    async fn policy_redirect_after_acceptance_stays_on_this_site(app: TestApp) {
        let email = unique_email("next");
        app.verified_account(&email).await;
        accepted_only_an_older_privacy_policy(&app, app.account_id(&email).await).await;
        let res = app.rpc("accept_documents", &[("next", "https://evil.example/"), ("accept", "on")]).await;
        let location = res.headers().get("location").or(res.headers().get("serverfnredirect")).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(location.as_deref(), Some("/dashboard"));
    }
}

#[test]
fn policy_a_setting_can_refuse_api_keys_until_changed_documents_are_accepted() {
    crate::support::run(async {
        let app = TestApp::spawn_with(Backend::Sqlite, |c| c.consent_blocks_api = true).await.expect("server");
        let email = unique_email("blocks");
        app.verified_account(&email).await;
        let (key, _) = crate::keys::create_key(&app, &app.client, "Server", "live", "never").await;
        accepted_only_an_older_privacy_policy(&app, app.account_id(&email).await).await;
        let res = call(&app, &key).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "consent_required");
        app.rpc("accept_documents", &[("next", "/dashboard"), ("accept", "on")]).await;
        assert_eq!(call(&app, &key).await.status(), StatusCode::OK, "at once after acceptance");
    });
}

/// Every table with an `account_id` column, read from the live schema.
async fn tables_with_account_column(app: &TestApp) -> Vec<String> {
    let sql = match &app.db {
        app::db::Db::Sqlite(_) => {
            "select m.name from sqlite_master m join pragma_table_info(m.name) p
             where m.type = 'table' and p.name = 'account_id' order by m.name"
        }
        app::db::Db::Postgres(_) => {
            "select table_name::text from information_schema.columns
             where table_schema = 'public' and column_name = 'account_id' order by table_name"
        }
    };
    match &app.db {
        app::db::Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        app::db::Db::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
    }
}

on_both_backends! {
    async fn policy_export_contains_every_table_row_of_the_account(app: TestApp) {
        let (email, key, _) = account_with_key(&app, "export").await;
        let account = app.account_id(&email).await;
        let mut device = Authenticator::new(&app.base);
        assert_eq!(crate::passkeys::add_passkey(&app, &mut device).await.status(), StatusCode::OK);
        for _ in 0..3 {
            call(&app, &key).await;
        }
        wait_for_log(&app.db, 3).await;
        // Calls of a deprecated operation (the echo has none), as the log writer counts them.
        let op = app::deprecations::store::OperationKey { product: "pets".into(), method: "GET".into(), path: "/v1/pets/{id}".into() };
        let now = app::db::now();
        let calls = app::deprecations::store::Calls { account_id: account, op: &op, calls: 2, first_at: now, last_at: now };
        app::deprecations::store::record_calls(&app.db, &[calls]).await.unwrap();
        // A message sent signed in, and one sent from the same address signed out.
        crate::contact::send_ok(&app, &app.client, &email, "Signed in").await;
        crate::contact::send_ok(&app, &app.new_browser(), &email, "From my phone").await;
        // Someone else's rows must not appear.
        let other = app.new_browser();
        app.verified_account_in(&other, &unique_email("other")).await;

        let res = app.get(app::privacy::EXPORT_PATH).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        assert_eq!(res.headers()["cache-control"], "no-store");
        let text = res.text().await.unwrap();
        let export: Value = serde_json::from_str(&text).expect("the export is one JSON document");

        // Each table that holds rows of an account is a section with exactly those rows.
        let sections = [
            ("account", "profile"),
            ("consent", "consents"),
            ("passkey", "passkeys"),
            ("api_key", "api_keys"),
            ("session", "sessions"),
            ("email_token", "email_tokens"),
            ("event", "events"),
            ("request_log", "request_log"),
            ("usage_day", "usage_days"),
            ("contact_message", "contact_messages"),
            ("deprecated_call", "deprecated_calls"),
        ];
        // The per-minute and per-hour counts are the request log again, summed: it is exported whole.
        let derived = ["usage_minute", "usage_hour"];
        for table in tables_with_account_column(&app).await {
            assert!(
                sections.iter().any(|(t, _)| *t == table) || derived.contains(&table.as_str()),
                "table {table} holds account rows but is not in the export"
            );
        }
        for (table, section) in sections {
            let held = app.count(table, "account_id", account).await;
            let exported = match &export[section] {
                Value::Array(rows) => rows.len() as i64,
                Value::Object(_) => 1,
                other => panic!("section {section} missing: {other}"),
            };
            let expected = match table {
                // Also the events where this account acted on another.
                "event" => held + app.count("event", "actor_account_id", account).await,
                // Also the messages sent from its address while signed out.
                "contact_message" => held + 1,
                _ => held,
            };
            assert_eq!(exported, expected, "{section}");
            assert!(held > 0 || table == "email_token", "{table} should hold rows in this test");
        }
        assert_eq!(export["profile"]["email"], email.as_str());
        assert_eq!(export["request_log"].as_array().unwrap().len(), 3);
        assert_eq!(export["contact_messages"][1]["subject"], "From my phone");
        assert!(export["contact_messages"][0]["replies"].is_array());
        assert_eq!(export["passkeys"][0]["name"].as_str().is_some(), true);

        // No secret leaves: not the key, its hash, the password hash, session ids or public keys.
        assert!(!text.contains(&key));
        let db = &app.db;
        let hashes = |sql: &'static str| async move {
            match db {
                app::db::Db::Sqlite(p) => sqlx::query_scalar::<_, String>(sql).bind(account).fetch_all(p).await.unwrap(),
                app::db::Db::Postgres(p) => sqlx::query_scalar::<_, String>(sql).bind(account).fetch_all(p).await.unwrap(),
            }
        };
        let mut secrets = hashes("select key_hash from api_key where account_id = $1").await;
        secrets.extend(hashes("select password_hash from account where account_id = $1").await);
        secrets.extend(hashes("select session_key_hash from session where account_id = $1").await);
        secrets.extend(hashes("select credential from passkey where account_id = $1").await);
        for secret in secrets {
            assert!(!text.contains(&secret), "a secret is in the export");
        }
        assert!(app.event_kinds(account).await.contains(&"account.data_exported".to_string()));

        // Signed out, there is nothing to download.
        assert_eq!(app.new_browser().get(app.url(app::privacy::EXPORT_PATH)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
}

on_both_backends! {
    async fn policy_profile_can_be_corrected_and_bad_input_changes_nothing(app: TestApp) {
        let email = unique_email("profile");
        app.verified_account(&email).await;
        let account = app.account_id(&email).await;
        let long = "x".repeat(121);
        for (form, field) in [
            (vec![("display_name", "  "), ("organisation", "Acme"), ("country", "")], "display_name"),
            (vec![("display_name", "Grace"), ("organisation", long.as_str()), ("country", "")], "organisation"),
            (vec![("display_name", "Grace\u{7}"), ("organisation", ""), ("country", "")], "display_name"),
        ] {
            let (status, got, _) = error_message(app.rpc("update_profile", &form).await).await;
            assert_eq!((status, got.as_deref()), (StatusCode::BAD_REQUEST, Some(field)));
        }
        let unchanged = app::accounts::store::find_account(&app.db, account).await.unwrap().unwrap();
        assert_eq!((unchanged.display_name.as_str(), unchanged.organisation.as_deref()), ("Ada Lovelace", Some("Analytical Engines")));

        let saved = ok_json(app.rpc("update_profile", &[("display_name", "Ada King"), ("organisation", ""), ("country", "United Kingdom")]).await).await;
        assert_eq!(saved, "Profile saved.");
        let a = app::accounts::store::find_account(&app.db, account).await.unwrap().unwrap();
        assert_eq!((a.display_name.as_str(), a.organisation.as_deref(), a.country.as_deref()), ("Ada King", None, Some("United Kingdom")));
        assert_eq!(app.viewer(&app.client).await["display_name"], "Ada King");
        // The event says which fields changed, not what they hold.
        let events = app.all_event_text().await;
        assert!(events.contains("account.profile_updated") && !events.contains("United Kingdom"));
    }
}

on_both_backends! {
    async fn policy_email_change_needs_confirming_its_you_and_the_new_address_and_tells_the_old_one(app: TestApp) {
        let old = unique_email("old");
        app.verified_account(&old).await;
        let new = unique_email("new");
        // A reset link sent to the old address before the move must not work after it.
        app.new_browser().post(app.url("/rpc/request_password_reset")).form(&[("email", old.as_str())]).send().await.unwrap();
        let reset = token_from(&wait_for_mail(&old, "Reset your").await);

        crate::passkeys::age_sign_in(&app, 600).await;
        let (status, _, message) = error_message(app.rpc("request_email_change", &[("new_email", &new)]).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{message}");
        assert!(message.contains("ReauthenticationRequired"));
        assert_eq!(app.rpc("reauthenticate_with_password", &[("password", PASSWORD)]).await.status(), StatusCode::OK);

        let (status, field, _) = error_message(app.rpc("request_email_change", &[("new_email", "not an address")]).await).await;
        assert_eq!((status, field.as_deref()), (StatusCode::BAD_REQUEST, Some("new_email")));
        let (_, field, message) = error_message(app.rpc("request_email_change", &[("new_email", &old.to_uppercase())]).await).await;
        assert_eq!(field.as_deref(), Some("new_email"), "{message}");

        let answer = ok_json(app.rpc("request_email_change", &[("new_email", &new)]).await).await;
        assert!(answer.as_str().unwrap().contains("we sent it a link"));
        let link = wait_for_mail(&new, "Confirm your new email address").await;
        wait_for_mail(&old, "email address was requested").await;
        // Nothing changes until the new address confirms.
        assert_eq!(app.viewer(&app.client).await["email"], old.as_str());

        let token = token_from(&link);
        let stranger = app.new_browser();
        let done = ok_json(rpc_with(&stranger, &app.base, "confirm_email_change", &[("token", &token)]).await).await;
        assert!(done.as_str().unwrap().contains(&new));
        assert_eq!(app.viewer(&app.client).await["email"], new.as_str());
        wait_for_mail_saying(&old, &format!("is now {new}")).await;
        // The link works once; the new address signs in, the old one no longer does.
        let (status, _, _) = error_message(rpc_with(&stranger, &app.base, "confirm_email_change", &[("token", &token)]).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(app.new_browser().post(app.url("/rpc/sign_in")).form(&[("email", &new), ("password", &PASSWORD.to_string())]).send().await.unwrap().status(), StatusCode::OK);
        let kinds = app.event_kinds(app.account_id(&new).await).await;
        assert!(kinds.contains(&"account.email_change_requested".to_string()) && kinds.contains(&"account.email_changed".to_string()));
        let res = app.new_browser().post(app.url("/rpc/reset_password")).form(&[("token", reset.as_str()), ("new_password", "another fine passphrase")]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "the old address's reset link is void");
    }
}

on_both_backends! {
    async fn policy_email_change_to_a_taken_address_says_the_same_and_sends_no_link(app: TestApp) {
        let mine = unique_email("mine");
        let theirs = unique_email("theirs");
        app.verified_account(&mine).await;
        app.verified_account_in(&app.new_browser(), &theirs).await;
        let before = mails_to(&theirs).await.len();
        let answer = ok_json(app.rpc("request_email_change", &[("new_email", &theirs)]).await).await;
        assert!(answer.as_str().unwrap().contains("we sent it a link"));
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(mails_to(&theirs).await.len(), before, "the owner of the taken address gets no link");
        assert_eq!(app.viewer(&app.client).await["email"], mine.as_str());
    }
}

on_both_backends! {
    async fn policy_sessions_are_listed_with_browser_and_ip_and_can_be_ended(app: TestApp) {
        let email = unique_email("sessions");
        app.verified_account(&email).await;
        let laptop = app.new_browser();
        assert_eq!(rpc_with(&laptop, &app.base, "sign_in", &[("email", &email), ("password", PASSWORD)]).await.status(), StatusCode::OK);
        let phone = app.new_browser();
        assert_eq!(rpc_with(&phone, &app.base, "sign_in", &[("email", &email), ("password", PASSWORD)]).await.status(), StatusCode::OK);

        let list = ok_json(app.rpc("list_sessions", &[]).await).await;
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
        assert_eq!(list[0]["current"], true, "this session first");
        assert!(list.iter().all(|s| s["ip"] == "127.0.0.1" && !s["browser"].as_str().unwrap().is_empty() && !s["last_seen_at"].as_str().unwrap().is_empty()));

        // Ending one: that browser is signed out, the others are not.
        let theirs = ok_json(rpc_with(&laptop, &app.base, "list_sessions", &[]).await).await;
        let laptop_id = theirs.as_array().unwrap().iter().find(|s| s["current"] == true).unwrap()["id"].as_str().unwrap().to_string();
        assert_eq!(app.rpc("end_session", &[("id", &laptop_id)]).await.status(), StatusCode::OK);
        assert_eq!(app.viewer(&laptop).await, Value::Null);
        assert!(app.viewer(&phone).await.is_object());
        let (status, _, message) = error_message(app.rpc("end_session", &[("id", &laptop_id)]).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{message}");
        // This session cannot be ended from the list: that is "Sign out".
        let mine = ok_json(app.rpc("list_sessions", &[]).await).await[0]["id"].as_str().unwrap().to_string();
        assert_eq!(error_message(app.rpc("end_session", &[("id", &mine)]).await).await.0, StatusCode::BAD_REQUEST);
        // Another account cannot end this account's sessions.
        let stranger = app.new_browser();
        app.verified_account_in(&stranger, &unique_email("stranger")).await;
        let phone_id = ok_json(rpc_with(&phone, &app.base, "list_sessions", &[]).await).await.as_array().unwrap().iter()
            .find(|s| s["current"] == true).unwrap()["id"].as_str().unwrap().to_string();
        assert_eq!(error_message(rpc_with(&stranger, &app.base, "end_session", &[("id", &phone_id)]).await).await.0, StatusCode::BAD_REQUEST);
        assert!(app.viewer(&phone).await.is_object());

        // "Sign out everywhere else".
        assert_eq!(ok_json(app.rpc("end_other_sessions", &[]).await).await, 1);
        assert_eq!(app.viewer(&phone).await, Value::Null);
        assert!(app.viewer(&app.client).await.is_object());
        assert_eq!(ok_json(app.rpc("list_sessions", &[]).await).await.as_array().unwrap().len(), 1);
    }
}

on_both_backends! {
    async fn policy_deleted_account_keys_stop_at_once_personal_data_goes_and_logs_are_kept_anonymised(app: TestApp) {
        let (email, key, _) = account_with_key(&app, "delete").await;
        let account = app.account_id(&email).await;
        let mut device = Authenticator::new(&app.base);
        assert_eq!(crate::passkeys::add_passkey(&app, &mut device).await.status(), StatusCode::OK);
        let other_browser = app.new_browser();
        rpc_with(&other_browser, &app.base, "sign_in", &[("email", &email), ("password", PASSWORD)]).await;
        for _ in 0..4 {
            assert_eq!(call(&app, &key).await.status(), StatusCode::OK);
        }
        wait_for_log(&app.db, 4).await;
        crate::contact::send_ok(&app, &app.new_browser(), &email, "Before I go").await;
        let accepted_before = scalar_i64(&app.db, "select cast(sum(requests) as bigint) from usage_day where outcome = 'accepted'").await;

        // It takes a recent "confirm it's you" and the typed address.
        crate::passkeys::age_sign_in(&app, 600).await;
        let (status, _, _) = error_message(app.rpc("delete_account", &[("confirm_email", &email)]).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        app.rpc("reauthenticate_with_password", &[("password", PASSWORD)]).await;
        let (status, field, _) = error_message(app.rpc("delete_account", &[("confirm_email", "someone@else.test")]).await).await;
        assert_eq!((status, field.as_deref()), (StatusCode::BAD_REQUEST, Some("confirm_email")));
        assert!(app::accounts::store::find_account(&app.db, account).await.unwrap().is_some(), "nothing deleted yet");

        let res = app.rpc("delete_account", &[("confirm_email", &email.to_uppercase())]).await;
        assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());

        // Keys refused at once, every session ended.
        let refused = call(&app, &key).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(refused.json::<Value>().await.unwrap()["error"]["code"], "unknown_key");
        assert_eq!(app.viewer(&app.client).await, Value::Null);
        assert_eq!(app.viewer(&other_browser).await, Value::Null);
        // Personal data gone.
        assert!(app::accounts::store::find_account(&app.db, account).await.unwrap().is_none());
        assert_eq!(scalar_i64(&app.db, "select count(*) from contact_message").await, 0, "messages from the address go too");
        for table in ["consent", "passkey", "api_key", "session", "email_token", "event", "request_log", "usage_minute", "usage_hour", "usage_day"] {
            assert_eq!(app.count(table, "account_id", account).await, 0, "{table}");
        }
        // The log keeps its counts without account, IP or browser.
        wait_for_log(&app.db, 5).await;
        assert_eq!(scalar_i64(&app.db, "select count(*) from request_log where account_id is null and ip is null and user_agent is null and outcome = 'accepted'").await, 4);
        assert_eq!(scalar_i64(&app.db, "select cast(sum(requests) as bigint) from usage_day where outcome = 'accepted'").await, accepted_before);
        // One event stays, with nothing about the person.
        assert_eq!(scalar_i64(&app.db, "select count(*) from event where kind = 'account.deleted' and account_id is null and ip is null and user_agent is null").await, 1);
        assert!(!app.all_event_text().await.contains(&email));
        wait_for_mail(&email, "account was deleted").await;
        // The address is free again.
        assert_eq!(app.sign_up(&email).await.status(), StatusCode::OK);
        assert!(app::accounts::store::find_account_by_email(&app.db, &email.to_lowercase()).await.unwrap().is_some());
    }
}

#[test]
fn policy_retention_periods_come_from_the_settings_and_the_privacy_policy_states_them() {
    crate::support::run(async {
        let app = TestApp::spawn_with(Backend::Sqlite, |c| {
            c.retention_request_log_days = 30;
            c.retention_event_days = 90;
            c.retention_unverified_account_days = 3;
            c.retention_contact_message_days = 180;
        })
        .await
        .expect("server");
        let policy = app.get("/privacy").await.text().await.unwrap();
        for promise in [
            "API request logs and usage counts: 30 days",
            "Security events: 90 days",
            "deleted 3 days after sign-up",
            "180 days after it was closed",
        ] {
            assert!(policy.contains(promise), "the policy should say {promise:?}");
        }

        let (_, key, _) = account_with_key(&app, "short").await;
        call(&app, &key).await;
        wait_for_log(&app.db, 1).await;
        let unconfirmed = unique_email("unconfirmed");
        app.sign_up(&unconfirmed).await;
        let now = app.clock.now();
        let swept = app::retention::sweep(&app.db, &app.retention(), now + time::Duration::days(4)).await.unwrap();
        assert_eq!(swept.unverified_accounts, 1);
        assert_eq!(swept.request_logs, 0);
        let swept = app::retention::sweep(&app.db, &app.retention(), now + time::Duration::days(31)).await.unwrap();
        assert_eq!(swept.request_logs, 1);
        assert_eq!(app.count_all("request_log").await, 0);
    });
}

#[test]
fn policy_server_prune_deletes_what_the_retention_periods_say_and_prints_what_went() {
    crate::support::run(async {
        let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
        app.sign_up(&unique_email("never-confirmed")).await;
        let prune = |days: &str| {
            std::process::Command::new(env!("CARGO_BIN_EXE_server"))
                .arg("prune")
                .env("DATABASE_URL", &app.database_url)
                .env("MAST_DATA_DIR", tempfile::tempdir().unwrap().path())
                .env("MAST_RETENTION_UNVERIFIED_ACCOUNT_DAYS", days)
                .output()
                .expect("run server prune")
        };
        let kept = prune("7");
        assert!(kept.status.success(), "{}", String::from_utf8_lossy(&kept.stderr));
        assert!(String::from_utf8_lossy(&kept.stdout).contains("0 unconfirmed accounts"), "{}", String::from_utf8_lossy(&kept.stdout));
        assert_eq!(app.count_all("account").await, 1);
        let gone = prune("0");
        assert!(String::from_utf8_lossy(&gone.stdout).contains("1 unconfirmed accounts"), "{}", String::from_utf8_lossy(&gone.stdout));
        assert_eq!(app.count_all("account").await, 0);
    });
}

on_both_backends! {
    async fn policy_only_the_session_cookie_is_set_and_only_once_needed(app: TestApp) {
        let visitor = app.new_browser();
        for page in ["/", "/signup", "/signin", "/privacy", "/terms", "/forgot-password", "/contact"] {
            let res = visitor.get(app.url(page)).send().await.unwrap();
            assert!(res.headers().get_all("set-cookie").iter().next().is_none(), "{page} sets a cookie");
        }
        let email = unique_email("cookie");
        app.verified_account_in(&app.new_browser(), &email).await;
        let res = visitor.post(app.url("/rpc/sign_in")).form(&[("email", email.as_str()), ("password", PASSWORD)]).send().await.unwrap();
        let cookies: Vec<String> = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        let cookie = cookies[0].to_ascii_lowercase();
        assert!(cookie.starts_with("mast_session="), "{cookie}");
        assert!(cookie.contains("httponly") && cookie.contains("samesite=lax") && cookie.contains("path=/"), "{cookie}");
        for page in ["/dashboard", "/keys", "/account", "/security"] {
            let res = visitor.get(app.url(page)).send().await.unwrap();
            let names: Vec<String> = res.headers().get_all("set-cookie").iter()
                .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_string()).collect();
            assert!(names.iter().all(|n| n == "mast_session"), "{page} sets {names:?}");
        }
        let policy = app.get("/privacy").await.text().await.unwrap();
        assert!(policy.contains("one cookie"));
    }
}

on_both_backends! {
    async fn policy_admin_never_sees_full_key(app: TestApp) {
        let (email, key, key_id) = account_with_key(&app, "secret-keeper").await;
        let id = app.account_id(&email).await.to_string();
        call(&app, &key).await;
        // A roll and a revocation leave events and refusals that name the key.
        let rolled: Value = ok_json(app.rpc("roll_key", &[("key_id", &key_id), ("grace", "now")]).await).await;
        let new_key = rolled["key"].as_str().unwrap().to_string();
        assert_eq!(call(&app, &key).await.status(), StatusCode::UNAUTHORIZED);
        call(&app, &new_key).await;
        wait_for_log(&app.db, 3).await;
        let (admin, _) = crate::admin::admin_browser(&app).await;

        let mut seen = String::new();
        for (endpoint, form) in [
            ("admin_accounts", vec![]),
            ("admin_account", vec![("account_id", id.as_str())]),
            ("admin_logs", vec![]),
            ("admin_events", vec![]),
        ] {
            let res = rpc_with(&admin, &app.base, endpoint, &form).await;
            assert_eq!(res.status(), StatusCode::OK, "{endpoint}");
            seen.push_str(&res.text().await.unwrap());
        }
        for page in ["/admin".to_string(), format!("/admin/accounts/{id}"), "/admin/logs".into(), "/admin/events".into(), "/admin/logs/export.csv".into()] {
            let res = admin.get(app.url(&page)).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{page}");
            seen.push_str(&res.text().await.unwrap());
        }
        for full in [&key, &new_key] {
            assert!(!seen.contains(full.as_str()), "an admin view shows a full key");
            assert!(seen.contains(&format!("{}…{}", &full[..14], &full[full.len() - 4..])), "keys appear as prefix…last4");
        }
    }
}
