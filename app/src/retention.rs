//! Limited retention, as the Privacy Policy promises: what has served its purpose is deleted.
//! Runs at start and then every hour on every instance; each delete is idempotent.

use time::{Duration, OffsetDateTime};

use crate::db::{Db, Ts};
use crate::on_db;

/// Security events are kept this long (Privacy Policy: "Security events: 730 days").
pub const EVENT_DAYS: i64 = 730;
/// API request logs and their per-minute counts are kept this long (Privacy Policy: 730 days).
pub const REQUEST_LOG_DAYS: i64 = 730;
/// Accounts whose address was never confirmed are deleted after this long.
pub const UNVERIFIED_ACCOUNT_DAYS: i64 = 7;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub email_tokens: u64,
    pub throttles: u64,
    pub events: u64,
    pub request_logs: u64,
    pub usage_minutes: u64,
    pub usage_hours: u64,
    pub usage_days: u64,
    pub unverified_accounts: u64,
}

pub async fn sweep(db: &Db, now: OffsetDateTime) -> Result<Swept, sqlx::Error> {
    let run = |sql: &'static str, at: OffsetDateTime| async move {
        on_db!(db, pool => sqlx::query(sql).bind(Ts(at)).execute(pool).await.map(|r| r.rows_affected()))
    };
    Ok(Swept {
        sessions: run("delete from session where expires_at < $1", now).await?,
        email_tokens: run("delete from email_token where expires_at < $1 or used_at is not null", now).await?,
        // A throttle row matters for its hour window and any block after it.
        throttles: run(
            "delete from throttle where window_started_at < $1 and (blocked_until is null or blocked_until < $1)",
            now - Duration::hours(1),
        )
        .await?,
        events: run("delete from event where created_at < $1", now - Duration::days(EVENT_DAYS)).await?,
        request_logs: run("delete from request_log where at < $1", now - Duration::days(REQUEST_LOG_DAYS)).await?,
        usage_minutes: run("delete from usage_minute where minute < $1", now - Duration::days(REQUEST_LOG_DAYS)).await?,
        usage_hours: run("delete from usage_hour where hour < $1", now - Duration::days(REQUEST_LOG_DAYS)).await?,
        usage_days: run("delete from usage_day where day < $1", now - Duration::days(REQUEST_LOG_DAYS)).await?,
        unverified_accounts: run(
            "delete from account where email_verified_at is null and created_at < $1",
            now - Duration::days(UNVERIFIED_ACCOUNT_DAYS),
        )
        .await?,
    })
}

/// Sweeps now and then every hour, logging what went.
pub fn spawn_hourly(db: Db) {
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            match sweep(&db, crate::db::now()).await {
                Ok(swept) if swept != Swept::default() => tracing::info!(?swept, "retention sweep"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "retention sweep failed; will retry in an hour"),
            }
        }
    });
}
