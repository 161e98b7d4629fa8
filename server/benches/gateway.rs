//! The protected API's cost, printed (never asserted): `cargo bench -p server --bench gateway`.
//!
//! One release server on SQLite, loaded by wrk (Debian's package) on loopback, 64 connections for
//! 30 s each (MAST_BENCH_SECONDS to change): (a) `/healthz`, a bare handler of the same server, then
//! (b) `/api/v1/echo` with a valid key and the request log on, then (c) the same with a key of
//! the widest scope to check (read only, 20 client networks, the caller's the last). Prints
//! requests/s, the ratios b/a and c/b, p50/p99, errors and log records dropped (requests answered
//! minus rows written, after a graceful stop). Then the log writer alone: rows/s inserting 1,000,000 records into SQLite.

use std::process::Command;
use std::time::{Duration, Instant};

use app::accounts::store::{NewAccount, insert_account, mark_email_verified};
use app::api_keys::format::KeyType;
use app::api_keys::store::KeyLookup;
use app::client::ClientInfo;
use app::config::{Config, Plan};
use app::db::{Db, new_id, now};
use server::request_log::{RequestRecord, write_batch};

const CONNECTIONS: u32 = 64;

// The same allocator as the server binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("MAST_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("wrk is not installed: apt-get install wrk (Debian's package)");
        std::process::exit(2);
    }
    let data = tempdir();
    let (base, key, scoped_key, mut stop, serving, db_url) = start_server(&data).await;

    println!("Gateway benchmark: wrk, {CONNECTIONS} connections, {seconds} s per run, SQLite, loopback, {} cores", cores());
    let bare = wrk(&format!("{base}/healthz"), None, seconds);
    let api = wrk(&format!("{base}/api/v1/echo"), Some(&key), seconds);
    let scoped = wrk(&format!("{base}/api/v1/echo"), Some(&scoped_key), seconds);
    let _ = stop.take().map(|s| s.send(()));
    serving.await.expect("server task").expect("server stopped");
    let db = Db::connect(&db_url).await.expect("reopen");
    let rows = count(&db, "select count(*) from request_log").await;
    let answered = api.requests + scoped.requests;
    println!();
    println!("{:<34} {:>12} {:>9} {:>9} {:>8}", "", "requests/s", "p50", "p99", "errors");
    println!("{:<34} {:>12.0} {:>9} {:>9} {:>8}", "(a) bare handler /healthz", bare.rps, bare.p50, bare.p99, bare.errors);
    println!("{:<34} {:>12.0} {:>9} {:>9} {:>8}", "(b) /api/v1/echo, key + log", api.rps, api.p50, api.p99, api.errors);
    println!("{:<34} {:>12.0} {:>9} {:>9} {:>8}", "(c) as (b), key of the widest scope", scoped.rps, scoped.p50, scoped.p99, scoped.errors);
    println!("ratio b/a: {:.2} (goal >= 0.5)", api.rps / bare.rps);
    println!("ratio c/b: {:.2} (scope checks: goal about 1, within the noise)", scoped.rps / api.rps);
    println!("request log: {answered} requests answered, {rows} rows written, {} dropped (goal 0)", answered.saturating_sub(rows as u64));
    db.close().await;

    writer_benchmark(&data).await;
    let _ = std::fs::remove_dir_all(&data);
}

async fn start_server(
    data: &std::path::Path,
) -> (String, String, String, Option<tokio::sync::oneshot::Sender<()>>, tokio::task::JoinHandle<std::io::Result<()>>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let db_url = format!("sqlite://{}/mast.db", data.display());
    let config = Config {
        public_url: format!("http://localhost:{}", addr.port()),
        bind: addr.to_string(),
        database_url: db_url.clone(),
        data_dir: data.to_path_buf(),
        // Limits out of the way: this measures the checks, not the refusals.
        plans: vec![Plan { name: "bench".into(), requests_per_minute: u32::MAX, requests_per_month: u64::MAX / 2 }],
        default_plan: "bench".into(),
        request_log_queue: std::env::var("DIAG_QUEUE").ok().and_then(|v| v.parse().ok()).unwrap_or(65_536),
        ..Config::default()
    };
    let state = server::startup::build_state(config).await.expect("server starts");
    let account_id = new_id();
    let mut tx = state.db.begin().await.expect("tx");
    let new = NewAccount {
        account_id,
        email: "bench@example.test",
        email_normalized: "bench@example.test",
        display_name: "Bench",
        organisation: None,
        country: None,
        password_hash: None,
    };
    insert_account(&mut tx, &new, now()).await.expect("account");
    tx.commit().await.expect("commit");
    mark_email_verified(&state.db, account_id, now()).await.expect("verified");
    let account = app::accounts::store::find_account(&state.db, account_id).await.expect("query").expect("account");
    let create = |label: &'static str, scope: app::api_keys::scope::KeyScope| {
        let (state, account) = (state.clone(), account.clone());
        async move {
            app::api_keys::issue::create(&state, &account, label, KeyType::Live, None, &scope, &ClientInfo::default()).await.expect("key")
        }
    };
    let issued = create("bench", Default::default()).await;
    // Nineteen networks the caller is not in, then loopback: every check runs to its end.
    let mut networks: Vec<String> = (0..19).map(|i| format!("10.{i}.0.0/16")).collect();
    networks.push("127.0.0.0/8".into());
    let widest = app::api_keys::scope::KeyScope {
        products: None,
        read_only: true,
        networks: app::api_keys::scope::parse_networks(&networks.join("\n")).expect("networks"),
    };
    let scoped = create("bench scoped", widest).await;
    let running = server::startup::Running::on(listener, state).expect("listener");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(running.serve(async move {
        let _ = rx.await;
    }));
    (format!("http://127.0.0.1:{}", addr.port()), issued.key, scoped.key, Some(tx), serving, db_url)
}

struct Run {
    rps: f64,
    requests: u64,
    p50: String,
    p99: String,
    errors: u64,
}

fn wrk(url: &str, key: Option<&str>, seconds: u64) -> Run {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s"), "--latency"]);
    if let Some(key) = key {
        cmd.args(["-H", &format!("Authorization: Bearer {key}")]);
    }
    let out = cmd.arg(url).output().expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_string()));
    let percentile =
        |p: &str| text.lines().find_map(|l| l.trim().strip_prefix(p).map(|v| v.trim().to_string())).unwrap_or_else(|| "?".into());
    let requests = text.lines().find_map(|l| l.trim().split_once(" requests in ").and_then(|(n, _)| n.parse().ok())).unwrap_or(0);
    let non_2xx: u64 = field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0);
    let socket: u64 = field("Socket errors:")
        .map(|v| v.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Run {
        rps: field("Requests/sec:").and_then(|v| v.parse().ok()).unwrap_or(0.0),
        requests,
        p50: percentile("50%"),
        p99: percentile("99%"),
        errors: non_2xx + socket,
    }
}

/// The writer's own pace: 1,000,000 records in batches of the default size, into a fresh file.
async fn writer_benchmark(data: &std::path::Path) {
    let db = Db::connect(&format!("sqlite://{}/writer.db", data.display())).await.expect("db");
    db.migrate().await.expect("migrate");
    let batch = Config::default().request_log_batch;
    let total = 1_000_000usize;
    let accounts: Vec<uuid::Uuid> = (0..3).map(|_| new_id()).collect();
    let keys: Vec<std::sync::Arc<KeyLookup>> = (0..20)
        .map(|i| {
            std::sync::Arc::new(KeyLookup {
                api_key_id: new_id(),
                account_id: accounts[i % accounts.len()],
                label: "Production server".into(),
                key_type: "live".into(),
                display_prefix: "mast_live_AbCd".into(),
                last4: "wxyz".into(),
                expires_at: None,
                revoked_at: None,
                account_status: "active".into(),
                email_verified_at: Some(now()),
                plan: None,
                current_consents: app::consent::DOCUMENTS.len() as i64,
                stored_scope: Default::default(),
                scope: Default::default(),
            })
        })
        .collect();
    let routes = ["/api/v1/echo", "/api/v1/orders", "/api/v1/users", "/api/v2/search"];
    let start_at = now();
    let records: Vec<RequestRecord> = (0..batch)
        .map(|i| RequestRecord {
            at: start_at + time::Duration::milliseconds(i as i64),
            method: "GET".into(),
            route: routes[i % routes.len()].into(),
            status: if i % 10 == 0 { 429 } else { 200 },
            outcome: if i % 10 == 0 { "refused" } else { "accepted" },
            code: if i % 10 == 0 { Some("rate_limited") } else { None },
            key: Some(keys[i % keys.len()].clone()),
            ip: "203.0.113.7".into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) bench".into(),
            latency_us: 250,
            deprecated: None,
        })
        .collect();
    let mut records = records;
    let started = Instant::now();
    let mut written = 0;
    while written < total {
        write_batch(&db, &records).await.expect("batch");
        written += records.len();
        // Time moves on, as it does for real traffic: the indexes on time grow at their end.
        for r in &mut records {
            r.at += time::Duration::milliseconds(batch as i64);
        }
    }
    let elapsed = started.elapsed();
    println!();
    println!(
        "log writer: {written} records in {:.2} s = {:.0} rows/s on SQLite, batches of {batch} (goal >= 50,000)",
        elapsed.as_secs_f64(),
        written as f64 / elapsed.as_secs_f64()
    );
    db.close().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}

async fn count(db: &Db, sql: &str) -> i64 {
    match db {
        Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.expect("count"),
        Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.expect("count"),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mast-bench-{}", new_id().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
