//! Aggregates over the rollups `usage_minute` and `usage_hour`. Every query is bounded by the
//! account (and optionally one of its keys) and a time window, which the rollups' indexes cover.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Db, Ts};
use crate::on_db;

/// Which rollup a range reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rollup {
    Minute,
    Hour,
}

impl Rollup {
    fn table_and_column(self) -> (&'static str, &'static str) {
        match self {
            Rollup::Minute => ("usage_minute", "minute"),
            Rollup::Hour => ("usage_hour", "hour"),
        }
    }
}

/// The rows of one account (and maybe one key) in `[from, to)`.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub rollup: Rollup,
    pub account_id: Uuid,
    pub api_key_id: Option<Uuid>,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
}

impl Window {
    /// `select {select} from <rollup> where <window> [extra] group by {group}`, binding $1–$4.
    fn sql(&self, select: &str, extra: &str, group: &str) -> String {
        let (table, column) = self.rollup.table_and_column();
        let select = select.replace("{period}", column);
        let group = group.replace("{period}", column);
        let key = if self.api_key_id.is_some() { " and api_key_id = $4" } else { "" };
        format!("select {select} from {table} where account_id = $1 and {column} >= $2 and {column} < $3{key}{extra} group by {group}")
    }
}

macro_rules! fetch_window {
    ($db:expr, $window:expr, $sql:expr, $row:ty) => {{
        let sql = $sql;
        let w = $window;
        on_db!($db, pool => {
            let query = sqlx::query_as::<_, $row>(&sql).bind(w.account_id).bind(Ts(w.from)).bind(Ts(w.to));
            let query = match w.api_key_id { Some(key) => query.bind(key), None => query };
            query.fetch_all(pool).await
        })
    }};
}

/// Requests and summed latency per period and outcome.
pub async fn series(db: &Db, window: &Window) -> Result<Vec<(OffsetDateTime, String, i64, i64)>, sqlx::Error> {
    let sql =
        window.sql("{period}, outcome, cast(sum(requests) as bigint), cast(sum(latency_us_total) as bigint)", "", "{period}, outcome");
    fetch_window!(db, window, sql, (OffsetDateTime, String, i64, i64))
}

/// Requests per key and outcome.
pub async fn per_key(db: &Db, window: &Window) -> Result<Vec<(Uuid, String, i64)>, sqlx::Error> {
    let sql = window.sql("api_key_id, outcome, cast(sum(requests) as bigint)", "", "api_key_id, outcome");
    fetch_window!(db, window, sql, (Uuid, String, i64))
}

/// The busiest routes, most requests first.
pub async fn top_routes(db: &Db, window: &Window, limit: usize) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let sql = window.sql("route, cast(sum(requests) as bigint) as n", "", "route") + &format!(" order by n desc, route limit {limit}");
    fetch_window!(db, window, sql, (String, i64))
}

/// Refused requests per refusal code, most first.
pub async fn refusals(db: &Db, window: &Window) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let sql = window.sql("code, cast(sum(requests) as bigint) as n", " and outcome = 'refused'", "code") + " order by n desc, code";
    fetch_window!(db, window, sql, (String, i64))
}

/// The rollup rows themselves, oldest first (the developer's CSV export).
pub async fn rows(db: &Db, window: &Window) -> Result<Vec<(OffsetDateTime, Uuid, String, String, String, i64, i64)>, sqlx::Error> {
    let sql = window.sql(
        "{period}, api_key_id, route, outcome, code, cast(sum(requests) as bigint), cast(sum(latency_us_total) as bigint)",
        "",
        "{period}, api_key_id, route, outcome, code",
    ) + " order by 1, 2, 3, 4, 5";
    fetch_window!(db, window, sql, (OffsetDateTime, Uuid, String, String, String, i64, i64))
}
