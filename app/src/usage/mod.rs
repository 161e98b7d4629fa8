//! Usage as the developer sees it: charts read from the rollups (never the raw log for long
//! ranges), a page per key with its own request log, and a CSV export.

mod chart;
#[cfg(feature = "ssr")]
pub mod log;
mod pages;
#[cfg(feature = "ssr")]
pub mod report;
#[cfg(feature = "ssr")]
pub mod store;

pub use chart::UsageChart;
pub use pages::*;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api_keys::{KeyInfo, PlanInfo};
use crate::error::AppError;

/// The chart ranges offered, with their buckets: 24 h in quarter hours, 7 days in hours,
/// 30 and 90 days in days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Range {
    Day,
    Week,
    Month,
    Quarter,
}

impl Range {
    pub const ALL: [Range; 4] = [Range::Day, Range::Week, Range::Month, Range::Quarter];

    /// An unknown value falls back to 24 h: a range is a view choice, not data.
    pub fn parse(value: &str) -> Range {
        match value {
            "7d" => Range::Week,
            "30d" => Range::Month,
            "90d" => Range::Quarter,
            _ => Range::Day,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
            Range::Quarter => "90d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Range::Day => "24 hours",
            Range::Week => "7 days",
            Range::Month => "30 days",
            Range::Quarter => "90 days",
        }
    }

    pub fn bucket_seconds(self) -> i64 {
        match self {
            Range::Day => 15 * 60,
            Range::Week => 3600,
            Range::Month | Range::Quarter => 86_400,
        }
    }

    pub fn buckets(self) -> usize {
        match self {
            Range::Day => 96,
            Range::Week => 168,
            Range::Month => 30,
            Range::Quarter => 90,
        }
    }
}

/// Requests in one bar of the chart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Unix seconds, UTC.
    pub start: i64,
    /// When the bucket starts, for its tooltip (`Nov 25, 10:15 UTC`).
    pub label: String,
    /// The axis label under this bar, on every few bars.
    pub tick: Option<String>,
    pub accepted: i64,
    pub refused: i64,
    /// Accepted, but the upstream did not answer.
    pub failed: i64,
    /// Mean latency of the bucket's requests, in milliseconds.
    pub mean_latency_ms: Option<f64>,
}

impl Bucket {
    pub fn total(&self) -> i64 {
        self.accepted + self.refused + self.failed
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Count {
    pub name: String,
    pub requests: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyUsage {
    pub id: String,
    pub label: String,
    pub masked: String,
    pub accepted: i64,
    pub refused: i64,
}

/// Everything the charts show for one range, for the account or one of its keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    pub range: Range,
    pub bucket_seconds: i64,
    pub buckets: Vec<Bucket>,
    pub accepted: i64,
    pub refused: i64,
    pub failed: i64,
    pub mean_latency_ms: Option<f64>,
    pub by_key: Vec<KeyUsage>,
    pub top_routes: Vec<Count>,
    pub refusals: Vec<Count>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardUsage {
    pub report: UsageReport,
    pub plan: PlanInfo,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyUsagePage {
    pub key: KeyInfo,
    /// The products the key's scope can name.
    pub products: Vec<crate::api_keys::ProductChoice>,
    pub report: UsageReport,
    /// The key's requests, or why the filters cannot be used (the rest of the page still shows).
    pub requests: Result<RequestPage, AppError>,
}

/// One request as its key's owner sees it (never the key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRow {
    pub id: i64,
    pub at: String,
    pub method: String,
    pub route: String,
    pub status: i32,
    pub outcome: String,
    pub code: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub latency_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestPage {
    pub rows: Vec<RequestRow>,
    /// The cursor of the next (older) page, if there is one.
    pub older: Option<i64>,
}

/// Filters of the per-key request log, as they come from the page's query string.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestFilter {
    pub outcome: Option<String>,
    pub code: Option<String>,
    pub method: Option<String>,
    pub route: Option<String>,
    pub status: Option<String>,
    pub before: Option<String>,
}

impl RequestFilter {
    /// The filters from a page's query string (`get` reads one parameter).
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> RequestFilter {
        RequestFilter {
            outcome: get("outcome"),
            code: get("code"),
            method: get("method"),
            route: get("route"),
            status: get("status"),
            before: get("before"),
        }
    }
}

/// Refusal codes in the order the gateway checks them; the filters offer these.
pub const REFUSAL_CODES: &[&str] = &[
    "key_in_url",
    "missing_key",
    "malformed_key",
    "bad_checksum",
    "unknown_key",
    "revoked_key",
    "expired_key",
    "account_suspended",
    "account_unverified",
    "consent_required",
    "product_not_allowed",
    "read_only_key",
    "ip_not_allowed",
    "rate_limited",
    "quota_exceeded",
    "unavailable",
    "upstream_unavailable",
    "upstream_timeout",
];

#[server(prefix = "/rpc", endpoint = "dashboard_usage")]
pub async fn get_dashboard_usage(#[server(default)] range: String) -> Result<DashboardUsage, AppError> {
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    crate::sessions::auth::no_store();
    let now = crate::db::now();
    let report = report::build(&state.db, account.account_id, None, Range::parse(&range), now).await?;
    let plan = crate::api_keys::issue::plan_info(&state, &account, now).await?;
    Ok(DashboardUsage { report, plan })
}

/// One of the signed-in developer's keys: its chart and its requests. Another account's key is
/// "not found", exactly like a key that does not exist.
#[server(prefix = "/rpc", endpoint = "key_usage")]
pub async fn get_key_usage(
    key_id: String,
    #[server(default)] range: String,
    #[server(default)] filter: RequestFilter,
) -> Result<KeyUsagePage, AppError> {
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    crate::sessions::auth::no_store();
    let key_id = uuid::Uuid::parse_str(&key_id).map_err(|_| AppError::NotFound)?;
    let now = crate::db::now();
    let row = crate::api_keys::store::find_key_of_account(&state.db, account.account_id, key_id).await?.ok_or(AppError::NotFound)?;
    let key = crate::api_keys::issue::key_info(&state, &row, now).await?;
    let report = report::build(&state.db, account.account_id, Some(key_id), Range::parse(&range), now).await?;
    let requests = match log::LogQuery::from_developer_filter(account.account_id, key_id, &filter) {
        Ok(query) => Ok(log::page(&state.db, &query).await?),
        Err(invalid) => Err(invalid),
    };
    Ok(KeyUsagePage { key, products: crate::api_keys::product_choices(&state), report, requests })
}
