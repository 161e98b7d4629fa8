//! The `api_key` table. Only hashes are stored; every change that matters to the gateway is
//! announced (see `directory`) in the same transaction, so caches drop it when it commits.

use time::OffsetDateTime;
use uuid::Uuid;

use super::scope::{KeyScope, ScopeColumns};
use crate::db::{Db, Ts, Tx};
use crate::{on_db, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub api_key_id: Uuid,
    pub account_id: Uuid,
    pub key_hash: String,
    pub display_prefix: String,
    pub last4: String,
    pub label: String,
    pub key_type: String,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub revoked_reason: Option<String>,
    pub replaces: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    #[sqlx(flatten)]
    pub scope: ScopeColumns,
    /// The session whose try-it console uses this key; `None` for a developer's own key.
    pub session_key_hash: Option<String>,
}

/// Where a key stands at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Active,
    /// Rolled: still valid until the end of its grace period.
    Retiring {
        until: OffsetDateTime,
    },
    Revoked,
    Expired,
}

pub fn key_state(revoked_at: Option<OffsetDateTime>, expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> KeyState {
    match (revoked_at, expires_at) {
        (Some(at), _) if at <= now => KeyState::Revoked,
        (_, Some(at)) if at <= now => KeyState::Expired,
        (Some(until), _) => KeyState::Retiring { until },
        _ => KeyState::Active,
    }
}

impl KeyRow {
    pub fn state(&self, now: OffsetDateTime) -> KeyState {
        key_state(self.revoked_at, self.expires_at, now)
    }

    /// `mast_live_AbCd…wxyz`: all that is ever shown of a key after its creation.
    pub fn masked(&self) -> String {
        format!("{}…{}", self.display_prefix, self.last4)
    }

    pub fn scope(&self) -> KeyScope {
        KeyScope::from_columns(&self.scope)
    }

    /// The try-it console's key of a session: only revoked, never rolled or changed.
    pub fn is_console(&self) -> bool {
        self.session_key_hash.is_some()
    }
}

const COLUMNS: &str = "api_key_id, account_id, key_hash, display_prefix, last4, label, key_type, expires_at, revoked_at, \
     revoked_reason, replaces, created_at, last_used_at, scope_products, scope_access, scope_networks, session_key_hash";

pub struct NewKey<'a> {
    pub api_key_id: Uuid,
    pub account_id: Uuid,
    pub key_hash: &'a str,
    pub display_prefix: &'a str,
    pub last4: &'a str,
    pub label: &'a str,
    pub key_type: &'a str,
    pub expires_at: Option<OffsetDateTime>,
    pub replaces: Option<Uuid>,
    pub scope: &'a ScopeColumns,
    pub session_key_hash: Option<&'a str>,
}

pub async fn insert_key(tx: &mut Tx, key: &NewKey<'_>, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => sqlx::query(
        "insert into api_key (api_key_id, account_id, key_hash, display_prefix, last4, label, key_type, expires_at, replaces, created_at,
                              scope_products, scope_access, scope_networks, session_key_hash)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)")
        .bind(key.api_key_id).bind(key.account_id).bind(key.key_hash).bind(key.display_prefix).bind(key.last4)
        .bind(key.label).bind(key.key_type).bind(key.expires_at.map(Ts)).bind(key.replaces).bind(Ts(now))
        .bind(&key.scope.scope_products).bind(&key.scope.scope_access).bind(&key.scope.scope_networks).bind(key.session_key_hash)
        .execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The account's keys, newest first; revoked and expired ones too (the page greys them out).
pub async fn list_keys(db: &Db, account_id: Uuid) -> Result<Vec<KeyRow>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from api_key where account_id = $1 order by created_at desc, api_key_id desc");
    on_db!(db, pool => sqlx::query_as::<_, KeyRow>(&sql).bind(account_id).fetch_all(pool).await)
}

/// One key, only if it belongs to `account_id`: every developer-facing change goes through this.
pub async fn find_key_of(tx: &mut Tx, account_id: Uuid, api_key_id: Uuid) -> Result<Option<KeyRow>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from api_key where api_key_id = $1 and account_id = $2");
    on_tx!(tx, conn => sqlx::query_as::<_, KeyRow>(&sql).bind(api_key_id).bind(account_id).fetch_optional(conn).await)
}

pub async fn find_by_hash(db: &Db, key_hash: &str) -> Result<Option<KeyRow>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from api_key where key_hash = $1");
    on_db!(db, pool => sqlx::query_as::<_, KeyRow>(&sql).bind(key_hash).fetch_optional(pool).await)
}

/// Keys that are valid now or will be (not revoked, not expired): what the per-account cap counts.
/// The try-it console's keys are the portal's, not the developer's: they do not count.
pub async fn count_usable(tx: &mut Tx, account_id: Uuid, now: OffsetDateTime) -> Result<i64, sqlx::Error> {
    on_tx!(tx, conn => sqlx::query_scalar(
        "select count(*) from api_key where account_id = $1 and (revoked_at is null or revoked_at > $2)
         and (expires_at is null or expires_at > $2) and session_key_hash is null")
        .bind(account_id).bind(Ts(now)).fetch_one(conn).await)
}

/// Sets the instant the key stops working: now (revoke) or the end of a grace period (roll).
/// Never postpones an earlier revocation. False when the key was already revoked by then.
pub async fn revoke_at(tx: &mut Tx, api_key_id: Uuid, at: OffsetDateTime, reason: &str) -> Result<bool, sqlx::Error> {
    let changed = on_tx!(tx, conn => sqlx::query(
        "update api_key set revoked_at = $2, revoked_reason = $3 where api_key_id = $1 and (revoked_at is null or revoked_at > $2)")
        .bind(api_key_id).bind(Ts(at)).bind(reason).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(changed > 0)
}

/// Replaces what the key may do.
pub async fn set_scope(tx: &mut Tx, api_key_id: Uuid, scope: &ScopeColumns) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => sqlx::query(
        "update api_key set scope_products = $2, scope_access = $3, scope_networks = $4 where api_key_id = $1")
        .bind(api_key_id).bind(&scope.scope_products).bind(&scope.scope_access).bind(&scope.scope_networks)
        .execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The gateway's view of a key: the key and what it needs of the account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyLookup {
    pub api_key_id: Uuid,
    pub account_id: Uuid,
    pub label: String,
    pub key_type: String,
    pub display_prefix: String,
    pub last4: String,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub account_status: String,
    pub email_verified_at: Option<OffsetDateTime>,
    pub plan: Option<String>,
    /// How many of the shipped documents the account has accepted in their current version.
    pub current_consents: i64,
    #[sqlx(flatten)]
    pub stored_scope: ScopeColumns,
    /// `stored_scope`, parsed once when the key is looked up.
    #[sqlx(skip)]
    pub scope: KeyScope,
}

impl KeyLookup {
    /// Whether the account has accepted the current Terms and Privacy Policy.
    pub fn consents_current(&self) -> bool {
        self.current_consents >= crate::consent::DOCUMENTS.len() as i64
    }
}

pub async fn lookup(db: &Db, key_hash: &str) -> Result<Option<KeyLookup>, sqlx::Error> {
    let found = on_db!(db, pool => sqlx::query_as::<_, KeyLookup>(
        "select k.api_key_id, k.account_id, k.label, k.key_type, k.display_prefix, k.last4, k.expires_at, k.revoked_at,
                k.scope_products, k.scope_access, k.scope_networks, a.status as account_status, a.email_verified_at, a.plan,
                (select count(distinct c.document) from consent c where c.account_id = k.account_id
                     and ((c.document = $2 and c.version = $3) or (c.document = $4 and c.version = $5))) as current_consents
         from api_key k join account a on a.account_id = k.account_id where k.key_hash = $1")
        .bind(key_hash)
        .bind(crate::consent::TERMS.slug).bind(crate::consent::TERMS.version)
        .bind(crate::consent::PRIVACY.slug).bind(crate::consent::PRIVACY.version)
        .fetch_optional(pool).await)?;
    Ok(found.map(|key| KeyLookup { scope: KeyScope::from_columns(&key.stored_scope), ..key }))
}

/// Accepted requests of the account since `since` (the start of its month), from the rollup.
pub async fn accepted_requests_since(db: &Db, account_id: Uuid, since: OffsetDateTime) -> Result<i64, sqlx::Error> {
    let total: Option<i64> = on_db!(db, pool => sqlx::query_scalar(
        "select cast(sum(requests) as bigint) from usage_day where account_id = $1 and day >= $2 and outcome = 'accepted'")
        .bind(account_id).bind(Ts(since)).fetch_one(pool).await)?;
    Ok(total.unwrap_or(0))
}

/// Requests that presented this key since `since`, accepted or not: a retiring key's traffic.
pub async fn key_requests_since(db: &Db, api_key_id: Uuid, since: OffsetDateTime) -> Result<i64, sqlx::Error> {
    let total: Option<i64> = on_db!(db, pool => sqlx::query_scalar(
        "select cast(sum(requests) as bigint) from usage_minute where api_key_id = $1 and minute >= $2")
        .bind(api_key_id).bind(Ts(since)).fetch_one(pool).await)?;
    Ok(total.unwrap_or(0))
}

/// One key, only if it belongs to `account_id` (for pages that only read).
pub async fn find_key_of_account(db: &Db, account_id: Uuid, api_key_id: Uuid) -> Result<Option<KeyRow>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from api_key where api_key_id = $1 and account_id = $2");
    on_db!(db, pool => sqlx::query_as::<_, KeyRow>(&sql).bind(api_key_id).bind(account_id).fetch_optional(pool).await)
}

/// Keys whose shown prefix starts with `prefix` (the admin console's key filter), of `account`
/// only when one is given.
pub async fn keys_with_prefix(db: &Db, prefix: &str, account: Option<Uuid>) -> Result<Vec<Uuid>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar(
        "select api_key_id from api_key where substr(display_prefix, 1, cast($2 as integer)) = $1
         and ($3 is null or account_id = $3) limit 100")
        .bind(prefix).bind(prefix.chars().count() as i64).bind(account).fetch_all(pool).await)
}

/// The session's console key that still works, if any.
pub async fn console_key_of(
    tx: &mut Tx,
    account_id: Uuid,
    session_key_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<KeyRow>, sqlx::Error> {
    let sql = format!(
        "select {COLUMNS} from api_key where session_key_hash = $1 and account_id = $2 and revoked_at is null and expires_at > $3
         order by created_at desc limit 1"
    );
    on_tx!(tx, conn => sqlx::query_as::<_, KeyRow>(&sql).bind(session_key_hash).bind(account_id).bind(Ts(now)).fetch_optional(conn).await)
}

/// Console keys still working whose session has ended (signed out, ended elsewhere, expired).
pub async fn console_keys_of_ended_sessions(db: &Db, now: OffsetDateTime) -> Result<Vec<KeyRow>, sqlx::Error> {
    let sql = format!(
        "select {COLUMNS} from api_key k where k.session_key_hash is not null and k.revoked_at is null and k.expires_at > $1
         and not exists (select 1 from session s where s.session_key_hash = k.session_key_hash and s.expires_at > $1)"
    );
    on_db!(db, pool => sqlx::query_as::<_, KeyRow>(&sql).bind(Ts(now)).fetch_all(pool).await)
}
