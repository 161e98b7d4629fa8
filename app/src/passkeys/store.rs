//! The passkey table. The credential is stored as webauthn-rs serialises it (JSON text); the
//! credential id (base64url) is unique across all accounts. Changes are scoped to the owner.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Db, Ts, Tx, new_id};
use crate::{on_db, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRow {
    pub passkey_id: Uuid,
    pub account_id: Uuid,
    pub credential_id: String,
    pub credential: String,
    pub name: String,
    pub backed_up: bool,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

pub struct NewPasskey<'a> {
    pub account_id: Uuid,
    pub credential_id: &'a str,
    pub credential: &'a str,
    pub name: &'a str,
    pub backed_up: bool,
}

const COLUMNS: &str = "passkey_id, account_id, credential_id, credential, name, backed_up, created_at, last_used_at";

/// Stores a new passkey; `Err` with a unique violation when the credential id is already known.
pub async fn insert_passkey(db: &Db, new: &NewPasskey<'_>, now: OffsetDateTime) -> Result<Uuid, sqlx::Error> {
    let mut tx = db.begin().await?;
    let id = insert_passkey_in(&mut tx, new, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// [`insert_passkey`] inside the caller's transaction (a passkey sign-up writes the account too).
pub async fn insert_passkey_in(tx: &mut Tx, new: &NewPasskey<'_>, now: OffsetDateTime) -> Result<Uuid, sqlx::Error> {
    let id = new_id();
    on_tx!(tx, pool => sqlx::query(
        "insert into passkey (passkey_id, account_id, credential_id, credential, name, backed_up, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)")
        .bind(id).bind(new.account_id).bind(new.credential_id).bind(new.credential).bind(new.name)
        .bind(new.backed_up).bind(Ts(now))
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(id)
}

pub async fn list_passkeys_of_account(db: &Db, account_id: Uuid) -> Result<Vec<PasskeyRow>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from passkey where account_id = $1 order by created_at, passkey_id");
    on_db!(db, pool => sqlx::query_as::<_, PasskeyRow>(&sql).bind(account_id).fetch_all(pool).await)
}

pub async fn find_by_credential_id(db: &Db, credential_id: &str) -> Result<Option<PasskeyRow>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from passkey where credential_id = $1");
    on_db!(db, pool => sqlx::query_as::<_, PasskeyRow>(&sql).bind(credential_id).fetch_optional(pool).await)
}

/// After a sign-in: the updated credential (counter, backup state) and the time it was used.
pub async fn record_use(db: &Db, passkey_id: Uuid, credential: &str, backed_up: bool, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query(
        "update passkey set credential = $2, backed_up = $3, last_used_at = $4 where passkey_id = $1")
        .bind(passkey_id).bind(credential).bind(backed_up).bind(Ts(now))
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Renames the owner's passkey; false when `account_id` has no such passkey.
pub async fn rename_passkey(db: &Db, account_id: Uuid, passkey_id: Uuid, name: &str) -> Result<bool, sqlx::Error> {
    let changed = on_db!(db, pool => sqlx::query("update passkey set name = $3 where passkey_id = $1 and account_id = $2")
        .bind(passkey_id).bind(account_id).bind(name).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(changed == 1)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Removal {
    /// Gone; its name, for the notice.
    Deleted {
        name: String,
    },
    NotFound,
    /// It is the account's only way in: no password and no other passkey (ASVS 6.5.6).
    LastWayIn,
}

/// Deletes the owner's passkey unless it is the account's last way to sign in. The account row
/// is written first so two removals of an account's last two passkeys cannot both pass the check.
pub async fn remove_passkey_keeping_a_way_in(db: &Db, account_id: Uuid, passkey_id: Uuid) -> Result<Removal, sqlx::Error> {
    let mut tx = db.begin().await?;
    let has_password: Option<bool> = on_tx!(&mut tx, conn => sqlx::query_scalar(
        "update account set updated_at = updated_at where account_id = $1 returning password_hash is not null")
        .bind(account_id).fetch_optional(&mut *conn).await)?;
    let others: i64 = on_tx!(&mut tx, conn => sqlx::query_scalar(
        "select count(*) from passkey where account_id = $1 and passkey_id <> $2")
        .bind(account_id).bind(passkey_id).fetch_one(&mut *conn).await)?;
    let name: Option<String> = on_tx!(&mut tx, conn => sqlx::query_scalar(
        "select name from passkey where account_id = $1 and passkey_id = $2")
        .bind(account_id).bind(passkey_id).fetch_optional(&mut *conn).await)?;
    let Some(name) = name else { return Ok(Removal::NotFound) };
    if has_password != Some(true) && others == 0 {
        return Ok(Removal::LastWayIn);
    }
    on_tx!(&mut tx, conn => sqlx::query("delete from passkey where passkey_id = $1 and account_id = $2")
        .bind(passkey_id).bind(account_id).execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(Removal::Deleted { name })
}

/// Deletes every passkey of the account (a reset that confirmed its address); returns how many.
pub async fn delete_passkeys_of_account(db: &Db, account_id: Uuid) -> Result<u64, sqlx::Error> {
    on_db!(db, pool => sqlx::query("delete from passkey where account_id = $1").bind(account_id).execute(pool).await.map(|r| r.rows_affected()))
}
