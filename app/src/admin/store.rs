//! Queries of the admin console: account search, account changes that the gateway must see at
//! once, and the security event log.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::accounts::store::Account;
use crate::api_keys::directory::{Change, KeyDirectory};
use crate::db::{Db, Ts};
use crate::{on_db, on_tx};

pub const ACCOUNTS_PER_PAGE: i64 = 25;
pub const EVENTS_PER_PAGE: i64 = 50;

/// How the account list is ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountOrder {
    Newest,
    Oldest,
    Email,
    LastSignIn,
}

impl AccountOrder {
    pub fn parse(value: &str) -> AccountOrder {
        match value {
            "oldest" => AccountOrder::Oldest,
            "email" => AccountOrder::Email,
            "last_sign_in" => AccountOrder::LastSignIn,
            _ => AccountOrder::Newest,
        }
    }

    fn sql(self) -> &'static str {
        match self {
            AccountOrder::Newest => "created_at desc, account_id desc",
            AccountOrder::Oldest => "created_at, account_id",
            AccountOrder::Email => "email_normalized",
            // Never signed in sorts last on both backends.
            AccountOrder::LastSignIn => "case when last_sign_in_at is null then 1 else 0 end, last_sign_in_at desc, account_id desc",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountListRow {
    pub account_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub organisation: Option<String>,
    pub email_verified_at: Option<OffsetDateTime>,
    pub status: String,
    pub role: String,
    pub plan: Option<String>,
    pub last_sign_in_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub keys: i64,
}

/// Accounts whose email, name or organisation contains `search` (case-insensitive), one page,
/// plus how many match in all.
pub async fn search_accounts(db: &Db, search: &str, order: AccountOrder, page: i64) -> Result<(Vec<AccountListRow>, i64), sqlx::Error> {
    let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
    let filter = "(email_normalized like $1 escape '\\' or lower(display_name) like $1 escape '\\' \
                  or lower(coalesce(organisation, '')) like $1 escape '\\')";
    let list = format!(
        "select account_id, email, display_name, organisation, email_verified_at, status, role, plan, last_sign_in_at, created_at,
                (select count(*) from api_key k where k.account_id = account.account_id) as keys
         from account where {filter} order by {} limit $2 offset $3",
        order.sql()
    );
    let count = format!("select count(*) from account where {filter}");
    let offset = page.max(0) * ACCOUNTS_PER_PAGE;
    on_db!(db, pool => {
        let rows = sqlx::query_as::<_, AccountListRow>(&list).bind(&pattern).bind(ACCOUNTS_PER_PAGE).bind(offset).fetch_all(pool).await?;
        let total: i64 = sqlx::query_scalar(&count).bind(&pattern).fetch_one(pool).await?;
        Ok((rows, total))
    })
}

/// `%` and `_` typed into the search box are searched for, not wildcards.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Sets the status (`active` or `suspended`) or the plan, and makes every instance's key cache
/// forget the account in the same transaction, so its keys follow at once.
pub async fn update_account(
    db: &Db,
    directory: &KeyDirectory,
    account_id: Uuid,
    change: AccountChange<'_>,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let changed = match change {
        AccountChange::Status(status) => on_tx!(&mut tx, conn => sqlx::query(
            "update account set status = $2, updated_at = $3 where account_id = $1 and status <> $2")
            .bind(account_id).bind(status).bind(Ts(now)).execute(conn).await.map(|r| r.rows_affected()))?,
        AccountChange::Plan(plan) => on_tx!(&mut tx, conn => sqlx::query(
            "update account set plan = $2, updated_at = $3 where account_id = $1")
            .bind(account_id).bind(plan).bind(Ts(now)).execute(conn).await.map(|r| r.rows_affected()))?,
    };
    let change = Change::Account { account_id };
    KeyDirectory::announce(&mut tx, &change).await?;
    tx.commit().await?;
    directory.apply(&change);
    Ok(changed > 0)
}

pub enum AccountChange<'a> {
    Status(&'a str),
    Plan(&'a str),
}

pub async fn count_passkeys(db: &Db, account_id: Uuid) -> Result<i64, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar("select count(*) from passkey where account_id = $1").bind(account_id).fetch_one(pool).await)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventListRow {
    pub event_id: Uuid,
    pub kind: String,
    pub account_id: Option<Uuid>,
    pub email: Option<String>,
    pub actor_email: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: String,
    pub created_at: OffsetDateTime,
}

/// Filters of the security event log; `None` means any.
#[derive(Debug, Default, Clone)]
pub struct EventQuery {
    /// A kind, or its group with a trailing dot (`session.`).
    pub kind: Option<String>,
    pub account_id: Option<Uuid>,
    pub ip: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    /// Events older than this one (ids are time-ordered UUIDv7).
    pub before: Option<Uuid>,
}

/// One page of events, newest first, and the cursor of the next one.
pub async fn list_events(db: &Db, query: &EventQuery) -> Result<(Vec<EventListRow>, Option<Uuid>), sqlx::Error> {
    let mut sql = String::from(
        "select e.event_id, e.kind, e.account_id, a.email, actor.email as actor_email, e.ip, e.user_agent, e.detail, e.created_at
         from event e left join account a on a.account_id = e.account_id
         left join account actor on actor.account_id = e.actor_account_id where 1 = 1",
    );
    // Every filter is bound; absent ones as NULL, so one statement serves all combinations.
    sql.push_str(
        " and ($1 is null or e.kind = $1 or (substr($1, length($1), 1) = '.' and substr(e.kind, 1, length($1)) = $1))
          and ($2 is null or e.account_id = $2)
          and ($3 is null or e.ip = $3)
          and ($4 is null or e.created_at >= $4)
          and ($5 is null or e.created_at < $5)
          and ($6 is null or e.event_id < $6)
          order by e.event_id desc limit $7",
    );
    let mut rows = on_db!(db, pool => sqlx::query_as::<_, EventListRow>(&sql)
        .bind(query.kind.as_deref()).bind(query.account_id).bind(query.ip.as_deref())
        .bind(query.from.map(Ts)).bind(query.to.map(Ts)).bind(query.before).bind(EVENTS_PER_PAGE + 1)
        .fetch_all(pool).await)?;
    let next = if rows.len() as i64 > EVENTS_PER_PAGE {
        rows.truncate(EVENTS_PER_PAGE as usize);
        rows.last().map(|r| r.event_id)
    } else {
        None
    };
    Ok((rows, next))
}

pub async fn find_account_by_email_or_id(db: &Db, text: &str) -> Result<Option<Account>, sqlx::Error> {
    match Uuid::parse_str(text.trim()) {
        Ok(id) => crate::accounts::store::find_account(db, id).await,
        Err(_) => crate::accounts::store::find_account_by_email(db, &crate::accounts::normalize_email(text)).await,
    }
}
