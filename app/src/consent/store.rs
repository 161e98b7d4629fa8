use time::OffsetDateTime;
use uuid::Uuid;

use crate::client::ClientInfo;
use crate::db::{Db, Ts, Tx, new_id};
use crate::{on_db, on_tx};

pub struct NewConsent<'a> {
    pub document: &'a str,
    pub version: &'a str,
    pub text_sha256: &'a str,
}

pub async fn insert_consent(
    tx: &mut Tx,
    account_id: Uuid,
    consent: &NewConsent<'_>,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => sqlx::query(
        "insert into consent (consent_id, account_id, document, version, text_sha256, ip, user_agent, accepted_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(new_id()).bind(account_id).bind(consent.document).bind(consent.version).bind(consent.text_sha256)
        .bind(&client.ip).bind(&client.user_agent).bind(Ts(now))
        .execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentRow {
    pub document: String,
    pub version: String,
    pub text_sha256: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub accepted_at: OffsetDateTime,
}

pub async fn list_consents(db: &Db, account_id: Uuid) -> Result<Vec<ConsentRow>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, ConsentRow>(
        "select document, version, text_sha256, ip, user_agent, accepted_at from consent
         where account_id = $1 order by accepted_at desc, document")
        .bind(account_id).fetch_all(pool).await)
}

/// The shipped documents whose current version the account has not accepted.
pub async fn pending_documents(db: &Db, account_id: Uuid) -> Result<Vec<&'static super::Document>, sqlx::Error> {
    let accepted: Vec<(String, String)> = on_db!(db, pool => sqlx::query_as(
        "select document, version from consent where account_id = $1")
        .bind(account_id).fetch_all(pool).await)?;
    Ok(super::DOCUMENTS.into_iter().filter(|doc| !accepted.iter().any(|(d, v)| d == doc.slug && v == doc.version)).collect())
}
