//! The request log: one record per API request, accepted or refused, never the key.
//!
//! Requests hand records to a bounded queue and never wait for it: when it is full the record is
//! dropped and counted. A background writer commits them in batches (one transaction each, at
//! most `request_log_batch` records or `request_log_flush_ms` old), together with the
//! rollups the charts and quotas read (per minute, hour and day) and each key's `last_used_at`.
//! Shutdown flushes the queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use app::db::{Db, Ts};
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::gateway::limits::Quotas;
use app::api_keys::store::KeyLookup;
use app::metrics::{ApiOutcome, Metrics, RequestLogMetrics};

impl RequestRecord {
    pub fn account_id(&self) -> Option<Uuid> {
        self.key.as_ref().map(|k| k.account_id)
    }

    pub fn api_key_id(&self) -> Option<Uuid> {
        self.key.as_ref().map(|k| k.api_key_id)
    }
}

#[derive(Clone, Debug)]
pub struct RequestRecord {
    pub at: OffsetDateTime,
    pub method: String,
    pub route: String,
    pub status: u16,
    /// `accepted`, `refused` or `failed` (accepted, but the upstream did not answer).
    pub outcome: &'static str,
    pub code: Option<&'static str>,
    /// The key presented, once known (a refusal of a known key is its owner's to see).
    pub key: Option<Arc<KeyLookup>>,
    pub ip: String,
    pub user_agent: String,
    pub latency_us: i64,
    /// The deprecated operation it called, if it did.
    pub deprecated: Option<Arc<crate::gateway::deprecations::Deprecated>>,
}

/// The sending side, cloned into every request handler.
#[derive(Clone)]
pub struct RequestLog {
    queue: mpsc::Sender<RequestRecord>,
    /// Written, dropped and failed figures, shared with `/metrics`.
    pub counters: RequestLogMetrics,
    metrics: Arc<Metrics>,
    quotas: Arc<Quotas>,
}

impl RequestLog {
    /// Queues a record; never waits. A full queue drops it and counts the drop.
    pub fn push(&self, record: RequestRecord) {
        self.metrics.api_requests.get_or_create(&ApiOutcome { outcome: record.outcome, code: record.code.unwrap_or("none") }).inc();
        if let Err(err) = self.queue.try_send(record) {
            let record = err.into_inner();
            if record.outcome == "accepted"
                && let Some(account) = record.account_id()
            {
                self.quotas.forget_unwritten(account, 1);
            }
            let dropped = self.counters.dropped.inc() + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "request log queue full: records dropped (raise request_log_queue?)");
            }
        }
    }

    /// Records waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }
}

/// The writer task; [`LogWriter::shutdown`] flushes what is queued and waits for it.
pub struct LogWriter {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

pub fn start(
    db: Db,
    quotas: Arc<Quotas>,
    metrics: Arc<Metrics>,
    capacity: usize,
    batch: usize,
    flush_every: Duration,
) -> (RequestLog, LogWriter) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let counters = metrics.request_log.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let writer = Writer { db, quotas: quotas.clone(), counters: counters.clone(), batch: batch.max(1), flush_every };
    let task = tokio::spawn(writer.run(rx, stopped));
    (RequestLog { queue: tx, counters, metrics, quotas }, LogWriter { stop, task })
}

impl LogWriter {
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

struct Writer {
    db: Db,
    quotas: Arc<Quotas>,
    counters: RequestLogMetrics,
    batch: usize,
    flush_every: Duration,
}

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<RequestRecord>, mut stopped: tokio::sync::oneshot::Receiver<()>) {
        let mut pending: Vec<RequestRecord> = Vec::with_capacity(self.batch);
        let mut stopping = false;
        while !stopping {
            // Wait for the first record of a batch, then fill it until full or old enough.
            tokio::select! {
                first = rx.recv() => match first {
                    Some(record) => pending.push(record),
                    None => break,
                },
                _ = &mut stopped => break,
            }
            let deadline = tokio::time::Instant::now() + self.flush_every;
            while pending.len() < self.batch {
                tokio::select! {
                    more = { let room = self.batch - pending.len(); rx.recv_many(&mut pending, room) } => if more == 0 { break },
                    _ = tokio::time::sleep_until(deadline) => break,
                    // A stop does not wait for the batch to fill or age.
                    _ = &mut stopped => { stopping = true; break },
                }
            }
            self.write(&mut pending).await;
        }
        // Shutting down: take no more, write everything already queued.
        rx.close();
        while rx.recv_many(&mut pending, self.batch).await > 0 {
            self.write(&mut pending).await;
        }
        tracing::info!(written = self.counters.written.get(), "request log flushed");
    }

    async fn write(&self, pending: &mut Vec<RequestRecord>) {
        if pending.is_empty() {
            return;
        }
        // A failed batch is retried a few times (e.g. SQLite busy), then given up and counted.
        for attempt in 1..=3 {
            match write_batch(&self.db, pending).await {
                Ok(()) => {
                    self.counters.written.inc_by(pending.len() as u64);
                    // Counted apart from the log's transaction: a failure here loses counts, not records.
                    if let Err(err) = record_deprecated_calls(&self.db, pending).await {
                        tracing::warn!(error = %err, "could not count calls of deprecated operations");
                    }
                    for (account, n) in accepted_per_account(pending) {
                        self.quotas.written(account, n);
                    }
                    pending.clear();
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, attempt, records = pending.len(), "request log batch failed");
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
            }
        }
        self.counters.failed_batches.inc();
        self.counters.dropped.inc_by(pending.len() as u64);
        for (account, n) in accepted_per_account(pending) {
            self.quotas.forget_unwritten(account, n);
        }
        pending.clear();
    }
}

/// One row per account and deprecated operation called in the batch (accepted calls only).
async fn record_deprecated_calls(db: &Db, records: &[RequestRecord]) -> Result<(), sqlx::Error> {
    let mut calls: HashMap<(Uuid, &app::deprecations::store::OperationKey), (i64, OffsetDateTime, OffsetDateTime)> = HashMap::new();
    for r in records.iter().filter(|r| r.outcome == "accepted") {
        if let (Some(account), Some(op)) = (r.account_id(), &r.deprecated) {
            let entry = calls.entry((account, &op.key)).or_insert((0, r.at, r.at));
            entry.0 += 1;
            entry.1 = entry.1.min(r.at);
            entry.2 = entry.2.max(r.at);
        }
    }
    if calls.is_empty() {
        return Ok(());
    }
    let rows: Vec<app::deprecations::store::Calls<'_>> = calls
        .into_iter()
        .map(|((account_id, op), (calls, first_at, last_at))| app::deprecations::store::Calls { account_id, op, calls, first_at, last_at })
        .collect();
    app::deprecations::store::record_calls(db, &rows).await
}

fn accepted_per_account(records: &[RequestRecord]) -> HashMap<Uuid, i64> {
    let mut counts = HashMap::new();
    for r in records.iter().filter(|r| r.outcome == "accepted") {
        if let Some(account) = r.account_id() {
            *counts.entry(account).or_insert(0) += 1;
        }
    }
    counts
}

/// Rows per INSERT statement: 13 values each stays under SQLite's 32,766 variables.
const ROWS_PER_STATEMENT: usize = 2_000;

/// The minute a record is counted in.
pub fn minute_of(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_second(0).and_then(|t| t.replace_nanosecond(0)).unwrap_or(at)
}

/// The hour a record is counted in.
pub fn hour_of(at: OffsetDateTime) -> OffsetDateTime {
    minute_of(at).replace_minute(0).unwrap_or(at)
}

/// The UTC day a record is counted in.
pub fn day_of(at: OffsetDateTime) -> OffsetDateTime {
    hour_of(at).replace_hour(0).unwrap_or(at)
}

type Rollup<'a> = HashMap<RollupKey<'a>, (Uuid, i64, i64)>;

/// The same counts in longer periods (minutes into hours, hours into days).
fn coarsen<'a>(finer: &Rollup<'a>, period_of: fn(OffsetDateTime) -> OffsetDateTime) -> Rollup<'a> {
    let mut coarser: Rollup<'a> = HashMap::new();
    for (key, (account, n, latency)) in finer {
        let entry = coarser.entry(RollupKey { period: period_of(key.period), ..*key }).or_insert((*account, 0, 0));
        entry.1 += n;
        entry.2 += latency;
    }
    coarser
}

#[derive(Hash, PartialEq, Eq, Clone, Copy)]
struct RollupKey<'a> {
    /// The minute, hour or day.
    period: OffsetDateTime,
    api_key_id: Uuid,
    route: &'a str,
    outcome: &'static str,
    code: &'static str,
}

/// One transaction: the records, their rollup, and the keys' last use.
pub async fn write_batch(db: &Db, records: &[RequestRecord]) -> Result<(), sqlx::Error> {
    let mut rollup: Rollup<'_> = HashMap::new();
    let mut last_used: HashMap<Uuid, OffsetDateTime> = HashMap::new();
    for r in records {
        let key = RollupKey {
            period: minute_of(r.at),
            api_key_id: r.api_key_id().unwrap_or(Uuid::nil()),
            route: &r.route,
            outcome: r.outcome,
            code: r.code.unwrap_or(""),
        };
        let entry = rollup.entry(key).or_insert((r.account_id().unwrap_or(Uuid::nil()), 0, 0));
        entry.1 += 1;
        entry.2 += r.latency_us;
        if let (Some(key), "accepted") = (r.api_key_id(), r.outcome) {
            let at = last_used.entry(key).or_insert(r.at);
            *at = (*at).max(r.at);
        }
    }
    let hourly = coarsen(&rollup, hour_of);
    let daily = coarsen(&hourly, day_of);
    let rollups = [
        ("usage_minute", "minute", rollup.into_iter().collect::<Vec<_>>()),
        ("usage_hour", "hour", hourly.into_iter().collect()),
        ("usage_day", "day", daily.into_iter().collect()),
    ];
    macro_rules! write_all {
        ($tx:expr) => {{
            for chunk in records.chunks(ROWS_PER_STATEMENT) {
                let mut insert = QueryBuilder::new(
                    "insert into request_log (at, method, route, status, outcome, code, account_id, api_key_id, key_label, \
                     key_type, ip, user_agent, latency_us) ",
                );
                insert.push_values(chunk, |mut row, r| {
                    row.push_bind(Ts(r.at))
                        .push_bind(&r.method)
                        .push_bind(&r.route)
                        .push_bind(i32::from(r.status))
                        .push_bind(r.outcome)
                        .push_bind(r.code)
                        .push_bind(r.account_id())
                        .push_bind(r.api_key_id())
                        .push_bind(r.key.as_ref().map(|k| k.label.as_str()))
                        .push_bind(r.key.as_ref().map(|k| k.key_type.as_str()))
                        .push_bind(&r.ip)
                        .push_bind(&r.user_agent)
                        .push_bind(r.latency_us);
                });
                insert.build().execute(&mut *$tx).await?;
            }
            for (table, period, rows) in &rollups {
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    let mut upsert = QueryBuilder::new(format!(
                        "insert into {table} ({period}, account_id, api_key_id, route, outcome, code, requests, latency_us_total) "
                    ));
                    upsert.push_values(chunk, |mut row, (k, (account, n, latency))| {
                        row.push_bind(Ts(k.period))
                            .push_bind(*account)
                            .push_bind(k.api_key_id)
                            .push_bind(k.route)
                            .push_bind(k.outcome)
                            .push_bind(k.code)
                            .push_bind(*n)
                            .push_bind(*latency);
                    });
                    upsert.push(format!(
                        " on conflict (account_id, {period}, api_key_id, route, outcome, code) do update set \
                         requests = {table}.requests + excluded.requests, \
                         latency_us_total = {table}.latency_us_total + excluded.latency_us_total"
                    ));
                    upsert.build().execute(&mut *$tx).await?;
                }
            }
            for (key, at) in &last_used {
                sqlx::query("update api_key set last_used_at = $2 where api_key_id = $1 and (last_used_at is null or last_used_at < $2)")
                    .bind(key)
                    .bind(Ts(*at))
                    .execute(&mut *$tx)
                    .await?;
            }
        }};
    }
    match db {
        Db::Sqlite(pool) => {
            // The write lock at once, waiting its turn (see `Db::begin`).
            let mut tx = pool.begin_with("begin immediate").await?;
            write_all!(tx);
            tx.commit().await
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            write_all!(tx);
            tx.commit().await
        }
    }
}
