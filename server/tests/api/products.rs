//! Products: each API under `/api/<slug>/…` with its own upstream, its docs rendered on the
//! server from its OpenAPI document, and the settings checks that guard both.

use std::path::{Path, PathBuf};

use app::config::{Config, DocsAccess, ProductConfig, SunsetConfig};
use reqwest::StatusCode;
use serde_json::Value;

use crate::gateway::spawn_upstream;
use crate::keys::account_with_key;
use crate::support::{Backend, TestApp, run};

fn apis() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apis")
}

pub fn product(slug: &str, name: &str, upstream: &str, openapi: &str) -> ProductConfig {
    ProductConfig {
        slug: slug.into(),
        name: name.into(),
        upstream_url: upstream.into(),
        openapi: apis().join(openapi),
        plans: None,
        docs: DocsAccess::Public,
        guides: None,
        sunsets: Vec::new(),
    }
}

async fn spawn_with_products(backend: Backend, products: Vec<ProductConfig>) -> Option<TestApp> {
    TestApp::spawn_with(backend, move |c: &mut Config| c.products = products).await
}

fn api(app: &TestApp, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", app.addr.port())
}

async fn error_code(res: reqwest::Response) -> (StatusCode, String) {
    let status = res.status();
    let body: Value = res.json().await.expect("JSON");
    (status, body["error"]["code"].as_str().unwrap_or("").to_string())
}

fn products_route_to_their_own_upstreams(backend: Backend) {
    run(async move {
        let pets_upstream = spawn_upstream().await;
        let orders_upstream = spawn_upstream().await;
        let mut orders = product("orders", "Orders", &format!("{orders_upstream}/base"), "legacy.json");
        orders.plans = Some(vec!["pro".into()]);
        let Some(app) =
            spawn_with_products(backend, vec![product("pets", "Pet Store", &format!("{pets_upstream}/v2"), "petstore.yaml"), orders]).await
        else {
            return;
        };
        let (_, key, _) = account_with_key(&app, "products").await;
        let http = reqwest::Client::new();

        let res = http.get(api(&app, "/api/pets/v1/pets?species=cat")).bearer_auth(&key).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let seen: Value = res.json().await.unwrap();
        assert_eq!(seen["uri"], "/v2/v1/pets?species=cat", "the product's slug is not passed on; its base is");
        assert!(seen["headers"].get("authorization").is_none(), "the key stays with Mast");

        // The account is on the free plan; orders is for pro only.
        assert_eq!(
            error_code(http.get(api(&app, "/api/orders/v1/orders/1")).bearer_auth(&key).send().await.unwrap()).await,
            (StatusCode::FORBIDDEN, "product_not_allowed".into())
        );
        for unknown in ["/api/nope/v1/x", "/api/v1/echo", "/api", "/api/"] {
            let res = http.get(api(&app, unknown)).bearer_auth(&key).send().await.unwrap();
            assert_eq!(error_code(res).await, (StatusCode::NOT_FOUND, "unknown_product".into()), "{unknown}");
        }
        // Routing comes after the path checks and before the key: no key, no product: 404.
        assert_eq!(error_code(http.get(api(&app, "/api/nope/x")).send().await.unwrap()).await.1, "unknown_product");
        assert_eq!(
            error_code(http.get(api(&app, "/api/pets/%252e%252e/orders/x")).bearer_auth(&key).send().await.unwrap()).await.1,
            "bad_path"
        );
        assert_eq!(error_code(http.get(api(&app, "/api/pets/v1/pets")).send().await.unwrap()).await.1, "missing_key");
    });
}

#[test]
fn products_route_to_their_own_upstreams_sqlite() {
    products_route_to_their_own_upstreams(Backend::Sqlite);
}

#[test]
fn products_route_to_their_own_upstreams_postgres() {
    products_route_to_their_own_upstreams(Backend::Postgres);
}

#[test]
fn an_upstream_url_beside_products_stops_the_start_with_how_to_move_it() {
    run(async {
        let data = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: data.path().to_path_buf(),
            database_url: format!("sqlite://{}/mast.db", data.path().display()),
            upstream_url: Some("http://127.0.0.1:9".into()),
            products: vec![product("pets", "Pets", "http://127.0.0.1:9", "petstore.yaml")],
            ..Config::default()
        };
        let err = server::startup::build_state(config).await.err().expect("refused").to_string();
        assert!(err.contains("upstream_url") && err.contains("Move the URL into its product"), "{err}");
    });
}

#[test]
fn docs_are_rendered_on_the_server_for_readers_and_sdk_generators() {
    run(async {
        let mut pets = product("pets", "Pet Store", "http://127.0.0.1:9", "petstore.yaml");
        pets.guides = Some(apis().join("pets-guides"));
        pets.sunsets = vec![SunsetConfig { path: "/v1/pets/{petId}".into(), method: "get".into(), date: "2027-06-30".into() }];
        let mut orders = product("orders", "Orders", "http://127.0.0.1:9", "legacy.json");
        orders.docs = DocsAccess::Developers;
        let app = spawn_with_products(Backend::Sqlite, vec![pets, orders]).await.unwrap();
        let visitor = app.new_browser();
        let page = |path: &'static str| {
            let visitor = visitor.clone();
            let url = app.url(path);
            async move {
                let res = visitor.get(url).send().await.unwrap();
                (res.status(), res.text().await.unwrap())
            }
        };

        let (status, index) = page("/docs").await;
        assert_eq!(status, StatusCode::OK);
        assert!(index.contains("Pet Store") && index.contains("Version 2.3.0") && index.contains("Pets, their owners and adoptions."));
        assert!(index.contains("Quick start"), "guides are listed");
        assert!(!index.contains(">Orders<"), "a developers-only API is not listed to visitors");
        assert!(!index.contains(".wasm") && !index.contains("hydrate()"), "docs pages load no WebAssembly");

        let (status, reference) = page("/docs/pets").await;
        assert_eq!(status, StatusCode::OK);
        for expected in [
            "id=\"listpets\"",
            "/api/pets/v1/pets/{petId}",
            "Stops working after 2027-06-30",
            "Deprecated",
            "Query parameters",
            "X-Request-Id",
            "Recursive: ",
            "Chosen by the field",
            "Webhooks",
            "$MAST_API_KEY",
            "requests.request(",
            "reqwest::Client::new()",
            "JSON.stringify(",
            "&lt;script&gt;alert",
            "/docs.js",
        ] {
            assert!(reference.contains(expected), "the reference shows {expected}");
        }
        assert!(!reference.contains("<script>alert") && !reference.contains("javascript:alert"), "no raw HTML from the document");

        let (_, found) = page("/docs/pets?q=adopt").await;
        let results = found.split("class=\"search-results\"").nth(1).unwrap_or("");
        assert!(results.contains("Adopt a pet") && results.contains("Receiving webhooks"), "search finds operations and guides");
        assert!(!results.contains("#getpet") && !results.contains("#listpets"), "and only what matches: {results}");
        let (_, nothing) = page("/docs/pets?q=zebra").await;
        assert!(nothing.contains("Nothing matches"));
        let (status, guide) = page("/docs/pets/quick-start").await;
        assert_eq!(status, StatusCode::OK);
        assert!(guide.contains("<h1>Quick start</h1>"));
        let (status, models) = page("/docs/pets/models").await;
        assert_eq!(status, StatusCode::OK);
        assert!(models.contains("id=\"schema-Pet\"") && models.contains("id=\"schema-Adoption\""));
        assert_eq!(page("/docs/pets/nothing-here").await.0, StatusCode::NOT_FOUND);
        assert_eq!(page("/docs/unknown").await.0, StatusCode::NOT_FOUND);

        let json = visitor.get(app.url("/docs/pets/openapi.json")).send().await.unwrap();
        assert_eq!(json.headers()["content-type"], "application/json");
        let doc: Value = json.json().await.unwrap();
        assert_eq!(doc["info"]["title"], "Pet Store");
        let yaml = visitor.get(app.url("/docs/pets/openapi.yaml")).send().await.unwrap().text().await.unwrap();
        assert_eq!(yaml, std::fs::read_to_string(apis().join("petstore.yaml")).unwrap(), "the document as given");

        // Developers only: visitors are sent to sign in, and come back.
        for path in ["/docs/orders", "/docs/orders/openapi.json"] {
            let res = visitor.get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
            assert_eq!(res.headers()["location"], "/signin?next=/docs/orders");
        }
        app.verified_account(&crate::support::unique_email("docs")).await;
        let signed_in = app.client.get(app.url("/docs/orders")).send().await.unwrap();
        assert_eq!(signed_in.status(), StatusCode::OK);
        let text = signed_in.text().await.unwrap();
        assert!(text.contains("Get an order"), "signed in, the developers-only reference opens");
    });
}

/// A document whose models each name the next four times (and one that is an array of itself)
/// draws pages that grow with the document, not with 4 × 4 × 4 …: nested models past a body's
/// budget are links to the models page.
#[test]
fn nested_models_are_drawn_within_a_budget_and_never_endlessly() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let mut schemas = serde_json::Map::new();
        for i in 0..12 {
            let next = serde_json::json!({ "$ref": format!("#/components/schemas/Level{}", (i + 1) % 12) });
            let props: serde_json::Map<String, Value> = (0..8)
                .map(|p| {
                    (
                        format!("field_{p}"),
                        if p % 2 == 0 { next.clone() } else { serde_json::json!({ "type": "string", "description": "A field." }) },
                    )
                })
                .collect();
            schemas.insert(format!("Level{i}"), serde_json::json!({ "type": "object", "properties": props }));
        }
        schemas.insert("Forest".into(), serde_json::json!({ "type": "array", "items": { "$ref": "#/components/schemas/Forest" } }));
        let body = |name: &str| serde_json::json!({ "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } } });
        let doc = serde_json::json!({
            "openapi": "3.1.0",
            "info": { "title": "Deep", "version": "1" },
            "paths": {
                "/levels": { "post": { "operationId": "putLevel", "requestBody": body("Level0"), "responses": { "200": { "description": "OK", "content": body("Level3")["content"] } } } },
                "/forest": { "get": { "operationId": "getForest", "responses": { "200": { "description": "OK", "content": body("Forest")["content"] } } } }
            },
            "components": { "schemas": schemas }
        });
        std::fs::write(dir.path().join("deep.json"), doc.to_string()).unwrap();
        let deep = product("deep", "Deep", "http://127.0.0.1:9", dir.path().join("deep.json").to_str().unwrap());
        let app = spawn_with_products(Backend::Sqlite, vec![deep]).await.unwrap();
        for path in ["/docs/deep", "/docs/deep/models"] {
            let res = app.new_browser().get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let page = res.text().await.unwrap();
            // 4^4 copies of an 8-field model would be over 2,000 field rows per body.
            let rows = page.matches("class=\"prop\"").count();
            assert!(rows < 250, "{path} draws {rows} field rows");
            assert!(
                page.contains("See ") && page.contains("href=\"/docs/deep/models#schema-Level"),
                "{path} links the models it does not draw"
            );
            assert!(page.contains("Forest"), "{path} shows the array of itself");
        }
    });
}

/// `server check-config`, as an operator runs it.
#[test]
fn check_config_names_the_file_line_and_reason_of_the_first_problem() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["petstore.yaml", "common.yaml"] {
        std::fs::copy(apis().join(file), dir.path().join(file)).unwrap();
    }
    let check = |toml: &str| {
        std::fs::write(dir.path().join("mast.toml"), toml).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["check-config", "--config"])
            .arg(dir.path().join("mast.toml"))
            .env_remove("MAST_UPSTREAM_URL")
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
    };
    let good =
        "[[products]]\nslug = \"pets\"\nname = \"Pet Store\"\nupstream_url = \"http://127.0.0.1:9000/v1\"\nopenapi = \"petstore.yaml\"\n";
    let (code, out) = check(good);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("pets (Pet Store): OpenAPI 3.1.0, version 2.3.0, 5 operations, 1 webhooks"), "{out}");

    let (code, out) = check(&good.replace("upstream_url", "upstream_ur"));
    assert_eq!(code, Some(2));
    assert!(out.contains("mast.toml:4: unknown setting `upstream_ur` in [[products]] #1; did you mean `upstream_url`?"), "{out}");

    let (code, out) = check(&good.replace("slug = \"pets\"", "slug = \"Pets!\""));
    assert_eq!(code, Some(2));
    assert!(out.contains("mast.toml:2: slug \"Pets!\" must be 1 to 32"), "{out}");

    std::fs::write(dir.path().join("common.yaml"), "components:\n  schemas:\n    Species: {type: string}\n").unwrap();
    let (code, out) = check(good);
    assert_eq!(code, Some(2));
    assert!(out.contains("petstore.yaml:") && out.contains("`$ref: common.yaml#/components/schemas/Error` points at nothing"), "{out}");
}
