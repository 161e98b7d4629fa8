//! The OpenAPI document (`GET /openapi.json`) against the running server, so the two cannot drift:
//! every operation it lists, called without a credential, with a wrong one and with a good one,
//! answers only statuses the document lists for it, with the headers it marks required and, for
//! refusals, one of the error codes it names for that status.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::keys::{account_with_key, create_key};
use crate::on_both_backends;
use crate::support::{Backend, TestApp};

const OPERATOR_TOKEN: &str = "operator-token-for-the-document-test";

/// Follows a local `$ref` (`#/components/...`) until the value is not one.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(target) = value.get("$ref").and_then(Value::as_str) {
        value = doc.pointer(target.trim_start_matches('#')).unwrap_or_else(|| panic!("{target} resolves"));
    }
    value
}

/// The error codes the document allows in a response's JSON body (`enum` or `const` of
/// `error.code`, through `allOf`), or `None` when the body is not an error.
fn documented_codes(doc: &Value, response: &Value) -> Option<Vec<String>> {
    let schema = resolve(doc, response.pointer("/content/application~1json/schema")?);
    let parts: Vec<&Value> = match schema.get("allOf").and_then(Value::as_array) {
        Some(all) => all.iter().map(|s| resolve(doc, s)).collect(),
        None => vec![schema],
    };
    parts.iter().find_map(|part| {
        let code = part.pointer("/properties/error/properties/code")?;
        match (code.get("enum"), code.get("const")) {
            (Some(Value::Array(values)), _) => Some(values.iter().filter_map(|v| v.as_str().map(String::from)).collect()),
            (_, Some(Value::String(one))) => Some(vec![one.clone()]),
            _ => None,
        }
    })
}

/// Checks one answer against the operation's documented responses; `Err` says what differs.
async fn conforms(doc: &Value, what: &str, operation: &Value, res: reqwest::Response) -> Result<(), String> {
    let status = res.status();
    let Some(response) = operation["responses"].get(status.as_str()) else {
        return Err(format!("{what}: {status} is not a documented status"));
    };
    let response = resolve(doc, response);
    let headers = res.headers().clone();
    for (name, header) in response["headers"].as_object().into_iter().flatten() {
        if resolve(doc, header)["required"] == true && !headers.contains_key(name.as_str()) {
            return Err(format!("{what}: {status} lacks the required header {name}"));
        }
    }
    let body = res.text().await.unwrap_or_default();
    if response.get("content").is_some() {
        let json: Value = serde_json::from_str(&body).map_err(|_| format!("{what}: {status} body is not JSON: {body:.200}"))?;
        if let Some(codes) = documented_codes(doc, response) {
            let code = json["error"]["code"].as_str().unwrap_or_default();
            if !codes.iter().any(|c| c == code) {
                return Err(format!("{what}: {status} with code {code:?}, documented {codes:?}"));
            }
        }
    }
    Ok(())
}

/// Calls every operation of the document on a server with an operator token (so verify is on).
async fn every_operation_answers_only_as_documented(backend: Backend) {
    let Some(app) =
        TestApp::spawn_with(backend, |c| c.operator_token = Some(secrecy::SecretString::from(OPERATOR_TOKEN.to_string()))).await
    else {
        return;
    };
    {
        let doc: Value = serde_json::from_str(server::openapi::DOCUMENT).expect("the document is JSON");
        let (_, key, _) = account_with_key(&app, "openapi").await;
        let (to_revoke, _) = create_key(&app, &app.client, "To revoke", "test", "never").await;
        let origin = format!("http://127.0.0.1:{}", app.addr.port());
        let http = reqwest::Client::new();

        let served = http.get(format!("{origin}/openapi.json")).send().await.expect("GET");
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(served.headers()["content-type"], "application/json");
        assert_eq!(served.json::<Value>().await.expect("JSON"), doc, "the served document is the one in the repository");

        let mut failures = Vec::new();
        let mut calls = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let url = format!("{origin}{}", path.replace("{path}", "v1/orders"));
            for (method, operation) in item.as_object().expect("path item") {
                let Ok(method) = Method::from_bytes(method.to_uppercase().as_bytes()) else { continue };
                if !operation.is_object() || operation.get("responses").is_none() {
                    continue;
                }
                let good = match path.as_str() {
                    "/v1/keys/verify" => OPERATOR_TOKEN,
                    "/v1/keys/revoke" => to_revoke.as_str(),
                    _ => key.as_str(),
                };
                // The good credential twice: a revoked key answers differently the second time.
                for credential in [None, Some("mast_live_wrong"), Some(good), Some(good)] {
                    let mut req = http.request(method.clone(), &url);
                    if let Some(credential) = credential {
                        req = req.bearer_auth(credential);
                    }
                    if method == Method::POST {
                        req = req.header("content-type", "application/json").body(serde_json::json!({ "key": key }).to_string());
                    }
                    let what = format!(
                        "{method} {path} with {}",
                        credential.map_or("no credential", |c| if c == good { "a good one" } else { "a wrong one" })
                    );
                    calls += 1;
                    if let Err(failure) = conforms(&doc, &what, operation, req.send().await.expect("answer")).await {
                        failures.push(failure);
                    }
                }
            }
        }
        assert!(calls >= 4 * 17, "every operation was called ({calls} calls)");
        assert!(failures.is_empty(), "the server and /openapi.json disagree:\n{}", failures.join("\n"));
    }
}

#[test]
fn every_documented_operation_answers_only_as_documented_sqlite() {
    crate::support::run(async {
        every_operation_answers_only_as_documented(Backend::Sqlite).await;
    });
}

#[test]
fn every_documented_operation_answers_only_as_documented_postgres() {
    crate::support::run(async {
        every_operation_answers_only_as_documented(Backend::Postgres).await;
    });
}

on_both_backends! {
    async fn the_document_describes_the_verify_endpoint_as_off_without_an_operator_token(app: TestApp) {
        let doc: Value = serde_json::from_str(server::openapi::DOCUMENT).expect("JSON");
        let operation = &doc["paths"]["/v1/keys/verify"]["post"];
        let res = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/v1/keys/verify", app.addr.port()))
            .bearer_auth("anything")
            .json(&serde_json::json!({ "key": "x" }))
            .send()
            .await
            .expect("answer");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        conforms(&doc, "verify without a token", operation, res).await.expect("documented");
    }
}
