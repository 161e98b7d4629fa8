//! Docs pages of a large reference, printed (never asserted): `cargo bench -p server --bench docs`.
//!
//! Writes a synthetic OpenAPI 3.1 document of about 3 MB with 300 operations in 15 tags and 150
//! schemas (long CommonMark descriptions, parameters, bodies, examples, `$ref`s), serves it as a
//! product of a release server on SQLite, and asks for every page of its docs (the overview,
//! each tag, the models, a search) several times. Prints, per kind of page, the median and
//! slowest time to the last byte on loopback (the server's time: nothing else is on the way) and
//! the largest page's size, against the goals (100 ms, 1 MB). Also the time to read the document
//! at start, and `/healthz` as the baseline of the same run.

use std::time::{Duration, Instant};

use app::config::{Config, DocsAccess, ProductConfig};
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TAGS: usize = 15;
const ROUNDS: usize = 5;

fn prose(seed: usize, sentences: usize) -> String {
    let words = ["pet", "owner", "adoption", "shelter", "record", "update", "field", "value", "request", "answer", "limit", "page"];
    let mut out = String::new();
    for s in 0..sentences {
        let sentence: Vec<&str> = (0..14).map(|w| words[(seed * 7 + s * 3 + w) % words.len()]).collect();
        out.push_str(&format!("The **{}** {} `{}`. ", sentence[0], sentence[1..].join(" "), sentence[2]));
        if s % 5 == 4 {
            out.push_str("\n\n- one point\n- another [link](https://example.com/docs)\n\n");
        }
    }
    out
}

/// Sizes: 300 operations and 150 schemas, or `MAST_DOCS_BENCH_SCALE` percent of them.
fn sizes() -> (usize, usize) {
    let percent: usize = std::env::var("MAST_DOCS_BENCH_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    ((300 * percent / 100).max(TAGS), (150 * percent / 100).max(2))
}

fn document() -> Value {
    let (op_count, schema_count) = sizes();
    let mut schemas = serde_json::Map::new();
    for i in 0..schema_count {
        let mut props = serde_json::Map::new();
        for p in 0..20 {
            let prop = match p % 5 {
                0 => json!({ "type": "string", "description": prose(i + p, 2), "example": format!("value-{p}") }),
                1 => json!({ "type": "integer", "minimum": 0, "maximum": 1000, "description": prose(i * p, 1) }),
                2 => json!({ "type": "string", "enum": ["new", "pending", "done", "failed"], "description": prose(p, 1) }),
                3 => json!({ "$ref": format!("#/components/schemas/Model{}", (i + 1) % schema_count) }),
                _ => json!({ "type": ["string", "null"], "format": "date-time", "readOnly": true }),
            };
            props.insert(format!("field_{p}"), prop);
        }
        schemas.insert(
            format!("Model{i}"),
            json!({ "type": "object", "description": prose(i, 6), "required": ["field_0", "field_1"], "properties": props }),
        );
    }
    let mut paths = serde_json::Map::new();
    for i in 0..op_count {
        let tag = format!("Area {}", i % TAGS);
        let model = format!("#/components/schemas/Model{}", i % schema_count);
        let op = json!({
            "operationId": format!("operation{i}"),
            "summary": format!("Operation number {i}"),
            "description": prose(i, 40),
            "tags": [tag],
            "deprecated": i % 50 == 0,
            "parameters": [
                { "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "description": prose(i, 2) },
                { "name": "limit", "in": "query", "schema": { "type": "integer", "default": 20, "maximum": 100 } },
                { "name": "cursor", "in": "query", "schema": { "type": "string" }, "example": "abc" },
                { "name": "X-Request-Id", "in": "header", "schema": { "type": "string", "format": "uuid" } },
            ],
            "requestBody": { "content": { "application/json": { "schema": { "$ref": model } } } },
            "responses": {
                "200": { "description": prose(i, 3), "headers": { "X-Rate-Limit": { "schema": { "type": "integer" } } },
                         "content": { "application/json": { "schema": { "$ref": model } } } },
                "400": { "description": "The request cannot be read.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Model0" } } } },
                "404": { "description": "There is nothing with this id." }
            }
        });
        paths.insert(format!("/v1/area{}/items{i}/{{id}}", i % TAGS), json!({ "post": op }));
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Large API", "version": "9.9.9", "description": prose(1, 20) },
        "paths": paths,
        "components": { "schemas": schemas }
    })
}

#[tokio::main]
async fn main() {
    let data = tempfile::tempdir().expect("temp dir");
    let text = serde_json::to_string_pretty(&document()).expect("json");
    let file = data.path().join("large.json");
    std::fs::write(&file, &text).expect("write");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = Config {
        public_url: format!("http://localhost:{}", addr.port()),
        bind: addr.to_string(),
        database_url: format!("sqlite://{}/mast.db", data.path().display()),
        data_dir: data.path().to_path_buf(),
        products: vec![ProductConfig {
            slug: "large".into(),
            name: "Large API".into(),
            upstream_url: "http://127.0.0.1:9".into(),
            openapi: file.clone(),
            plans: None,
            docs: DocsAccess::Public,
            guides: None,
            sunsets: Vec::new(),
        }],
        ..Config::default()
    };
    let started = Instant::now();
    let state = server::startup::build_state(config).await.expect("server starts");
    let start_time = started.elapsed();
    eprintln!("document read in {start_time:?}");
    let tags: Vec<String> = state.catalogue.products[0].reference.tags.iter().map(|t| t.slug.clone()).collect();
    let operations = state.catalogue.products[0].reference.operations.len();
    let schemas = state.catalogue.products[0].reference.schemas.len();
    let running = server::startup::Running::on(listener, state).expect("listener");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(running.serve(async move {
        let _ = stopped.await;
    }));
    let base = format!("http://127.0.0.1:{}", addr.port());
    let http = reqwest::Client::new();

    let mut pages: Vec<(&str, String)> = vec![("overview", "/docs/large".into()), ("models", "/docs/large/models".into())];
    pages.extend(tags.iter().map(|t| ("tag", format!("/docs/large/tags/{t}"))));
    pages.push(("search", "/docs/large?q=operation+number+1".into()));
    pages.push(("baseline /healthz", "/healthz".into()));

    // Per kind: every time taken, and the largest page.
    let mut times: std::collections::BTreeMap<&str, Vec<Duration>> = Default::default();
    let mut largest: std::collections::BTreeMap<&str, usize> = Default::default();
    for round in 0..=ROUNDS {
        for (kind, path) in &pages {
            let asked = Instant::now();
            let res = http.get(format!("{base}{path}")).send().await.expect("answer");
            assert!(res.status().is_success(), "{path}: {}", res.status());
            let body = res.bytes().await.expect("body");
            let took = asked.elapsed();
            eprintln!("{path}: {:?}, {} bytes", took, body.len());
            // The first round warms the connection and caches; it is not counted.
            if round > 0 {
                times.entry(kind).or_default().push(took);
            }
            let size = largest.entry(kind).or_default();
            *size = (*size).max(body.len());
        }
    }
    let _ = stop.send(());
    let _ = serving.await;

    println!(
        "Docs benchmark: a {:.1} MB OpenAPI document, {operations} operations in {} tags, {schemas} schema nodes; read at start in {:.0} ms",
        text.len() as f64 / 1e6,
        tags.len(),
        start_time.as_secs_f64() * 1e3
    );
    println!("{:<20} {:>8} {:>12} {:>12} {:>14}", "page", "pages", "median ms", "slowest ms", "largest KB");
    let mut slowest = Duration::ZERO;
    let mut heaviest = 0;
    for (kind, mut all) in times {
        all.sort();
        let median = all[all.len() / 2];
        let max = *all.last().unwrap_or(&Duration::ZERO);
        let count = pages.iter().filter(|(k, _)| *k == kind).count();
        println!(
            "{kind:<20} {count:>8} {:>12.1} {:>12.1} {:>14.0}",
            median.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            largest[kind] as f64 / 1024.0
        );
        if !kind.starts_with("baseline") {
            slowest = slowest.max(max);
            heaviest = heaviest.max(largest[kind]);
        }
    }
    println!(
        "slowest docs page: {:.1} ms (goal <= 100 ms); heaviest: {:.0} KB of HTML (goal <= 1024 KB)",
        slowest.as_secs_f64() * 1e3,
        heaviest as f64 / 1024.0
    );
}
