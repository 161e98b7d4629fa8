//! Reading the rollups `usage_minute`, `usage_hour` and `usage_day`. Their keys start with the
//! account and the period, so one account's rows of one window lie together and every query
//! here is one range scan. The database sums them: a report receives a few hundred rows, not
//! one per key, route, outcome and code of every period.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Db, Ts};
use crate::on_db;

/// Which rollup a range reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rollup {
    Minute,
    Hour,
    Day,
}

impl Rollup {
    fn table_and_column(self) -> (&'static str, &'static str) {
        match self {
            Rollup::Minute => ("usage_minute", "minute"),
            Rollup::Hour => ("usage_hour", "hour"),
            Rollup::Day => ("usage_day", "day"),
        }
    }
}

/// The rows of one account (and optionally one of its keys) in `[from, to)`.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub rollup: Rollup,
    pub account_id: Uuid,
    pub api_key_id: Option<Uuid>,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
}

impl Window {
    /// `select {columns} from <rollup> where <this window> {tail}`, binding $1 to $4; `{period}`
    /// in `columns` and `tail` names the rollup's period column.
    fn sql(&self, columns: &str, tail: &str) -> String {
        let (table, column) = self.rollup.table_and_column();
        let key = if self.api_key_id.is_some() { " and api_key_id = $4" } else { "" };
        let (columns, tail) = (columns.replace("{period}", column), tail.replace("{period}", column));
        format!("select {columns} from {table} where account_id = $1 and {column} >= $2 and {column} < $3{key} {tail}")
    }
}

macro_rules! fetch_window {
    ($db:expr, $window:expr, $sql:expr, $row:ty) => {{
        let (sql, window) = ($sql, $window);
        on_db!($db, pool => {
            let query = sqlx::query_as::<_, $row>(&sql).bind(window.account_id).bind(Ts(window.from)).bind(Ts(window.to));
            let query = match window.api_key_id { Some(k) => query.bind(k), None => query };
            query.fetch_all(pool).await
        })
    }};
}

/// Requests and latency of one period, key and outcome: the chart, the per-key table, latency.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PeriodCount {
    pub period: OffsetDateTime,
    pub api_key_id: Uuid,
    pub outcome: String,
    pub requests: i64,
    pub latency_us_total: i64,
}

pub async fn per_period(db: &Db, window: &Window) -> Result<Vec<PeriodCount>, sqlx::Error> {
    let sql = window.sql(
        "{period} as period, api_key_id, outcome, cast(sum(requests) as bigint) as requests, \
         cast(sum(latency_us_total) as bigint) as latency_us_total",
        "group by {period}, api_key_id, outcome",
    );
    fetch_window!(db, window, sql, PeriodCount)
}

/// Requests of one route, outcome and code over the whole window: top routes, refusals by code.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RouteCount {
    pub route: String,
    pub outcome: String,
    pub code: String,
    pub requests: i64,
}

pub async fn per_route(db: &Db, window: &Window) -> Result<Vec<RouteCount>, sqlx::Error> {
    let sql = window.sql("route, outcome, code, cast(sum(requests) as bigint) as requests", "group by route, outcome, code");
    fetch_window!(db, window, sql, RouteCount)
}

/// One rollup row: requests of one key, route, outcome and code in one period.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UsageRow {
    pub period: OffsetDateTime,
    pub api_key_id: Uuid,
    pub route: String,
    pub outcome: String,
    pub code: String,
    pub requests: i64,
    pub latency_us_total: i64,
}

/// Every row of the window, oldest first (the developer's CSV export).
pub async fn rows(db: &Db, window: &Window) -> Result<Vec<UsageRow>, sqlx::Error> {
    let sql = window.sql(
        "{period} as period, api_key_id, route, outcome, code, requests, latency_us_total",
        "order by {period}, api_key_id, route, outcome, code",
    );
    fetch_window!(db, window, sql, UsageRow)
}
