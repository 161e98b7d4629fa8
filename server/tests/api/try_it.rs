//! The docs' try-it console: calls sent by the server with the session's console key, through
//! the gateway like any call (logged, counted, refused), with and without JavaScript, and the
//! key ending with the session.

use reqwest::StatusCode;
use serde_json::Value;

use crate::gateway::spawn_upstream;
use crate::keys::overview;
use crate::products::product;
use crate::support::{Backend, TestApp, rpc_with, run, unique_email, wait_for_log};

async fn try_json(app: &TestApp, client: &reqwest::Client, operation: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let res =
        client.post(app.url(&format!("/docs/pets/try/{operation}"))).header("accept", "application/json").form(form).send().await.unwrap();
    (res.status(), res.json().await.unwrap())
}

fn console_key(keys: &Value) -> Value {
    keys["keys"].as_array().unwrap().iter().find(|k| k["console"] == true).cloned().expect("a console key is listed")
}

fn the_console_calls_through_the_gateway_with_a_key_that_ends_with_the_session(backend: Backend) {
    run(async move {
        let upstream = spawn_upstream().await;
        let pets = product("pets", "Pet Store", &format!("{upstream}/v2"), "petstore.yaml");
        let Some(app) = TestApp::spawn_with(backend, move |c| c.products = vec![pets]).await else { return };

        // Signed out: sent to sign in, and back to the operation; nothing is called.
        let visitor = app.new_browser();
        let res = visitor.post(app.url("/docs/pets/try/getpet")).form(&[("path.petId", "7")]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert!(res.headers()["location"].to_str().unwrap().starts_with("/signin?next="));
        let page = visitor.get(app.url("/docs/pets")).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("to send this request with your account") && !page.contains("action=\"/docs/pets/try/"));

        let email = unique_email("tryit");
        app.verified_account(&email).await;
        let page = app.get("/docs/pets").await.text().await.unwrap();
        assert!(page.contains("action=\"/docs/pets/try/getpet\""), "signed in, each operation has a console");
        assert!(page.contains("name=\"query.species\"") && page.contains("value=\"cat\""), "fields prefilled from examples");

        // With JavaScript: the answer as JSON, the call made by the server through the gateway.
        let (status, answer) = try_json(&app, &app.client, "getpet", &[("path.petId", "7")]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["status"], 200, "{answer}");
        assert_eq!(answer["request"], "GET /api/pets/v1/pets/7");
        assert!(answer["body"].as_str().unwrap().contains("\"uri\": \"/v2/v1/pets/7\""), "pretty JSON of the upstream's answer");
        assert!(answer["headers"].as_array().unwrap().iter().any(|h| h[0] == "ratelimit-limit"), "the gateway's own headers");
        assert!(!answer.to_string().contains("mast_test_"), "no key reaches the browser: {answer}");

        let keys = overview(&app, &app.client).await;
        let console = console_key(&keys);
        assert_eq!(console["label"], "Try-it console");
        assert_eq!(console["key_type"], "test");
        assert!(console["expires_at"].is_string(), "it expires");
        let id = uuid::Uuid::parse_str(console["id"].as_str().unwrap()).unwrap();
        wait_for_log(&app.db, 1).await;
        assert_eq!(app.count("request_log", "status = 200 and api_key_id", id).await, 1, "logged as the key's call");

        // Without JavaScript: back to the operation, which shows the answer once.
        let res = app.client.post(app.url("/docs/pets/try/getpet")).form(&[("path.petId", "8")]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()["location"], "/docs/pets#getpet-try");
        let shown = app.get("/docs/pets").await.text().await.unwrap();
        assert!(shown.contains("200 OK") && shown.contains("GET /api/pets/v1/pets/8"), "the answer is on the page");
        assert!(shown.contains("value=\"8\""), "the form keeps what was sent");
        assert!(!app.get("/docs/pets").await.text().await.unwrap().contains("GET /api/pets/v1/pets/8"), "and only once");
        assert_eq!(
            overview(&app, &app.client).await["keys"].as_array().unwrap().iter().filter(|k| k["console"] == true).count(),
            1,
            "one key per session"
        );

        // A form that cannot make a call says why and calls nothing.
        let (_, answer) = try_json(&app, &app.client, "getpet", &[("path.petId", " ")]).await;
        assert!(answer["problem"].as_str().unwrap().contains("petId"), "{answer}");
        let (_, answer) = try_json(&app, &app.client, "createpet", &[("body", "{not json")]).await;
        assert!(answer["problem"].as_str().unwrap().starts_with("The body is not valid JSON"), "{answer}");
        let (status, _) = try_json(&app, &app.client, "nosuchoperation", &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        wait_for_log(&app.db, 2).await;
        assert_eq!(app.count("request_log", "api_key_id", id).await, 2, "forms that made no call logged nothing");

        // The console's key is only revoked, never rolled (which would show it).
        let res = rpc_with(&app.client, &app.base, "roll_key", &[("key_id", &id.to_string()), ("grace", "now")]).await;
        assert_ne!(res.status(), StatusCode::OK);
        assert!(res.text().await.unwrap().contains("try-it console's key"));

        // The session ends: its key is revoked within seconds, on its own.
        assert_eq!(app.rpc("sign_out", &[]).await.status(), StatusCode::OK);
        let mut ended = 0;
        for _ in 0..100 {
            ended = app.count("api_key", "revoked_reason = 'session_ended' and api_key_id", id).await;
            if ended == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert_eq!(ended, 1, "the console key ends with its session");
    });
}

#[test]
fn the_console_calls_through_the_gateway_with_a_key_that_ends_with_the_session_sqlite() {
    the_console_calls_through_the_gateway_with_a_key_that_ends_with_the_session(Backend::Sqlite);
}

#[test]
fn the_console_calls_through_the_gateway_with_a_key_that_ends_with_the_session_postgres() {
    the_console_calls_through_the_gateway_with_a_key_that_ends_with_the_session(Backend::Postgres);
}
