//! Reading the rollups `usage_minute`, `usage_hour` and `usage_day`. Their keys start with the
//! account and the period, so one account's rows of one window lie together and are read in
//! one range scan; every aggregate is then made in Rust from that one read.

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

/// Every row of the window, oldest first.
pub async fn rows(db: &Db, window: &Window) -> Result<Vec<UsageRow>, sqlx::Error> {
    let (table, column) = window.rollup.table_and_column();
    let key = if window.api_key_id.is_some() { " and api_key_id = $4" } else { "" };
    let sql = format!(
        "select {column} as period, api_key_id, route, outcome, code, requests, latency_us_total from {table}
         where account_id = $1 and {column} >= $2 and {column} < $3{key} order by {column}, api_key_id, route, outcome, code"
    );
    on_db!(db, pool => {
        let query = sqlx::query_as::<_, UsageRow>(&sql).bind(window.account_id).bind(Ts(window.from)).bind(Ts(window.to));
        let query = match window.api_key_id { Some(k) => query.bind(k), None => query };
        query.fetch_all(pool).await
    })
}
