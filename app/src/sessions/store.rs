//! The tower-sessions store on our own database (SQLite or PostgreSQL).
//!
//! Written here rather than taken from a store crate so that each row knows its account, IP and
//! browser: that is what lets a user list and end sessions, and suspension end them all. Rows are
//! keyed by SHA-256 of the session id, so a copy of the table cannot be replayed as cookies.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use uuid::Uuid;

use super::{AUTH_KEY, CLIENT_KEY, SignedIn};
use crate::client::ClientInfo;
use crate::db::{Db, Ts};
use crate::on_db;

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: Db,
    absolute: time::Duration,
}

impl DbSessionStore {
    pub fn new(db: Db, absolute: time::Duration) -> Self {
        DbSessionStore { db, absolute }
    }
}

pub fn session_key_hash(id: &Id) -> String {
    hex::encode(Sha256::digest(id.to_string().as_bytes()))
}

fn backend(err: sqlx::Error) -> session_store::Error {
    tracing::error!(error = %err, "session store");
    session_store::Error::Backend("session store unavailable".into())
}

struct RowValues {
    key: String,
    account_id: Option<Uuid>,
    data: String,
    ip: Option<String>,
    user_agent: Option<String>,
    expires_at: OffsetDateTime,
}

impl DbSessionStore {
    fn values(&self, record: &Record) -> session_store::Result<RowValues> {
        let signed_in: Option<SignedIn> = record.data.get(AUTH_KEY).and_then(|v| serde_json::from_value(v.clone()).ok());
        let client: Option<ClientInfo> = record.data.get(CLIENT_KEY).and_then(|v| {
            Some(ClientInfo { ip: v.get("ip")?.as_str()?.to_string(), user_agent: v.get("user_agent")?.as_str()?.to_string() })
        });
        // The absolute timeout is enforced here too, so an old session cannot be kept alive.
        let mut expires_at = record.expiry_date;
        if let Some(s) = &signed_in {
            if let Ok(start) = OffsetDateTime::from_unix_timestamp(s.signed_in_at) {
                expires_at = expires_at.min(start + self.absolute);
            }
        }
        Ok(RowValues {
            key: session_key_hash(&record.id),
            account_id: signed_in.map(|s| s.account_id),
            data: serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?,
            ip: client.as_ref().map(|c| c.ip.clone()),
            user_agent: client.map(|c| c.user_agent),
            expires_at,
        })
    }
}

#[async_trait::async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let now = crate::db::now();
        loop {
            let v = self.values(record)?;
            let inserted = on_db!(&self.db, pool => sqlx::query(
                "insert into session (session_key_hash, account_id, data, ip, user_agent, expires_at, created_at, updated_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $7) on conflict (session_key_hash) do nothing")
                .bind(&v.key).bind(v.account_id).bind(&v.data).bind(&v.ip).bind(&v.user_agent)
                .bind(Ts(v.expires_at)).bind(Ts(now))
                .execute(pool).await.map(|r| r.rows_affected()))
            .map_err(backend)?;
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Updates the session's row, never inserts it: a row that is gone was ended (sign-out
    /// everywhere, a reset, a suspension, an admin), and a request that was in flight meanwhile
    /// must not bring it back. New sessions come through [`SessionStore::create`].
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let now = crate::db::now();
        let v = self.values(record)?;
        let updated = on_db!(&self.db, pool => sqlx::query(
            "update session set account_id = $2, data = $3, ip = $4, user_agent = $5, expires_at = $6, updated_at = $7
             where session_key_hash = $1")
            .bind(&v.key).bind(v.account_id).bind(&v.data).bind(&v.ip).bind(&v.user_agent)
            .bind(Ts(v.expires_at)).bind(Ts(now))
            .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(backend)?;
        if updated == 0 {
            tracing::debug!("a request ended after its session did: the session stays ended");
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = crate::db::now();
        let row = on_db!(&self.db, pool => sqlx::query_as::<_, (String, OffsetDateTime)>(
            "select data, expires_at from session where session_key_hash = $1 and expires_at > $2")
            .bind(session_key_hash(id)).bind(Ts(now)).fetch_optional(pool).await)
        .map_err(backend)?;
        let Some((data, expires_at)) = row else { return Ok(None) };
        let data = serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record { id: *id, data, expiry_date: expires_at }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        on_db!(&self.db, pool => sqlx::query("delete from session where session_key_hash = $1")
            .bind(session_key_hash(id)).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(backend)?;
        Ok(())
    }
}

/// Ends every session of the account except the one with `keep` (ASVS 7.4.2, 7.4.3).
pub async fn delete_sessions_of_account(db: &Db, account_id: Uuid, keep: Option<&str>) -> Result<u64, sqlx::Error> {
    on_db!(db, pool => sqlx::query("delete from session where account_id = $1 and session_key_hash <> $2")
        .bind(account_id).bind(keep.unwrap_or("")).execute(pool).await.map(|r| r.rows_affected()))
}

pub async fn count_sessions_of_account(db: &Db, account_id: Uuid, now: OffsetDateTime) -> Result<i64, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar::<_, i64>(
        "select count(*) from session where account_id = $1 and expires_at > $2")
        .bind(account_id).bind(Ts(now)).fetch_one(pool).await)
}

/// Deletes sessions that have expired (they are never loaded again).
pub async fn delete_expired_sessions(db: &Db, now: OffsetDateTime) -> Result<u64, sqlx::Error> {
    on_db!(db, pool => sqlx::query("delete from session where expires_at <= $1")
        .bind(Ts(now)).execute(pool).await.map(|r| r.rows_affected()))
}

/// One live session of an account, as its owner sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub session_key_hash: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// The account's sessions that have not expired, most recently used first.
pub async fn list_sessions_of_account(db: &Db, account_id: Uuid, now: OffsetDateTime) -> Result<Vec<SessionRow>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, SessionRow>(
        "select session_key_hash, ip, user_agent, created_at, updated_at, expires_at from session
         where account_id = $1 and expires_at > $2 order by updated_at desc")
        .bind(account_id).bind(Ts(now)).fetch_all(pool).await)
}

/// Ends one session of the account; 0 when it is not (or no longer) one of the account's.
pub async fn delete_session_of_account(db: &Db, account_id: Uuid, key_hash: &str) -> Result<u64, sqlx::Error> {
    on_db!(db, pool => sqlx::query("delete from session where account_id = $1 and session_key_hash = $2")
        .bind(account_id).bind(key_hash).execute(pool).await.map(|r| r.rows_affected()))
}
