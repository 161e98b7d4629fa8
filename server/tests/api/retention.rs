//! Privacy Policy, "How long we keep it": each promise swept on schedule.

use time::Duration;

use crate::on_both_backends;
use crate::support::unique_email;

on_both_backends! {
    async fn policy_sessions_links_unconfirmed_accounts_and_old_events_deleted_after_retention(app: TestApp) {
        let verified = unique_email("kept");
        app.verified_account(&verified).await;
        let unverified = unique_email("never");
        app.sign_up(&unverified).await;
        let kept = app.account_id(&verified).await;
        let gone = app.account_id(&unverified).await;
        let now = app::db::now();

        // Today nothing live is touched.
        let swept = app::retention::sweep(&app.db, &app.retention(), now).await.unwrap();
        assert_eq!(swept.sessions, 0);
        assert_eq!(swept.unverified_accounts, 0);
        assert!(swept.email_tokens >= 1, "the used confirmation token goes at once");
        assert_eq!(app.viewer(&app.client).await["display_name"], "Ada Lovelace");

        // Eight days on: sessions have expired, the unconfirmed sign-up is deleted with its data.
        let swept = app::retention::sweep(&app.db, &app.retention(), now + Duration::days(8)).await.unwrap();
        assert_eq!(swept.sessions, 1);
        assert_eq!(swept.unverified_accounts, 1);
        assert!(app::accounts::store::find_account(&app.db, gone).await.unwrap().is_none());
        assert_eq!(app.count("consent", "account_id", gone).await, 0);
        assert_eq!(app.count("email_token", "account_id", gone).await, 0);
        assert!(app::accounts::store::find_account(&app.db, kept).await.unwrap().is_some());
        assert!(app.count("event", "account_id", kept).await > 0, "events stay for 730 days");

        let swept = app::retention::sweep(&app.db, &app.retention(), now + Duration::days(730 + 1)).await.unwrap();
        assert!(swept.events > 0);
        assert_eq!(app.count("event", "account_id", kept).await, 0);
        assert_eq!(app.count("consent", "account_id", kept).await, 2, "acceptances are kept with the account");
    }
}

on_both_backends! {
    async fn policy_usage_logs_deleted_after_retention(app: TestApp) {
        let (_, key, _) = crate::keys::account_with_key(&app, "logs").await;
        assert_eq!(crate::keys::call(&app, &key).await.status(), reqwest::StatusCode::OK);
        for _ in 0..100 {
            if app.count_all("request_log").await == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let now = app::db::now();
        let swept = app::retention::sweep(&app.db, &app.retention(), now + Duration::days(730 - 1)).await.unwrap();
        assert_eq!((swept.request_logs, swept.usage_minutes, swept.usage_hours, swept.usage_days), (0, 0, 0, 0), "kept for 730 days");
        assert_eq!(app.count_all("request_log").await, 1);
        let swept = app::retention::sweep(&app.db, &app.retention(), now + Duration::days(730 + 1)).await.unwrap();
        assert_eq!((swept.request_logs, swept.usage_minutes, swept.usage_hours, swept.usage_days), (1, 1, 1, 1));
        assert_eq!(app.count_all("request_log").await, 0);
        assert_eq!(app.count_all("usage_minute").await, 0);
        assert_eq!(app.count_all("usage_hour").await, 0);
        assert_eq!(app.count_all("usage_day").await, 0);
        assert_eq!(app.count_all("api_key").await, 1, "keys stay with the account");
    }
}
