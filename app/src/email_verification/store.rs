//! Single-use email tokens (verification, password reset), stored as SHA-256 only.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Db, Ts, Tx, new_id};
use crate::{on_db, on_tx};

pub async fn insert_email_token(
    tx: &mut Tx,
    account_id: Uuid,
    purpose: &str,
    token_hash: &str,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => sqlx::query(
        "insert into email_token (email_token_id, account_id, purpose, token_hash, expires_at, created_at)
         values ($1, $2, $3, $4, $5, $6)")
        .bind(new_id()).bind(account_id).bind(purpose).bind(token_hash).bind(Ts(expires_at)).bind(Ts(now))
        .execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Marks the token used and returns its account, if it exists, has this purpose, is unused and
/// unexpired. One statement, so two concurrent uses cannot both succeed.
pub async fn consume_email_token(db: &Db, purpose: &str, token_hash: &str, now: OffsetDateTime) -> Result<Option<Uuid>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar::<_, Uuid>(
        "update email_token set used_at = $3
         where token_hash = $1 and purpose = $2 and used_at is null and expires_at > $3
         returning account_id")
        .bind(token_hash).bind(purpose).bind(Ts(now)).fetch_optional(pool).await)
}

/// The account a still-valid token belongs to, without using it (to show the reset form).
pub async fn find_valid_email_token(db: &Db, purpose: &str, token_hash: &str, now: OffsetDateTime) -> Result<Option<Uuid>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar::<_, Uuid>(
        "select account_id from email_token
         where token_hash = $1 and purpose = $2 and used_at is null and expires_at > $3")
        .bind(token_hash).bind(purpose).bind(Ts(now)).fetch_optional(pool).await)
}

/// Voids every unused token of this purpose for the account (a new one was sent, or it was used).
pub async fn void_email_tokens(db: &Db, account_id: Uuid, purpose: &str, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query(
        "update email_token set used_at = $3 where account_id = $1 and purpose = $2 and used_at is null")
        .bind(account_id).bind(purpose).bind(Ts(now)).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A link that moves the account to `new_email` once that address's owner follows it.
pub async fn insert_email_change_token(
    tx: &mut Tx,
    account_id: Uuid,
    token_hash: &str,
    new_email: &str,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => sqlx::query(
        "insert into email_token (email_token_id, account_id, purpose, token_hash, new_email, expires_at, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)")
        .bind(new_id()).bind(account_id).bind(super::CHANGE_PURPOSE).bind(token_hash).bind(new_email)
        .bind(Ts(expires_at)).bind(Ts(now))
        .execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Uses an email-change link: its account and the address it confirms, if valid (one statement,
/// so a link works once).
pub async fn consume_email_change_token(db: &Db, token_hash: &str, now: OffsetDateTime) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, (Uuid, String)>(
        "update email_token set used_at = $3
         where token_hash = $1 and purpose = $2 and used_at is null and expires_at > $3 and new_email is not null
         returning account_id, new_email")
        .bind(token_hash).bind(super::CHANGE_PURPOSE).bind(Ts(now)).fetch_optional(pool).await)
}
