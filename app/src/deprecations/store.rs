//! The `deprecated_operation` and `deprecated_call` tables.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Db, Ts};
use crate::on_db;

/// An operation: product slug, method (upper case) and path template.
#[derive(Debug, Clone, PartialEq, Eq, Hash, sqlx::FromRow)]
pub struct OperationKey {
    pub product: String,
    pub method: String,
    pub path: String,
}

/// Records `op` as deprecated (once) and returns when this installation first did.
pub async fn register_operation(db: &Db, op: &OperationKey, now: OffsetDateTime) -> Result<OffsetDateTime, sqlx::Error> {
    on_db!(db, pool => sqlx::query(
        "insert into deprecated_operation (product, method, path, first_seen_at) values ($1, $2, $3, $4)
         on conflict (product, method, path) do nothing")
        .bind(&op.product).bind(&op.method).bind(&op.path).bind(Ts(now)).execute(pool).await.map(|_| ()))?;
    on_db!(db, pool => sqlx::query_scalar(
        "select first_seen_at from deprecated_operation where product = $1 and method = $2 and path = $3")
        .bind(&op.product).bind(&op.method).bind(&op.path).fetch_one(pool).await)
}

/// Calls of one account to one operation within a batch of the request log.
pub struct Calls<'a> {
    pub account_id: Uuid,
    pub op: &'a OperationKey,
    pub calls: i64,
    pub first_at: OffsetDateTime,
    pub last_at: OffsetDateTime,
}

/// Adds a batch's calls. An account deleted meanwhile is skipped (its rows went with it).
pub async fn record_calls(db: &Db, calls: &[Calls<'_>]) -> Result<(), sqlx::Error> {
    for c in calls {
        on_db!(db, pool => sqlx::query(
            "insert into deprecated_call (account_id, product, method, path, calls, first_call_at, last_call_at)
             select $1, $2, $3, $4, $5, $6, $7 where exists (select 1 from account where account_id = $1)
             on conflict (account_id, product, method, path) do update set
                 calls = deprecated_call.calls + excluded.calls,
                 last_call_at = case when excluded.last_call_at > deprecated_call.last_call_at
                                     then excluded.last_call_at else deprecated_call.last_call_at end")
            .bind(c.account_id).bind(&c.op.product).bind(&c.op.method).bind(&c.op.path)
            .bind(c.calls).bind(Ts(c.first_at)).bind(Ts(c.last_at))
            .execute(pool).await.map(|_| ()))?;
    }
    Ok(())
}

/// An account and an operation it called, not yet told about, with the account's address.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unnotified {
    pub account_id: Uuid,
    pub email: String,
    pub display_name: String,
    #[sqlx(flatten)]
    pub op: OperationKey,
    pub last_call_at: OffsetDateTime,
}

/// Takes the calls nobody has been told about yet. One statement marks them, so of several
/// instances exactly one gets each row: each account hears once per operation.
pub async fn claim_unnotified(db: &Db, now: OffsetDateTime, limit: i64) -> Result<Vec<Unnotified>, sqlx::Error> {
    let claimed: Vec<(Uuid, String, String, String, OffsetDateTime)> = on_db!(db, pool => sqlx::query_as(
        "update deprecated_call set notified_at = $1
         where (account_id, product, method, path) in
             (select account_id, product, method, path from deprecated_call where notified_at is null limit $2)
           and notified_at is null
         returning account_id, product, method, path, last_call_at")
        .bind(Ts(now)).bind(limit).fetch_all(pool).await)?;
    let mut out = Vec::with_capacity(claimed.len());
    for (account_id, product, method, path, last_call_at) in claimed {
        let person: Option<(String, String)> = on_db!(db, pool => sqlx::query_as(
            "select email, display_name from account where account_id = $1 and email_verified_at is not null")
            .bind(account_id).fetch_optional(pool).await)?;
        if let Some((email, display_name)) = person {
            out.push(Unnotified { account_id, email, display_name, op: OperationKey { product, method, path }, last_call_at });
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CallRow {
    #[sqlx(flatten)]
    pub op: OperationKey,
    pub calls: i64,
    pub last_call_at: OffsetDateTime,
}

/// The deprecated operations the account called since `since`, most recent first.
pub async fn calls_of_account(db: &Db, account_id: Uuid, since: OffsetDateTime) -> Result<Vec<CallRow>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, CallRow>(
        "select product, method, path, calls, last_call_at from deprecated_call
         where account_id = $1 and last_call_at >= $2 order by last_call_at desc")
        .bind(account_id).bind(Ts(since)).fetch_all(pool).await)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CallerRow {
    #[sqlx(flatten)]
    pub op: OperationKey,
    pub account_id: Uuid,
    pub email: String,
    pub calls: i64,
    pub last_call_at: OffsetDateTime,
}

/// Every account that called a deprecated operation since `since`, by operation.
pub async fn callers(db: &Db, since: OffsetDateTime) -> Result<Vec<CallerRow>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, CallerRow>(
        "select d.product, d.method, d.path, d.account_id, a.email, d.calls, d.last_call_at
         from deprecated_call d join account a on a.account_id = d.account_id
         where d.last_call_at >= $1 order by d.product, d.path, d.method, d.last_call_at desc")
        .bind(Ts(since)).fetch_all(pool).await)
}
