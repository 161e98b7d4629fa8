//! Deprecations told to those they concern: calls of a deprecated operation carry
//! `Deprecation`, `Sunset` and a `Link` to the docs; the developer whose keys made them sees
//! them on the dashboard and gets one email per operation, however many calls and instances;
//! admins see who still calls each.

use std::time::Duration;

use app::config::{Config, SunsetConfig};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

use crate::gateway::{SHARED_SECRET, spawn_upstream};
use crate::keys::account_with_key;
use crate::products::product;
use crate::support::{Backend, PASSWORD, TestApp, mails_to, rpc_with, run, unique_email, wait_for_mail_saying};

fn settings(upstream: String, database_url: Option<String>) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        let mut pets = product("pets", "Pet Store", &format!("{upstream}/v2"), "petstore.yaml");
        pets.sunsets = vec![SunsetConfig { path: "/v1/pets/{petId}".into(), method: "get".into(), date: "2027-06-30".into() }];
        c.products = vec![pets];
        c.api_key_secret = Some(secrecy::SecretString::from(SHARED_SECRET));
        if let Some(url) = database_url {
            c.database_url = url;
        }
    }
}

async fn call(app: &TestApp, method: Method, path: &str, key: &str) -> reqwest::Response {
    Client::new().request(method, format!("http://127.0.0.1:{}{path}", app.addr.port())).bearer_auth(key).send().await.unwrap()
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get(name).map(|v| v.to_str().unwrap().to_string())
}

fn deprecated_operations_are_announced_and_their_callers_told_once(backend: Backend) {
    run(async move {
        let upstream = spawn_upstream().await;
        let Some(first) = TestApp::spawn_with(backend, settings(upstream.clone(), None)).await else { return };
        // A second instance on the same database: the same headers, and still one mail.
        let second = TestApp::spawn_with(backend, settings(upstream, Some(first.config.database_url.clone()))).await.unwrap();
        let (email, key, _) = account_with_key(&first, "deprecated").await;

        let res = call(&first, Method::GET, "/api/pets/v1/pets/7", &key).await;
        assert_eq!(res.status(), StatusCode::OK);
        let since = header(&res, "deprecation").expect("Deprecation header");
        assert!(since.starts_with('@') && since[1..].parse::<i64>().is_ok(), "an RFC 9745 date: {since}");
        assert_eq!(header(&res, "sunset").as_deref(), Some("Thu, 01 Jul 2027 00:00:00 GMT"), "the midnight after the last day");
        let link = header(&res, "link").unwrap();
        assert!(link.contains("/docs/pets#") && link.ends_with("; rel=\"deprecation\"; type=\"text/html\""), "{link}");
        let on_second = call(&second, Method::GET, "/api/pets/v1/pets/8", &key).await;
        assert_eq!(header(&on_second, "deprecation"), Some(since.clone()), "the date is the installation's, not the instance's");

        let deleted = call(&first, Method::DELETE, "/api/pets/v1/pets/7", &key).await;
        assert!(header(&deleted, "deprecation").is_some(), "deprecated in the document");
        assert!(header(&deleted, "sunset").is_none(), "no sunset date was set for it");
        for path in ["/api/pets/v1/pets", "/api/pets/v1/pets/7/toys"] {
            assert!(header(&call(&first, Method::GET, path, &key).await, "deprecation").is_none(), "{path} is not deprecated");
        }
        // Refused calls are not the key owner's calls of the operation.
        assert_eq!(call(&first, Method::GET, "/api/pets/v1/pets/7", "mast_live_nope").await.status(), StatusCode::UNAUTHORIZED);

        // More calls, on both instances: still one mail per operation.
        for app in [&first, &second, &first] {
            assert_eq!(call(app, Method::GET, "/api/pets/v1/pets/9", &key).await.status(), StatusCode::OK);
        }
        let mail = wait_for_mail_saying(&email, "GET /v1/pets/{petId} of Pet Store").await;
        assert!(mail.text.contains("stops working after 2027-06-30") && mail.text.contains("/docs/pets#"), "{}", mail.text);
        wait_for_mail_saying(&email, "DELETE /v1/pets/{petId} of Pet Store").await;
        for app in [&first, &second] {
            assert_eq!(call(app, Method::GET, "/api/pets/v1/pets/10", &key).await.status(), StatusCode::OK);
        }
        tokio::time::sleep(Duration::from_secs(2 * app::deprecations::NOTICE_INTERVAL_SECONDS + 1)).await;
        let notices: Vec<_> = mails_to(&email).await.into_iter().filter(|m| m.subject.contains("deprecated operation")).collect();
        assert_eq!(notices.len(), 2, "one per operation: {:?}", notices.iter().map(|m| &m.text).collect::<Vec<_>>());

        // The dashboard lists both, with the calls counted on either instance.
        let res = rpc_with(&first.client, &first.base, "your_deprecated_calls", &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let listed: Value = res.json().await.unwrap();
        let get = listed.as_array().unwrap().iter().find(|c| c["method"] == "GET").expect("GET listed");
        assert_eq!(
            (get["path"].as_str(), get["product"].as_str(), get["sunset"].as_str()),
            (Some("/v1/pets/{petId}"), Some("Pet Store"), Some("2027-06-30"))
        );
        assert_eq!(get["calls"], 7, "{listed}");
        assert!(listed.as_array().unwrap().iter().any(|c| c["method"] == "DELETE" && c["sunset"].is_null()));

        // Another developer called nothing deprecated, and sees nothing.
        let other = first.new_browser();
        first.verified_account_in(&other, &unique_email("bystander")).await;
        let theirs: Value = rpc_with(&other, &first.base, "your_deprecated_calls", &[]).await.json().await.unwrap();
        assert_eq!(theirs, Value::Array(vec![]));
        assert_eq!(rpc_with(&other, &first.base, "admin_deprecations", &[]).await.status(), StatusCode::FORBIDDEN, "admins only");

        // The admin sees who still calls each operation.
        let admin = first.new_browser();
        let admin_email = unique_email("deprecations-admin");
        first.verified_account_in(&admin, &admin_email).await;
        assert!(app::accounts::store::set_role(&first.db, &admin_email, "admin", app::db::now()).await.unwrap());
        assert_eq!(
            rpc_with(&admin, &first.base, "sign_in", &[("email", &admin_email), ("password", PASSWORD)]).await.status(),
            StatusCode::OK
        );
        let groups: Value = rpc_with(&admin, &first.base, "admin_deprecations", &[]).await.json().await.unwrap();
        let get = groups.as_array().unwrap().iter().find(|g| g["operation"]["method"] == "GET").expect("GET group");
        assert_eq!(get["accounts"][0][1], email.as_str());
        assert_eq!(get["accounts"][0][2], 7);
    });
}

#[test]
fn deprecated_operations_are_announced_and_their_callers_told_once_sqlite() {
    deprecated_operations_are_announced_and_their_callers_told_once(Backend::Sqlite);
}

#[test]
fn deprecated_operations_are_announced_and_their_callers_told_once_postgres() {
    deprecated_operations_are_announced_and_their_callers_told_once(Backend::Postgres);
}
