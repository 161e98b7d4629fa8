//! Reads for the data export and the writes of account deletion. Each section of the export
//! names its columns: secrets (password hash, key hashes, token hashes, session data, passkey
//! public keys) are never exported.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Db, Ts, Tx};
use crate::{on_db, on_tx};

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ProfileRow {
    pub account_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub organisation: Option<String>,
    pub country: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub email_verified_at: Option<OffsetDateTime>,
    pub status: String,
    pub role: String,
    pub plan: Option<String>,
    pub has_password: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_sign_in_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ConsentExport {
    pub document: String,
    pub version: String,
    pub text_sha256: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub accepted_at: OffsetDateTime,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct PasskeyExport {
    pub passkey_id: Uuid,
    pub name: String,
    pub credential_id: String,
    pub backed_up: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ApiKeyExport {
    pub api_key_id: Uuid,
    pub label: String,
    pub key_type: String,
    pub display_prefix: String,
    pub last4: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    pub revoked_reason: Option<String>,
    pub replaces: Option<Uuid>,
    /// What the key may do: products (slugs, null: all), `read` or `read_write`, networks.
    pub scope_products: Option<String>,
    pub scope_access: String,
    pub scope_networks: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct SessionExport {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct EmailTokenExport {
    pub purpose: String,
    pub new_email: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub used_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct EventExport {
    pub event_id: Uuid,
    pub kind: String,
    /// Whether the account was the subject (`account`) or the one acting (`actor`, e.g. an admin).
    pub role: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A deprecated operation the account's keys called, and when it was told about it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct DeprecatedCallExport {
    pub product: String,
    pub method: String,
    pub path: String,
    pub calls: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub first_call_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_call_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub notified_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct UsageDayExport {
    #[serde(with = "time::serde::rfc3339")]
    pub day: OffsetDateTime,
    pub api_key_id: Uuid,
    pub route: String,
    pub outcome: String,
    pub code: String,
    pub requests: i64,
    pub latency_us_total: i64,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct RequestLogExport {
    pub request_log_id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub method: String,
    pub route: String,
    pub status: i64,
    pub outcome: String,
    pub code: Option<String>,
    pub api_key_id: Option<Uuid>,
    pub key_label: Option<String>,
    pub key_type: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub latency_us: i64,
}

/// Every small section of the export (all but the request log, which is read in pages).
#[derive(Debug, Serialize)]
pub struct Sections {
    pub profile: ProfileRow,
    pub consents: Vec<ConsentExport>,
    pub passkeys: Vec<PasskeyExport>,
    pub api_keys: Vec<ApiKeyExport>,
    pub sessions: Vec<SessionExport>,
    pub email_tokens: Vec<EmailTokenExport>,
    pub events: Vec<EventExport>,
    pub usage_days: Vec<UsageDayExport>,
    pub deprecated_calls: Vec<DeprecatedCallExport>,
}

macro_rules! all_of {
    ($db:expr, $ty:ty, $sql:expr, $id:expr) => {
        on_db!($db, pool => sqlx::query_as::<_, $ty>($sql).bind($id).fetch_all(pool).await)
    };
}

pub async fn sections(db: &Db, account_id: Uuid) -> Result<Option<Sections>, sqlx::Error> {
    let profile = on_db!(db, pool => sqlx::query_as::<_, ProfileRow>(
        "select account_id, email, display_name, organisation, country, email_verified_at, status, role, plan,
                password_hash is not null as has_password, last_sign_in_at, created_at, updated_at
         from account where account_id = $1")
        .bind(account_id).fetch_optional(pool).await)?;
    let Some(profile) = profile else { return Ok(None) };
    Ok(Some(Sections {
        profile,
        consents: all_of!(
            db,
            ConsentExport,
            "select document, version, text_sha256, ip, user_agent, accepted_at from consent where account_id = $1 order by accepted_at",
            account_id
        )?,
        passkeys: all_of!(
            db,
            PasskeyExport,
            "select passkey_id, name, credential_id, backed_up, created_at, last_used_at from passkey where account_id = $1 order by created_at",
            account_id
        )?,
        api_keys: all_of!(
            db,
            ApiKeyExport,
            "select api_key_id, label, key_type, display_prefix, last4, expires_at, revoked_at, revoked_reason, replaces,
                    scope_products, scope_access, scope_networks, created_at, last_used_at
             from api_key where account_id = $1 order by created_at",
            account_id
        )?,
        sessions: all_of!(
            db,
            SessionExport,
            "select ip, user_agent, created_at, updated_at as last_seen_at, expires_at from session where account_id = $1 order by created_at",
            account_id
        )?,
        email_tokens: all_of!(
            db,
            EmailTokenExport,
            "select purpose, new_email, created_at, expires_at, used_at from email_token where account_id = $1 order by created_at",
            account_id
        )?,
        events: all_of!(
            db,
            EventExport,
            "select event_id, kind, case when account_id = $1 then 'account' else 'actor' end as role, ip, user_agent, detail, created_at
             from event where account_id = $1 or actor_account_id = $1 order by created_at",
            account_id
        )?,
        usage_days: all_of!(
            db,
            UsageDayExport,
            "select day, api_key_id, route, outcome, code, requests, latency_us_total from usage_day where account_id = $1 order by day",
            account_id
        )?,
        deprecated_calls: all_of!(
            db,
            DeprecatedCallExport,
            "select product, method, path, calls, first_call_at, last_call_at, notified_at from deprecated_call
             where account_id = $1 order by first_call_at",
            account_id
        )?,
    }))
}

/// The next `limit` request-log records of the account after `after` (time, id), oldest first.
pub async fn request_log_page(
    db: &Db,
    account_id: Uuid,
    after: Option<(OffsetDateTime, i64)>,
    limit: i64,
) -> Result<Vec<RequestLogExport>, sqlx::Error> {
    let (at, id) = after.unwrap_or((OffsetDateTime::UNIX_EPOCH, i64::MIN));
    on_db!(db, pool => sqlx::query_as::<_, RequestLogExport>(
        "select request_log_id, at, method, route, cast(status as bigint) as status, outcome, code, api_key_id, key_label, key_type, ip, user_agent, latency_us
         from request_log where account_id = $1 and (at > $2 or (at = $2 and request_log_id > $3))
         order by at, request_log_id limit $4")
        .bind(account_id).bind(Ts(at)).bind(id).bind(limit).fetch_all(pool).await)
}

/// What deleting an account changed, for its event and the tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deleted {
    pub request_log_rows_anonymised: u64,
    pub usage_rows_anonymised: u64,
    pub events_deleted: u64,
}

/// Deletes the account and everything personal it left, inside the caller's transaction:
/// request-log records lose account, IP, browser and key label (counts stay, so totals and
/// charts of the API stay true); usage counts move to the nil account; its own events go, and
/// where it acted on others (as an admin) its IP and browser are removed. The account row's
/// deletion takes email links, consents, sessions, passkeys and keys with it (foreign keys).
pub async fn delete_account_in(tx: &mut Tx, account_id: Uuid) -> Result<Deleted, sqlx::Error> {
    let mut deleted = Deleted::default();
    macro_rules! run {
        ($sql:expr) => {
            on_tx!(tx, conn => sqlx::query($sql).bind(account_id).execute(conn).await.map(|r| r.rows_affected()))?
        };
    }
    deleted.request_log_rows_anonymised =
        run!("update request_log set account_id = null, ip = null, user_agent = null, key_label = null where account_id = $1");
    for sql in [
        "update usage_minute set account_id = $2 where account_id = $1",
        "update usage_hour set account_id = $2 where account_id = $1",
        "update usage_day set account_id = $2 where account_id = $1",
    ] {
        deleted.usage_rows_anonymised +=
            on_tx!(tx, conn => sqlx::query(sql).bind(account_id).bind(Uuid::nil()).execute(conn).await.map(|r| r.rows_affected()))?;
    }
    deleted.events_deleted = run!("delete from event where account_id = $1");
    run!("update event set actor_account_id = null, ip = null, user_agent = null where actor_account_id = $1");
    run!("delete from account where account_id = $1");
    Ok(deleted)
}
