//! Mixed traffic against the release server binary, then a crash in the middle of it; prints
//! figures and asserts only what a crash must never do (lose acknowledged data).
//!
//! Per backend (SQLite, then PostgreSQL): seed historical traffic, start `target/release/server`,
//! sign in developers and an admin, then for MAST_LOAD_SECONDS (600) run, at once: API calls with
//! valid keys (some on a plan that gets rate-limited), API calls with missing, malformed, unknown
//! and revoked keys, password sign-ins (a quarter of them wrong), dashboard pages and admin pages.
//! Prints requests/s, p50/p99/max per kind, every status, 5xx and transport errors, and the
//! server's RSS each minute.
//!
//! Then the crash: sign-ups and key creations are added to the traffic, the server is killed with
//! SIGKILL, restarted on the same database, and every acknowledged account (with its two consent
//! records) and key must be there; the request-log records lost are counted against the API
//! answers received, and set against the flush interval.
//!
//! `cargo bench -p server --bench load` (after `cargo leptos build --release`). Settings:
//! MAST_LOAD_SECONDS, MAST_LOAD_BACKENDS (sqlite,postgres), MAST_LOAD_SEED_RECORDS (200000),
//! TEST_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres).

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use app::db::Db;
use reqwest::{Client, StatusCode};
use serde_json::Value;

const PASSWORD: &str = "mast-seed-password";
const FLUSH_MS: u64 = 500;
const KINDS: [&str; 6] = ["api valid key", "api bad key", "sign-in", "dashboard page", "admin page", "crash writes"];

#[derive(Default)]
struct Stats {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
}

impl Stats {
    /// One answer (its status) or a transport error (`None`).
    fn add(&mut self, started: Instant, status: Option<StatusCode>) {
        match status {
            Some(status) => {
                self.latencies_us.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                *self.statuses.entry(status.as_u16()).or_default() += 1;
            }
            None => self.transport_errors += 1,
        }
    }

    fn merge(&mut self, other: Stats) {
        self.latencies_us.extend(other.latencies_us);
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
    }
}

struct Server {
    child: Child,
    base: String,
    database_url: String,
    data: tempfile::TempDir,
    port: u16,
}

fn server_command(bin: &str, data: &std::path::Path, database_url: &str, port: u16) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("--config")
        .arg(data.join("mast.toml"))
        .env("LEPTOS_SITE_ROOT", "target/site")
        .env("MAST_BIND", format!("127.0.0.1:{port}"))
        .env("MAST_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("MAST_DATA_DIR", data)
        .env("DATABASE_URL", database_url)
        .env("MAST_TRUSTED_PROXIES", "[\"127.0.0.1\"]")
        .env("MAST_REQUEST_LOG_FLUSH_MS", FLUSH_MS.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    cmd
}

impl Server {
    async fn start(bin: &str, data: tempfile::TempDir, database_url: String) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = server_command(bin, data.path(), &database_url, port).arg("serve").spawn().expect("start the server");
        let server = Server { child, base: format!("http://127.0.0.1:{port}"), database_url, data, port };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) -> Duration {
        let started = Instant::now();
        loop {
            if reqwest::get(format!("{}/readyz", self.base)).await.is_ok_and(|r| r.status().is_success()) {
                return started.elapsed();
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kib: f64 =
            status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0.0);
        kib / 1024.0
    }
}

fn run(bin: &str, data: &std::path::Path, database_url: &str, args: &[&str]) -> String {
    let out = server_command(bin, data, database_url, 0).args(args).stdout(Stdio::piped()).output().expect("run the server binary");
    assert!(out.status.success(), "server {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A browser from its own address (the server trusts 127.0.0.1 as a proxy), keeping cookies.
fn browser(base: &str, ip: &str) -> Client {
    let headers = [(reqwest::header::ORIGIN, base.parse().unwrap()), ("x-forwarded-for".parse().unwrap(), ip.parse().unwrap())];
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers.into_iter().collect())
        .build()
        .unwrap()
}

async fn rpc(client: &Client, base: &str, name: &str, form: &[(&str, &str)]) -> reqwest::Result<reqwest::Response> {
    client.post(format!("{base}/rpc/{name}")).form(form).send().await
}

async fn signed_in(base: &str, email: &str, n: usize) -> Client {
    let client = browser(base, &format!("10.1.{}.{}", n / 250, n % 250 + 1));
    let res = rpc(&client, base, "sign_in", &[("email", email), ("password", PASSWORD)]).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "sign in {email}");
    // Seeded accounts have not accepted the documents yet.
    let _ = rpc(&client, base, "accept_documents", &[("next", "/dashboard"), ("accept", "on")]).await;
    client
}

async fn new_key(client: &Client, base: &str, label: &str) -> (String, String) {
    let res = rpc(client, base, "create_key", &[("label", label), ("key_type", "live"), ("expires_in", "never")]).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "create_key");
    let issued: Value = res.json().await.unwrap();
    (issued["key"].as_str().unwrap().to_string(), issued["info"]["id"].as_str().unwrap().to_string())
}

async fn scalar(db: &Db, sql: &str) -> i64 {
    app::on_db!(db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

/// Everything the workers need, made once per backend.
struct Fixture {
    base: String,
    valid_keys: Vec<String>,
    limited_key: String,
    bad_keys: Vec<String>,
    developers: Vec<Client>,
    key_pages: Vec<String>,
    admin: Client,
    account_pages: Vec<String>,
    emails: Vec<String>,
}

async fn prepare(server: &Server, db: &Db) -> Fixture {
    let base = server.base.clone();
    let emails: Vec<String> =
        app::on_db!(db, pool => sqlx::query_scalar::<_, String>("select email from account order by email").fetch_all(pool).await).unwrap();
    let admin = signed_in(&base, &emails[0], 0).await;
    let mut developers = Vec::new();
    let mut valid_keys = Vec::new();
    let mut key_pages = Vec::new();
    for (n, email) in emails.iter().enumerate().skip(1).take(8) {
        let client = signed_in(&base, email, n).await;
        for k in 0..2 {
            let (key, id) = new_key(&client, &base, &format!("load {k}")).await;
            valid_keys.push(key);
            key_pages.push(format!("/keys/{id}"));
        }
        developers.push(client);
    }
    // One account on a small plan: its key is rate-limited part of the time.
    let limited = signed_in(&base, &emails[9], 9).await;
    let (limited_key, _) = new_key(&limited, &base, "limited").await;
    let ids: Vec<String> = app::on_db!(db, pool => sqlx::query_scalar::<_, uuid::Uuid>("select account_id from account order by email limit 10").fetch_all(pool).await)
        .unwrap()
        .into_iter()
        .map(|id| id.to_string())
        .collect();
    let res = rpc(&admin, &base, "admin_set_plan", &[("account_id", &ids[9]), ("plan", "small")]).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "set the small plan");
    let (revoked, revoked_id) = new_key(&limited, &base, "revoked").await;
    assert_eq!(rpc(&limited, &base, "revoke_key", &[("key_id", &revoked_id)]).await.unwrap().status(), StatusCode::OK);
    let unknown =
        app::api_keys::format::assemble("mast", app::api_keys::format::KeyType::Live, &"Q".repeat(app::api_keys::format::RANDOM_LEN));
    let bad_keys = vec![String::new(), "mast_live_not-a-key".into(), unknown, revoked];
    let account_pages = ids.iter().map(|id| format!("/admin/accounts/{id}")).collect();
    Fixture { base, valid_keys, limited_key, bad_keys, developers, key_pages, admin, account_pages, emails }
}

/// Runs one kind of traffic (an index of KINDS) until `stop`, counting API answers received.
async fn worker(fx: Arc<Fixture>, kind: usize, id: usize, stop: Arc<AtomicBool>, api_answers: Arc<AtomicU64>) -> (usize, Stats) {
    let mut stats = Stats::default();
    let api = Client::builder().pool_max_idle_per_host(4).build().unwrap();
    let mut n = id;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let started = Instant::now();
        let result = match kind {
            0 => {
                // One call in twenty uses the rate-limited key.
                let key = if n % 20 == 0 { &fx.limited_key } else { &fx.valid_keys[n % fx.valid_keys.len()] };
                api.get(format!("{}/api/v1/echo", fx.base)).bearer_auth(key).send().await
            }
            1 => {
                let key = &fx.bad_keys[n % fx.bad_keys.len()];
                let req = api.get(format!("{}/api/v1/orders", fx.base));
                if key.is_empty() { req.send().await } else { req.bearer_auth(key).send().await }
            }
            2 => {
                // A new browser each time, from an address of its own; every fourth password is wrong.
                let client = browser(&fx.base, &format!("10.2.{}.{}", (n / 250) % 250, n % 250 + 1));
                let email = &fx.emails[10 + n % (fx.emails.len() - 10)];
                let password = if n % 4 == 0 { "wrong password" } else { PASSWORD };
                rpc(&client, &fx.base, "sign_in", &[("email", email), ("password", password)]).await
            }
            3 => {
                // A developer's own pages, their own key's page included (two keys each).
                let developer = n % fx.developers.len();
                let client = &fx.developers[developer];
                let pages = ["/dashboard", "/keys", fx.key_pages[developer * 2 + (n / 7) % 2].as_str(), "/account"];
                client.get(format!("{}{}", fx.base, pages[n % pages.len()])).header("accept", "text/html").send().await
            }
            _ => {
                let pages = ["/admin", "/admin/logs", "/admin/events", fx.account_pages[n % fx.account_pages.len()].as_str()];
                fx.admin.get(format!("{}{}", fx.base, pages[n % pages.len()])).header("accept", "text/html").send().await
            }
        };
        // Read the whole body, as a client does.
        let status = match result {
            Ok(res) => {
                let status = res.status();
                res.bytes().await.ok().map(|_| status)
            }
            Err(_) => None,
        };
        if kind <= 1 && status.is_some() {
            api_answers.fetch_add(1, Ordering::Relaxed);
        }
        stats.add(started, status);
        if kind == 2 {
            // People sign in now and then: a few per second, not a flood of hashes.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    (kind, stats)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}

fn report(stats: &mut BTreeMap<usize, Stats>, seconds: f64) -> u64 {
    println!("  {:<16} {:>9} {:>8} {:>9} {:>9} {:>9}  statuses", "kind", "requests", "req/s", "p50 ms", "p99 ms", "max ms");
    let mut server_errors = 0;
    for (kind, s) in stats.iter_mut() {
        s.latencies_us.sort_unstable();
        let n = s.latencies_us.len();
        let statuses: Vec<String> = s.statuses.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        server_errors += s.statuses.iter().filter(|(k, _)| **k >= 500).map(|(_, v)| v).sum::<u64>();
        println!(
            "  {:<16} {:>9} {:>8.1} {:>9.2} {:>9.2} {:>9.1}  {}{}",
            KINDS[*kind],
            n,
            n as f64 / seconds,
            percentile(&s.latencies_us, 0.5),
            percentile(&s.latencies_us, 0.99),
            percentile(&s.latencies_us, 1.0),
            statuses.join(" "),
            if s.transport_errors > 0 { format!(" transport-errors×{}", s.transport_errors) } else { String::new() }
        );
    }
    server_errors
}

/// Workers per kind: API traffic dominates, people's pages are fewer.
const WORKERS: [usize; 5] = [12, 2, 1, 2, 1];

async fn load(server: &Server, fx: Arc<Fixture>, seconds: u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (kind, count) in WORKERS.iter().enumerate() {
        for id in 0..*count {
            tasks.push(tokio::spawn(worker(fx.clone(), kind, id * 1000, stop.clone(), answers.clone())));
        }
    }
    let started = Instant::now();
    let rss_start = server.rss_mib();
    println!("  RSS at start: {rss_start:.1} MiB");
    let (mut last, mut last_at) = (0, Instant::now());
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(60).min(Duration::from_secs(seconds).saturating_sub(started.elapsed()))).await;
        let now = answers.load(Ordering::Relaxed);
        println!(
            "  {:>4.0} s: API {:.0} req/s, RSS {:.1} MiB",
            started.elapsed().as_secs_f64(),
            (now - last) as f64 / last_at.elapsed().as_secs_f64(),
            server.rss_mib()
        );
        (last, last_at) = (now, Instant::now());
    }
    stop.store(true, Ordering::Relaxed);
    let mut stats: BTreeMap<usize, Stats> = BTreeMap::new();
    for task in tasks {
        let (kind, s) = task.await.unwrap();
        stats.entry(kind).or_default().merge(s);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total: usize = stats.values().map(|s| s.latencies_us.len()).sum();
    println!("  {total} requests in {elapsed:.0} s: {:.0} req/s", total as f64 / elapsed);
    let errors = report(&mut stats, elapsed);
    println!("  5xx answers: {errors} (goal 0)");
    println!("  RSS at start {rss_start:.1} MiB, at end {:.1} MiB", server.rss_mib());
}

/// Sign-ups and key creations during API traffic, then SIGKILL, restart and checks.
async fn crash(mut server: Server, fx: Arc<Fixture>, bin: &str) -> bool {
    let db = Db::connect(&server.database_url).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(AtomicU64::new(0));
    // The load before may still have records queued: let the writer finish them first, so they
    // are not taken for records of this phase (which would hide a loss).
    let mut logged_before = scalar(&db, "select count(*) from request_log").await;
    loop {
        tokio::time::sleep(Duration::from_millis(FLUSH_MS * 2)).await;
        let now = scalar(&db, "select count(*) from request_log").await;
        if now == logged_before {
            break;
        }
        logged_before = now;
    }
    let mut api = Vec::new();
    for id in 0..WORKERS[0] {
        api.push(tokio::spawn(worker(fx.clone(), 0, id, stop.clone(), answers.clone())));
    }
    let signups = tokio::spawn({
        let (base, stop) = (fx.base.clone(), stop.clone());
        async move {
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let email = format!("crash-{n}-{}@example.com", uuid::Uuid::now_v7().simple());
                let client = browser(&base, &format!("10.3.{}.{}", n / 250, n % 250 + 1));
                let form = [("email", email.as_str()), ("display_name", "Crash"), ("password", PASSWORD), ("accept_terms", "on")];
                if let Ok(res) = rpc(&client, &base, "sign_up", &form).await
                    && res.status() == StatusCode::OK
                {
                    acknowledged.push(email);
                }
            }
            acknowledged
        }
    });
    let keys = tokio::spawn({
        let (fx, stop) = (fx.clone(), stop.clone());
        async move {
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let client = &fx.developers[n % fx.developers.len()];
                let form = [("label", "crash"), ("key_type", "test"), ("expires_in", "never")];
                if let Ok(res) = rpc(client, &fx.base, "create_key", &form).await
                    && res.status() == StatusCode::OK
                    && let Ok(issued) = res.json::<Value>().await
                {
                    acknowledged.push(issued["info"]["id"].as_str().unwrap_or_default().to_string());
                }
            }
            acknowledged
        }
    });
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    server.child.kill().expect("SIGKILL");
    let killed_at = started.elapsed();
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for task in api {
        task.await.unwrap();
    }
    let (emails, key_ids) = (signups.await.unwrap(), keys.await.unwrap());
    let answered = answers.load(Ordering::Relaxed) as i64;

    // Restart on the same database.
    let restart = Instant::now();
    let port = server.port;
    server.child = server_command(bin, server.data.path(), &server.database_url, port).arg("serve").spawn().unwrap();
    let ready = server.wait_ready().await;
    println!("  killed with SIGKILL after {:.1} s; restarted and ready in {:.0} ms", killed_at.as_secs_f64(), ready.as_secs_f64() * 1000.0);
    let _ = restart;

    let db = Db::connect(&server.database_url).await.unwrap();
    let mut ok = true;
    if let Db::Sqlite(pool) = &db {
        let check: String = sqlx::query_scalar("pragma integrity_check").fetch_one(pool).await.unwrap();
        println!("  SQLite integrity_check: {check}");
        ok &= check == "ok";
    }
    let mut missing_accounts = 0;
    let mut missing_consents = 0;
    for email in &emails {
        let sql = "select count(*) from consent c join account a on a.account_id = c.account_id where a.email_normalized = $1";
        let consents: i64 = app::on_db!(&db, pool => sqlx::query_scalar(sql).bind(email).fetch_one(pool).await).unwrap();
        let found = app::accounts::store::find_account_by_email(&db, email).await.unwrap().is_some();
        missing_accounts += usize::from(!found);
        missing_consents += usize::from(consents < app::consent::DOCUMENTS.len() as i64);
    }
    let mut missing_keys = 0;
    for id in &key_ids {
        let id = uuid::Uuid::parse_str(id).unwrap();
        let n: i64 = app::on_db!(&db, pool => sqlx::query_scalar("select count(*) from api_key where api_key_id = $1").bind(id).fetch_one(pool).await).unwrap();
        missing_keys += usize::from(n == 0);
    }
    println!("  acknowledged before the kill: {} sign-ups, {} keys", emails.len(), key_ids.len());
    println!("  missing after restart: {missing_accounts} accounts, {missing_consents} consent records, {missing_keys} keys (must be 0)");
    ok &= missing_accounts == 0 && missing_consents == 0 && missing_keys == 0;
    let logged = scalar(&db, "select count(*) from request_log").await - logged_before;
    let lost = (answered - logged).max(0);
    let rate = answered as f64 / killed_at.as_secs_f64();
    println!(
        "  request log: {answered} API answers received, {logged} logged, {lost} lost = {:.0} ms of traffic (flush interval {FLUSH_MS} ms: {})",
        lost as f64 / rate * 1000.0,
        if lost as f64 / rate * 1000.0 <= FLUSH_MS as f64 { "within one interval" } else { "MORE than one interval" }
    );
    db.close().await;
    let _ = server.child.kill();
    let _ = server.child.wait();
    ok
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("MAST_LOAD_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(600);
    let backends = std::env::var("MAST_LOAD_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let records = std::env::var("MAST_LOAD_SEED_RECORDS").unwrap_or_else(|_| "200000".into());
    let pg = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    // Benches run in the crate's folder; the binary and the site are the workspace's.
    std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
    let bin = "target/release/server";
    assert!(std::path::Path::new(bin).exists(), "build the release first: cargo leptos build --release");
    let mut all_ok = true;
    for backend in backends.split(',') {
        let data = tempfile::tempdir().unwrap();
        std::fs::write(
            data.path().join("mast.toml"),
            "default_plan = \"free\"\n\
             [[plans]]\nname = \"free\"\nrequests_per_minute = 100000000\nrequests_per_month = 100000000000\n\
             [[plans]]\nname = \"small\"\nrequests_per_minute = 60\nrequests_per_month = 100000000000\n",
        )
        .unwrap();
        let (database_url, pg_name) = match backend {
            "sqlite" => (format!("sqlite://{}/mast.db", data.path().display()), None),
            _ => {
                let name = format!("mast_load_{}", uuid::Uuid::now_v7().simple());
                let admin = Db::connect(&pg).await.unwrap();
                app::on_db!(&admin, pool => sqlx::query(&format!("create database {name}")).execute(pool).await.map(|_| ())).unwrap();
                admin.close().await;
                let base = pg.rsplit_once('/').map_or(pg.as_str(), |(b, _)| b);
                (format!("{base}/{name}"), Some(name))
            }
        };
        println!("\n== {backend}: {seconds} s of mixed traffic (workers: {WORKERS:?} = API valid, API bad, sign-in, dashboard, admin)");
        let seeded =
            run(bin, data.path(), &database_url, &["seed", "--accounts", "40", "--keys", "2", "--requests", &records, "--days", "30"]);
        println!("  {}", seeded.lines().last().unwrap_or_default());
        let db = Db::connect(&database_url).await.unwrap();
        let first: String =
            app::on_db!(&db, pool => sqlx::query_scalar("select email from account order by email limit 1").fetch_one(pool).await).unwrap();
        run(bin, data.path(), &database_url, &["admin", "grant", &first]);
        let server = Server::start(bin, data, database_url).await;
        let fx = Arc::new(prepare(&server, &db).await);
        db.close().await;
        load(&server, fx.clone(), seconds).await;
        println!("== {backend}: crash during load");
        all_ok &= crash(server, fx, bin).await;
        if let Some(name) = pg_name {
            let admin = Db::connect(&pg).await.unwrap();
            let _ = app::on_db!(&admin, pool => sqlx::query(&format!("drop database if exists {name} with (force)")).execute(pool).await.map(|_| ()));
            admin.close().await;
        }
    }
    if !all_ok {
        eprintln!("a crash lost acknowledged data");
        std::process::exit(1);
    }
}
