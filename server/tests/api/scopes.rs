//! Scoped keys: a key limited to some products, to reading, or to client networks is refused
//! with its own code, in the documented order (after the account, before the rate limit), on
//! the gateway and on the verify endpoint alike; its owner changes the scope later, with an
//! event and a notice, and the change holds at once.

use app::config::{Config, Plan};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::gateway::spawn_upstream;
use crate::keys::overview;
use crate::products::product;
use crate::support::{Backend, TestApp, error_message, rpc_with, run, unique_email, wait_for_log, wait_for_mail_saying};

const OPERATOR_TOKEN: &str = "operator-token-of-at-least-32-chars!";
const RATE: u32 = 3;

/// Two products (pets and orders) on real upstreams, behind a trusted proxy at 127.0.0.1 (so a
/// test says where a call comes from with `X-Forwarded-For`), with a small per-minute limit.
async fn portal(backend: Backend) -> Option<TestApp> {
    let pets = spawn_upstream().await;
    let orders = spawn_upstream().await;
    TestApp::spawn_with(backend, move |c: &mut Config| {
        c.products = vec![
            product("pets", "Pet Store", &format!("{pets}/v2"), "petstore.yaml"),
            product("orders", "Orders", &format!("{orders}/base"), "legacy.json"),
        ];
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.operator_token = Some(secrecy::SecretString::from(OPERATOR_TOKEN));
        c.plans = vec![Plan { name: "free".into(), requests_per_minute: RATE, requests_per_month: 1_000 }];
    })
    .await
}

/// A key of a new confirmed account, created with `scope` (form fields of `create_key`).
async fn scoped_key(app: &TestApp, tag: &str, scope: &[(&str, &str)]) -> (String, String, String) {
    let email = unique_email(tag);
    app.verified_account(&email).await;
    let mut form = vec![("label", "Scoped"), ("key_type", "live"), ("expires_in", "never")];
    form.extend_from_slice(scope);
    let res = rpc_with(&app.client, &app.base, "create_key", &form).await;
    assert_eq!(res.status(), StatusCode::OK, "create_key");
    let issued: Value = res.json().await.unwrap();
    (email, issued["key"].as_str().unwrap().to_string(), issued["info"]["id"].as_str().unwrap().to_string())
}

/// A call from `from` (the client address the trusted proxy reports).
async fn call(app: &TestApp, method: reqwest::Method, path: &str, key: &str, from: &str) -> (StatusCode, String) {
    let res = Client::new()
        .request(method, format!("http://127.0.0.1:{}{path}", app.addr.port()))
        .bearer_auth(key)
        .header("x-forwarded-for", from)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].as_str().unwrap_or("").to_string())
}

async fn verify(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let res = Client::new()
        .post(format!("http://127.0.0.1:{}/v1/keys/verify", app.addr.port()))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

const LIMITED: &[(&str, &str)] =
    &[("apis", "selected"), ("products[]", "pets"), ("access", "read"), ("networks", "203.0.113.0/24\n2001:db8::/48")];

fn scoped_keys_are_refused_in_the_documented_order(backend: Backend) {
    run(async move {
        let Some(app) = portal(backend).await else { return };
        let (_, key, id) = scoped_key(&app, "scoped", LIMITED).await;
        let inside = "203.0.113.9";
        use reqwest::Method;

        // Every call below breaks the rules after it too: each refusal names the first broken one.
        assert_eq!(
            call(&app, Method::POST, "/api/orders/v1/orders", &key, "198.51.100.1").await,
            (StatusCode::FORBIDDEN, "product_not_allowed".into())
        );
        assert_eq!(
            call(&app, Method::POST, "/api/pets/v1/pets", &key, "198.51.100.1").await,
            (StatusCode::FORBIDDEN, "read_only_key".into())
        );
        for write in [Method::PUT, Method::PATCH, Method::DELETE] {
            assert_eq!(call(&app, write.clone(), "/api/pets/v1/pets/1", &key, inside).await.1, "read_only_key", "{write}");
        }
        assert_eq!(
            call(&app, Method::GET, "/api/pets/v1/pets", &key, "198.51.100.1").await,
            (StatusCode::FORBIDDEN, "ip_not_allowed".into())
        );
        // A client cannot claim an address by prepending it: the right-most untrusted hop counts.
        assert_eq!(call(&app, Method::GET, "/api/pets/v1/pets", &key, &format!("{inside}, 198.51.100.1")).await.1, "ip_not_allowed");
        // Refusals by scope come before the rate limit: none of the seven above used it up.
        for from in [inside, "203.0.113.200", "2001:db8:0:1::5"] {
            assert_eq!(call(&app, Method::GET, "/api/pets/v1/pets", &key, from).await, (StatusCode::OK, String::new()), "{from}");
        }
        assert_eq!(call(&app, Method::HEAD, "/api/pets/v1/pets", &key, inside).await.0, StatusCode::TOO_MANY_REQUESTS);
        // A scope refusal is the key's: its owner finds it, with its reason, in the key's log.
        wait_for_log(&app.db, 11).await;
        let page: Value = rpc_with(&app.client, &app.base, "key_usage", &[("key_id", &id), ("filter[code]", "read_only_key")])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["requests"]["Ok"]["rows"].as_array().map(Vec::len), Some(4), "{page}");

        // The key list shows the scope.
        let listed = overview(&app, &app.client).await;
        let scope = &listed["keys"][0]["scope"];
        assert_eq!(scope["products"], json!([["pets", "Pet Store"]]));
        assert_eq!(scope["read_only"], true);
        assert_eq!(scope["networks"], json!(["203.0.113.0/24", "2001:db8::/48"]));
        assert!(listed["products"].as_array().is_some_and(|p| p.len() == 2), "the form offers both products");

        // The verify endpoint judges the same scope with what the operator's gateway says of the call.
        let (_, fresh, _) = scoped_key(&app, "verified", LIMITED).await;
        let (status, ok) = verify(&app, json!({ "key": fresh, "product": "pets", "method": "get", "ip": inside })).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ok["valid"], true, "{ok}");
        assert_eq!(ok["product"], "pets");
        assert_eq!(ok["scope"], json!({ "products": ["pets"], "access": "read", "networks": ["203.0.113.0/24", "2001:db8::/48"] }));
        for (asked, code) in [
            (json!({ "key": fresh, "product": "orders", "method": "GET", "ip": inside }), "product_not_allowed"),
            (json!({ "key": fresh, "method": "GET", "ip": inside }), "product_not_allowed"),
            (json!({ "key": fresh, "product": "pets", "method": "DELETE", "ip": inside }), "read_only_key"),
            (json!({ "key": fresh, "product": "pets", "ip": inside }), "read_only_key"),
            (json!({ "key": fresh, "product": "pets", "method": "G T", "ip": inside }), "read_only_key"),
            (json!({ "key": fresh, "product": "pets", "method": "GET", "ip": "192.0.2.1" }), "ip_not_allowed"),
            (json!({ "key": fresh, "product": "pets", "method": "GET" }), "ip_not_allowed"),
            (json!({ "key": fresh, "product": "nope", "method": "GET", "ip": inside }), "unknown_product"),
        ] {
            let (status, refused) = verify(&app, asked.clone()).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(refused["valid"], false, "{asked}");
            assert_eq!(refused["code"], code, "{asked}: {refused}");
        }
        for bad in [json!({ "key": fresh, "ip": "203.0.113.300" }), json!({ "key": fresh, "ip": "localhost" })] {
            let (status, refused) = verify(&app, bad.clone()).await;
            assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_body")), "{bad}");
        }
    });
}

#[test]
fn scoped_keys_are_refused_in_the_documented_order_sqlite() {
    scoped_keys_are_refused_in_the_documented_order(Backend::Sqlite);
}

#[test]
fn scoped_keys_are_refused_in_the_documented_order_postgres() {
    scoped_keys_are_refused_in_the_documented_order(Backend::Postgres);
}

fn a_scope_change_is_recorded_mailed_and_holds_at_once(backend: Backend) {
    run(async move {
        let Some(app) = portal(backend).await else { return };
        let (email, key, id) = scoped_key(&app, "rescoped", LIMITED).await;
        use reqwest::Method;
        // Cached by the gateway as read-only.
        assert_eq!(call(&app, Method::POST, "/api/pets/v1/pets", &key, "203.0.113.9").await.1, "read_only_key");

        // Bad input: a clear message on its field, and the scope stays as it was.
        for (form, field) in [
            (vec![("networks", "10.0.0.300")], "networks"),
            (vec![("apis", "selected")], "products"),
            (vec![("apis", "selected"), ("products[]", "nope")], "products"),
            (vec![("access", "admin")], "access"),
        ] {
            let mut form = form.clone();
            form.push(("key_id", &id));
            let (status, got, message) = error_message(rpc_with(&app.client, &app.base, "set_key_scope", &form).await).await;
            assert_eq!((status, got.as_deref()), (StatusCode::BAD_REQUEST, Some(field)), "{form:?}: {message}");
        }
        assert_eq!(overview(&app, &app.client).await["keys"][0]["scope"]["read_only"], true, "nothing changed");

        // Another account cannot see or change it: the same 404 as a key that does not exist.
        let other = app.new_browser();
        app.verified_account_in(&other, &unique_email("intruder")).await;
        for key_id in [id.as_str(), "0190b3a4-0000-7000-8000-000000000000", "not-a-uuid"] {
            let res = rpc_with(&other, &app.base, "set_key_scope", &[("key_id", key_id), ("access", "read_write")]).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{key_id}");
        }

        let res = rpc_with(&app.client, &app.base, "set_key_scope", &[("key_id", &id), ("apis", "all"), ("access", "read_write")]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let info: Value = res.json().await.unwrap();
        assert_eq!(info["scope"], json!({ "products": null, "read_only": false, "networks": [] }));
        // At once, although the gateway had the key cached: orders, writes and any address.
        assert_eq!(call(&app, Method::POST, "/api/orders/v1/orders", &key, "198.51.100.1").await.0, StatusCode::OK);

        let account = app.account_id(&email).await;
        assert!(app.event_kinds(account).await.contains(&app::events::kind::API_KEY_SCOPE_CHANGED.to_string()));
        let notice = wait_for_mail_saying(&email, "may do was changed to: All APIs").await;
        assert!(notice.text.contains("read and write") && !notice.text.contains(&key), "the notice names the new scope, never the key");

        // A revoked key's scope no longer changes.
        assert_eq!(rpc_with(&app.client, &app.base, "revoke_key", &[("key_id", &id)]).await.status(), StatusCode::OK);
        let (status, _, message) =
            error_message(rpc_with(&app.client, &app.base, "set_key_scope", &[("key_id", &id), ("access", "read")]).await).await;
        assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, app::api_keys::NOT_CHANGEABLE));
    });
}

#[test]
fn a_scope_change_is_recorded_mailed_and_holds_at_once_sqlite() {
    a_scope_change_is_recorded_mailed_and_holds_at_once(Backend::Sqlite);
}

#[test]
fn a_scope_change_is_recorded_mailed_and_holds_at_once_postgres() {
    a_scope_change_is_recorded_mailed_and_holds_at_once(Backend::Postgres);
}

#[test]
fn without_products_a_key_cannot_be_limited_to_some() {
    run(async {
        let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
        app.verified_account(&unique_email("single")).await;
        let form = [("label", "x"), ("key_type", "live"), ("expires_in", "never"), ("apis", "selected"), ("products[]", "pets")];
        let (status, field, _) = error_message(rpc_with(&app.client, &app.base, "create_key", &form).await).await;
        assert_eq!((status, field.as_deref()), (StatusCode::BAD_REQUEST, Some("apis")));
        assert_eq!(overview(&app, &app.client).await["keys"], json!([]), "no key was made");
    });
}
