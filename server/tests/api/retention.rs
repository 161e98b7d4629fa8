//! Privacy Policy, "How long we keep it": each promise swept on schedule.

use time::Duration;

use crate::on_both_backends;
use crate::support::unique_email;

on_both_backends! {
    async fn privacy_policy_retention_sessions_tokens_unverified_accounts_and_old_events_are_deleted(app: TestApp) {
        let verified = unique_email("kept");
        app.verified_account(&verified).await;
        let unverified = unique_email("never");
        app.sign_up(&unverified).await;
        let kept = app.account_id(&verified).await;
        let gone = app.account_id(&unverified).await;
        let now = app::db::now();

        // Today nothing live is touched.
        let swept = app::retention::sweep(&app.db, now).await.unwrap();
        assert_eq!(swept.sessions, 0);
        assert_eq!(swept.unverified_accounts, 0);
        assert!(swept.email_tokens >= 1, "the used confirmation token goes at once");
        assert_eq!(app.viewer(&app.client).await["display_name"], "Ada Lovelace");

        // Eight days on: sessions have expired, the unconfirmed sign-up is deleted with its data.
        let swept = app::retention::sweep(&app.db, now + Duration::days(8)).await.unwrap();
        assert_eq!(swept.sessions, 1);
        assert_eq!(swept.unverified_accounts, 1);
        assert!(app::accounts::store::find_account(&app.db, gone).await.unwrap().is_none());
        assert_eq!(app.count("consent", "account_id", gone).await, 0);
        assert_eq!(app.count("email_token", "account_id", gone).await, 0);
        assert!(app::accounts::store::find_account(&app.db, kept).await.unwrap().is_some());
        assert!(app.count("event", "account_id", kept).await > 0, "events stay for 730 days");

        let swept = app::retention::sweep(&app.db, now + Duration::days(app::retention::EVENT_DAYS + 1)).await.unwrap();
        assert!(swept.events > 0);
        assert_eq!(app.count("event", "account_id", kept).await, 0);
        assert_eq!(app.count("consent", "account_id", kept).await, 2, "acceptances are kept with the account");
    }
}
