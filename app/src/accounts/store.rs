use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Db, Ts, Tx};
use crate::{on_db, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Account {
    pub account_id: Uuid,
    pub email: String,
    pub email_normalized: String,
    pub display_name: String,
    pub organisation: Option<String>,
    pub country: Option<String>,
    pub password_hash: Option<String>,
    pub email_verified_at: Option<OffsetDateTime>,
    pub status: String,
    pub role: String,
    pub last_sign_in_at: Option<OffsetDateTime>,
    /// The plan's name; `None`: the installation's default plan.
    pub plan: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Account {
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }

    /// The normalised address, once its owner has confirmed it: only then may anything be matched
    /// to this account by address.
    pub fn confirmed_email(&self) -> Option<&str> {
        self.email_verified_at.is_some().then_some(self.email_normalized.as_str())
    }
}

pub struct NewAccount<'a> {
    pub account_id: Uuid,
    pub email: &'a str,
    pub email_normalized: &'a str,
    pub display_name: &'a str,
    pub organisation: Option<&'a str>,
    pub country: Option<&'a str>,
    pub password_hash: Option<&'a str>,
}

const COLUMNS: &str = "account_id, email, email_normalized, display_name, organisation, country, password_hash, \
     email_verified_at, status, role, last_sign_in_at, plan, created_at, updated_at";

/// Inserts the account inside the caller's transaction; a taken email is a unique violation.
pub async fn insert_account(tx: &mut Tx, new: &NewAccount<'_>, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => sqlx::query(
        "insert into account (account_id, email, email_normalized, display_name, organisation, country,
             password_hash, status, role, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, 'active', 'developer', $8, $8)")
        .bind(new.account_id).bind(new.email).bind(new.email_normalized).bind(new.display_name)
        .bind(new.organisation).bind(new.country).bind(new.password_hash).bind(Ts(now))
        .execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn find_account_by_email(db: &Db, email_normalized: &str) -> Result<Option<Account>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from account where email_normalized = $1");
    on_db!(db, pool => sqlx::query_as::<_, Account>(&sql).bind(email_normalized).fetch_optional(pool).await)
}

pub async fn find_account(db: &Db, account_id: Uuid) -> Result<Option<Account>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from account where account_id = $1");
    on_db!(db, pool => sqlx::query_as::<_, Account>(&sql).bind(account_id).fetch_optional(pool).await)
}

pub async fn mark_email_verified(db: &Db, account_id: Uuid, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query(
        "update account set email_verified_at = $2, updated_at = $2 where account_id = $1 and email_verified_at is null")
        .bind(account_id).bind(Ts(now)).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_password_hash(db: &Db, account_id: Uuid, hash: &str, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query("update account set password_hash = $2, updated_at = $3 where account_id = $1")
        .bind(account_id).bind(hash).bind(Ts(now)).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn record_sign_in(db: &Db, account_id: Uuid, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query("update account set last_sign_in_at = $2 where account_id = $1")
        .bind(account_id).bind(Ts(now)).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Sets the role of the account with this email; false when there is none (for `server admin`).
pub async fn set_role(db: &Db, email_normalized: &str, role: &str, now: OffsetDateTime) -> Result<bool, sqlx::Error> {
    let done = on_db!(db, pool => sqlx::query("update account set role = $2, updated_at = $3 where email_normalized = $1")
        .bind(email_normalized).bind(role).bind(Ts(now)).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// The correctable parts of the profile.
pub async fn update_profile(
    db: &Db,
    account_id: Uuid,
    display_name: &str,
    organisation: Option<&str>,
    country: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query(
        "update account set display_name = $2, organisation = $3, country = $4, updated_at = $5 where account_id = $1")
        .bind(account_id).bind(display_name).bind(organisation).bind(country).bind(Ts(now))
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Moves the account to a new, just-proved address; a taken address is a unique violation.
pub async fn change_email(db: &Db, account_id: Uuid, email: &str, email_normalized: &str, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query(
        "update account set email = $2, email_normalized = $3, email_verified_at = $4, updated_at = $4 where account_id = $1")
        .bind(account_id).bind(email).bind(email_normalized).bind(Ts(now))
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}
