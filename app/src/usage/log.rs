//! Reading the request log: filtered, newest first, in pages by keyset (never OFFSET, which
//! would walk every skipped row of a log with millions of them). Shared by the developer's key
//! page, the admin console and the CSV exports.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{RequestFilter, RequestPage, RequestRow};
use crate::db::{Db, Ts};
use crate::error::AppError;
use crate::on_db;

pub const PAGE_SIZE: i64 = 50;

/// What a page of the log is filtered by; `None` means any.
#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    pub account_id: Option<Uuid>,
    /// Requests with any of these keys (a key prefix can match several); empty: any key. With
    /// `account_id` set, only keys of that account.
    pub api_key_ids: Vec<Uuid>,
    pub route_prefix: Option<String>,
    pub method: Option<String>,
    pub status: Option<i32>,
    pub outcome: Option<String>,
    pub code: Option<String>,
    pub ip: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    /// Rows older than the row with this id (the cursor of the previous page).
    pub before: Option<i64>,
    pub limit: i64,
}

/// A row with what the admin console adds: the account's email and the masked key.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LogRow {
    pub request_log_id: i64,
    pub at: OffsetDateTime,
    pub method: String,
    pub route: String,
    pub status: i32,
    pub outcome: String,
    pub code: Option<String>,
    pub account_id: Option<Uuid>,
    pub email: Option<String>,
    pub api_key_id: Option<Uuid>,
    pub key_label: Option<String>,
    pub key_type: Option<String>,
    pub display_prefix: Option<String>,
    pub last4: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub latency_us: i64,
}

impl LogRow {
    /// `mast_live_AbCd…wxyz`, the most of a key anyone sees after its creation.
    pub fn masked_key(&self) -> Option<String> {
        Some(format!("{}…{}", self.display_prefix.as_deref()?, self.last4.as_deref()?))
    }

    pub fn to_request_row(&self) -> RequestRow {
        RequestRow {
            id: self.request_log_id,
            at: crate::accounts::format_time(self.at),
            method: self.method.clone(),
            route: self.route.clone(),
            status: self.status,
            outcome: self.outcome.clone(),
            code: self.code.clone(),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            latency_ms: self.latency_us as f64 / 1000.0,
        }
    }
}

enum Arg {
    Text(String),
    Int(i64),
    Id(Uuid),
    At(OffsetDateTime),
}

/// Trims a filter value; empty means "any".
pub fn given(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

/// The shared filters, checked: a value that cannot match anything is an error the user sees.
pub fn check_common(query: &mut LogQuery, filter: &RequestFilter) -> Result<(), AppError> {
    query.outcome = match given(&filter.outcome) {
        Some(o) if ["accepted", "refused", "failed"].contains(&o.as_str()) => Some(o),
        Some(_) => return Err(AppError::invalid("outcome", "Choose accepted, refused or failed.")),
        None => None,
    };
    query.code = match given(&filter.code) {
        Some(c) if super::REFUSAL_CODES.contains(&c.as_str()) => Some(c),
        Some(_) => return Err(AppError::invalid("code", "Choose a refusal code from the list.")),
        None => None,
    };
    query.method = match given(&filter.method).map(|m| m.to_ascii_uppercase()) {
        Some(m) if m.len() <= 16 && m.bytes().all(|b| b.is_ascii_alphabetic()) => Some(m),
        Some(_) => return Err(AppError::invalid("method", "A method is a word like GET or POST.")),
        None => None,
    };
    query.status = match given(&filter.status) {
        Some(s) => match s.parse::<i32>() {
            Ok(n) if (100..=599).contains(&n) => Some(n),
            _ => return Err(AppError::invalid("status", "A status is a number from 100 to 599.")),
        },
        None => None,
    };
    query.route_prefix = match given(&filter.route) {
        Some(r) if r.chars().count() > 512 || r.chars().any(char::is_control) => {
            return Err(AppError::invalid("route", "Enter the start of a path, like /api/v1/."));
        }
        other => other,
    };
    query.before = match given(&filter.before) {
        Some(b) => Some(b.parse::<i64>().map_err(|_| AppError::invalid("before", "This page link is not valid."))?),
        None => None,
    };
    Ok(())
}

impl LogQuery {
    /// A developer's view: only requests with their own key.
    pub fn from_developer_filter(account_id: Uuid, api_key_id: Uuid, filter: &RequestFilter) -> Result<LogQuery, AppError> {
        let mut query = LogQuery { account_id: Some(account_id), api_key_ids: vec![api_key_id], limit: PAGE_SIZE, ..LogQuery::default() };
        check_common(&mut query, filter)?;
        Ok(query)
    }

    fn sql(&self, cursor: Option<(OffsetDateTime, i64)>) -> (String, Vec<Arg>) {
        // The page is picked from request_log alone, newest first by an index that holds the
        // whole order (`at`, then `request_log_id`): a plan that walks that index and stops after
        // one page. Joining first let PostgreSQL, misled by statistics older than a busy key's
        // traffic, fetch and sort all of that key's rows (seconds for a million).
        let mut sql = String::from(
            "select r.request_log_id, r.at, r.method, r.route, r.status, r.outcome, r.code, r.account_id, r.api_key_id, \
             r.key_label, r.key_type, r.ip, r.user_agent, r.latency_us from request_log r where 1 = 1",
        );
        let mut args = Vec::new();
        // Appends a clause whose `?` is the new argument; returns the argument's number.
        let mut push = |sql: &mut String, clause: &str, arg: Arg| {
            args.push(arg);
            sql.push_str(&clause.replace('?', &format!("${}", args.len())));
            args.len()
        };
        // Keys are only ever given as keys of the account asked for (`from_developer_filter`,
        // the admin's filters), so the account is not asked again: with both, PostgreSQL
        // multiplies the two selectivities, expects a handful of rows, and combines both indexes
        // into a bitmap it must then sort whole, instead of walking the key's index for a page.
        if let (Some(account), true) = (self.account_id, self.api_key_ids.is_empty()) {
            push(&mut sql, " and r.account_id = ?", Arg::Id(account));
        }
        if !self.api_key_ids.is_empty() {
            sql.push_str(" and r.api_key_id in (");
            for (i, key) in self.api_key_ids.iter().enumerate() {
                push(&mut sql, if i == 0 { "?" } else { ", ?" }, Arg::Id(*key));
            }
            sql.push(')');
        }
        if let Some(route) = &self.route_prefix {
            push(&mut sql, " and substr(r.route, 1, cast(? as integer)) = ", Arg::Int(route.chars().count() as i64));
            push(&mut sql, "?", Arg::Text(route.clone()));
        }
        if let Some(method) = &self.method {
            push(&mut sql, " and r.method = ?", Arg::Text(method.clone()));
        }
        if let Some(status) = self.status {
            push(&mut sql, " and r.status = ?", Arg::Int(i64::from(status)));
        }
        if let Some(outcome) = &self.outcome {
            push(&mut sql, " and r.outcome = ?", Arg::Text(outcome.clone()));
        }
        if let Some(code) = &self.code {
            push(&mut sql, " and r.code = ?", Arg::Text(code.clone()));
        }
        if let Some(ip) = &self.ip {
            push(&mut sql, " and r.ip = ?", Arg::Text(ip.clone()));
        }
        if let Some(from) = self.from {
            push(&mut sql, " and r.at >= ?", Arg::At(from));
        }
        if let Some(to) = self.to {
            push(&mut sql, " and r.at < ?", Arg::At(to));
        }
        if let Some((at, id)) = cursor {
            let n = push(&mut sql, " and r.at <= ?", Arg::At(at));
            push(&mut sql, &format!(" and (r.at < ${n} or r.request_log_id < ?)"), Arg::Int(id));
        }
        push(&mut sql, " order by r.at desc, r.request_log_id desc limit ?", Arg::Int(self.limit + 1));
        let sql = format!(
            "select p.request_log_id, p.at, p.method, p.route, p.status, p.outcome, p.code, p.account_id, a.email, p.api_key_id, \
             p.key_label, p.key_type, k.display_prefix, k.last4, p.ip, p.user_agent, p.latency_us from ({sql}) p \
             left join api_key k on k.api_key_id = p.api_key_id left join account a on a.account_id = p.account_id \
             order by p.at desc, p.request_log_id desc"
        );
        (sql, args)
    }
}

/// Binds every argument of [`LogQuery::sql`] in order, on either backend's query type.
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                Arg::Text(text) => q.bind(text.clone()),
                Arg::Int(n) => q.bind(*n),
                Arg::Id(id) => q.bind(*id),
                Arg::At(at) => q.bind(Ts(*at)),
            };
        }
        q
    }};
}

/// How the database reads the first page of `query`: `EXPLAIN ANALYZE` lines on PostgreSQL
/// (with the rows each step actually read), `EXPLAIN QUERY PLAN` steps on SQLite. What the
/// tests hold the page queries to, and what to look at when a log page is slow.
pub async fn explain(db: &Db, query: &LogQuery) -> Result<Vec<String>, sqlx::Error> {
    let (sql, args) = query.sql(None);
    match db {
        Db::Postgres(pool) => {
            let sql = format!("explain analyze {sql}");
            bind_all!(sqlx::query_scalar::<_, String>(&sql), &args).fetch_all(pool).await
        }
        Db::Sqlite(pool) => {
            let sql = format!("explain query plan {sql}");
            let steps = bind_all!(sqlx::query_as::<_, (i64, i64, i64, String)>(&sql), &args).fetch_all(pool).await?;
            // Indented under their parent step, as the sqlite3 shell shows them.
            let mut depth = std::collections::HashMap::new();
            Ok(steps
                .into_iter()
                .map(|(id, parent, _, detail)| {
                    let d = depth.get(&parent).map_or(0, |d| d + 1);
                    depth.insert(id, d);
                    format!("{}{detail}", "  ".repeat(d))
                })
                .collect())
        }
    }
}

/// One page of rows, and whether there are older ones.
pub async fn rows(db: &Db, query: &LogQuery) -> Result<(Vec<LogRow>, Option<i64>), sqlx::Error> {
    let cursor = match query.before {
        Some(id) => {
            let at: Option<OffsetDateTime> = on_db!(db, pool => sqlx::query_scalar("select at from request_log where request_log_id = $1")
                .bind(id).fetch_optional(pool).await)?;
            match at {
                Some(at) => Some((at, id)),
                // The cursor's row is gone (retention): nothing older can be shown either.
                None => return Ok((Vec::new(), None)),
            }
        }
        None => None,
    };
    let (sql, args) = query.sql(cursor);
    let mut rows = on_db!(db, pool => bind_all!(sqlx::query_as::<_, LogRow>(&sql), &args).fetch_all(pool).await)?;
    let older = if rows.len() as i64 > query.limit {
        rows.truncate(query.limit as usize);
        rows.last().map(|r| r.request_log_id)
    } else {
        None
    };
    Ok((rows, older))
}

/// A page as the developer's key page shows it.
pub async fn page(db: &Db, query: &LogQuery) -> Result<RequestPage, sqlx::Error> {
    let (rows, older) = rows(db, query).await?;
    Ok(RequestPage { rows: rows.iter().map(LogRow::to_request_row).collect(), older })
}
