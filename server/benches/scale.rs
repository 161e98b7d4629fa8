//! Reading usage and logs at scale, printed (never asserted): `cargo bench -p server --bench scale`.
//!
//! Seeds 10,000,000 request-log records (MAST_SCALE_RECORDS to change) over 90 days for 100
//! accounts with 3 keys each, exactly as `server seed` does, on SQLite and then on PostgreSQL
//! (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres; skipped when
//! unreachable). Then the server time, median of 7 runs after a warm-up, of: the busiest
//! developer's 30-day and 90-day chart data (from the rollups), an admin log page filtered by that
//! account and a refusal code (and the page after it), and, as the baseline the rollups exist to
//! beat, counting the same 30 days from the raw log.
//!
//! MAST_SCALE_KEEP=1 keeps both databases (target/scale-data/mast.db and the PostgreSQL database
//! `mast_scale`) and reuses them when they already hold the records, so the reads can be timed
//! again without seeding for half an hour.

use std::future::Future;
use std::time::{Duration, Instant};

use app::config::Config;
use app::db::{Db, Ts};
use app::usage::Range;
use app::usage::log::{LogQuery, rows};
use app::usage::report::build;
use server::seed::{SeedPlan, seed};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let records: u64 = std::env::var("MAST_SCALE_RECORDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000_000);
    let plan = SeedPlan { accounts: 100, keys_per_account: 3, records, days: 90 };
    println!("Scale benchmark: {records} request-log records over 90 days, 100 accounts x 3 keys");
    let keep = std::env::var("MAST_SCALE_KEEP").is_ok_and(|v| v == "1");
    let data = match keep {
        true => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scale-data"),
        false => std::env::temp_dir().join(format!("mast-scale-{}", std::process::id())),
    };
    std::fs::create_dir_all(&data).expect("data dir");
    run("SQLite", &format!("sqlite://{}/mast.db", data.display()), &data, plan).await;
    let pg_admin = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    match <sqlx::PgConnection as sqlx::Connection>::connect(&pg_admin).await {
        Ok(mut conn) => {
            let name = if keep { "mast_scale".to_string() } else { format!("mast_scale_{}", std::process::id()) };
            let exists: bool = sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
                .bind(&name)
                .fetch_one(&mut conn)
                .await
                .expect("pg_database");
            if !exists {
                sqlx::query(&format!("create database {name}")).execute(&mut conn).await.expect("create database");
            }
            let url = format!("{}/{name}", pg_admin.rsplit_once('/').map_or(pg_admin.as_str(), |(base, _)| base));
            run("PostgreSQL", &url, &data, plan).await;
            if !keep {
                let _ = sqlx::query(&format!("drop database {name} with (force)")).execute(&mut conn).await;
            }
        }
        Err(err) => println!("\nPostgreSQL not reachable ({err}): skipped"),
    }
    if !keep {
        let _ = std::fs::remove_dir_all(&data);
    }
}

async fn run(backend: &str, url: &str, data: &std::path::Path, plan: SeedPlan) {
    let config = Config { database_url: url.to_string(), data_dir: data.to_path_buf(), password_hash_concurrency: 1, ..Config::default() };
    let state = server::startup::build_state(config).await.expect("start");
    let db = &state.db;
    let started = Instant::now();
    let reused = count(db, "select count(*) from request_log").await >= plan.records as i64;
    if !reused {
        seed(&state, plan, |n| eprint!("\r{backend}: {n} records written")).await.expect("seed");
        eprintln!();
    }
    let seeding = started.elapsed();
    // What `PRAGMA optimize` (SQLite) or autovacuum (PostgreSQL) does on a live installation;
    // the vacuum marks the rollups' pages all-visible, so their covering keys answer alone.
    let maintenance = match db {
        Db::Sqlite(_) => "analyze",
        Db::Postgres(_) => "vacuum analyze",
    };
    app::on_db!(db, pool => sqlx::query(maintenance).execute(pool).await.map(|_| ())).expect("analyze");
    // The seed makes its first developer (dev-00001) the busiest.
    let busiest: String =
        app::on_db!(db, pool => sqlx::query_scalar("select email_normalized from account order by email_normalized limit 1")
        .fetch_one(pool).await)
        .expect("seeded account");
    let account = app::accounts::store::find_account_by_email(db, &busiest).await.expect("query").expect("seeded").account_id;
    let now = app::db::now();
    let log_rows = count(db, "select count(*) from request_log").await;
    let minute_rows = count(db, "select count(*) from usage_minute").await;
    let hour_rows = count(db, "select count(*) from usage_hour").await;
    let day_rows = count(db, "select count(*) from usage_day").await;
    let theirs = build(db, account, None, Range::Quarter, now).await.expect("report");

    match reused {
        true => println!("\n{backend}: reusing the records seeded earlier (MAST_SCALE_KEEP)"),
        false => {
            println!("\n{backend}: seeded in {:.0} s ({:.0} records/s)", seeding.as_secs_f64(), plan.records as f64 / seeding.as_secs_f64())
        }
    }
    println!("  rows: request_log {log_rows}, usage_minute {minute_rows}, usage_hour {hour_rows}, usage_day {day_rows}");
    println!("  busiest developer: {} requests in 90 days", theirs.accepted + theirs.refused + theirs.failed);

    let month = time_it(|| async { build(db, account, None, Range::Month, now).await.expect("30 days") }).await;
    let quarter = time_it(|| async { build(db, account, None, Range::Quarter, now).await.expect("90 days") }).await;
    let filtered = LogQuery { account_id: Some(account), code: Some("rate_limited".into()), limit: 50, ..LogQuery::default() };
    let (first, cursor) = rows(db, &filtered).await.expect("log page");
    let admin_page = time_it(|| async { rows(db, &filtered).await.expect("log page") }).await;
    let next = LogQuery { before: cursor, ..filtered.clone() };
    let admin_next = time_it(|| async { rows(db, &next).await.expect("next page") }).await;
    let raw_sql = "select outcome, count(*) from request_log where account_id = $1 and at >= $2 group by outcome";
    let since = now - time::Duration::days(30);
    let raw = time_it(|| async {
        app::on_db!(db, pool => sqlx::query_as::<_, (String, i64)>(raw_sql).bind(account).bind(Ts(since)).fetch_all(pool).await)
            .expect("raw count")
    })
    .await;

    println!("  {:<58} {:>10} {:>8}", "server time, median of 7", "ms", "goal");
    println!("  {:<58} {:>10.1} {:>8}", "developer's 30-day chart data (rollups)", ms(month), "<= 50");
    println!("  {:<58} {:>10.1} {:>8}", "developer's 90-day chart data (rollups)", ms(quarter), "<= 100");
    println!("  {:<58} {:>10.1} {:>8}", format!("admin log page, account + rate_limited ({} rows)", first.len()), ms(admin_page), "<= 100");
    println!("  {:<58} {:>10.1} {:>8}", "the page after it (keyset cursor)", ms(admin_next), "<= 100");
    println!("  {:<58} {:>10.1} {:>8}", "baseline: counting the same 30 days in the raw log", ms(raw), "");
    println!("  ratio 30-day chart / raw count: {:.3}", month.as_secs_f64() / raw.as_secs_f64());
    db.close().await;
}

async fn time_it<F, Fut, T>(f: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = T>,
{
    let _ = f().await;
    let mut times = Vec::with_capacity(7);
    for _ in 0..7 {
        let started = Instant::now();
        let _ = f().await;
        times.push(started.elapsed());
    }
    times.sort();
    times[3]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn count(db: &Db, sql: &str) -> i64 {
    app::on_db!(db, pool => sqlx::query_scalar(sql).fetch_one(pool).await).expect("count")
}
