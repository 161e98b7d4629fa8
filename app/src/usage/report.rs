//! Turns rollup rows into the chart's buckets and tables.

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::store::{self, Rollup, Window};
use super::{Bucket, Count, KeyUsage, Range, UsageReport};
use crate::db::Db;

/// The window a range covers, ending with the bucket that holds `now`; buckets are aligned to
/// UTC quarter hours, hours or days.
pub fn window_of(range: Range, account_id: Uuid, api_key_id: Option<Uuid>, now: OffsetDateTime) -> Window {
    let bucket = range.bucket_seconds();
    let now = now.unix_timestamp();
    let end = (now.div_euclid(bucket) + 1) * bucket;
    let start = end - bucket * range.buckets() as i64;
    let at = |s: i64| OffsetDateTime::from_unix_timestamp(s).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Window {
        // The coarsest rollup whose periods fit the buckets exactly: the fewest rows to read.
        rollup: match bucket {
            b if b < 3600 => Rollup::Minute,
            b if b < 86_400 => Rollup::Hour,
            _ => Rollup::Day,
        },
        account_id,
        api_key_id,
        from: at(start),
        to: at(end),
    }
}

pub async fn build(
    db: &Db,
    account_id: Uuid,
    api_key_id: Option<Uuid>,
    range: Range,
    now: OffsetDateTime,
) -> Result<UsageReport, sqlx::Error> {
    let window = window_of(range, account_id, api_key_id, now);
    let bucket_seconds = range.bucket_seconds();
    let start = window.from.unix_timestamp();
    let mut buckets: Vec<Bucket> = (0..range.buckets())
        .map(|i| {
            let at = window.from + Duration::seconds(i as i64 * bucket_seconds);
            Bucket { start: at.unix_timestamp(), label: bucket_label(range, at), tick: tick_label(range, at), ..Bucket::default() }
        })
        .collect();
    let mut latency_us = vec![0i64; buckets.len()];
    let mut keys: HashMap<Uuid, (i64, i64)> = HashMap::new();
    for row in store::per_period(db, &window).await? {
        let index = (row.period.unix_timestamp() - start).div_euclid(bucket_seconds);
        let Some(i) = usize::try_from(index).ok().filter(|i| *i < buckets.len()) else { continue };
        let (bucket, key, n) = (&mut buckets[i], keys.entry(row.api_key_id).or_default(), row.requests);
        // Per key, "refused" is what the gateway turned away and "accepted" everything it let through.
        match row.outcome.as_str() {
            "accepted" => (bucket.accepted, key.0) = (bucket.accepted + n, key.0 + n),
            "refused" => (bucket.refused, key.1) = (bucket.refused + n, key.1 + n),
            _ => (bucket.failed, key.0) = (bucket.failed + n, key.0 + n),
        }
        latency_us[i] += row.latency_us_total;
    }
    let (mut routes, mut codes): (HashMap<String, i64>, HashMap<String, i64>) = Default::default();
    for row in store::per_route(db, &window).await? {
        *routes.entry(row.route).or_default() += row.requests;
        if row.outcome == "refused" {
            *codes.entry(row.code).or_default() += row.requests;
        }
    }
    for (bucket, latency) in buckets.iter_mut().zip(&latency_us) {
        bucket.mean_latency_ms = mean_ms(*latency, bucket.total());
    }
    let total = |f: fn(&Bucket) -> i64| buckets.iter().map(f).sum::<i64>();
    let (accepted, refused, failed) = (total(|b| b.accepted), total(|b| b.refused), total(|b| b.failed));
    let mean_latency_ms = mean_ms(latency_us.iter().sum(), accepted + refused + failed);
    let by_key = if api_key_id.is_none() { name_keys(db, account_id, keys).await? } else { Vec::new() };
    let mut top_routes = ranked(routes);
    top_routes.truncate(10);
    Ok(UsageReport {
        range,
        bucket_seconds,
        buckets,
        accepted,
        refused,
        failed,
        mean_latency_ms,
        by_key,
        top_routes,
        refusals: ranked(codes),
    })
}

/// Most requests first; ties by name.
fn ranked(counts: HashMap<String, i64>) -> Vec<Count> {
    let mut counts: Vec<Count> = counts.into_iter().map(|(name, requests)| Count { name, requests }).collect();
    counts.sort_by(|a, b| b.requests.cmp(&a.requests).then_with(|| a.name.cmp(&b.name)));
    counts
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn day_label(at: OffsetDateTime) -> String {
    format!("{} {}", MONTHS[usize::from(u8::from(at.month())) - 1], at.day())
}

/// `Nov 25, 10:15 UTC` for quarter hours and hours, `Nov 25` for days.
fn bucket_label(range: Range, at: OffsetDateTime) -> String {
    match range {
        Range::Day | Range::Week => format!("{}, {:02}:{:02} UTC", day_label(at), at.hour(), at.minute()),
        Range::Month | Range::Quarter => day_label(at),
    }
}

/// Axis labels: every 4 hours over a day, each day over a week, every 5 or 15 days.
fn tick_label(range: Range, at: OffsetDateTime) -> Option<String> {
    match range {
        Range::Day => (at.minute() == 0 && at.hour() % 4 == 0).then(|| format!("{:02}:00", at.hour())),
        Range::Week => (at.hour() == 0).then(|| day_label(at)),
        Range::Month => (at.day() % 5 == 1 && at.day() < 31).then(|| day_label(at)),
        Range::Quarter => (at.day() == 1 || at.day() == 15).then(|| day_label(at)),
    }
}

fn mean_ms(latency_us: i64, requests: i64) -> Option<f64> {
    (requests > 0).then(|| latency_us as f64 / requests as f64 / 1000.0)
}

/// Requests per key, busiest first, named as the owner knows them (keys since deleted show as such).
async fn name_keys(db: &Db, account_id: Uuid, counts: HashMap<Uuid, (i64, i64)>) -> Result<Vec<KeyUsage>, sqlx::Error> {
    let keys: HashMap<Uuid, _> = crate::api_keys::store::list_keys(db, account_id).await?.into_iter().map(|k| (k.api_key_id, k)).collect();
    let mut usage: Vec<KeyUsage> = counts
        .into_iter()
        .map(|(id, (accepted, refused))| match keys.get(&id) {
            Some(k) => KeyUsage { id: id.to_string(), label: k.label.clone(), masked: k.masked(), accepted, refused },
            None => KeyUsage { id: id.to_string(), label: "Deleted key".into(), masked: String::new(), accepted, refused },
        })
        .collect();
    usage.sort_by(|a, b| (b.accepted + b.refused).cmp(&(a.accepted + a.refused)).then_with(|| a.label.cmp(&b.label)));
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn windows_end_with_the_bucket_that_holds_now() {
        let now = datetime!(2026-11-25 10:37:12 UTC);
        let day = window_of(Range::Day, Uuid::nil(), None, now);
        assert_eq!((day.from, day.to), (datetime!(2026-11-24 10:45 UTC), datetime!(2026-11-25 10:45 UTC)));
        assert_eq!(day.rollup, Rollup::Minute);
        let week = window_of(Range::Week, Uuid::nil(), None, now);
        assert_eq!((week.from, week.to), (datetime!(2026-11-18 11:00 UTC), datetime!(2026-11-25 11:00 UTC)));
        let quarter = window_of(Range::Quarter, Uuid::nil(), None, now);
        assert_eq!((quarter.from, quarter.to), (datetime!(2026-08-28 00:00 UTC), datetime!(2026-11-26 00:00 UTC)));
        assert_eq!(quarter.rollup, Rollup::Day);
        assert_eq!(week.rollup, Rollup::Hour);
        assert_eq!(quarter.to - quarter.from, Duration::days(90));
    }
}
