use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp, error_message, mails_to, unique_email, wait_for_mail};

on_both_backends! {
    async fn sign_up_stores_account_and_both_acceptances_with_version_hash_time_ip_and_agent(app: TestApp) {
        let email = unique_email("Ada.Mixed");
        let res = app.sign_up(&email).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["location"], "/signup/check-email");

        let account = app::accounts::store::find_account_by_email(&app.db, &email.to_lowercase()).await.unwrap().unwrap();
        assert_eq!(account.email, email, "the address is kept as typed");
        assert_eq!(account.display_name, "Ada Lovelace");
        assert_eq!(account.organisation.as_deref(), Some("Analytical Engines"));
        assert!(account.email_verified_at.is_none());
        assert!(account.password_hash.as_deref().unwrap().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));

        let consents = app::consent::store::list_consents(&app.db, account.account_id).await.unwrap();
        let mut docs: Vec<_> = consents.iter().map(|c| (c.document.as_str(), c.version.as_str())).collect();
        docs.sort();
        assert_eq!(docs, [("privacy", app::consent::PRIVACY.version), ("terms", app::consent::TERMS.version)]);
        for c in &consents {
            assert_eq!(c.text_sha256.len(), 64);
            assert_eq!(c.ip.as_deref(), Some("127.0.0.1"));
            assert!(c.user_agent.as_deref().unwrap().contains("MastTests"));
            assert!((app::db::now() - c.accepted_at).whole_seconds().abs() < 60);
        }
        // The stored hash is the hash of the text the /terms page shows.
        let terms = app.get("/terms").await.text().await.unwrap();
        assert!(terms.contains(app::consent::TERMS.version));

        let mail = wait_for_mail(&email, "Confirm your email").await;
        assert!(mail.text.contains("/verify-email?token="));
        assert!(mail.html.contains("/verify-email?token="), "mail has an HTML part too");
    }
}

on_both_backends! {
    async fn an_address_already_taken_in_any_case_gets_the_same_answer_and_its_owner_a_mail(app: TestApp) {
        let email = unique_email("owner");
        let first = app.sign_up(&email).await;
        let second = app.new_browser();
        let again = crate::support::rpc_with(&second, &app.base, "sign_up", &[("email", &email.to_uppercase()),
            ("display_name", "Mallory"), ("password", "another long password"), ("accept_terms", "on")]).await;
        assert_eq!(first.status(), again.status());
        assert_eq!(first.headers().get("location"), again.headers().get("location"));
        assert_eq!(again.text().await.unwrap(), first.text().await.unwrap());

        assert_eq!(app.count_all("account").await, 1, "one account per address, whatever its case");
        let account = app.account_id(&email).await;
        let name: String = app::accounts::store::find_account(&app.db, account).await.unwrap().unwrap().display_name;
        assert_eq!(name, "Ada Lovelace", "the second sign-up changed nothing");
        wait_for_mail(&email, "Someone tried to sign up").await;
        assert!(app.event_kinds(account).await.contains(&app::events::kind::SIGN_UP_EXISTING.to_string()));
    }
}

on_both_backends! {
    async fn every_bad_field_gets_its_own_clear_error_and_creates_nothing(app: TestApp) {
        let email = unique_email("bad");
        let long = |n: usize| "x".repeat(n);
        let too_long_email = format!("{}@example.test", long(250));
        let cases: Vec<(Vec<(&str, String)>, &str, &str)> = vec![
            (vec![("email", "".into())], "email", "Enter your email"),
            (vec![("email", "not-an-email".into())], "email", "like name@example.com"),
            (vec![("email", "a b@example.test".into())], "email", "like name@example.com"),
            (vec![("email", too_long_email)], "email", "too long"),
            (vec![("display_name", "   ".into())], "display_name", "name"),
            (vec![("display_name", long(101))], "display_name", "at most 100"),
            (vec![("organisation", long(121))], "organisation", "at most 120"),
            (vec![("country", long(61))], "country", "at most 60"),
            (vec![("password", "short".into())], "password", "at least 8"),
            (vec![("password", long(129))], "password", "at most 128"),
            (vec![("password", "password1".into())], "password", "common"),
            (vec![("password", "iloveyou".into())], "password", "common"),
            (vec![("password", email.clone())], "password", "email"),
            (vec![("accept_terms", "".into())], "accept_terms", "accept"),
        ];
        for (overrides, field, words) in cases {
            let mut form: Vec<(&str, String)> = vec![("email", email.clone()), ("display_name", "Ada".into()),
                ("password", PASSWORD.into()), ("accept_terms", "on".into())];
            for (k, v) in overrides {
                form.retain(|(key, _)| *key != k);
                if !v.is_empty() || k != "accept_terms" {
                    form.push((k, v));
                }
            }
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, got_field, message) = error_message(app.rpc("sign_up", &pairs).await).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {message}");
            assert_eq!(got_field.as_deref(), Some(field), "{message}");
            assert!(message.to_lowercase().contains(&words.to_lowercase()), "{field}: {message:?} should mention {words:?}");
        }
        assert_eq!(app.count_all("account").await, 0);
        assert_eq!(app.count_all("consent").await, 0);
        assert!(mails_to(&email).await.is_empty());
    }
}

on_both_backends! {
    async fn a_password_is_kept_exactly_as_typed_spaces_and_unicode_included(app: TestApp) {
        let email = unique_email("exact");
        let password = "  Ünïcødé pässwörd ✓  ";
        let res = app.rpc("sign_up", &[("email", &email), ("display_name", "Ex"), ("password", password), ("accept_terms", "on")]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(app.sign_in(&email, password.trim()).await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.sign_in(&email, password).await.status(), StatusCode::OK);
    }
}

#[test]
fn asvs_6_2_6_password_fields_let_password_managers_and_paste_work() {
    crate::support::run(async {
        let app = TestApp::spawn(crate::support::Backend::Sqlite).await.unwrap();
        let signup = app.get("/signup").await.text().await.unwrap();
        assert!(signup.contains(r#"type="password" autocomplete="new-password""#), "sign-up password field");
        assert!(signup.contains(r#"autocomplete="email""#));
        assert!(signup.contains(r#"maxlength="128""#), "128 characters allowed");
        let signin = app.get("/signin").await.text().await.unwrap();
        // "username webauthn": password managers fill the address, and passkeys show in its autofill.
        assert!(signin.contains(r#"autocomplete="username webauthn""#) && signin.contains(r#"autocomplete="current-password""#));
        assert!(!signin.contains("onpaste"), "paste is never blocked");
        assert_eq!(app.count_all("account").await, 0, "asvs 6.3.2: a new installation has no accounts at all");
    });
}
