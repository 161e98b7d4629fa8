use std::time::Duration;

use time::OffsetDateTime;

use super::Policy;
use crate::db::{Db, Ts};
use crate::on_db;

#[derive(sqlx::FromRow)]
struct Row {
    failures: i64,
    window_started_at: OffsetDateTime,
    blocked_until: Option<OffsetDateTime>,
}

async fn find(db: &Db, key: &str) -> Result<Option<Row>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, Row>(
        "select failures, window_started_at, blocked_until from throttle where throttle_key = $1")
        .bind(key).fetch_optional(pool).await)
}

/// How long `key` must still wait, if it is blocked at `now`.
pub async fn blocked_for(db: &Db, key: &str, now: OffsetDateTime) -> Result<Option<Duration>, sqlx::Error> {
    Ok(find(db, key).await?.and_then(|row| row.blocked_until).filter(|until| *until > now).map(|until| {
        let wait = until - now;
        Duration::from_secs(wait.whole_seconds().max(1) as u64)
    }))
}

/// Counts one failure of `key` and sets its back-off; returns how long it must now wait.
pub async fn record_failure(db: &Db, key: &str, policy: Policy, now: OffsetDateTime) -> Result<Duration, sqlx::Error> {
    let hour = time::Duration::hours(1);
    let (failures, window_started_at) = match find(db, key).await? {
        Some(row) if row.window_started_at + hour > now => (row.failures + 1, row.window_started_at),
        _ => (1, now),
    };
    let delay = if failures >= policy.max_per_hour {
        let rest = (window_started_at + hour) - now;
        Duration::from_secs(rest.whole_seconds().max(1) as u64)
    } else {
        policy.delay_after(failures)
    };
    let blocked_until = (!delay.is_zero()).then(|| Ts(now + delay));
    on_db!(db, pool => sqlx::query(
        "insert into throttle (throttle_key, failures, window_started_at, last_failure_at, blocked_until)
         values ($1, $2, $3, $4, $5)
         on conflict (throttle_key) do update set failures = $2, window_started_at = $3,
             last_failure_at = $4, blocked_until = $5")
        .bind(key).bind(failures).bind(Ts(window_started_at)).bind(Ts(now)).bind(blocked_until)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(delay)
}

/// Forgets the failures of `key` (after a successful sign-in).
pub async fn clear(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query("delete from throttle where throttle_key = $1").bind(key).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}
