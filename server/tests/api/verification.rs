use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{error_message, token_from, unique_email, wait_for_mail};

on_both_backends! {
    async fn the_link_opens_a_page_and_only_the_button_confirms_once(app: TestApp) {
        let email = unique_email("verify");
        app.sign_up(&email).await;
        let token = token_from(&wait_for_mail(&email, "Confirm your email").await);
        assert!(token.len() >= 43, "at least 256 bits of base64url");

        // Opening the link (or a mail scanner fetching it) confirms nothing.
        let page = app.get(&format!("/verify-email?token={token}")).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("Confirm email"));
        let account = app.account_id(&email).await;
        let before = app::accounts::store::find_account(&app.db, account).await.unwrap().unwrap();
        assert!(before.email_verified_at.is_none());

        let res = app.rpc("confirm_email", &[("token", &token)]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["location"], "/verify-email/done");
        let after = app::accounts::store::find_account(&app.db, account).await.unwrap().unwrap();
        assert!(after.email_verified_at.is_some());
        assert!(app.event_kinds(account).await.contains(&app::events::kind::EMAIL_VERIFIED.to_string()));

        // Single use.
        let (status, _, message) = error_message(app.rpc("confirm_email", &[("token", &token)]).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.contains("invalid or has expired"), "{message}");
    }
}

on_both_backends! {
    async fn the_token_is_stored_only_as_its_sha256(app: TestApp) {
        let email = unique_email("hashonly");
        app.sign_up(&email).await;
        let token = token_from(&wait_for_mail(&email, "Confirm your email").await);
        let account = app.account_id(&email).await;
        let sql = "select token_hash from email_token where account_id = $1";
        let stored: Vec<String> = match &app.db {
            app::db::Db::Sqlite(p) => sqlx::query_scalar(sql).bind(account).fetch_all(p).await.unwrap(),
            app::db::Db::Postgres(p) => sqlx::query_scalar(sql).bind(account).fetch_all(p).await.unwrap(),
        };
        assert_eq!(stored, [app::email_verification::tokens::hash_token(&token)]);
        assert!(!stored[0].contains(&token));
    }
}

on_both_backends! {
    async fn garbled_too_long_and_expired_tokens_are_refused_clearly(app: TestApp) {
        let email = unique_email("expired");
        app.sign_up(&email).await;
        let token = token_from(&wait_for_mail(&email, "Confirm your email").await);

        for bad in ["", "garbled", "%%%", &"A".repeat(5000), &format!("{token}x")] {
            let (status, _, message) = error_message(app.rpc("confirm_email", &[("token", bad)]).await).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:.20}");
            assert!(message.contains("invalid or has expired"), "{message}");
        }

        // Let the real token pass its 24 hours.
        let past = app::db::now() - time::Duration::hours(25);
        let account = app.account_id(&email).await;
        let sql = "update email_token set expires_at = $1 where account_id = $2";
        match &app.db {
            app::db::Db::Sqlite(p) => sqlx::query(sql).bind(app::db::Ts(past)).bind(account).execute(p).await.unwrap().rows_affected(),
            app::db::Db::Postgres(p) => sqlx::query(sql).bind(past).bind(account).execute(p).await.unwrap().rows_affected(),
        };
        let (status, _, _) = error_message(app.rpc("confirm_email", &[("token", &token)]).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let account = app::accounts::store::find_account(&app.db, account).await.unwrap().unwrap();
        assert!(account.email_verified_at.is_none());
    }
}

on_both_backends! {
    async fn an_unverified_account_signs_in_sees_the_banner_and_can_resend_a_few_times(app: TestApp) {
        let email = unique_email("resend");
        app.sign_up(&email).await;
        let first = token_from(&wait_for_mail(&email, "Confirm your email").await);
        assert_eq!(app.sign_in(&email, crate::support::PASSWORD).await.status(), StatusCode::OK);
        let dashboard = app.get("/dashboard").await.text().await.unwrap();
        assert!(dashboard.contains("confirm your email") || dashboard.contains("Confirm your email"), "banner shown");

        let res = app.rpc("resend_verification", &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        // A new link replaces the old one.
        let mut second = first.clone();
        for _ in 0..50 {
            second = token_from(&wait_for_mail(&email, "Confirm your email").await);
            if second != first { break; }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_ne!(first, second);
        assert_eq!(app.rpc("confirm_email", &[("token", &first)]).await.status(), StatusCode::BAD_REQUEST, "old link voided");

        let mut throttled = None;
        let mut sent = 2;
        for _ in 0..6 {
            let res = app.rpc("resend_verification", &[]).await;
            if res.status() == StatusCode::TOO_MANY_REQUESTS {
                throttled = Some(error_message(res).await.2);
                break;
            }
            sent += 1;
        }
        let message = throttled.expect("resending is throttled");
        assert!(message.contains("another in"), "{message}");

        // Only the newest link works; mails may arrive in any order, so try each.
        let mut mails = Vec::new();
        for _ in 0..100 {
            mails = crate::support::mails_to(&email).await;
            if mails.len() >= sent { break; }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(mails.len(), sent, "one mail per accepted request, none when throttled");
        let mut confirmed = 0;
        for mail in &mails {
            if app.rpc("confirm_email", &[("token", &token_from(mail))]).await.status() == StatusCode::OK {
                confirmed += 1;
            }
        }
        assert_eq!(confirmed, 1);
    }
}
