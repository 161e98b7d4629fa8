//! Downloads: a developer's own usage (CSV) and everything held about their account (JSON), and
//! the admin's filtered request log (CSV). Plain routes behind the same session and origin
//! checks as the pages; keys appear only as prefix…last4.

use std::collections::HashMap;

use app::admin::AdminLogFilter;
use app::error::AppError;
use app::state::AppState;
use app::usage::Range;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

/// Rows one admin export holds at most; the file says so when it was cut.
pub const ADMIN_EXPORT_MAX_ROWS: usize = 100_000;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/usage/export.csv", axum::routing::get(usage_csv))
        .route("/admin/logs/export.csv", axum::routing::get(admin_logs_csv))
        .route(app::privacy::EXPORT_PATH, axum::routing::get(account_json))
}

/// The account's contact messages (sent signed in, or from its address), each with our replies.
async fn contact_messages_with_replies(
    state: &AppState,
    account: &app::accounts::store::Account,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    use app::contact::store::{messages_of_account, replies_of_messages};
    let messages = messages_of_account(&state.db, account.account_id, account.confirmed_email()).await?;
    let ids: Vec<_> = messages.iter().map(|m| m.contact_message_id).collect();
    let replies = replies_of_messages(&state.db, &ids).await?;
    Ok(messages
        .into_iter()
        .map(|message| {
            let mut value = serde_json::to_value(&message).unwrap_or_default();
            let answers: Vec<_> = replies
                .iter()
                .filter(|r| r.contact_message_id == message.contact_message_id)
                .map(|r| serde_json::json!({ "body": r.body, "sent_at": utc(r.sent_at) }))
                .collect();
            value["replies"] = serde_json::Value::from(answers);
            value
        })
        .collect())
}

/// Request-log records read per query while the export streams.
const EXPORT_PAGE: i64 = 5_000;

/// The account export: every small section at once, then the request log streamed in pages,
/// so a developer with millions of records gets them all without the server holding them.
async fn account_json(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let account = match app::sessions::auth::account_of(&state, &session).await {
        Ok(Some(account)) => account,
        Ok(None) => return refuse(AppError::Unauthorized),
        Err(e) => return refuse(e),
    };
    // Recorded first, so the file also shows that it was made.
    let client = app::client::ClientInfo::from_parts(Some(peer), &headers, &state.config.trusted_proxies);
    app::events::store::record(
        &state.db,
        app::events::store::NewEvent::by_account(app::events::kind::DATA_EXPORTED, account.account_id, &client, serde_json::json!({})),
    )
    .await;
    let sections = match app::privacy::store::sections(&state.db, account.account_id).await {
        Ok(Some(sections)) => sections,
        Ok(None) => return refuse(AppError::Unauthorized),
        Err(err) => return refuse(err.into()),
    };
    let contact_messages = match contact_messages_with_replies(&state, &account).await {
        Ok(messages) => messages,
        Err(err) => return refuse(err.into()),
    };
    let head = serde_json::json!({
        "format": "mast-account-export/1",
        "site": state.config.site_name,
        "exported_at": utc(state.clock.now()),
        "about": "Everything this portal holds about your account. Secrets are not included: your password, API keys, \
                  email links and sessions are stored only as hashes, and passkeys only as public keys.",
        "profile": sections.profile,
        "consents": sections.consents,
        "passkeys": sections.passkeys,
        "api_keys": sections.api_keys,
        "sessions": sections.sessions,
        "email_tokens": sections.email_tokens,
        "events": sections.events,
        "contact_messages": contact_messages,
        "usage_days": sections.usage_days,
        "deprecated_calls": sections.deprecated_calls,
    });
    // The object without its closing brace, then the log as its last member.
    let mut head = head.to_string();
    head.pop();
    head.push_str(",\"request_log\":[");

    struct Cursor {
        head: Option<String>,
        after: Option<(time::OffsetDateTime, i64)>,
        first: bool,
        done: bool,
    }
    let (db, account_id) = (state.db.clone(), account.account_id);
    let start = Cursor { head: Some(head), after: None, first: true, done: false };
    let body = futures_util::stream::unfold(start, move |mut cursor| {
        let db = db.clone();
        async move {
            if let Some(head) = cursor.head.take() {
                return Some((Ok::<_, std::io::Error>(head), cursor));
            }
            if cursor.done {
                return None;
            }
            let rows = match app::privacy::store::request_log_page(&db, account_id, cursor.after, EXPORT_PAGE).await {
                Ok(rows) => rows,
                Err(err) => {
                    // The download breaks off visibly (invalid JSON) rather than ending as if complete.
                    tracing::error!(error = %err, "account export failed while reading the request log");
                    return Some((Err(std::io::Error::other("export failed")), Cursor { done: true, ..cursor }));
                }
            };
            let Some(last) = rows.last() else {
                cursor.done = true;
                return Some((Ok("]}".to_string()), cursor));
            };
            cursor.after = Some((last.at, last.request_log_id));
            let mut chunk = String::with_capacity(rows.len() * 256);
            for row in &rows {
                if !std::mem::take(&mut cursor.first) {
                    chunk.push(',');
                }
                chunk.push_str(&serde_json::to_string(row).unwrap_or_else(|_| "null".into()));
            }
            Some((Ok(chunk), cursor))
        }
    });
    let mut response = axum::body::Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"my-data.json\""));
    response
}

/// One CSV field, always quoted (a spreadsheet set to `;` as separator splits an unquoted field
/// at its commas, and then reads a part that starts with `=` as a formula), and a leading
/// `= + - @` (which spreadsheets run as a formula) neutralised, since user agents and paths come
/// from strangers.
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() };
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn csv_line(fields: &[&str]) -> String {
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

fn csv_response(filename: &str, body: String) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

fn refuse(error: AppError) -> Response {
    (error.status(), error.to_string()).into_response()
}

fn utc(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

async fn usage_csv(State(state): State<AppState>, session: Session, Query(query): Query<HashMap<String, String>>) -> Response {
    let account = match app::sessions::auth::account_of(&state, &session).await {
        Ok(Some(account)) => account,
        Ok(None) => return refuse(AppError::Unauthorized),
        Err(e) => return refuse(e),
    };
    let range = Range::parse(query.get("range").map_or("", String::as_str));
    let window = app::usage::report::window_of(range, account.account_id, None, app::db::now());
    let (rows, keys) =
        match tokio::try_join!(app::usage::store::rows(&state.db, &window), app::api_keys::store::list_keys(&state.db, account.account_id))
        {
            Ok(found) => found,
            Err(err) => return refuse(err.into()),
        };
    let keys: HashMap<_, _> = keys.into_iter().map(|k| (k.api_key_id, k)).collect();
    let mut body = csv_line(&["period_start_utc", "key_label", "key", "route", "outcome", "refusal_code", "requests", "mean_latency_ms"]);
    for row in rows {
        let (label, masked) = keys.get(&row.api_key_id).map(|k| (k.label.clone(), k.masked())).unwrap_or_default();
        let mean =
            if row.requests > 0 { format!("{:.3}", row.latency_us_total as f64 / row.requests as f64 / 1000.0) } else { String::new() };
        body.push_str(&csv_line(&[
            &utc(row.period),
            &label,
            &masked,
            &row.route,
            &row.outcome,
            &row.code,
            &row.requests.to_string(),
            &mean,
        ]));
    }
    csv_response(&format!("usage-{}.csv", range.as_str()), body)
}

async fn admin_logs_csv(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let admin = match app::sessions::auth::account_of(&state, &session).await {
        Ok(Some(account)) if account.role == "admin" => account,
        Ok(Some(_)) => return refuse(AppError::Forbidden),
        Ok(None) => return refuse(AppError::Unauthorized),
        Err(e) => return refuse(e),
    };
    // No cursor: an export holds the whole filtered view.
    let filter = AdminLogFilter::from_query(|name| if name == "before" { None } else { query.get(name).cloned() });
    let mut log_query = match app::admin::admin_log_query(&state.db, &filter, 1_000).await {
        Ok(q) => q,
        Err(e) => return refuse(e),
    };
    let mut body = csv_line(&[
        "time_utc",
        "account",
        "key",
        "key_label",
        "key_type",
        "method",
        "route",
        "status",
        "outcome",
        "refusal_code",
        "ip",
        "user_agent",
        "latency_ms",
    ]);
    let mut written = 0;
    loop {
        let (rows, older) = match app::usage::log::rows(&state.db, &log_query).await {
            Ok(page) => page,
            Err(err) => return refuse(err.into()),
        };
        for r in &rows {
            let masked = r.masked_key().unwrap_or_default();
            body.push_str(&csv_line(&[
                &utc(r.at),
                r.email.as_deref().unwrap_or(""),
                &masked,
                r.key_label.as_deref().unwrap_or(""),
                r.key_type.as_deref().unwrap_or(""),
                &r.method,
                &r.route,
                &r.status.to_string(),
                &r.outcome,
                r.code.as_deref().unwrap_or(""),
                r.ip.as_deref().unwrap_or(""),
                r.user_agent.as_deref().unwrap_or(""),
                &format!("{:.3}", r.latency_us as f64 / 1000.0),
            ]));
        }
        written += rows.len();
        match older {
            Some(cursor) if written < ADMIN_EXPORT_MAX_ROWS => log_query.before = Some(cursor),
            Some(_) => {
                body.push_str(&format!("# cut at {ADMIN_EXPORT_MAX_ROWS} rows: narrow the filters for the rest\r\n"));
                break;
            }
            None => break,
        }
    }
    let client = app::client::ClientInfo::from_parts(Some(peer), &headers, &state.config.trusted_proxies);
    app::events::store::record(
        &state.db,
        app::events::store::NewEvent {
            kind: app::events::kind::ADMIN_LOGS_EXPORTED,
            account_id: None,
            actor_account_id: Some(admin.account_id),
            client: Some(&client),
            detail: serde_json::json!({ "rows": written }),
        },
    )
    .await;
    csv_response("request-log.csv", body)
}
