//! Limited retention, as the Privacy Policy promises: what has served its purpose is deleted.
//! The periods come from the settings and the policy page shows them, so its text stays true.
//! Runs at start and then every hour on every instance (and on demand: `server prune`); each
//! delete is idempotent.

use time::{Duration, OffsetDateTime};

use crate::config::Config;
use crate::db::{Db, Ts};
use crate::on_db;

/// How long each kind of data is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Periods {
    pub request_log_days: u32,
    pub event_days: u32,
    pub unverified_account_days: u32,
    /// Counted from the day a message was closed; open messages are kept.
    pub contact_message_days: u32,
}

impl Periods {
    pub fn from_config(config: &Config) -> Periods {
        Periods {
            request_log_days: config.retention_request_log_days,
            event_days: config.retention_event_days,
            unverified_account_days: config.retention_unverified_account_days,
            contact_message_days: config.retention_contact_message_days,
        }
    }
}

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
    pub contact_messages: u64,
}

impl Swept {
    pub fn total(&self) -> u64 {
        self.sessions
            + self.email_tokens
            + self.throttles
            + self.events
            + self.request_logs
            + self.usage_minutes
            + self.usage_hours
            + self.usage_days
            + self.unverified_accounts
            + self.contact_messages
    }
}

pub async fn sweep(db: &Db, periods: &Periods, now: OffsetDateTime) -> Result<Swept, sqlx::Error> {
    let run = |sql: &'static str, at: OffsetDateTime| async move {
        on_db!(db, pool => sqlx::query(sql).bind(Ts(at)).execute(pool).await.map(|r| r.rows_affected()))
    };
    let days = |d: u32| now - Duration::days(i64::from(d));
    let logs = days(periods.request_log_days);
    Ok(Swept {
        // Expired sessions and used or expired email links go at once.
        sessions: run("delete from session where expires_at < $1", now).await?,
        email_tokens: run("delete from email_token where expires_at < $1 or used_at is not null", now).await?,
        // A throttle row matters for its hour window and any block after it.
        throttles: run(
            "delete from throttle where window_started_at < $1 and (blocked_until is null or blocked_until < $1)",
            now - Duration::hours(1),
        )
        .await?,
        events: run("delete from event where created_at < $1", days(periods.event_days)).await?,
        request_logs: run("delete from request_log where at < $1", logs).await?,
        usage_minutes: run("delete from usage_minute where minute < $1", logs).await?,
        usage_hours: run("delete from usage_hour where hour < $1", logs).await?,
        usage_days: run("delete from usage_day where day < $1", logs).await?,
        unverified_accounts: run(
            "delete from account where email_verified_at is null and created_at < $1",
            days(periods.unverified_account_days),
        )
        .await?,
        contact_messages: run(
            "delete from contact_message where closed_at is not null and closed_at < $1",
            days(periods.contact_message_days),
        )
        .await?,
    })
}

/// Sweeps now and then every hour, logging what went.
pub fn spawn_hourly(state: crate::state::AppState) {
    let periods = Periods::from_config(&state.config);
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            match sweep(&state.db, &periods, state.clock.now()).await {
                Ok(swept) if swept != Swept::default() => tracing::info!(?swept, "retention sweep"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "retention sweep failed; will retry in an hour"),
            }
        }
    });
}
