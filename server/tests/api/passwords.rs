use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{PASSWORD, error_message, mails_to, rpc_with, token_from, unique_email, wait_for_mail};

const NEW_PASSWORD: &str = "a brand new secret phrase";

on_both_backends! {
    async fn a_reset_by_email_sets_the_password_ends_every_session_and_sends_a_notice(app: TestApp) {
        let email = unique_email("reset");
        app.verified_account(&email).await;
        let laptop = app.client.clone();
        assert_eq!(app.viewer(&laptop).await["display_name"], "Ada Lovelace");

        let phone = app.new_browser();
        let res = rpc_with(&phone, &app.base, "request_password_reset", &[("email", &email.to_uppercase())]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let token = token_from(&wait_for_mail(&email, "Reset your").await);

        // A refused new password leaves the link usable.
        let (status, field, _) = error_message(rpc_with(&phone, &app.base, "reset_password", &[("token", &token), ("new_password", "password")]).await).await;
        assert_eq!((status, field.as_deref()), (StatusCode::BAD_REQUEST, Some("new_password")));

        let res = rpc_with(&phone, &app.base, "reset_password", &[("token", &token), ("new_password", NEW_PASSWORD)]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(app.viewer(&laptop).await, serde_json::Value::Null, "the other session ended");
        let account = app.account_id(&email).await;
        assert_eq!(app.count("session", "account_id", account).await, 0);
        wait_for_mail(&email, "password was changed").await;

        assert_eq!(app.sign_in(&email, PASSWORD).await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.sign_in(&email, NEW_PASSWORD).await.status(), StatusCode::OK);
        let (status, _, message) = error_message(rpc_with(&phone, &app.base, "reset_password", &[("token", &token), ("new_password", "yet another phrase")]).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "the link works once");
        assert!(message.contains("invalid or has expired"));
        assert!(!app.all_event_text().await.contains(&token));
    }
}

on_both_backends! {
    async fn a_reset_request_answers_the_same_for_unknown_addresses_and_sends_nothing(app: TestApp) {
        let known = unique_email("known");
        app.sign_up(&known).await;
        let unknown = unique_email("unknown");
        let a = app.rpc("request_password_reset", &[("email", &known)]).await;
        let b = app.rpc("request_password_reset", &[("email", &unknown)]).await;
        assert_eq!(a.status(), b.status());
        assert_eq!(a.text().await.unwrap(), b.text().await.unwrap());
        wait_for_mail(&known, "Reset your").await;
        assert!(mails_to(&unknown).await.is_empty());
        let (status, field, _) = error_message(app.rpc("request_password_reset", &[("email", "nonsense")]).await).await;
        assert_eq!((status, field.as_deref()), (StatusCode::BAD_REQUEST, Some("email")));
    }
}

on_both_backends! {
    async fn a_reset_link_expires_after_30_minutes(app: TestApp) {
        let email = unique_email("late");
        app.sign_up(&email).await;
        app.rpc("request_password_reset", &[("email", &email)]).await;
        let token = token_from(&wait_for_mail(&email, "Reset your").await);
        let account = app.account_id(&email).await;
        let past = app::db::now() - time::Duration::minutes(31);
        let sql = "update email_token set expires_at = $1 where account_id = $2 and purpose = 'reset_password'";
        let changed = match &app.db {
            app::db::Db::Sqlite(p) => sqlx::query(sql).bind(app::db::Ts(past)).bind(account).execute(p).await.unwrap().rows_affected(),
            app::db::Db::Postgres(p) => sqlx::query(sql).bind(past).bind(account).execute(p).await.unwrap().rows_affected(),
        };
        assert_eq!(changed, 1);
        let (status, _, _) = error_message(app.rpc("reset_password", &[("token", &token), ("new_password", NEW_PASSWORD)]).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(app.sign_in(&email, PASSWORD).await.status(), StatusCode::OK, "old password still works");
    }
}

on_both_backends! {
    async fn changing_the_password_asks_for_the_current_one_and_can_end_other_sessions(app: TestApp) {
        let email = unique_email("change");
        app.verified_account(&email).await;
        let other = app.new_browser();
        assert_eq!(rpc_with(&other, &app.base, "sign_in", &[("email", &email), ("password", PASSWORD)]).await.status(), StatusCode::OK);

        let (status, field, _) = error_message(app.rpc("change_password", &[("current_password", "wrong one!"), ("new_password", NEW_PASSWORD)]).await).await;
        assert_eq!((status, field.as_deref()), (StatusCode::BAD_REQUEST, Some("current_password")));
        let (status, field, _) = error_message(app.rpc("change_password", &[("current_password", PASSWORD), ("new_password", "12345678")]).await).await;
        assert_eq!((status, field.as_deref()), (StatusCode::BAD_REQUEST, Some("new_password")));
        assert_eq!(app.viewer(&other).await["display_name"], "Ada Lovelace", "failed changes end nothing");

        let res = app.rpc("change_password", &[("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("sign_out_others", "on")]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let message: String = res.json().await.unwrap();
        assert!(message.contains("1 other session"), "{message}");
        assert_eq!(app.viewer(&other).await, serde_json::Value::Null);
        assert_eq!(app.viewer(&app.client).await["display_name"], "Ada Lovelace", "this session stays");
        wait_for_mail(&email, "password was changed").await;
        assert_eq!(app.sign_in(&email, NEW_PASSWORD).await.status(), StatusCode::OK);
    }
}

on_both_backends! {
    async fn asvs_6_3_8_sign_up_and_reset_answer_no_sooner_for_a_known_address_than_for_an_unknown_one(app: TestApp) {
        let known = unique_email("timing");
        app.sign_up(&known).await;
        let min = app::timing::ACCOUNT_LOOKUP_MIN;
        for (endpoint, email) in [("sign_up", known.clone()), ("sign_up", unique_email("fresh")),
            ("request_password_reset", known.clone()), ("request_password_reset", unique_email("nobody"))] {
            let started = std::time::Instant::now();
            let res = app.rpc(endpoint, &[("email", &email), ("display_name", "Ada"), ("password", PASSWORD), ("accept_terms", "on")]).await;
            assert_eq!(res.status(), StatusCode::OK, "{endpoint}");
            assert!(started.elapsed() >= min, "{endpoint} for {email} answered in {:?}", started.elapsed());
        }
    }
}
