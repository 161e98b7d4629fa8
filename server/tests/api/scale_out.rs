//! Three instances on one PostgreSQL database behind a round-robin load balancer, as the README's
//! "Several instances" section deploys them: a session works on any instance, a revocation, a scope change or a
//! suspension made on one is enforced by all within a second, and a monthly quota is counted
//! across them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use app::config::Plan;
use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::gateway::SHARED_SECRET;
use crate::support::{Backend, PASSWORD, TestApp, rpc_with, token_from, unique_email, wait_for_mail};

/// A TCP balancer on `listener`: each new connection goes to the next instance in turn.
fn round_robin(listener: tokio::net::TcpListener, backends: Vec<SocketAddr>) {
    let next = AtomicUsize::new(0);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let backend = backends[next.fetch_add(1, Ordering::Relaxed) % backends.len()];
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

struct Cluster {
    instances: Vec<TestApp>,
    /// The balancer's URL: the public URL every instance is configured with.
    base: String,
    browser: Client,
}

const INSTANCES: usize = 3;
const QUOTA: u64 = 12;

/// A browser of the balancer's origin that opens a new connection per request, so consecutive
/// requests go to consecutive instances.
fn browser(base: &str) -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers([(reqwest::header::ORIGIN, base.parse().unwrap())].into_iter().collect())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn cluster() -> Option<Cluster> {
    // The balancer's address first: it is the public URL every instance is configured with.
    let lb = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", lb.local_addr().unwrap().port());
    let settings = |database_url: Option<String>| {
        let base = base.clone();
        move |c: &mut app::config::Config| {
            c.public_url = base;
            c.api_key_secret = Some(secrecy::SecretString::from(SHARED_SECRET));
            c.plans = vec![Plan { name: "free".into(), requests_per_minute: 1_000, requests_per_month: QUOTA }];
            if let Some(url) = database_url {
                c.database_url = url;
            }
        }
    };
    let first = TestApp::spawn_with(Backend::Postgres, settings(None)).await?;
    let shared = first.config.database_url.clone();
    let mut instances = vec![first];
    for _ in 1..INSTANCES {
        instances.push(TestApp::spawn_with(Backend::Postgres, settings(Some(shared.clone()))).await?);
    }
    round_robin(lb, instances.iter().map(|i| i.addr).collect());
    let browser = browser(&base);
    Some(Cluster { instances, base, browser })
}

impl Cluster {
    /// How many answers each instance has given so far (read from its own `/metrics`).
    async fn answers_per_instance(&self) -> Vec<f64> {
        let mut counts = Vec::new();
        for instance in &self.instances {
            let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", instance.addr.port())).await.unwrap().text().await.unwrap();
            let rpc = text.lines().filter(|l| l.starts_with("mast_http_responses_total{area=\"rpc\""));
            counts.push(rpc.map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap()).sum());
        }
        counts
    }

    async fn rpc(&self, client: &Client, endpoint: &str, form: &[(&str, &str)]) -> reqwest::Response {
        rpc_with(client, &self.base, endpoint, form).await
    }

    async fn new_key(&self, client: &Client, label: &str) -> (String, String) {
        let res = self.rpc(client, "create_key", &[("label", label), ("key_type", "live"), ("expires_in", "never")]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let issued: Value = res.json().await.unwrap();
        (issued["key"].as_str().unwrap().to_string(), issued["info"]["id"].as_str().unwrap().to_string())
    }
}

fn on_each(cluster: &Cluster, key: &str) -> Vec<impl std::future::Future<Output = reqwest::Result<reqwest::Response>>> {
    cluster
        .instances
        .iter()
        .map(|i| reqwest::Client::new().get(format!("http://127.0.0.1:{}/api/v1/echo", i.addr.port())).bearer_auth(key).send())
        .collect()
}

/// Waits until every instance refuses `key` with `code`; returns how long that took.
async fn refused_everywhere(cluster: &Cluster, key: &str, code: &str) -> Duration {
    let started = Instant::now();
    loop {
        let mut refused = 0;
        for res in futures::future::join_all(on_each(cluster, key)).await {
            let body: Value = res.unwrap().json().await.unwrap();
            refused += usize::from(body["error"]["code"] == code);
        }
        if refused == cluster.instances.len() {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(1), "{refused} of {} instances refuse after 1 s", cluster.instances.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn scale_out_three_instances_share_sessions_revocations_suspensions_and_quotas() {
    crate::support::run_with_workers(4, async {
        let Some(cluster) = cluster().await else { return };

        // Sign up, confirm and sign in through the balancer: each step lands on another instance.
        let before = cluster.answers_per_instance().await;
        let email = unique_email("cluster");
        let sign_up = [("email", email.as_str()), ("display_name", "Ada"), ("password", PASSWORD), ("accept_terms", "on")];
        assert_eq!(cluster.rpc(&cluster.browser, "sign_up", &sign_up).await.status(), StatusCode::OK);
        let token = token_from(&wait_for_mail(&email, "Confirm your email").await);
        assert_eq!(cluster.rpc(&cluster.browser, "confirm_email", &[("token", &token)]).await.status(), StatusCode::OK);
        let res = cluster.rpc(&cluster.browser, "sign_in", &[("email", &email), ("password", PASSWORD)]).await;
        assert_eq!(res.status(), StatusCode::OK);
        // The session made on one instance is known to every instance.
        for _ in 0..INSTANCES * 2 {
            let viewer: Value = cluster.rpc(&cluster.browser, "viewer", &[]).await.json().await.unwrap();
            assert_eq!(viewer["email"], email.as_str(), "signed in on whichever instance answers");
        }
        let after = cluster.answers_per_instance().await;
        for (i, (a, b)) in after.iter().zip(&before).enumerate() {
            assert!(a - b >= 3.0, "instance {i} answered {} of the browser's requests: the balancer spreads them", a - b);
        }

        // A key used (and cached) on every instance, revoked through one of them.
        let (key, key_id) = cluster.new_key(&cluster.browser, "revoked").await;
        for res in futures::future::join_all(on_each(&cluster, &key)).await {
            assert_eq!(res.unwrap().status(), StatusCode::OK);
        }
        assert_eq!(cluster.rpc(&cluster.browser, "revoke_key", &[("key_id", &key_id)]).await.status(), StatusCode::OK);
        let took = refused_everywhere(&cluster, &key, "revoked_key").await;
        println!("revocation enforced by all {INSTANCES} instances after {took:?}");

        // Quota: the plan allows QUOTA requests a month, counted whichever instance serves them:
        // 3 went to the revoked key, the rest go to a new one.
        let (quota_key, _) = cluster.new_key(&cluster.browser, "quota").await;
        for round in 0..(QUOTA as usize - INSTANCES) / INSTANCES {
            for res in futures::future::join_all(on_each(&cluster, &quota_key)).await {
                assert_eq!(res.unwrap().status(), StatusCode::OK, "round {round}: each instance has served {round} of them");
            }
        }
        // Each instance served a third of the quota itself. Once the requests are written (one
        // flush) and each instance reads the month's count again (every 2 s), all refuse the next.
        let account = cluster.instances[0].account_id(&email).await;
        let db = &cluster.instances[0].db;
        let accepted = "select count(*) from request_log where outcome = 'accepted' and account_id = $1";
        let deadline = Instant::now() + Duration::from_secs(5);
        while app::on_db!(db, pool => sqlx::query_scalar::<_, i64>(accepted).bind(account).fetch_one(pool).await).unwrap() < QUOTA as i64 {
            assert!(Instant::now() < deadline, "the quota key's requests are written");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(server::gateway::limits::QUOTA_REFRESH).await;
        for res in futures::future::join_all(on_each(&cluster, &quota_key)).await {
            let res = res.unwrap();
            assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "quota_exceeded");
        }

        // A key's scope, changed through one instance, holds on all of them at once: limited to
        // a network these calls do not come from. (Its scope is checked before the quota, which
        // is used up: every instance has looked the key up, and none lets a call through.)
        let (scoped, scoped_id) = cluster.new_key(&cluster.browser, "scoped").await;
        for res in futures::future::join_all(on_each(&cluster, &scoped)).await {
            assert_eq!(res.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
        }
        let res = cluster.rpc(&cluster.browser, "set_key_scope", &[("key_id", &scoped_id), ("networks", "198.51.100.0/24")]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let took = refused_everywhere(&cluster, &scoped, "ip_not_allowed").await;
        println!("scope change enforced by all {INSTANCES} instances after {took:?}");
        assert_eq!(cluster.rpc(&cluster.browser, "revoke_key", &[("key_id", &scoped_id)]).await.status(), StatusCode::OK);

        // A suspension by an admin on one instance stops the account's keys on all of them, although
        // every instance has the key cached (it answered quota_exceeded, a refusal after look-up).
        let admin = browser(&cluster.base);
        let admin_email = unique_email("cluster-admin");
        let sign_up = [("email", admin_email.as_str()), ("display_name", "Grace"), ("password", PASSWORD), ("accept_terms", "on")];
        assert_eq!(cluster.rpc(&admin, "sign_up", &sign_up).await.status(), StatusCode::OK);
        let token = token_from(&wait_for_mail(&admin_email, "Confirm your email").await);
        assert_eq!(cluster.rpc(&admin, "confirm_email", &[("token", &token)]).await.status(), StatusCode::OK);
        assert!(app::accounts::store::set_role(db, &admin_email, "admin", app::db::now()).await.unwrap());
        assert_eq!(cluster.rpc(&admin, "sign_in", &[("email", &admin_email), ("password", PASSWORD)]).await.status(), StatusCode::OK);
        let account = account.to_string();
        let res = cluster.rpc(&admin, "admin_set_status", &[("account_id", &account), ("action", "suspend")]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let took = refused_everywhere(&cluster, &quota_key, "account_suspended").await;
        println!("suspension enforced by all {INSTANCES} instances after {took:?}");
        // And the suspended developer's session has ended on every instance.
        for _ in 0..INSTANCES {
            let viewer: Value = cluster.rpc(&cluster.browser, "viewer", &[]).await.json().await.unwrap();
            assert_eq!(viewer, Value::Null);
        }
    });
}
