//! Hostile input everywhere: every server function, every page, the protected API and the key
//! endpoints get over-long, malformed, wrongly encoded and injection-laden input, as an anonymous
//! visitor, as a signed-in developer and as a signed-in admin. Nothing may answer 5xx, and a
//! refused request changes no data (every table is compared before and after).

use std::collections::{BTreeMap, BTreeSet};

use app::db::Db;
use futures::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::keys::create_key;
use crate::support::{Backend, TestApp, unique_email};

/// Every server function and the form fields it reads. The sweep first checks this list against
/// the server-function registry, so a new function fails the test until it is listed here.
pub const FUNCTIONS: &[(&str, &[&str])] = &[
    ("account_overview", &[]),
    ("account_page", &[]),
    ("accept_documents", &["next", "accept"]),
    ("add_passkey_finish", &["credential"]),
    ("add_passkey_start", &[]),
    ("admin_account", &["account_id"]),
    ("admin_accounts", &["search", "sort", "page"]),
    ("admin_contact_close", &["message_id"]),
    ("admin_contact_message", &["message_id"]),
    ("admin_contact_messages", &["show", "page"]),
    ("admin_contact_open_count", &[]),
    ("admin_contact_reopen", &["message_id"]),
    ("admin_contact_reply", &["message_id", "body"]),
    ("admin_end_sessions", &["account_id"]),
    ("admin_events", &["filter[kind]", "filter[account]", "filter[ip]", "filter[from]", "filter[to]", "filter[before]"]),
    (
        "admin_logs",
        &[
            "filter[common][outcome]",
            "filter[common][code]",
            "filter[common][method]",
            "filter[common][route]",
            "filter[common][status]",
            "filter[common][before]",
            "filter[account]",
            "filter[key]",
            "filter[ip]",
            "filter[from]",
            "filter[to]",
        ],
    ),
    ("admin_resend_verification", &["account_id"]),
    ("admin_set_plan", &["account_id", "plan"]),
    ("admin_set_status", &["account_id", "action"]),
    ("change_password", &["current_password", "new_password", "sign_out_others"]),
    ("confirm_email", &["token"]),
    ("confirm_email_change", &["token"]),
    ("contact_form", &[]),
    ("contact_send", &["name", "email", "subject", "message", "website", "form_token"]),
    ("create_key", &["label", "key_type", "expires_in", "apis", "products[]", "access", "networks"]),
    ("dashboard_usage", &["range"]),
    ("delete_account", &["confirm_email"]),
    ("email_me_a_key", &[]),
    ("end_other_sessions", &[]),
    ("end_session", &["id"]),
    (
        "key_usage",
        &["key_id", "range", "filter[outcome]", "filter[code]", "filter[method]", "filter[route]", "filter[status]", "filter[before]"],
    ),
    ("keys_overview", &[]),
    ("legal_document", &["slug"]),
    ("list_sessions", &[]),
    ("passkey_sign_in_finish", &["credential"]),
    ("passkey_sign_in_start", &[]),
    ("passkey_sign_up_finish", &["credential"]),
    ("passkey_sign_up_start", &["email", "display_name", "organisation", "country", "accept_terms"]),
    ("passkeys_available", &[]),
    ("pending_documents", &[]),
    ("reauthenticate_with_passkey_finish", &["credential"]),
    ("reauthenticate_with_passkey_start", &[]),
    ("reauthenticate_with_password", &["password"]),
    ("remove_passkey", &["passkey_id"]),
    ("rename_passkey", &["passkey_id", "name"]),
    ("request_email_change", &["new_email"]),
    ("request_password_reset", &["email"]),
    ("resend_verification", &[]),
    ("reset_password", &["token", "new_password"]),
    ("revoke_key", &["key_id"]),
    ("roll_key", &["key_id", "grace"]),
    ("security_overview", &[]),
    ("set_key_scope", &["key_id", "apis", "products[]", "access", "networks"]),
    ("set_password", &["new_password"]),
    ("sign_in", &["email", "password"]),
    ("sign_out", &[]),
    ("sign_up", &["email", "display_name", "password", "organisation", "country", "accept_terms"]),
    ("update_profile", &["display_name", "organisation", "country"]),
    ("viewer", &[]),
    ("docs_published", &[]),
    ("your_deprecated_calls", &[]),
    ("admin_deprecations", &[]),
    ("your_apis", &[]),
];

/// Query parameters the pages and exports read (and two of Leptos's own for no-JS form errors).
const QUERY_NAMES: &[&str] = &[
    "token",
    "next",
    "page",
    "sort",
    "search",
    "show",
    "range",
    "account",
    "key",
    "route",
    "method",
    "status",
    "outcome",
    "code",
    "ip",
    "from",
    "to",
    "before",
    "kind",
    "id",
    "user_agent",
    "__err",
    "__path",
];

/// Tables a refused request legitimately changes, compared differently or not at all:
/// - `event`: refusals are security events and are recorded (ASVS 16.3.1–16.3.3);
/// - `throttle`: failed sign-ins and mail requests are counted per address and per IP (ASVS 6.3.1);
/// - `request_log`, `usage_minute`, `usage_hour`, `usage_day`: the protected API logs every request,
///   refused ones too;
/// - `session`: rows come and go without anyone signing in (a passkey ceremony's state, last
///   seen, expiry, id rotation), so only which accounts are signed in is compared.
const CHANGED_BY_REFUSALS: &[&str] = &["event", "throttle", "request_log", "usage_minute", "usage_hour", "usage_day", "session"];

/// Every table's rows as sorted text, except [`CHANGED_BY_REFUSALS`].
type Snapshot = BTreeMap<String, Vec<String>>;

async fn texts(db: &Db, sql: &str, bind: Option<&str>) -> Vec<String> {
    match db {
        Db::Sqlite(p) => {
            let q = sqlx::query_scalar(sql);
            let q = match bind {
                Some(b) => q.bind(b.to_string()),
                None => q,
            };
            q.fetch_all(p).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
        }
        Db::Postgres(p) => {
            let q = sqlx::query_scalar(sql);
            let q = match bind {
                Some(b) => q.bind(b.to_string()),
                None => q,
            };
            q.fetch_all(p).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
        }
    }
}

async fn snapshot(db: &Db) -> Snapshot {
    let sqlite = matches!(db, Db::Sqlite(_));
    let tables = if sqlite {
        texts(db, "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'", None).await
    } else {
        texts(
            db,
            "select table_name::text from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'",
            None,
        )
        .await
    };
    let mut out = Snapshot::new();
    for table in tables {
        if CHANGED_BY_REFUSALS.contains(&table.as_str()) {
            continue;
        }
        let columns = if sqlite {
            texts(db, "select name from pragma_table_info($1)", Some(&table)).await
        } else {
            texts(
                db,
                "select column_name::text from information_schema.columns where table_schema = current_schema() and table_name = $1 \
                 order by ordinal_position",
                Some(&table),
            )
            .await
        };
        let row = if sqlite {
            columns.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join(" || ' | ' || ")
        } else {
            format!(
                "concat_ws(' | ', {})",
                columns.iter().map(|c| format!("coalesce(\"{c}\"::text, 'NULL')")).collect::<Vec<_>>().join(", ")
            )
        };
        let mut rows = texts(db, &format!("select {row} from \"{table}\""), None).await;
        rows.sort();
        out.insert(table, rows);
    }
    let signed_in = if sqlite {
        "select quote(account_id) from session where account_id is not null"
    } else {
        "select account_id::text from session where account_id is not null"
    };
    let mut accounts = texts(db, signed_in, None).await;
    accounts.sort();
    out.insert("session (signed-in accounts)".into(), accounts);
    out
}

/// What changed between two snapshots, table by table (empty when nothing did).
fn changes(before: &Snapshot, after: &Snapshot) -> BTreeMap<String, String> {
    let cut = |s: &String| s.chars().take(240).collect::<String>();
    let mut out = BTreeMap::new();
    for (table, rows) in after {
        let old = before.get(table).cloned().unwrap_or_default();
        if &old != rows {
            let gone: Vec<String> = old.iter().filter(|r| !rows.contains(r)).take(3).map(cut).collect();
            let new: Vec<String> = rows.iter().filter(|r| !old.contains(r)).take(3).map(cut).collect();
            out.insert(table.clone(), format!("{} → {} rows; gone {gone:?}; new {new:?}", old.len(), rows.len()));
        }
    }
    out
}

/// Values that break naive code: injections, traversal, control and invisible characters,
/// over-long text, look-alike ids and numbers.
fn hostile_values() -> Vec<(&'static str, String)> {
    vec![
        ("SQL", "' OR 1=1--".into()),
        ("SQL statement", "1; drop table account; --".into()),
        ("HTML", "<script>alert(1)</script><img src=x onerror=alert(1)>".into()),
        ("traversal", "../../../../etc/passwd".into()),
        ("NUL", "a\u{0}b".into()),
        ("CRLF", "x\r\nSet-Cookie: mast_session=stolen\r\n\r\n<h1>".into()),
        ("bidi and zero-width", "\u{202E}fdp.exe\u{200B}\u{200D}\u{FEFF}\u{2066}".into()),
        ("100 KB", "x".repeat(100_000)),
        ("long email", format!("{}@{}.example", "a".repeat(5_000), "b".repeat(5_000))),
        ("20k accents", "é".repeat(20_000)),
        ("nil uuid", "00000000-0000-0000-0000-000000000000".into()),
        ("huge number", "-99999999999999999999".into()),
        ("template", "{{7*7}}${jndi:ldap://127.0.0.1/x}%s%n".into()),
        ("JSON", "{\"$ne\": null}".into()),
        ("empty", String::new()),
        ("spaces", "   ".into()),
        ("percent literal", "%00%ZZ%".into()),
    ]
}

/// The first `n` characters (for messages and bounded URLs).
fn cut(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
}

/// Percent-encodes every byte outside the unreserved set (`/` too, unlike a path).
pub fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

struct Probe {
    label: String,
    content_type: Option<&'static str>,
    /// A no-JavaScript form post: Leptos answers an error with a redirect to the Referer.
    no_js: bool,
    body: Vec<u8>,
}

const FORM: &str = "application/x-www-form-urlencoded";

impl Probe {
    fn form(label: impl Into<String>, body: impl Into<Vec<u8>>) -> Probe {
        Probe { label: label.into(), content_type: Some(FORM), no_js: false, body: body.into() }
    }
}

/// The requests sent to one server function.
fn probes(function: &str, fields: &[&str]) -> Vec<Probe> {
    let each = |f: &dyn Fn(&str) -> String| fields.iter().map(|n| f(n)).collect::<Vec<_>>().join("&");
    let every_field = |value: &str| each(&|n| format!("{}={}", enc(n), enc(value)));
    let mut out: Vec<Probe> =
        hostile_values().into_iter().map(|(name, value)| Probe::form(format!("every field {name}"), every_field(&value))).collect();
    out.push(Probe { no_js: true, ..Probe::form("no-JS post", every_field("' OR 1=1--")) });
    out.push(Probe::form("empty body", ""));
    if let Some(first) = fields.first() {
        out.push(Probe::form("only the first field", format!("{}=x", enc(first))));
    }
    out.push(Probe::form("every field twice", each(&|n| format!("{0}=a&{0}=b", enc(n)))));
    out.push(Probe::form("fields as arrays and maps", each(&|n| format!("{0}[]=a&{0}[x][y]=b", n))));
    out.push(Probe::form("bad percent escapes", each(&|n| format!("{n}=%ZZ%&%=%"))));
    out.push(Probe::form("raw invalid UTF-8", fields.iter().flat_map(|n| [n.as_bytes(), b"=\xff\xfe\xc3&"].concat()).collect::<Vec<u8>>()));
    out.push(Probe::form("escaped invalid UTF-8", each(&|n| format!("{n}=%FF%FE%C0%AF"))));
    out.push(Probe::form("no fields, only noise", "&&&===&a&=b&%26"));
    let json = serde_json::Value::Object(fields.iter().map(|n| (n.to_string(), Value::String("x".into()))).collect()).to_string();
    out.push(Probe { content_type: Some("application/json"), ..Probe::form("JSON", json.clone()) });
    out.push(Probe::form("JSON as a form", json));
    out.push(Probe {
        content_type: Some("multipart/form-data; boundary=x"),
        ..Probe::form("multipart", "--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.example\r\n--x--\r\n")
    });
    out.push(Probe { content_type: Some("text/plain"), ..Probe::form("binary as text", b"\x00\x01\x02\xff".to_vec()) });
    out.push(Probe { content_type: None, ..Probe::form("no content type", every_field("x")) });
    let utf16: Vec<u8> = every_field("é").encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    out.push(Probe { content_type: Some("application/x-www-form-urlencoded; charset=utf-16"), ..Probe::form("UTF-16", utf16) });
    // Larger than the 2 MB any server function reads, on a few forms (they all share the limit).
    if ["sign_up", "sign_in", "contact_send", "update_profile"].contains(&function) {
        out.push(Probe::form("3 MB body", every_field(&"y".repeat(3_000_000 / fields.len().max(1)))));
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Anonymous,
    Developer,
    Admin,
}

struct Visitor {
    role: Role,
    client: Client,
    /// The signed-in account's email.
    email: Option<String>,
}

/// Sends `probe` to `/rpc/{function}`; `Err` describes a 5xx.
async fn send_probe(app: &TestApp, who: &Visitor, function: &str, probe: &Probe) -> Result<(), String> {
    let mut req = who.client.post(app.url(&format!("/rpc/{function}"))).timeout(ANSWER_WITHIN).body(probe.body.clone());
    if let Some(ct) = probe.content_type {
        req = req.header("content-type", ct);
    }
    if probe.no_js {
        req = req.header("accept", "text/html").header("referer", app.url("/signin?next=%3Cscript%3E"));
    }
    let res = req
        .send()
        .await
        .map_err(|e| format!("{:?} /rpc/{function} {}: no answer ({})", who.role, probe.label, cut(&e.to_string(), 200)))?;
    let status = res.status();
    if status.is_server_error() {
        let text = res.text().await.unwrap_or_default();
        return Err(format!("{:?} /rpc/{function} {}: {status} {}", who.role, probe.label, cut(&text, 200)));
    }
    Ok(())
}

/// Every server function, every probe; data compared around each function's batch.
async fn sweep_functions(app: &TestApp, who: &Visitor, failures: &mut Vec<String>) {
    // Signing out is what sign_out does, whatever the body: last, so the sweep stays signed in.
    let mut order: Vec<&(&str, &[&str])> = FUNCTIONS.iter().filter(|(f, _)| *f != "sign_out").collect();
    order.extend(FUNCTIONS.iter().filter(|(f, _)| *f == "sign_out"));
    for (function, fields) in order {
        let before = snapshot(&app.db).await;
        let probes = probes(function, fields);
        let results: Vec<Result<(), String>> =
            futures::stream::iter(probes.iter()).map(|p| send_probe(app, who, function, p)).buffer_unordered(4).collect().await;
        failures.extend(results.into_iter().filter_map(Result::err));
        let mut changed = changes(&before, &snapshot(&app.db).await);
        match *function {
            "sign_out" => {
                changed.remove("session (signed-in accounts)");
            }
            // Free text is stored as given, or refused: never cut, rewritten or run.
            "update_profile" if changed.contains_key("account") => {
                changed.remove("account");
                let email = who.email.as_deref().unwrap_or_default();
                let rows = texts(
                    &app.db,
                    "select display_name || '|' || coalesce(organisation, '') || '|' || coalesce(country, '') from account \
                     where email_normalized = $1",
                    Some(email),
                )
                .await;
                // The hostile values, and the plain ones some probes send (`x`, duplicated `a` and `b`).
                let mut sent: BTreeSet<String> = hostile_values().into_iter().map(|(_, v)| v.trim().to_string()).collect();
                sent.extend(["x", "a", "b"].map(String::from));
                let stored = rows.first().cloned().unwrap_or_default();
                if !stored
                    .split('|')
                    .all(|part| part.is_empty() || part == "Ada Lovelace" || part == "Analytical Engines" || sent.contains(part))
                {
                    failures.push(format!("{:?} update_profile stored something it was not sent: {stored:?}", who.role));
                }
            }
            _ => {}
        }
        if !changed.is_empty() {
            failures.push(format!("{:?} /rpc/{function} changed data: {changed:#?}", who.role));
        }
    }
}

/// The app's page routes as the server registers them.
fn page_routes() -> Vec<String> {
    server::startup::page_routes().iter().map(|r| r.path().to_string()).collect()
}

/// No request may hang: a missing answer is a failure with a name, not a stuck test.
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Every page and export, with hostile path parameters and every query parameter the pages read.
async fn sweep_pages(app: &TestApp, who: &Visitor, routes: &[String], failures: &mut Vec<String>) {
    let mut paths: Vec<String> = routes.to_vec();
    paths.extend(["/usage/export.csv", "/admin/logs/export.csv", app::privacy::EXPORT_PATH].map(String::from));
    paths.sort();
    paths.dedup();
    let before = snapshot(&app.db).await;
    let mut urls = Vec::new();
    for path in &paths {
        // Bounded: a URL holds at most 64 KiB, however many parameters the path has.
        let params = path.split('/').filter(|s| s.starts_with(':') || s.starts_with('{')).count().max(1);
        for (_, value) in hostile_values() {
            let concrete: String = path
                .split('/')
                .map(|segment| {
                    if segment.starts_with(':') || segment.starts_with('{') {
                        enc(&cut(&value, 2_000 / params))
                    } else {
                        segment.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            // Bounded: a URL holds at most 64 KiB.
            let query: Vec<String> = QUERY_NAMES.iter().map(|n| format!("{n}={}", enc(&cut(&value, 300)))).collect();
            urls.push(format!("{concrete}?{}", query.join("&")));
        }
        // Broken escapes and encodings in the query and (for parameterised routes) the path.
        let broken = path.split('/').map(|s| if s.starts_with(':') || s.starts_with('{') { "%ZZ%C0%AF%FF" } else { s }).collect::<Vec<_>>();
        urls.push(format!("{}?token=%ZZ&next=%&page=%FF%FE&range=%C0%AF&&==&__err=%7B", broken.join("/")));
    }
    let results: Vec<Result<(), String>> = futures::stream::iter(urls.iter())
        .map(|url| async move {
            let res = who
                .client
                .get(app.url(url))
                .timeout(ANSWER_WITHIN)
                .header("accept", "text/html")
                .send()
                .await
                .map_err(|e| format!("{:?} GET {}: no answer ({})", who.role, cut(url, 120), cut(&e.to_string(), 200)))?;
            if res.status().is_server_error() {
                return Err(format!("{:?} GET {}: {}", who.role, cut(url, 200), res.status()));
            }
            Ok(())
        })
        .buffer_unordered(4)
        .collect()
        .await;
    failures.extend(results.into_iter().filter_map(Result::err));
    let changed = changes(&before, &snapshot(&app.db).await);
    if !changed.is_empty() {
        failures.push(format!("{:?} page views changed data: {changed:#?}", who.role));
    }
}

const OPERATOR_TOKEN: &str = "operator-token-for-the-hostile-sweep";

/// The protected API, key verification and revocation with hostile keys, paths and bodies: every
/// answer below 500, every refusal the documented JSON error, nothing revoked.
async fn sweep_api(app: &TestApp, failures: &mut Vec<String>) {
    // A fresh connection per request: the API refuses without reading a request's body, so the
    // server may close that connection after answering, and a POST sent on it just then would
    // fail in the client (keep-alive's race, which clients retry only for idempotent methods).
    let http = Client::builder().pool_max_idle_per_host(0).build().expect("client");
    let origin = format!("http://127.0.0.1:{}", app.addr.port());
    let before = snapshot(&app.db).await;

    let mut keys: Vec<Vec<u8>> = hostile_values().into_iter().map(|(_, v)| v.into_bytes()).collect();
    keys.extend([
        b"mast_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_vec(),
        b"mast_live_' OR 1=1--AAAAAAAAAAAAAAAAAAAAAAAAA".to_vec(),
        b"mast_test_\xff\xfe\xfd".to_vec(),
        format!("mast_live_{}", "A".repeat(10_000)).into_bytes(),
        b"\xc3\x28\xa0\xa1".to_vec(),
    ]);
    let mut requests: Vec<reqwest::RequestBuilder> = Vec::new();
    for key in &keys {
        // Only what HTTP can carry: a header value cannot hold CR, LF or NUL.
        let Ok(value) = reqwest::header::HeaderValue::from_bytes(key) else { continue };
        let bearer = reqwest::header::HeaderValue::from_bytes(&[b"Bearer ".as_slice(), key].concat()).expect("same bytes");
        for path in ["/api/v1/echo", "/api/v1/orders/%2e%2e/%2e%2e", "/api/%00%ZZ", "/api"] {
            requests.push(http.get(format!("{origin}{path}")).header("authorization", bearer.clone()));
            requests.push(http.post(format!("{origin}{path}")).header("x-api-key", value.clone()).body(key.clone()));
        }
        requests.push(http.post(format!("{origin}/v1/keys/revoke")).header("authorization", bearer.clone()));
        requests.push(http.post(format!("{origin}/v1/keys/revoke")).header("x-api-key", value.clone()));
        requests.push(http.post(format!("{origin}/v1/keys/verify")).header("authorization", bearer.clone()).body("{\"key\": \"x\"}"));
        let verify = serde_json::json!({ "key": String::from_utf8_lossy(key), "method": String::from_utf8_lossy(key), "route": String::from_utf8_lossy(key) });
        requests.push(http.post(format!("{origin}/v1/keys/verify")).bearer_auth(OPERATOR_TOKEN).json(&verify));
    }
    let encoded_key = enc("mast_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    for (_, value) in hostile_values() {
        let short = enc(&cut(&value, 2_000));
        requests.push(http.get(format!("{origin}/api/{short}?q={short}&api_key={short}")));
        requests.push(http.post(format!("{origin}/v1/keys/revoke?key={short}")));
        requests.push(http.post(format!("{origin}/v1/keys/revoke?x={encoded_key}")).bearer_auth("mast_live_x"));
    }
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"key\"".to_vec(),
        b"{\"key\": 5}".to_vec(),
        b"{\"key\": null, \"method\": [], \"route\": {}}".to_vec(),
        b"{\"key\": \"a\", \"key\": \"b\"}".to_vec(),
        b"{\"key\": \"\xff\xfe\"}".to_vec(),
        b"{\"key\": \"\\ud800\"}".to_vec(),
        b"{\"key\": \"mast_live_x\", \"method\": \"GET\r\nX: y\", \"route\": \"/v1/../../etc/passwd?api_key=1\"}".to_vec(),
        "[".repeat(100_000).into_bytes(),
        format!("{{\"key\": \"{}\"}}", "k".repeat(100_000)).into_bytes(),
        vec![b'{'; 3_000_000],
    ];
    for body in bodies {
        for content_type in ["application/json", "text/plain", "application/x-www-form-urlencoded"] {
            requests.push(
                http.post(format!("{origin}/v1/keys/verify"))
                    .bearer_auth(OPERATOR_TOKEN)
                    .header("content-type", content_type)
                    .body(body.clone()),
            );
        }
    }
    let results: Vec<Result<(), String>> = futures::stream::iter(requests)
        .map(|req| async move {
            let (client, req) = req.timeout(ANSWER_WITHIN).build_split();
            let req = req.map_err(|e| format!("request: {e}"))?;
            let what = format!("{} {}", req.method(), cut(req.url().as_str(), 160));
            let res = client.execute(req).await.map_err(|e| format!("{what}: no answer ({})", cut(&e.to_string(), 200)))?;
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            if status.is_server_error() {
                return Err(format!("{what}: {status} {}", cut(&text, 200)));
            }
            if status != StatusCode::OK {
                let body: Value = serde_json::from_str(&text).map_err(|_| format!("{what}: {status} without a JSON body: {text:.200}"))?;
                if !body["error"]["code"].is_string() || !body["error"]["message"].is_string() {
                    return Err(format!("{what}: {status} without the documented error body: {text:.200}"));
                }
            }
            Ok(())
        })
        .buffer_unordered(4)
        .collect()
        .await;
    failures.extend(results.into_iter().filter_map(Result::err));
    let changed = changes(&before, &snapshot(&app.db).await);
    if !changed.is_empty() {
        failures.push(format!("the protected API changed data: {changed:#?}"));
    }
}

/// Someone signed in on their own browser: a verified developer with a key, or an admin.
async fn signed_in(app: &TestApp, role: Role) -> Visitor {
    let email = unique_email(if role == Role::Admin { "hostile-admin" } else { "hostile-dev" });
    let client = app.new_browser();
    app.verified_account_in(&client, &email).await;
    create_key(app, &client, "Hostile sweep", "live", "never").await;
    if role == Role::Admin {
        app::accounts::store::set_role(&app.db, &email.to_lowercase(), "admin", app::db::now()).await.expect("grant admin");
    }
    Visitor { role, client, email: Some(email.to_lowercase()) }
}

async fn sweep(backend: Backend) {
    let Some(app) =
        TestApp::spawn_with(backend, |c| c.operator_token = Some(secrecy::SecretString::from(OPERATOR_TOKEN.to_string()))).await
    else {
        return;
    };
    let started = std::time::Instant::now();
    let routes = page_routes();
    // Everyone signs in before the anonymous sweep's failed sign-ins throttle this IP.
    let developer = signed_in(&app, Role::Developer).await;
    let admin = signed_in(&app, Role::Admin).await;
    let anonymous = Visitor { role: Role::Anonymous, client: app.new_browser(), email: None };
    let mut failures = Vec::new();
    sweep_api(&app, &mut failures).await;
    for who in [&anonymous, &developer, &admin] {
        sweep_pages(&app, who, &routes, &mut failures).await;
        sweep_functions(&app, who, &mut failures).await;
    }
    eprintln!("hostile sweep on {backend:?}: {:.1} s", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_server_function_is_in_the_hostile_sweep() {
    let registered: BTreeSet<String> =
        leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path.trim_start_matches("/rpc/").to_string()).collect();
    let listed: BTreeSet<String> = FUNCTIONS.iter().map(|(name, _)| name.to_string()).collect();
    assert!(registered.len() > 50, "the registry lists the server functions: {registered:?}");
    assert_eq!(registered, listed, "list every server function and its fields in FUNCTIONS");
}

#[test]
fn hostile_input_never_gets_a_5xx_nor_changes_data_sqlite() {
    crate::support::run(async {
        sweep(Backend::Sqlite).await;
    });
}

#[test]
fn hostile_input_never_gets_a_5xx_nor_changes_data_postgres() {
    crate::support::run(async {
        sweep(Backend::Postgres).await;
    });
}
