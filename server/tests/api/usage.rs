//! The developer's usage: charts from the rollups agree with the raw log, the key page shows
//! the key's own requests, and nothing of one developer reaches another.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::keys::{account_with_key, call, create_key};
use crate::on_both_backends;
use crate::support::{TestApp, rpc_with, unique_email};
use app::usage::Range;

/// The gateway's view of a key, as request records carry it.
pub async fn lookup(app: &TestApp, key_id: &str) -> Arc<app::api_keys::store::KeyLookup> {
    let id = Uuid::parse_str(key_id).unwrap();
    let hash: String = match &app.db {
        app::db::Db::Sqlite(p) => {
            sqlx::query_scalar("select key_hash from api_key where api_key_id = $1").bind(id).fetch_one(p).await.unwrap()
        }
        app::db::Db::Postgres(p) => {
            sqlx::query_scalar("select key_hash from api_key where api_key_id = $1").bind(id).fetch_one(p).await.unwrap()
        }
    };
    Arc::new(app::api_keys::store::lookup(&app.db, &hash).await.unwrap().expect("key exists"))
}

pub fn record(
    at: OffsetDateTime,
    key: Option<Arc<app::api_keys::store::KeyLookup>>,
    code: Option<&'static str>,
    route: &str,
) -> server::request_log::RequestRecord {
    server::request_log::RequestRecord {
        at,
        method: "GET".into(),
        route: route.into(),
        status: if code.is_some() { 429 } else { 200 },
        outcome: if code.is_some() { "refused" } else { "accepted" },
        code,
        key,
        ip: "203.0.113.9".into(),
        user_agent: "pattern/1.0".into(),
        latency_us: 1500,
        deprecated: None,
    }
}

const NOW: OffsetDateTime = datetime!(2026-11-25 10:37:12 UTC);

on_both_backends! {
    async fn chart_data_matches_the_raw_log_for_a_known_traffic_pattern(app: TestApp) {
        let (email, _, key_id) = account_with_key(&app, "pattern").await;
        let key = lookup(&app, &key_id).await;
        // A request every 7 minutes for 100 days back; every third is refused (rate_limited);
        // routes alternate. Written as the log writer writes them, in batches.
        let records: Vec<_> = (0..(100 * 24 * 60 / 7))
            .map(|i| {
                let code = (i % 3 == 0).then_some("rate_limited");
                let route = if i % 2 == 0 { "/api/v1/echo" } else { "/api/v1/things" };
                record(NOW - Duration::minutes(7 * i), Some(key.clone()), code, route)
            })
            .collect();
        for batch in records.chunks(2000) {
            server::request_log::write_batch(&app.db, batch).await.unwrap();
        }
        let account = app.account_id(&email).await;
        for range in Range::ALL {
            let report = app::usage::report::build(&app.db, account, None, range, NOW).await.unwrap();
            assert_eq!(report.buckets.len(), range.buckets());
            // Expected from the raw records, bucket by bucket.
            let start = report.buckets[0].start;
            let mut expected = vec![(0i64, 0i64); range.buckets()];
            for r in &records {
                let offset = r.at.unix_timestamp() - start;
                if offset >= 0 && offset / range.bucket_seconds() < range.buckets() as i64 {
                    let b = &mut expected[(offset / range.bucket_seconds()) as usize];
                    if r.code.is_some() { b.1 += 1 } else { b.0 += 1 }
                }
            }
            let got: Vec<(i64, i64)> = report.buckets.iter().map(|b| (b.accepted, b.refused)).collect();
            assert_eq!(got, expected, "{range:?}: every bucket holds exactly the raw log's requests");
            let total: i64 = expected.iter().map(|(a, r)| a + r).sum();
            assert!(total > 0);
            assert_eq!(report.refusals.iter().map(|c| (c.name.as_str(), c.requests)).collect::<Vec<_>>(), vec![("rate_limited", report.refused)]);
            assert_eq!(report.top_routes.iter().map(|c| c.requests).sum::<i64>(), total);
            assert_eq!(report.by_key.len(), 1);
            assert_eq!(report.by_key[0].accepted + report.by_key[0].refused, total);
            assert_eq!(report.mean_latency_ms, Some(1.5));
        }
        // Known by hand: the quarter hour 10:30–10:45 holds 10:37:12 and 10:30:12, one refused.
        let day = app::usage::report::build(&app.db, account, None, Range::Day, NOW).await.unwrap();
        let last = day.buckets.last().unwrap();
        assert_eq!((last.label.as_str(), last.accepted, last.refused), ("Nov 25, 10:30 UTC", 1, 1));
        // The 24 hours run from Nov 24 10:45 (96 quarter hours before the current one ends):
        // i = 204 is at 10:49:12, i = 205 at 10:42:12, so 205 requests.
        assert_eq!(day.accepted + day.refused, 205);
    }
}

on_both_backends! {
    async fn the_key_page_shows_the_chart_and_the_keys_own_requests_filtered_and_paged(app: TestApp) {
        let (_, key, key_id) = account_with_key(&app, "keypage").await;
        let (_, other_id) = create_key(&app, &app.client, "Other", "test", "never").await;
        let k = lookup(&app, &key_id).await;
        let other = lookup(&app, &other_id).await;
        let now = app::db::now();
        let mut records = Vec::new();
        for i in 0..120 {
            records.push(record(now - Duration::seconds(i), Some(k.clone()), (i % 4 == 0).then_some("quota_exceeded"), "/api/v1/echo"));
            records.push(record(now - Duration::seconds(i), Some(other.clone()), None, "/api/v1/other"));
        }
        server::request_log::write_batch(&app.db, &records).await.unwrap();

        let page = |filter: Vec<(&'static str, String)>| {
            let mut form = vec![("key_id", key_id.clone()), ("range", "24h".to_string())];
            form.extend(filter.into_iter().map(|(k, v)| (k, v)));
            let client = app.client.clone();
            let base = app.base.clone();
            async move {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let res = rpc_with(&client, &base, "key_usage", &form).await;
                assert_eq!(res.status(), StatusCode::OK);
                res.json::<Value>().await.unwrap()
            }
        };
        let first = page(vec![]).await;
        assert_eq!(first["report"]["accepted"], 90);
        assert_eq!(first["report"]["refused"], 30);
        let rows = first["requests"]["Ok"]["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 50, "a page holds 50 requests");
        assert!(rows.iter().all(|r| r["route"] == "/api/v1/echo"), "only this key's requests");

        // Every refused request, page by page, none twice.
        let mut seen = std::collections::HashSet::new();
        let mut before = String::new();
        loop {
            let p = page(vec![("filter[outcome]", "refused".into()), ("filter[code]", "quota_exceeded".into()), ("filter[before]", before.clone())]).await;
            let requests = &p["requests"]["Ok"];
            for r in requests["rows"].as_array().unwrap() {
                assert_eq!(r["code"], "quota_exceeded");
                assert!(seen.insert(r["id"].as_i64().unwrap()), "a request shows on one page only");
            }
            match requests["older"].as_i64() {
                Some(cursor) => before = cursor.to_string(),
                None => break,
            }
        }
        assert_eq!(seen.len(), 30);

        // A filter that cannot be read is an error next to it; the chart still shows.
        let bad = page(vec![("filter[status]", "abc".into())]).await;
        assert_eq!(bad["requests"]["Err"]["Invalid"]["field"], "status");
        assert_eq!(bad["report"]["accepted"], 90);

        // The page itself, rendered on the server: chart, requests, never the key.
        let html = app.get(&format!("/keys/{key_id}?outcome=refused")).await.text().await.unwrap();
        assert!(html.contains("<svg") && html.contains("quota_exceeded"));
        assert!(!html.contains(&key), "the key page never holds the key");
        let _ = call(&app, &key).await;
    }
}

on_both_backends! {
    /// A key that got busy after the database last gathered statistics (a new key under load):
    /// its page of requests is still read as one page from an index, not as every row of the
    /// key fetched and sorted (on PostgreSQL that once took seconds per page view under load).
    /// Requests that share a timestamp are paged in a stable order, none twice, none skipped.
    async fn a_busy_keys_request_page_reads_one_page_of_rows_and_pages_through_ties(app: TestApp) {
        let (email, _, quiet_id) = account_with_key(&app, "quiet").await;
        let (_, busy_id) = create_key(&app, &app.client, "Busy", "live", "never").await;
        let (quiet, busy) = (lookup(&app, &quiet_id).await, lookup(&app, &busy_id).await);
        let now = app::db::now();
        // Before the statistics are taken, every key (and account) is a small share of the log:
        // 100 keys of other accounts, this account's two keys, 200 requests each.
        let others = (0..100).map(|_| Arc::new(app::api_keys::store::KeyLookup {
            api_key_id: Uuid::now_v7(),
            account_id: Uuid::now_v7(),
            ..(*quiet).clone()
        }));
        let mut earlier = Vec::new();
        for key in others.chain([quiet.clone(), busy.clone()]) {
            earlier.extend((1..=200).map(|i| record(now - Duration::minutes(i), Some(key.clone()), None, "/api/v1/q")));
        }
        for batch in earlier.chunks(5_000) {
            server::request_log::write_batch(&app.db, batch).await.unwrap();
        }
        match &app.db {
            app::db::Db::Sqlite(p) => sqlx::query("analyze").execute(p).await.map(|_| ()),
            app::db::Db::Postgres(p) => sqlx::query("analyze request_log").execute(p).await.map(|_| ()),
        }
        .unwrap();
        // Then the key gets busy: 20,000 requests in groups of 7 that share a timestamp.
        let busy_records: Vec<_> =
            (0..20_000).map(|i| record(now - Duration::milliseconds(i / 7), Some(busy.clone()), None, "/api/v1/busy")).collect();
        for batch in busy_records.chunks(5_000) {
            server::request_log::write_batch(&app.db, batch).await.unwrap();
        }

        let account = app.account_id(&email).await;
        let busy_uuid = Uuid::parse_str(&busy_id).unwrap();
        let query = app::usage::log::LogQuery::from_developer_filter(account, busy_uuid, &Default::default()).unwrap();
        let plan = app::usage::log::explain(&app.db, &query).await.unwrap();
        match &app.db {
            app::db::Db::Postgres(_) => {
                let scan = plan.iter().find(|l| l.contains(" on request_log r")).unwrap_or_else(|| panic!("{plan:#?}"));
                let read: i64 = scan.rsplit("rows=").next().and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).unwrap();
                assert!(read <= 51, "one page (51 rows) read, not {read}: {plan:#?}");
            }
            app::db::Db::Sqlite(_) => {
                // The page is picked in a sub-query; only its 51 rows are sorted again after the joins.
                let page_steps: Vec<&String> = plan.iter().skip_while(|s| !s.starts_with("CO-ROUTINE")).skip(1).take_while(|s| s.starts_with(' ')).collect();
                assert!(page_steps.iter().any(|s| s.contains("USING INDEX request_log_key")), "{plan:#?}");
                assert!(!page_steps.iter().any(|s| s.contains("TEMP B-TREE")), "no sort of the key's rows: {plan:#?}");
            }
        }

        // Three pages through the ties equal the newest 150 in (time, id) order.
        let expected: Vec<i64> = app::on_db!(&app.db, pool => sqlx::query_scalar(
            "select request_log_id from request_log where api_key_id = $1 order by at desc, request_log_id desc limit 150")
            .bind(busy_uuid).fetch_all(pool).await).unwrap();
        let mut shown = Vec::new();
        let mut before = String::new();
        for _ in 0..3 {
            let form = [("key_id", busy_id.as_str()), ("range", "24h"), ("filter[before]", before.as_str())];
            let res = rpc_with(&app.client, &app.base, "key_usage", &form).await;
            assert_eq!(res.status(), StatusCode::OK);
            let page: Value = res.json().await.unwrap();
            let requests = &page["requests"]["Ok"];
            shown.extend(requests["rows"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()));
            before = requests["older"].as_i64().expect("older requests remain").to_string();
        }
        assert_eq!(shown, expected);
    }
}

on_both_backends! {
    async fn a_second_developer_reaches_none_of_the_first_ones_keys_usage_logs_or_exports(app: TestApp) {
        let (_, key, key_id) = account_with_key(&app, "first").await;
        assert_eq!(call(&app, &key).await.status(), StatusCode::OK);
        let k = lookup(&app, &key_id).await;
        server::request_log::write_batch(&app.db, &[record(app::db::now(), Some(k), None, "/api/v1/secret-route")]).await.unwrap();

        let second = app.new_browser();
        app.verified_account_in(&second, &unique_email("second")).await;
        // The key page and its server function: "not found", as for a key that does not exist.
        let res = rpc_with(&second, &app.base, "key_usage", &[("key_id", &key_id), ("range", "24h")]).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let res = second.get(app.url(&format!("/keys/{key_id}"))).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert!(!res.text().await.unwrap().contains("Production server"));
        // Their dashboard counts nothing of the first developer's traffic.
        let usage: Value = rpc_with(&second, &app.base, "dashboard_usage", &[("range", "24h")]).await.json().await.unwrap();
        assert_eq!((usage["report"]["accepted"].as_i64(), usage["report"]["refused"].as_i64()), (Some(0), Some(0)));
        assert_eq!(usage["report"]["by_key"], Value::Array(vec![]));
        // Their export holds nothing of it either.
        let csv = second.get(app.url("/usage/export.csv?range=24h")).send().await.unwrap().text().await.unwrap();
        assert_eq!(csv.lines().count(), 1, "only the header: {csv}");
        // Rolling or revoking another's key: not found, and the key still works.
        for (endpoint, form) in [("roll_key", vec![("key_id", key_id.as_str()), ("grace", "now")]), ("revoke_key", vec![("key_id", key_id.as_str())])] {
            assert_eq!(rpc_with(&second, &app.base, endpoint, &form).await.status(), StatusCode::NOT_FOUND, "{endpoint}");
        }
        assert_eq!(call(&app, &key).await.status(), StatusCode::OK);
        // Signed out: nothing at all.
        let stranger = app.new_browser();
        assert_eq!(stranger.get(app.url("/usage/export.csv")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
        assert_eq!(rpc_with(&stranger, &app.base, "dashboard_usage", &[("range", "24h")]).await.status(), StatusCode::UNAUTHORIZED);

        // The owner's export: their requests, the key masked.
        let csv = app.get("/usage/export.csv?range=24h").await.text().await.unwrap();
        assert!(csv.starts_with("\"period_start_utc\",\"key_label\",\"key\",\"route\",\"outcome\",\"refusal_code\",\"requests\",\"mean_latency_ms\"\r\n"));
        assert!(csv.contains("/api/v1/secret-route"));
        assert!(csv.contains(&format!("{}…{}", &key[..14], &key[key.len() - 4..])));
        assert!(!csv.contains(&key));
    }
}

#[test]
fn csv_fields_are_quoted_and_formulas_neutralised() {
    use server::exports::csv_field;
    assert_eq!(csv_field("plain"), "\"plain\"", "every field is quoted, whatever the reader's separator");
    assert_eq!(csv_field("a;=cmd|' /C calc'!A0"), "\"a;=cmd|' /C calc'!A0\"");
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    assert_eq!(csv_field("+1"), "\"'+1\"");
    assert_eq!(csv_field("@cmd"), "\"'@cmd\"");
}
