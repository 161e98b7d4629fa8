//! SIGKILL in the middle of sign-ups, key creations and API traffic: after a restart on the same
//! database, everything whose creation was acknowledged is there. (`cargo bench -p server --bench
//! load` does the same on the release build under the full mixed load and prints the figures.)

use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use app::db::Db;
use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::support::{Backend, PASSWORD, TestApp, scalar_i64};

fn start(database_url: &str, data: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("MAST_BIND", format!("127.0.0.1:{port}"))
        .env("MAST_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("MAST_DATA_DIR", data)
        .env("MAST_TRUSTED_PROXIES", "[\"127.0.0.1\"]")
        .env("RUST_LOG", "error")
        .spawn()
        .expect("start the server binary")
}

async fn wait_ready(base: &str) {
    for _ in 0..300 {
        if reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

fn browser(base: &str, ip: String) -> Client {
    let headers = [(reqwest::header::ORIGIN, base.parse().unwrap()), ("x-forwarded-for".parse().unwrap(), ip.parse().unwrap())];
    Client::builder().cookie_store(true).default_headers(headers.into_iter().collect()).build().unwrap()
}

async fn crash_keeps_everything_acknowledged(backend: Backend) {
    // A database of its own (the in-process server of TestApp is only used to create it).
    let Some(app) = TestApp::spawn(backend).await else { return };
    let database_url = app.config.database_url.clone();
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(&database_url, data.path(), port);
    wait_ready(&base).await;

    // A developer with a key, signed in (accounts made here need no mail: the outbox is used).
    let dev = browser(&base, "10.9.0.1".into());
    let email = crate::support::unique_email("crash");
    let form = [("email", email.as_str()), ("display_name", "Crash"), ("password", PASSWORD), ("accept_terms", "on")];
    assert_eq!(dev.post(format!("{base}/rpc/sign_up")).form(&form).send().await.unwrap().status(), StatusCode::OK);
    crate::support::execute_with_id(
        &app.db,
        "update account set email_verified_at = created_at where account_id = $1",
        app.account_id(&email).await,
    )
    .await;
    let sign_in = [("email", email.as_str()), ("password", PASSWORD)];
    assert_eq!(dev.post(format!("{base}/rpc/sign_in")).form(&sign_in).send().await.unwrap().status(), StatusCode::OK);
    let key_form = [("label", "crash"), ("key_type", "test"), ("expires_in", "never")];
    let issued: Value = dev.post(format!("{base}/rpc/create_key")).form(&key_form).send().await.unwrap().json().await.unwrap();
    let api_key = issued["key"].as_str().unwrap().to_string();

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let api = tokio::spawn({
        let (base, stop, answered) = (base.clone(), stop.clone(), answered.clone());
        async move {
            let http = Client::new();
            while !stop.load(Ordering::Relaxed) {
                if http.get(format!("{base}/api/v1/echo")).bearer_auth(&api_key).send().await.is_ok() {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    let sign_ups = tokio::spawn({
        let (base, stop) = (base.clone(), stop.clone());
        async move {
            let mut acknowledged = Vec::new();
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let email = crate::support::unique_email(&format!("crash{n}"));
                let form = [("email", email.as_str()), ("display_name", "Crash"), ("password", PASSWORD), ("accept_terms", "on")];
                let client = browser(&base, format!("10.8.{}.{}", n / 200, n % 200 + 1));
                if client.post(format!("{base}/rpc/sign_up")).form(&form).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
                    acknowledged.push(email.to_lowercase());
                }
            }
            acknowledged
        }
    });
    let keys = tokio::spawn({
        let (base, stop, dev) = (base.clone(), stop.clone(), dev.clone());
        async move {
            let mut acknowledged = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Ok(res) = dev.post(format!("{base}/rpc/create_key")).form(&key_form).send().await
                    && res.status() == StatusCode::OK
                    && let Ok(issued) = res.json::<Value>().await
                {
                    acknowledged.push(uuid::Uuid::parse_str(issued["info"]["id"].as_str().unwrap()).unwrap());
                }
            }
            acknowledged
        }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.kill().expect("SIGKILL");
    server.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    api.await.unwrap();
    let (emails, key_ids) = (sign_ups.await.unwrap(), keys.await.unwrap());
    assert!(!emails.is_empty() && !key_ids.is_empty(), "the writers were acknowledged before the kill");

    let mut server = start(&database_url, data.path(), port);
    wait_ready(&base).await;
    let db = Db::connect(&database_url).await.unwrap();
    if let Db::Sqlite(pool) = &db {
        let check: String = sqlx::query_scalar("pragma integrity_check").fetch_one(pool).await.unwrap();
        assert_eq!(check, "ok");
    }
    for email in &emails {
        let account = app::accounts::store::find_account_by_email(&db, email).await.unwrap().expect("acknowledged sign-up kept");
        let consents = app.count("consent", "account_id", account.account_id).await;
        assert_eq!(consents, app::consent::DOCUMENTS.len() as i64, "both acceptances of {email} kept");
    }
    for id in &key_ids {
        assert_eq!(app.count("api_key", "api_key_id", *id).await, 1, "acknowledged key {id} kept");
    }
    let answered = answered.load(Ordering::Relaxed) as i64;
    let logged = scalar_i64(&db, "select count(*) from request_log").await;
    println!(
        "{backend:?}: {} sign-ups and {} keys acknowledged, all kept; {answered} API answers, {logged} logged, {} lost",
        emails.len(),
        key_ids.len(),
        answered - logged
    );
    // The log loses at most what was queued or being written (one flush interval), never more
    // than was answered.
    assert!(logged <= answered + 1 && logged > 0, "{logged} logged of {answered}");
    db.close().await;
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn crash_sigkill_during_writes_loses_nothing_acknowledged_sqlite() {
    crate::support::run_with_workers(4, async {
        crash_keeps_everything_acknowledged(Backend::Sqlite).await;
    });
}

#[test]
fn crash_sigkill_during_writes_loses_nothing_acknowledged_postgres() {
    crate::support::run_with_workers(4, async {
        crash_keeps_everything_acknowledged(Backend::Postgres).await;
    });
}
