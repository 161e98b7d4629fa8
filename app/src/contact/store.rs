//! Contact messages and the admins' replies. Only this module writes `contact_message` and
//! `contact_reply`; the privacy export and account deletion go through the two `*_of_account`
//! functions below.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Db, Ts, Tx, new_id};
use crate::{on_db, on_tx};

pub const MESSAGES_PER_PAGE: i64 = 50;

/// A stored message, every column (the privacy export shows it as it is).
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct ContactMessageRow {
    pub contact_message_id: Uuid,
    pub account_id: Option<Uuid>,
    pub name: String,
    pub email: String,
    pub email_normalized: String,
    pub subject: String,
    pub message: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    pub closed_by: Option<Uuid>,
}

/// A reply as stored, every column.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct ContactReplyRow {
    pub contact_reply_id: Uuid,
    pub contact_message_id: Uuid,
    pub admin_account_id: Option<Uuid>,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
}

const MESSAGE_COLUMNS: &str = "contact_message_id, account_id, name, email, email_normalized, subject, message, ip, user_agent, \
                               created_at, closed_at, closed_by";

/// A message that passed the form's checks.
pub struct NewMessage<'a> {
    pub account_id: Option<Uuid>,
    pub name: &'a str,
    pub email: &'a str,
    pub email_normalized: &'a str,
    pub subject: &'a str,
    pub message: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

pub async fn insert_message(db: &Db, new: &NewMessage<'_>, now: OffsetDateTime) -> Result<Uuid, sqlx::Error> {
    let id = new_id();
    // An empty IP or user agent (a test client, a proxy that strips them) is stored as unknown.
    let ip = Some(new.ip).filter(|v| !v.is_empty());
    let user_agent = Some(new.user_agent).filter(|v| !v.is_empty());
    on_db!(db, pool => sqlx::query(
        "insert into contact_message (contact_message_id, account_id, name, email, email_normalized, subject, message, ip, user_agent, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(id).bind(new.account_id).bind(new.name).bind(new.email).bind(new.email_normalized).bind(new.subject)
        .bind(new.message).bind(ip).bind(user_agent).bind(Ts(now))
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(id)
}

pub async fn find_message(db: &Db, id: Uuid) -> Result<Option<ContactMessageRow>, sqlx::Error> {
    let sql = format!("select {MESSAGE_COLUMNS} from contact_message where contact_message_id = $1");
    on_db!(db, pool => sqlx::query_as::<_, ContactMessageRow>(&sql).bind(id).fetch_optional(pool).await)
}

/// Which messages the inbox shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inbox {
    Open,
    Closed,
    All,
}

impl Inbox {
    pub fn parse(value: &str) -> Inbox {
        match value {
            "closed" => Inbox::Closed,
            "all" => Inbox::All,
            _ => Inbox::Open,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Inbox::Open => "open",
            Inbox::Closed => "closed",
            Inbox::All => "all",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Inbox::Open => "closed_at is null",
            Inbox::Closed => "closed_at is not null",
            Inbox::All => "1 = 1",
        }
    }
}

/// One line of the inbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InboxRow {
    pub contact_message_id: Uuid,
    pub name: String,
    pub email: String,
    pub subject: String,
    pub created_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    pub replies: i64,
}

/// One page of the inbox, open messages before closed ones and newest first, and how many
/// messages the view holds in all.
pub async fn list_messages(db: &Db, inbox: Inbox, page: i64) -> Result<(Vec<InboxRow>, i64), sqlx::Error> {
    let list = format!(
        "select contact_message_id, name, email, subject, created_at, closed_at,
                (select count(*) from contact_reply r where r.contact_message_id = m.contact_message_id) as replies
         from contact_message m where {}
         order by case when closed_at is null then 0 else 1 end, created_at desc, contact_message_id desc
         limit $1 offset $2",
        inbox.sql()
    );
    let count = format!("select count(*) from contact_message where {}", inbox.sql());
    let offset = page.max(0) * MESSAGES_PER_PAGE;
    on_db!(db, pool => {
        let rows = sqlx::query_as::<_, InboxRow>(&list).bind(MESSAGES_PER_PAGE).bind(offset).fetch_all(pool).await?;
        let total: i64 = sqlx::query_scalar(&count).fetch_one(pool).await?;
        Ok((rows, total))
    })
}

/// Open messages: the number beside "Messages" in the admin console (an index covers it).
pub async fn count_open(db: &Db) -> Result<i64, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar("select count(*) from contact_message where closed_at is null").fetch_one(pool).await)
}

/// Closes (`Some(admin)`) or reopens (`None`) a message; false when it was already so.
pub async fn set_closed(db: &Db, id: Uuid, closed_by: Option<Uuid>, now: OffsetDateTime) -> Result<bool, sqlx::Error> {
    let changed = match closed_by {
        Some(admin) => on_db!(db, pool => sqlx::query(
            "update contact_message set closed_at = $2, closed_by = $3 where contact_message_id = $1 and closed_at is null")
            .bind(id).bind(Ts(now)).bind(admin).execute(pool).await.map(|r| r.rows_affected()))?,
        None => on_db!(db, pool => sqlx::query(
            "update contact_message set closed_at = null, closed_by = null where contact_message_id = $1 and closed_at is not null")
            .bind(id).execute(pool).await.map(|r| r.rows_affected()))?,
    };
    Ok(changed > 0)
}

pub async fn insert_reply(db: &Db, message_id: Uuid, admin_account_id: Uuid, body: &str, now: OffsetDateTime) -> Result<Uuid, sqlx::Error> {
    let id = new_id();
    on_db!(db, pool => sqlx::query(
        "insert into contact_reply (contact_reply_id, contact_message_id, admin_account_id, body, sent_at) values ($1, $2, $3, $4, $5)")
        .bind(id).bind(message_id).bind(admin_account_id).bind(body).bind(Ts(now))
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(id)
}

/// A reply with the address of the admin who sent it (gone when that account was deleted).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReplyWithAdmin {
    pub body: String,
    pub sent_at: OffsetDateTime,
    pub admin_email: Option<String>,
}

pub async fn replies_with_admins(db: &Db, message_id: Uuid) -> Result<Vec<ReplyWithAdmin>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, ReplyWithAdmin>(
        "select r.body, r.sent_at, a.email as admin_email from contact_reply r
         left join account a on a.account_id = r.admin_account_id
         where r.contact_message_id = $1 order by r.sent_at, r.contact_reply_id")
        .bind(message_id).fetch_all(pool).await)
}

/// The messages someone sent: signed in as `account_id`, or from `confirmed_email` (the
/// account's address, only once confirmed: whoever merely typed an address into a sign-up
/// form gets nobody's messages). Oldest first.
pub async fn messages_of_account(db: &Db, account_id: Uuid, confirmed_email: Option<&str>) -> Result<Vec<ContactMessageRow>, sqlx::Error> {
    let sql = format!(
        "select {MESSAGE_COLUMNS} from contact_message where account_id = $1 or email_normalized = $2
         order by created_at, contact_message_id"
    );
    on_db!(db, pool => sqlx::query_as::<_, ContactMessageRow>(&sql).bind(account_id).bind(confirmed_email).fetch_all(pool).await)
}

/// The replies to these messages, oldest first.
pub async fn replies_of_messages(db: &Db, message_ids: &[Uuid]) -> Result<Vec<ContactReplyRow>, sqlx::Error> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=message_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "select contact_reply_id, contact_message_id, admin_account_id, body, sent_at from contact_reply
         where contact_message_id in ({}) order by sent_at, contact_reply_id",
        placeholders.join(", ")
    );
    on_db!(db, pool => {
        let mut query = sqlx::query_as::<_, ContactReplyRow>(&sql);
        for id in message_ids {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await
    })
}

/// Deletes what [`messages_of_account`] finds; their replies go with them (cascade).
pub async fn delete_messages_of_account_in(tx: &mut Tx, account_id: Uuid, confirmed_email: Option<&str>) -> Result<u64, sqlx::Error> {
    on_tx!(tx, conn => sqlx::query("delete from contact_message where account_id = $1 or email_normalized = $2")
        .bind(account_id).bind(confirmed_email).execute(conn).await.map(|r| r.rows_affected()))
}
