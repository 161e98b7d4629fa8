//! The throttle table. Every attempt is counted by one statement that increments and returns
//! the count, and that refuses (returns nothing) while the bucket waits: concurrent requests
//! cannot all read "not blocked" before any of them writes a failure.

use std::time::Duration;

use time::OffsetDateTime;

use super::{Bucket, LEASE, Policy};
use crate::db::{Db, Ts};
use crate::on_db;

/// One bucket's share of an attempt that was let through.
#[derive(Debug)]
pub(super) struct Counted {
    pub key: String,
    pub policy: Policy,
    /// This attempt's number in the bucket's hour.
    pub count: i64,
    pub window_started_at: OffsetDateTime,
}

impl Counted {
    /// Past the free attempts, an attempt holds the bucket (its wait is set to the lease) until
    /// it is settled: at most one such attempt is in flight per bucket.
    pub fn holds_lease(&self) -> bool {
        self.count > self.policy.free
    }
}

/// Counts one attempt of `bucket` unless it must wait; `None` when it must.
pub(super) async fn count_attempt(db: &Db, bucket: &Bucket, now: OffsetDateTime) -> Result<Option<Counted>, sqlx::Error> {
    let window_open_since = Ts(now - time::Duration::hours(1));
    let lease = Ts(now + time::Duration::seconds(LEASE.as_secs() as i64));
    // A first attempt holds the lease only when the policy lets nothing through for free.
    let first_blocked = (bucket.policy.free < 1).then_some(lease);
    let row: Option<(i64, OffsetDateTime)> = on_db!(db, pool => sqlx::query_as(
        "insert into throttle (throttle_key, failures, window_started_at, last_failure_at, blocked_until)
         values ($1, 1, $2, $2, $5)
         on conflict (throttle_key) do update set
             failures = case when throttle.window_started_at > $3 then throttle.failures + 1 else 1 end,
             window_started_at = case when throttle.window_started_at > $3 then throttle.window_started_at else $2 end,
             last_failure_at = $2,
             blocked_until = case when throttle.window_started_at > $3 and throttle.failures + 1 > $6 then $4
                                  when throttle.window_started_at <= $3 and 1 > $6 then $4
                                  else null end
         where (throttle.blocked_until is null or throttle.blocked_until <= $2)
           and (throttle.window_started_at <= $3 or throttle.failures < $7)
         returning failures, window_started_at")
        .bind(&bucket.key).bind(Ts(now)).bind(window_open_since).bind(lease).bind(first_blocked).bind(bucket.policy.free)
        .bind(bucket.policy.max_per_hour)
        .fetch_optional(pool).await)?;
    Ok(row.map(|(count, window_started_at)| Counted { key: bucket.key.clone(), policy: bucket.policy, count, window_started_at }))
}

/// The attempt failed (or, for mail limits, was spent): it stays counted, and the bucket waits
/// as long as the policy says after that many.
pub(super) async fn keep(db: &Db, counted: &Counted, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    let wait = counted.policy.wait_after(counted.count, counted.window_started_at, now);
    if wait.is_zero() && !counted.holds_lease() {
        return Ok(());
    }
    let until = (!wait.is_zero()).then(|| Ts(now + wait));
    on_db!(db, pool => sqlx::query("update throttle set blocked_until = $2 where throttle_key = $1")
        .bind(&counted.key).bind(until).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The attempt succeeded (or was refused by another bucket): it no longer counts, and the
/// lease it held, if any, is given back.
pub(super) async fn refund(db: &Db, counted: &Counted) -> Result<(), sqlx::Error> {
    let sql = if counted.holds_lease() {
        "update throttle set failures = case when failures > 0 then failures - 1 else 0 end, blocked_until = null
         where throttle_key = $1"
    } else {
        "update throttle set failures = case when failures > 0 then failures - 1 else 0 end where throttle_key = $1"
    };
    on_db!(db, pool => sqlx::query(sql).bind(&counted.key).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// How long `key` must still wait at `now`, if it must.
pub async fn waiting_for(db: &Db, key: &str, now: OffsetDateTime) -> Result<Option<Duration>, sqlx::Error> {
    let until: Option<Option<OffsetDateTime>> = on_db!(db, pool => sqlx::query_scalar(
        "select blocked_until from throttle where throttle_key = $1")
        .bind(key).fetch_optional(pool).await)?;
    Ok(until.flatten().filter(|until| *until > now).map(|until| Duration::from_secs((until - now).whole_seconds().max(1) as u64)))
}

/// Forgets every attempt of `key` (the owner proved who they are from this client).
pub async fn clear(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query("delete from throttle where throttle_key = $1").bind(key).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}
