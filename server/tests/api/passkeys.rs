//! Passkeys: full ceremonies over HTTP with a software authenticator, on both backends; the
//! relying party checked at start; the passkey table.

use app::passkeys::store::{
    NewPasskey, Removal, find_by_credential_id, insert_passkey, list_passkeys_of_account, record_use, remove_passkey_keeping_a_way_in,
    rename_passkey,
};
use reqwest::StatusCode;
use serde_json::Value;

use crate::authenticator::Authenticator;
use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp, error_message, mails_to, rpc_with, unique_email, wait_for_mail};

/// A server function's JSON answer, after checking it succeeded.
async fn ok<T: serde::de::DeserializeOwned>(res: reqwest::Response) -> T {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Signs up with a passkey made by `device`; the server's answer to the finishing request.
pub(crate) async fn passkey_sign_up(app: &TestApp, client: &reqwest::Client, device: &mut Authenticator, email: &str) -> reqwest::Response {
    let options: String = ok(rpc_with(
        client,
        &app.base,
        "passkey_sign_up_start",
        &[("email", email), ("display_name", "Grace Hopper"), ("country", "United States"), ("accept_terms", "on")],
    )
    .await)
    .await;
    let credential = device.create(&options);
    rpc_with(client, &app.base, "passkey_sign_up_finish", &[("credential", &credential)]).await
}

/// A discoverable sign-in with `device`'s newest passkey.
pub(crate) async fn passkey_sign_in(app: &TestApp, client: &reqwest::Client, device: &mut Authenticator) -> reqwest::Response {
    let options: String = ok(rpc_with(client, &app.base, "passkey_sign_in_start", &[]).await).await;
    let assertion = device.get(&options);
    rpc_with(client, &app.base, "passkey_sign_in_finish", &[("credential", &assertion)]).await
}

/// Follows the confirmation link mailed to `email`.
async fn confirm_address(app: &TestApp, email: &str) {
    let token = crate::support::token_from(&wait_for_mail(email, "Confirm your email").await);
    assert_eq!(
        app.new_browser().post(app.url("/rpc/confirm_email")).form(&[("token", &token)]).send().await.unwrap().status(),
        StatusCode::OK
    );
}

/// A passkey-only account made with `device`, its address confirmed, signed in on `app.client`.
async fn passkey_only_account_signed_in(app: &TestApp, device: &mut Authenticator, email: &str) {
    ok::<String>(passkey_sign_up(app, &app.client, device, email).await).await;
    confirm_address(app, email).await;
    ok::<String>(passkey_sign_in(app, &app.client, device).await).await;
}

/// Adds a passkey from `device` to the signed-in account of `app.client`.
pub(crate) async fn add_passkey(app: &TestApp, device: &mut Authenticator) -> reqwest::Response {
    let options: String = ok(app.rpc("add_passkey_start", &[]).await).await;
    let credential = device.create(&options);
    app.rpc("add_passkey_finish", &[("credential", &credential)]).await
}

async fn security(app: &TestApp) -> Value {
    ok(app.rpc("security_overview", &[]).await).await
}

/// Moves every session's sign-in (and re-authentication) `seconds` into the past.
pub(crate) async fn age_sign_in(app: &TestApp, seconds: i64) {
    app.edit_sessions(|data| {
        if let Some(auth) = data.get_mut("auth") {
            for field in ["signed_in_at", "reauthenticated_at"] {
                if let Some(t) = auth[field].as_i64() {
                    auth[field] = (t - seconds).into();
                }
            }
        }
    })
    .await;
}

on_both_backends! {
    async fn passkey_sign_up_makes_an_account_without_password_that_signs_in_with_the_passkey_alone(app: TestApp) {
        let email = unique_email("grace");
        let mut phone = Authenticator::new(&app.base);
        let options: String = ok(app.rpc("passkey_sign_up_start", &[("email", &email), ("display_name", "Grace Hopper"), ("accept_terms", "on")]).await).await;
        let options: Value = serde_json::from_str(&options).unwrap();
        let selection = &options["publicKey"]["authenticatorSelection"];
        assert_eq!((selection["residentKey"].as_str(), selection["userVerification"].as_str()), (Some("required"), Some("required")));
        assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
        assert!(options["publicKey"]["challenge"].as_str().unwrap().len() >= 43, "challenge of at least 256 bits");

        let res = passkey_sign_up(&app, &app.client, &mut phone, &email).await;
        assert_eq!(ok::<String>(res).await, "/signup/check-email");
        let account = app::accounts::store::find_account_by_email(&app.db, &email).await.unwrap().expect("account");
        assert!(account.password_hash.is_none());
        assert_eq!(app.count("consent", "account_id", account.account_id).await, 2);
        let passkeys = list_passkeys_of_account(&app.db, account.account_id).await.unwrap();
        assert_eq!(passkeys.len(), 1);
        assert_eq!(passkeys[0].credential_id, phone.credentials[0].0);
        assert_eq!(passkeys[0].name, "Passkey on Linux", "named after the browser when the provider is unknown");
        wait_for_mail(&email, "Confirm your email").await;
        assert_eq!(app.viewer(&app.client).await, Value::Null, "signing up does not sign in");

        // Sign in without typing anything; the session gets a new id.
        let options: String = ok(app.rpc("passkey_sign_in_start", &[]).await).await;
        let parsed: Value = serde_json::from_str(&options).unwrap();
        assert!(parsed["publicKey"]["allowCredentials"].as_array().is_none_or(Vec::is_empty), "discoverable: no credential named");
        assert_eq!(parsed["publicKey"]["userVerification"], "required");
        let keys_before: Vec<String> = session_keys(&app).await;
        let res = app.rpc("passkey_sign_in_finish", &[("credential", &phone.get(&options))]).await;
        assert_eq!(ok::<String>(res).await, "/dashboard");
        assert_eq!(app.viewer(&app.client).await["display_name"], "Grace Hopper");
        let keys_after = session_keys(&app).await;
        assert!(keys_after.iter().all(|k| !keys_before.contains(k)), "the signed-in session has a new id (ASVS 7.2.4)");
        let row = find_by_credential_id(&app.db, &phone.credentials[0].0).await.unwrap().unwrap();
        assert!(row.last_used_at.is_some());
        assert!(row.credential.contains("\"counter\":1"), "the counter is saved after sign-in: {}", row.credential);
        let kinds = app.event_kinds(account.account_id).await;
        assert!(kinds.contains(&app::events::kind::SIGN_UP.to_string()) && kinds.contains(&app::events::kind::SIGN_IN.to_string()));

        // Once the address is confirmed: no password to guess, and no emailed link that would get
        // around the passkey (ASVS 6.4.3).
        confirm_address(&app, &email).await;
        let (status, _, message) = error_message(app.new_browser().post(app.url("/rpc/sign_in")).form(&[("email", email.as_str()), ("password", "")]).send().await.unwrap()).await;
        assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, app::sessions::SIGN_IN_FAILED));
        assert_eq!(app.rpc("request_password_reset", &[("email", &email)]).await.status(), StatusCode::OK);
        let mail = wait_for_mail(&email, "About your").await;
        assert!(mail.text.contains("no password") && !mail.text.contains("token="), "{}", mail.text);
        assert_eq!(app.count("email_token", "account_id", account.account_id).await, 1, "only the used confirmation link exists");
    }
}

on_both_backends! {
    async fn passkey_sign_up_with_a_taken_address_answers_alike_and_creates_nothing(app: TestApp) {
        let email = unique_email("taken");
        app.sign_up(&email).await;
        let mut device = Authenticator::new(&app.base);
        let res = passkey_sign_up(&app, &app.new_browser(), &mut device, &email).await;
        assert_eq!(ok::<String>(res).await, "/signup/check-email");
        assert_eq!(app.count_all("passkey").await, 0);
        assert_eq!(app.count_all("account").await, 1);
        wait_for_mail(&email, "tried to sign up").await;
    }
}

async fn session_keys(app: &TestApp) -> Vec<String> {
    match &app.db {
        app::db::Db::Sqlite(p) => sqlx::query_scalar("select session_key_hash from session").fetch_all(p).await.unwrap(),
        app::db::Db::Postgres(p) => sqlx::query_scalar("select session_key_hash from session").fetch_all(p).await.unwrap(),
    }
}

on_both_backends! {
    async fn passkeys_are_added_after_confirming_it_is_you_then_listed_renamed_and_removed_with_notices(app: TestApp) {
        let email = unique_email("ada");
        app.verified_account(&email).await;
        let account = app.account_id(&email).await;
        age_sign_in(&app, 6 * 60).await;

        // The sign-in is too old to change credentials: confirm first (ASVS 7.5.1).
        assert_eq!(security(&app).await["change_window_seconds"], 0);
        let res = app.rpc("add_passkey_start", &[]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let (_, field, message) = error_message(app.rpc("reauthenticate_with_password", &[("password", "wrong password")]).await).await;
        assert_eq!((field.as_deref(), message.as_str()), (Some("password"), "Your password is not correct."));
        assert_eq!(app.rpc("reauthenticate_with_password", &[("password", PASSWORD)]).await.status(), StatusCode::OK);
        assert!(security(&app).await["change_window_seconds"].as_i64().unwrap() > 200);

        let mut laptop = Authenticator::new(&app.base);
        let added: Value = ok(add_passkey(&app, &mut laptop).await).await;
        assert_eq!(added["name"], "Passkey on Linux");
        wait_for_mail(&email, "A passkey was added").await;

        // The same device is excluded from a second registration.
        let options: String = ok(app.rpc("add_passkey_start", &[]).await).await;
        let options: Value = serde_json::from_str(&options).unwrap();
        assert_eq!(options["publicKey"]["excludeCredentials"][0]["id"], laptop.credentials[0].0.as_str());

        let mut phone = Authenticator::new(&app.base);
        let second: Value = ok(add_passkey(&app, &mut phone).await).await;
        let overview = security(&app).await;
        let listed = overview["passkeys"].as_array().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0]["backed_up"], false);
        assert!(listed[0]["created_at"].as_str().unwrap().ends_with("UTC"));
        assert_eq!(listed[0]["last_used_at"], Value::Null);

        // Rename: a clear error for a bad name, then the new name.
        let id = added["id"].as_str().unwrap();
        let (status, field, _) = error_message(app.rpc("rename_passkey", &[("passkey_id", id), ("name", "   ")]).await).await;
        assert_eq!((status, field.as_deref()), (StatusCode::BAD_REQUEST, Some("name")));
        assert_eq!(app.rpc("rename_passkey", &[("passkey_id", id), ("name", " Work laptop ")]).await.status(), StatusCode::OK);
        assert_eq!(security(&app).await["passkeys"][0]["name"], "Work laptop");

        // Remove the phone's passkey: it no longer signs in; the laptop's still does.
        assert_eq!(app.rpc("remove_passkey", &[("passkey_id", second["id"].as_str().unwrap())]).await.status(), StatusCode::OK);
        wait_for_mail(&email, "A passkey was removed").await;
        let kinds = app.event_kinds(account).await;
        for kind in [app::events::kind::REAUTHENTICATED, app::events::kind::PASSKEY_ADDED, app::events::kind::PASSKEY_RENAMED, app::events::kind::PASSKEY_REMOVED] {
            assert!(kinds.contains(&kind.to_string()), "{kind} in {kinds:?}");
        }
        let browser = app.new_browser();
        let (status, _, message) = error_message(passkey_sign_in(&app, &browser, &mut phone).await).await;
        assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, app::passkeys::SIGN_IN_FAILED));
        assert_eq!(ok::<String>(passkey_sign_in(&app, &browser, &mut laptop).await).await, "/dashboard");
        assert_eq!(app.viewer(&browser).await["email"], email.as_str());
    }
}

on_both_backends! {
    async fn asvs_6_5_6_the_last_way_to_sign_in_cannot_be_removed(app: TestApp) {
        let email = unique_email("only");
        let mut phone = Authenticator::new(&app.base);
        passkey_only_account_signed_in(&app, &mut phone, &email).await;
        let overview = security(&app).await;
        assert_eq!(overview["has_password"], false);
        let only = overview["passkeys"][0]["id"].as_str().unwrap().to_string();
        let (status, _, message) = error_message(app.rpc("remove_passkey", &[("passkey_id", &only)]).await).await;
        assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, app::passkeys::LAST_WAY_IN));
        assert_eq!(app.count_all("passkey").await, 1);

        // With a password as a second way in, the passkey can go.
        let (_, field, _) = error_message(app.rpc("set_password", &[("new_password", "password")]).await).await;
        assert_eq!(field.as_deref(), Some("new_password"));
        assert_eq!(app.rpc("set_password", &[("new_password", PASSWORD)]).await.status(), StatusCode::OK);
        assert_eq!(app.rpc("remove_passkey", &[("passkey_id", &only)]).await.status(), StatusCode::OK);
        assert_eq!(app.count_all("passkey").await, 0);
        assert_eq!(app.sign_in(&email, PASSWORD).await.status(), StatusCode::OK);
    }
}

on_both_backends! {
    async fn asvs_7_5_1_removing_a_passkey_or_setting_a_password_needs_a_recent_confirmation(app: TestApp) {
        let email = unique_email("stale");
        let mut phone = Authenticator::new(&app.base);
        passkey_only_account_signed_in(&app, &mut phone, &email).await;
        let mut tablet = Authenticator::new(&app.base);
        ok::<Value>(add_passkey(&app, &mut tablet).await).await;
        age_sign_in(&app, 6 * 60).await;
        let id = security(&app).await["passkeys"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(app.rpc("remove_passkey", &[("passkey_id", &id)]).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.rpc("set_password", &[("new_password", PASSWORD)]).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.count_all("passkey").await, 2);

        // Confirm with the tablet's passkey, then the change goes through.
        let options: String = ok(app.rpc("reauthenticate_with_passkey_start", &[]).await).await;
        let named: Value = serde_json::from_str(&options).unwrap();
        assert_eq!(named["publicKey"]["allowCredentials"].as_array().unwrap().len(), 2, "only this account's passkeys are asked for");
        assert_eq!(app.rpc("reauthenticate_with_passkey_finish", &[("credential", &tablet.get(&options))]).await.status(), StatusCode::OK);
        assert_eq!(app.rpc("remove_passkey", &[("passkey_id", &id)]).await.status(), StatusCode::OK);
    }
}

on_both_backends! {
    async fn another_account_cannot_see_rename_or_remove_a_passkey(app: TestApp) {
        let ada = unique_email("ada");
        app.verified_account(&ada).await;
        let mut laptop = Authenticator::new(&app.base);
        let added: Value = ok(add_passkey(&app, &mut laptop).await).await;
        let id = added["id"].as_str().unwrap();

        let eve = TestApp::new_browser(&app);
        let eve_email = unique_email("eve");
        app.verified_account_in(&eve, &eve_email).await;
        let theirs: Value = ok(rpc_with(&eve, &app.base, "security_overview", &[]).await).await;
        assert_eq!(theirs["passkeys"], serde_json::json!([]));
        assert_eq!(rpc_with(&eve, &app.base, "rename_passkey", &[("passkey_id", id), ("name", "mine")]).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(rpc_with(&eve, &app.base, "remove_passkey", &[("passkey_id", id)]).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(rpc_with(&eve, &app.base, "remove_passkey", &[("passkey_id", "not-a-uuid")]).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(security(&app).await["passkeys"][0]["name"], added["name"]);

        // Eve cannot confirm "it's you" with Ada's passkey either.
        let mut eves = Authenticator::new(&app.base);
        let options: String = ok(rpc_with(&eve, &app.base, "add_passkey_start", &[]).await).await;
        ok::<Value>(rpc_with(&eve, &app.base, "add_passkey_finish", &[("credential", &eves.create(&options))]).await).await;
        let options: String = ok(rpc_with(&eve, &app.base, "reauthenticate_with_passkey_start", &[]).await).await;
        let (id, user) = laptop.credentials[0].clone();
        let forged = laptop.answer(&options, &id, &user);
        let (status, _, message) = error_message(rpc_with(&eve, &app.base, "reauthenticate_with_passkey_finish", &[("credential", &forged)]).await).await;
        assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, app::passkeys::NOT_VERIFIED));
    }
}

on_both_backends! {
    async fn bad_passkey_answers_get_a_clear_error_never_a_500_and_change_nothing(app: TestApp) {
        let (ada, eve) = (unique_email("ada"), unique_email("eve"));
        let (mut adas, mut eves) = (Authenticator::new(&app.base), Authenticator::new(&app.base));
        ok::<String>(passkey_sign_up(&app, &app.new_browser(), &mut adas, &ada).await).await;
        ok::<String>(passkey_sign_up(&app, &app.new_browser(), &mut eves, &eve).await).await;
        let before = app.passkey_snapshot().await;
        let browser = app.new_browser();
        let start = || async { ok::<String>(rpc_with(&browser, &app.base, "passkey_sign_in_start", &[]).await).await };
        let finish = |answer: String| {
            let browser = browser.clone();
            let base = app.base.clone();
            async move { error_message(rpc_with(&browser, &base, "passkey_sign_in_finish", &[("credential", &answer)]).await).await }
        };
        let stale = app::passkeys::ceremony::STALE;
        let failed = app::passkeys::SIGN_IN_FAILED;

        // Garbage, then the state is gone: the ceremony cannot be finished twice.
        let options = start().await;
        let valid = adas.get(&options);
        for garbage in ["", "null", "{", "{\"id\": 5}", &"x".repeat(100_000)] {
            let options = start().await;
            drop(options);
            let (status, _, message) = finish(garbage.to_string()).await;
            assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, app::passkeys::UNREADABLE), "{:.20}", garbage);
        }
        let (status, _, message) = finish(valid.clone()).await;
        assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, stale), "replayed without state");

        // An answer for another challenge (the first was replaced by a second start).
        let first = start().await;
        start().await;
        let (status, _, message) = finish(adas.get(&first)).await;
        assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, failed), "answer to an older challenge");

        // A replay of a used answer against a fresh challenge.
        start().await;
        let (_, _, message) = finish(valid).await;
        assert_eq!(message, failed);

        // Eve's credential presented as Ada's (forged user handle).
        let options = start().await;
        let (eve_credential, _) = eves.credentials[0].clone();
        let (_, ada_handle) = adas.credentials[0].clone();
        let (_, _, message) = finish(eves.answer(&options, &eve_credential, &ada_handle)).await;
        assert_eq!(message, failed);

        // Without user verification.
        adas.verifies_user = false;
        let options = start().await;
        let (_, _, message) = finish(adas.get(&options)).await;
        assert_eq!(message, failed);
        adas.verifies_user = true;

        // Expired state: started more than 5 minutes ago.
        let options = start().await;
        app.edit_sessions(|data| {
            if let Some(pending) = data.get_mut("passkey.sign_in") {
                pending["started_at"] = (pending["started_at"].as_i64().unwrap() - 301).into();
            }
        }).await;
        let (_, _, message) = finish(adas.get(&options)).await;
        assert_eq!(message, stale);

        // The finishing functions without a started ceremony, and other junk fields.
        for endpoint in ["passkey_sign_up_finish", "passkey_sign_in_finish"] {
            let (status, _, message) = error_message(rpc_with(&app.new_browser(), &app.base, endpoint, &[("credential", "{}")]).await).await;
            assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, stale), "{endpoint}");
            let res = rpc_with(&app.new_browser(), &app.base, endpoint, &[("wrong", "field")]).await;
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{endpoint}");
        }

        assert_eq!(app.passkey_snapshot().await, before, "no passkey row changed");
        assert_eq!(app.viewer(&browser).await, Value::Null, "nobody got signed in");
        assert_eq!(app.count_all("account").await, 2);
        let events = app.all_event_text().await;
        assert!(events.contains("user_handle_mismatch") && events.contains("unreadable"), "failures are logged with their reason");
    }
}

on_both_backends! {
    async fn a_counter_that_goes_back_is_refused_as_a_possible_clone(app: TestApp) {
        let email = unique_email("clone");
        let mut phone = Authenticator::new(&app.base);
        ok::<String>(passkey_sign_up(&app, &app.client, &mut phone, &email).await).await;
        ok::<String>(passkey_sign_in(&app, &app.new_browser(), &mut phone).await).await;
        // The server has seen a higher counter than this device will send next (it was copied).
        let row = find_by_credential_id(&app.db, &phone.credentials[0].0).await.unwrap().unwrap();
        let mut credential: Value = serde_json::from_str(&row.credential).unwrap();
        credential["cred"]["counter"] = 1000.into();
        record_use(&app.db, row.passkey_id, &credential.to_string(), false, app::db::now()).await.unwrap();
        let before = app.passkey_snapshot().await;

        let browser = app.new_browser();
        let (status, _, message) = error_message(passkey_sign_in(&app, &browser, &mut phone).await).await;
        assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, app::passkeys::SIGN_IN_FAILED));
        assert_eq!(app.viewer(&browser).await, Value::Null);
        assert_eq!(app.passkey_snapshot().await, before);
        assert!(app.all_event_text().await.contains("counter_regression"));
    }
}

on_both_backends! {
    async fn asvs_6_3_1_failed_passkey_sign_ins_are_throttled_per_network_and_never_block_passwords(app: TestApp) {
        let email = unique_email("throttle");
        let (mut phone, mut other) = (Authenticator::new(&app.base), Authenticator::new(&app.base));
        ok::<String>(passkey_sign_up(&app, &app.client, &mut phone, &email).await).await;
        ok::<String>(passkey_sign_up(&app, &app.new_browser(), &mut other, &unique_email("other")).await).await;
        let (victim_credential, victim_handle) = phone.credentials[0].clone();
        let browser = app.new_browser();
        // Forged attempts at the account (its credential id, another key's signature)...
        for _ in 0..app::throttle::SIGN_IN_PER_IP.free + 1 {
            let options: String = ok(rpc_with(&browser, &app.base, "passkey_sign_in_start", &[]).await).await;
            let (other_credential, _) = other.credentials[0].clone();
            let mut forged: Value = serde_json::from_str(&other.answer(&options, &other_credential, &victim_handle)).unwrap();
            forged["id"] = victim_credential.as_str().into();
            forged["rawId"] = victim_credential.as_str().into();
            let res = rpc_with(&browser, &app.base, "passkey_sign_in_finish", &[("credential", &forged.to_string())]).await;
            assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        }
        // ...make passkey sign-in from that network wait (a second at first)...
        let (status, _, message) = error_message(passkey_sign_in(&app, &browser, &mut phone).await).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{message}");
        assert!(message.contains("Too many sign-in attempts"));
        assert!(mails_to(&email).await.iter().all(|m| !m.subject.contains("passkey was")), "no notice for failed attempts");
        // ...and leave password sign-in alone: passkey failures are not password guesses.
        let email = unique_email("password");
        app.verified_account_in(&app.new_browser(), &email).await;
        assert_eq!(rpc_with(&browser, &app.base, "sign_in", &[("email", &email), ("password", PASSWORD)]).await.status(), StatusCode::OK);
        // After the wait, the genuine passkey works.
        app.clock.advance(time::Duration::seconds(2));
        ok::<String>(passkey_sign_in(&app, &app.new_browser(), &mut phone).await).await;
    }
}

#[tokio::test]
async fn the_server_refuses_to_start_when_the_passkey_rp_id_does_not_fit_the_public_url() {
    let data = tempfile::tempdir().unwrap();
    let config = app::config::Config {
        public_url: "https://developers.example.com".into(),
        passkey_rp_id: Some("example.org".into()),
        data_dir: data.path().to_path_buf(),
        database_url: format!("sqlite://{}/mast.db", data.path().display()),
        ..app::config::Config::default()
    };
    let err = server::startup::build_state(config).await.err().expect("refused");
    let message = err.to_string();
    assert!(message.contains("https://developers.example.com") && message.contains("example.org"), "{message}");
    assert!(message.contains("MAST_PASSKEY_RP_ID"), "{message}");
}

on_both_backends! {
    async fn passkeys_are_unique_across_accounts_and_only_their_owner_can_change_them(app: TestApp) {
        let (ada, eve) = (unique_email("ada"), unique_email("eve"));
        app.sign_up(&ada).await;
        app.sign_up(&eve).await;
        let (ada, eve) = (app.account_id(&ada).await, app.account_id(&eve).await);
        let now = app::db::now();
        let key = NewPasskey { account_id: ada, credential_id: "Y3JlZC0x", credential: r#"{"cred":"ada"}"#, name: "Chrome on Linux", backed_up: true };
        let id = insert_passkey(&app.db, &key, now).await.unwrap();

        // The same credential id for another account is refused and changes nothing.
        let stolen = NewPasskey { account_id: eve, credential: r#"{"cred":"eve"}"#, ..key };
        let err = insert_passkey(&app.db, &stolen, now).await.unwrap_err();
        assert!(app::db::is_unique_violation(&err));
        assert!(list_passkeys_of_account(&app.db, eve).await.unwrap().is_empty());

        assert!(!rename_passkey(&app.db, eve, id, "mine now").await.unwrap());
        assert_eq!(remove_passkey_keeping_a_way_in(&app.db, eve, id).await.unwrap(), Removal::NotFound);
        let row = find_by_credential_id(&app.db, "Y3JlZC0x").await.unwrap().unwrap();
        assert_eq!((row.account_id, row.name.as_str(), row.backed_up), (ada, "Chrome on Linux", true));
        assert!(row.last_used_at.is_none());

        record_use(&app.db, id, r#"{"cred":"ada","counter":2}"#, false, now).await.unwrap();
        assert!(rename_passkey(&app.db, ada, id, "Work laptop").await.unwrap());
        let rows = list_passkeys_of_account(&app.db, ada).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].name.as_str(), rows[0].backed_up, rows[0].last_used_at), ("Work laptop", false, Some(now)));
        assert!(rows[0].credential.contains("counter"));

        assert_eq!(remove_passkey_keeping_a_way_in(&app.db, ada, id).await.unwrap(), Removal::Deleted { name: "Work laptop".into() });
        assert!(find_by_credential_id(&app.db, "Y3JlZC0x").await.unwrap().is_none());
    }
}
