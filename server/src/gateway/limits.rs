//! Rate limits (per key, per minute, in this instance's memory) and monthly quotas (per account,
//! across instances: the rollup every instance writes, plus what this one has not written yet).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use app::db::Db;
use time::OffsetDateTime;
use uuid::Uuid;

/// The state of a limit after a request, for the RateLimit headers and the verify answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window starts over.
    pub reset: u64,
    /// Length of the window in seconds (60, or the calendar month's), for `RateLimit-Policy`.
    #[serde(skip)]
    pub period: u64,
}

/// Unknown keys a client network may present in a minute, on one instance.
pub const UNKNOWN_KEYS_PER_MINUTE: u64 = 100;

/// Unknown-key refusals per client network in the current minute, in this instance's memory
/// (the networks seen last, at most 10,000). Each unknown key costs a database look-up; past the
/// limit, keys the cache does not know are refused without one.
pub struct UnknownKeys {
    seen: Mutex<lru::LruCache<String, (i64, u64)>>,
}

impl Default for UnknownKeys {
    fn default() -> Self {
        UnknownKeys { seen: Mutex::new(lru::LruCache::new(std::num::NonZeroUsize::new(10_000).unwrap_or(std::num::NonZeroUsize::MIN))) }
    }
}

impl UnknownKeys {
    /// The window to answer with when `network` used up this minute's unknown keys.
    pub fn exhausted(&self, network: &str, now: OffsetDateTime) -> Option<Window> {
        let minute = now.unix_timestamp().div_euclid(60);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let (window_minute, count) = *seen.get(network)?;
        (window_minute == minute && count >= UNKNOWN_KEYS_PER_MINUTE).then(|| Window {
            limit: UNKNOWN_KEYS_PER_MINUTE,
            remaining: 0,
            reset: (60 - now.unix_timestamp().rem_euclid(60)) as u64,
            period: 60,
        })
    }

    /// Counts one unknown key presented from `network`.
    pub fn count(&self, network: &str, now: OffsetDateTime) {
        let minute = now.unix_timestamp().div_euclid(60);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match seen.get_mut(network) {
            Some((window_minute, count)) if *window_minute == minute => *count += 1,
            Some(entry) => *entry = (minute, 1),
            None => {
                seen.put(network.to_string(), (minute, 1));
            }
        }
    }
}

/// Fixed one-minute windows aligned to the clock (the same minutes as the rollup).
#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<Uuid, (i64, u64)>>,
}

impl RateLimiter {
    /// Counts the request if the key has room this minute; `Err` says when it has room again.
    pub fn take(&self, api_key_id: Uuid, per_minute: u32, now: OffsetDateTime) -> Result<Window, Window> {
        let minute = now.unix_timestamp().div_euclid(60);
        let reset = (60 - now.unix_timestamp().rem_euclid(60)) as u64;
        let limit = u64::from(per_minute);
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (m, _)| *m == minute);
        }
        let (window_minute, count) = windows.entry(api_key_id).or_insert((minute, 0));
        if *window_minute != minute {
            *window_minute = minute;
            *count = 0;
        }
        if *count >= limit {
            return Err(Window { limit, remaining: 0, reset, period: 60 });
        }
        *count += 1;
        Ok(Window { limit, remaining: limit - *count, reset, period: 60 })
    }
}

/// How often an account's monthly count is read again (to see other instances' requests).
pub const QUOTA_REFRESH: Duration = Duration::from_secs(2);

struct Usage {
    month: OffsetDateTime,
    /// Accepted requests this month in the database when last read, plus this instance's writes since.
    written: i64,
    /// Accepted here, not yet written by the log writer.
    unwritten: i64,
    read_at: Option<Instant>,
    reading: bool,
}

pub struct Quotas {
    db: Db,
    usage: Mutex<HashMap<Uuid, Usage>>,
}

impl Quotas {
    pub fn new(db: Db) -> Quotas {
        Quotas { db, usage: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Usage>> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one accepted request if the account is under `per_month`; `Ok(Err(_))` when it is not.
    pub async fn take(&self, account_id: Uuid, per_month: u64, now: OffsetDateTime) -> Result<Result<Window, Window>, sqlx::Error> {
        let month = app::api_keys::issue::month_start(now);
        let must_read = {
            let mut usage = self.lock();
            let u = usage.entry(account_id).or_insert(Usage { month, written: 0, unwritten: 0, read_at: None, reading: false });
            if u.month != month {
                *u = Usage { month, written: 0, unwritten: 0, read_at: None, reading: false };
            }
            let stale = u.read_at.is_none_or(|at| at.elapsed() >= QUOTA_REFRESH);
            // One reader at a time; the others go on with the count they have (unless there is none).
            let read = stale && (!u.reading || u.read_at.is_none());
            if read {
                u.reading = true;
            } else {
                // The usual case: counted under the same lock.
                return Ok(count_one(u, per_month, now));
            }
            read
        };
        if must_read {
            let result = app::api_keys::store::accepted_requests_since(&self.db, account_id, month).await;
            let mut usage = self.lock();
            if let Some(u) = usage.get_mut(&account_id) {
                u.reading = false;
                if let Ok(written) = &result {
                    u.written = *written;
                    u.read_at = Some(Instant::now());
                }
            }
            result?;
        }
        let mut usage = self.lock();
        match usage.get_mut(&account_id) {
            Some(u) => Ok(count_one(u, per_month, now)),
            None => Ok(Err(Window { limit: per_month, remaining: 0, reset: seconds_to_next_month(now), period: month_seconds(now) })),
        }
    }

    /// The log writer committed `n` accepted requests of the account.
    pub fn written(&self, account_id: Uuid, n: i64) {
        if let Some(u) = self.lock().get_mut(&account_id) {
            u.unwritten -= n;
            u.written += n;
        }
    }

    /// `n` accepted requests of the account will never be written (queue full, batch failed).
    pub fn forget_unwritten(&self, account_id: Uuid, n: i64) {
        if let Some(u) = self.lock().get_mut(&account_id) {
            u.unwritten -= n;
        }
    }
}

/// Counts one request if the account has room this month.
fn count_one(u: &mut Usage, per_month: u64, now: OffsetDateTime) -> Result<Window, Window> {
    let (reset, period) = (seconds_to_next_month(now), month_seconds(now));
    let used = (u.written + u.unwritten).max(0) as u64;
    if used >= per_month {
        return Err(Window { limit: per_month, remaining: 0, reset, period });
    }
    u.unwritten += 1;
    Ok(Window { limit: per_month, remaining: per_month - used - 1, reset, period })
}

fn next_month_start(now: OffsetDateTime) -> Option<OffsetDateTime> {
    let start = app::api_keys::issue::month_start(now);
    if start.month() == time::Month::December {
        start.replace_year(start.year() + 1).and_then(|t| t.replace_month(time::Month::January)).ok()
    } else {
        start.replace_month(start.month().next()).ok()
    }
}

fn seconds_to_next_month(now: OffsetDateTime) -> u64 {
    next_month_start(now).map(|n| (n - now).whole_seconds().max(0) as u64).unwrap_or(0)
}

/// Seconds in the calendar month of `now`: the quota's window.
fn month_seconds(now: OffsetDateTime) -> u64 {
    let start = app::api_keys::issue::month_start(now);
    next_month_start(now).map(|n| (n - start).whole_seconds().max(0) as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_key_gets_its_plan_per_minute_then_waits_for_the_next_minute() {
        let limiter = RateLimiter::default();
        let key = Uuid::now_v7();
        let now = datetime!(2026-11-25 10:00:45 UTC);
        assert_eq!(limiter.take(key, 2, now), Ok(Window { limit: 2, remaining: 1, reset: 15, period: 60 }));
        assert_eq!(limiter.take(key, 2, now), Ok(Window { limit: 2, remaining: 0, reset: 15, period: 60 }));
        assert_eq!(limiter.take(key, 2, now), Err(Window { limit: 2, remaining: 0, reset: 15, period: 60 }));
        assert!(limiter.take(Uuid::now_v7(), 2, now).is_ok(), "another key has its own window");
        assert!(limiter.take(key, 2, datetime!(2026-11-25 10:01:00 UTC)).is_ok(), "a new minute starts over");
    }

    #[test]
    fn quotas_reset_at_the_start_of_the_next_month() {
        assert_eq!(seconds_to_next_month(datetime!(2026-11-30 23:59:00 UTC)), 60);
        assert_eq!(seconds_to_next_month(datetime!(2026-12-31 23:00:00 UTC)), 3600);
    }

    #[test]
    fn the_quota_window_is_the_calendar_month() {
        assert_eq!(month_seconds(datetime!(2026-02-14 12:00:00 UTC)), 28 * 86_400);
        assert_eq!(month_seconds(datetime!(2026-12-31 23:00:00 UTC)), 31 * 86_400);
    }
}
