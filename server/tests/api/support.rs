//! A real Mast server per test: its own SQLite file or its own PostgreSQL database, mail over
//! real SMTP into the sink `make test` starts (maildev), a cookie-keeping HTTP client.

use std::time::Duration;

use app::config::Config;
use app::db::Db;
use reqwest::{Client, Response, StatusCode};
use secrecy::SecretString;
use serde_json::Value;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub db: Db,
    pub client: Client,
    pub database_url: String,
    /// The server's clock: `app.clock.advance(…)` instead of sleeping.
    pub clock: app::clock::Clock,
    pub config: std::sync::Arc<Config>,
    /// The server's password hasher: `hasher.verifications()` counts the passwords it checked.
    pub hasher: app::passwords::PasswordHasher,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _data: tempfile::TempDir,
    pg_database: Option<String>,
}

pub const PASSWORD: &str = "correct horse battery staple";

fn smtp_url() -> String {
    std::env::var("MAST_TEST_SMTP_URL").unwrap_or_else(|_| "smtp://127.0.0.1:1025".into())
}

fn sink_url() -> String {
    std::env::var("MAST_TEST_SINK_URL").unwrap_or_else(|_| "http://127.0.0.1:1080".into())
}

fn pg_admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres"))
}

/// `postgres://host/db` with the database part replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl TestApp {
    /// Starts a server; `None` when the backend is PostgreSQL and no `TEST_DATABASE_URL` is set.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let data = tempfile::tempdir().expect("temp dir");
        let (database_url, pg_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/mast.db", data.path().display()), None),
            Backend::Postgres => {
                let admin = match pg_admin_url() {
                    Some(url) => url,
                    None => {
                        eprintln!("TEST_DATABASE_URL is not set: skipping the PostgreSQL run");
                        return None;
                    }
                };
                let name = format!("mast_test_{}", Uuid::now_v7().simple());
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.expect("connect to TEST_DATABASE_URL");
                sqlx::query(&format!("create database {name}")).execute(&mut conn).await.expect("create test database");
                (with_database(&admin, &name), Some(name))
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut config = Config {
            // A host name, not an IP: passkeys need one (localhost, as in the default setup).
            public_url: format!("http://localhost:{}", addr.port()),
            bind: addr.to_string(),
            database_url: database_url.clone(),
            data_dir: data.path().to_path_buf(),
            smtp_url: Some(SecretString::from(smtp_url())),
            password_hash_concurrency: 2,
            ..Config::default()
        };
        adjust(&mut config);
        let state = server::startup::build_state(config).await.expect("server starts");
        let db = state.db.clone();
        let (clock, config, hasher) = (state.clock.clone(), state.config.clone(), state.hasher.clone());
        let running = server::startup::Running::on(listener, state).expect("listener");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(running.serve(async move {
            let _ = rx.await;
        }));
        let base = format!("http://localhost:{}", addr.port());
        Some(TestApp {
            client: browser(&base, addr),
            base,
            addr,
            db,
            database_url,
            clock,
            config,
            hasher,
            shutdown: Some(tx),
            serving: Some(serving),
            _data: data,
            pg_database,
        })
    }

    /// Stops the server the way SIGTERM does and waits until it has finished; its pool is then
    /// closed, so the returned handle is a new connection to the same database.
    pub async fn stop_gracefully(&mut self) -> Db {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.serving.take() {
            task.await.expect("server task").expect("server stopped cleanly");
        }
        Db::connect(&self.database_url).await.expect("reopen the database")
    }

    /// The retention periods this server was configured with.
    pub fn retention(&self) -> app::retention::Periods {
        app::retention::Periods::from_config(&self.config)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A second browser with its own cookies.
    pub fn new_browser(&self) -> Client {
        browser(&self.base, self.addr)
    }

    /// Calls a server function the way the hydrated page does (form-encoded POST, same origin).
    pub async fn rpc(&self, endpoint: &str, form: &[(&str, &str)]) -> Response {
        rpc_with(&self.client, &self.base, endpoint, form).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// Signs up with the usual fields; `email` must be unique per test.
    pub async fn sign_up(&self, email: &str) -> Response {
        self.rpc(
            "sign_up",
            &[
                ("email", email),
                ("display_name", "Ada Lovelace"),
                ("password", PASSWORD),
                ("organisation", "Analytical Engines"),
                ("accept_terms", "on"),
            ],
        )
        .await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Response {
        self.rpc("sign_in", &[("email", email), ("password", password)]).await
    }

    /// Signs up, confirms the address from the received mail and signs in.
    pub async fn verified_account(&self, email: &str) {
        self.verified_account_in(&self.client, email).await;
    }

    /// The same in another browser (a second person beside the first).
    pub async fn verified_account_in(&self, client: &Client, email: &str) {
        let sign_up = [
            ("email", email),
            ("display_name", "Ada Lovelace"),
            ("password", PASSWORD),
            ("organisation", "Analytical Engines"),
            ("accept_terms", "on"),
        ];
        assert_eq!(rpc_with(client, &self.base, "sign_up", &sign_up).await.status(), StatusCode::OK);
        let token = token_from(&wait_for_mail(email, "Confirm your email").await);
        assert_eq!(rpc_with(client, &self.base, "confirm_email", &[("token", &token)]).await.status(), StatusCode::OK);
        let sign_in = [("email", email), ("password", PASSWORD)];
        assert_eq!(rpc_with(client, &self.base, "sign_in", &sign_in).await.status(), StatusCode::OK);
    }

    pub async fn viewer(&self, client: &Client) -> Value {
        let res = rpc_with(client, &self.base, "viewer", &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("json")
    }

    pub async fn account_id(&self, email: &str) -> Uuid {
        app::accounts::store::find_account_by_email(&self.db, &email.to_lowercase())
            .await
            .expect("query")
            .expect("account exists")
            .account_id
    }

    /// `select count(*) from {table} where {column} = $1`.
    pub async fn count(&self, table: &str, column: &str, id: Uuid) -> i64 {
        let sql = format!("select count(*) from {table} where {column} = $1");
        match &self.db {
            Db::Sqlite(pool) => sqlx::query_scalar(&sql).bind(id).fetch_one(pool).await.expect("count"),
            Db::Postgres(pool) => sqlx::query_scalar(&sql).bind(id).fetch_one(pool).await.expect("count"),
        }
    }

    pub async fn count_all(&self, table: &str) -> i64 {
        let sql = format!("select count(*) from {table}");
        match &self.db {
            Db::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await.expect("count"),
            Db::Postgres(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await.expect("count"),
        }
    }

    /// Every text column of the event log, for "no secret in the log" checks.
    pub async fn all_event_text(&self) -> String {
        let sql = "select kind || ' ' || coalesce(ip, '') || ' ' || coalesce(user_agent, '') || ' ' || detail from event";
        let rows: Vec<String> = match &self.db {
            Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.expect("events"),
            Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.expect("events"),
        };
        rows.join("\n")
    }

    /// Rewrites the data of every stored session (e.g. to make a sign-in older).
    pub async fn edit_sessions(&self, edit: impl Fn(&mut Value)) {
        let rows: Vec<(String, String)> = match &self.db {
            Db::Sqlite(p) => sqlx::query_as("select session_key_hash, data from session").fetch_all(p).await.expect("sessions"),
            Db::Postgres(p) => sqlx::query_as("select session_key_hash, data from session").fetch_all(p).await.expect("sessions"),
        };
        for (key, data) in rows {
            let mut data: Value = serde_json::from_str(&data).expect("session JSON");
            edit(&mut data);
            let sql = "update session set data = $1 where session_key_hash = $2";
            match &self.db {
                Db::Sqlite(p) => sqlx::query(sql).bind(data.to_string()).bind(&key).execute(p).await.expect("update").rows_affected(),
                Db::Postgres(p) => sqlx::query(sql).bind(data.to_string()).bind(&key).execute(p).await.expect("update").rows_affected(),
            };
        }
    }

    /// Every passkey row as text, to prove a refused request changed none of them.
    pub async fn passkey_snapshot(&self) -> Vec<(String, String, String, String, String)> {
        let sql = "select credential_id, credential, name, cast(backed_up as text), coalesce(cast(last_used_at as text), '-')
                   from passkey order by credential_id";
        match &self.db {
            Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.expect("passkeys"),
            Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.expect("passkeys"),
        }
    }

    pub async fn event_kinds(&self, account: Uuid) -> Vec<String> {
        app::events::store::list_events_of_account(&self.db, account, 100).await.expect("events").into_iter().map(|e| e.kind).collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let (Some(name), Some(admin)) = (self.pg_database.take(), pg_admin_url()) {
            // Drop the database from a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async {
                    if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await {
                        let _ = sqlx::query(&format!("drop database if exists {name} with (force)")).execute(&mut conn).await;
                    }
                });
            })
            .join();
        }
    }
}

/// A cookie-keeping client that sends the page's Origin, with `localhost` pinned to the server.
pub fn browser(base: &str, addr: std::net::SocketAddr) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, base.parse().expect("origin"));
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) MastTests/1.0")
        // A page that never answers fails its test with the address, instead of hanging the run.
        .timeout(std::time::Duration::from_secs(60))
        .resolve("localhost", addr)
        .build()
        .expect("client")
}

pub async fn rpc_with(client: &Client, base: &str, endpoint: &str, form: &[(&str, &str)]) -> Response {
    client.post(format!("{base}/rpc/{endpoint}")).form(form).send().await.expect("POST")
}

/// The `Set-Cookie` line of the cookie called `name` in an answer.
pub fn session_cookie(res: &Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// The value of a `Set-Cookie` line.
pub fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_string()
}

/// The user-facing message of a failed server function.
pub async fn error_message(res: Response) -> (StatusCode, Option<String>, String) {
    let status = res.status();
    let body: Value = res.json().await.expect("error body is JSON");
    if let Some(invalid) = body.get("Invalid") {
        let field = invalid["field"].as_str().map(str::to_string);
        return (status, field, invalid["message"].as_str().unwrap_or_default().to_string());
    }
    if let Some(text) = body.get("TooManyRequests").and_then(Value::as_str) {
        return (status, None, text.to_string());
    }
    (status, None, body.to_string())
}

/// A unique address per test, so tests can share the mail sink.
pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.test", Uuid::now_v7().simple())
}

#[derive(Debug, Clone)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// All messages the sink received for `to`, oldest first.
pub async fn mails_to(to: &str) -> Vec<Mail> {
    let all: Vec<Value> = reqwest::get(format!("{}/api/email", sink_url()))
        .await
        .unwrap_or_else(|e| panic!("the SMTP sink's API at {} does not answer ({e}); `make test` starts it", sink_url()))
        .json()
        .await
        .expect("sink JSON");
    all.into_iter()
        .filter(|m| {
            m["to"]
                .as_array()
                .is_some_and(|to_list| to_list.iter().any(|t| t["address"].as_str().is_some_and(|a| a.eq_ignore_ascii_case(to))))
        })
        .map(|m| Mail {
            subject: m["subject"].as_str().unwrap_or_default().to_string(),
            text: m["text"].as_str().unwrap_or_default().to_string(),
            html: m["html"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// Waits (up to 10 s) for a message to `to` whose subject contains `subject`.
pub async fn wait_for_mail(to: &str, subject: &str) -> Mail {
    wait_for_mail_where(to, &format!("subject containing {subject:?}"), |m| m.subject.contains(subject)).await
}

/// Waits (up to 10 s) for a message to `to` whose text contains `text`.
pub async fn wait_for_mail_saying(to: &str, text: &str) -> Mail {
    wait_for_mail_where(to, &format!("text containing {text:?}"), |m| m.text.contains(text)).await
}

/// The newest message to `to` that `matches`, waiting for it up to 10 s.
async fn wait_for_mail_where(to: &str, what: &str, matches: impl Fn(&Mail) -> bool) -> Mail {
    for _ in 0..100 {
        if let Some(mail) = mails_to(to).await.into_iter().rev().find(|m| matches(m)) {
            return mail;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no mail to {to} with {what}");
}

/// The `token=` value of the first link in a message.
pub fn token_from(mail: &Mail) -> String {
    let start = mail.text.find("token=").unwrap_or_else(|| panic!("no token link in {:?}", mail.text)) + "token=".len();
    mail.text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

/// How long one test may run: far above the slowest (the hostile sweep), so a test that stops
/// making progress fails by name instead of holding the whole run until CI gives up.
pub const TEST_DEADLINE: Duration = Duration::from_secs(300);

/// How long a finished test's leftover tasks get to stop before its runtime is left behind.
const TEARDOWN_GRACE: Duration = Duration::from_secs(10);

async fn within_deadline(test: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(TEST_DEADLINE, test).await.is_err() {
        panic!("the test did not finish within {} s", TEST_DEADLINE.as_secs());
    }
}

/// Runs one test on two worker threads; see [`run_with_workers`].
pub fn run(test: impl std::future::Future<Output = ()>) {
    run_with_workers(2, test)
}

/// Runs one test as `#[tokio::test(flavor = "multi_thread")]` would, except that nothing can hold
/// the whole run: the test fails by name past [`TEST_DEADLINE`], and its runtime is shut down with
/// a grace period instead of dropped. Dropping waits for every worker without limit, and a worker
/// can deadlock in reactive_graph 0.2 when it drops the last reference to a page's owner tree while
/// it reads context from that tree (seen once, while a runtime was torn down mid-render).
pub fn run_with_workers(workers: usize, test: impl std::future::Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().expect("a test runtime");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(within_deadline(test))));
    runtime.shutdown_timeout(TEARDOWN_GRACE);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Runs the test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(#[$meta])*
            async fn body($app: $crate::support::TestApp) $body

            #[test]
            fn sqlite() {
                $crate::support::run(async {
                    let app = $crate::support::TestApp::spawn($crate::support::Backend::Sqlite).await.expect("sqlite");
                    body(app).await;
                });
            }

            #[test]
            fn postgres() {
                $crate::support::run(async {
                    if let Some(app) = $crate::support::TestApp::spawn($crate::support::Backend::Postgres).await {
                        body(app).await;
                    }
                });
            }
        }
    };
}

/// Runs `sql` (one scalar result) on either backend.
pub async fn scalar_i64(db: &Db, sql: &str) -> i64 {
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect("query"),
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect("query"),
    }
}

/// Runs a statement with one uuid parameter on either backend.
pub async fn execute_with_id(db: &Db, sql: &str, id: Uuid) {
    match db {
        Db::Sqlite(pool) => sqlx::query(sql).bind(id).execute(pool).await.expect("statement").rows_affected(),
        Db::Postgres(pool) => sqlx::query(sql).bind(id).execute(pool).await.expect("statement").rows_affected(),
    };
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    app::usage::encode(value)
}

/// Waits until the request log holds at least `n` records (the writer flushes every 500 ms).
pub async fn wait_for_log(db: &Db, n: i64) {
    for _ in 0..100 {
        if scalar_i64(db, "select count(*) from request_log").await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the request log never reached {n} records");
}

/// The JSON body of a successful answer (the body is shown when it failed).
pub async fn ok_json(res: Response) -> Value {
    let status = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).expect("JSON")
}
