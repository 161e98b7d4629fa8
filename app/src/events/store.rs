use time::OffsetDateTime;
use uuid::Uuid;

use crate::client::ClientInfo;
use crate::db::{Db, Ts, new_id};
use crate::on_db;

/// One security event. `detail` is a small JSON object of non-secret facts.
pub struct NewEvent<'a> {
    pub kind: &'a str,
    pub account_id: Option<Uuid>,
    pub actor_account_id: Option<Uuid>,
    pub client: Option<&'a ClientInfo>,
    pub detail: serde_json::Value,
}

impl<'a> NewEvent<'a> {
    /// An event about the account, done by the account itself from `client`.
    pub fn by_account(kind: &'a str, account_id: Uuid, client: &'a ClientInfo, detail: serde_json::Value) -> Self {
        NewEvent { kind, account_id: Some(account_id), actor_account_id: None, client: Some(client), detail }
    }
}

pub async fn insert_event(db: &Db, event: NewEvent<'_>, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    let detail = if event.detail.is_null() { "{}".to_string() } else { event.detail.to_string() };
    let ip = event.client.map(|c| c.ip.clone());
    let user_agent = event.client.map(|c| c.user_agent.clone());
    on_db!(db, pool => sqlx::query(
        "insert into event (event_id, kind, account_id, actor_account_id, ip, user_agent, detail, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(new_id()).bind(event.kind).bind(event.account_id).bind(event.actor_account_id)
        .bind(ip).bind(user_agent).bind(detail).bind(Ts(now))
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records an event; a failure to record is logged and does not fail the user's request.
pub async fn record(db: &Db, event: NewEvent<'_>) {
    let kind = event.kind.to_string();
    if let Err(err) = insert_event(db, event, crate::db::now()).await {
        tracing::error!(error = %err, kind, "could not record security event");
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub event_id: Uuid,
    pub kind: String,
    pub account_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: String,
    pub created_at: OffsetDateTime,
}

pub async fn list_events_of_account(db: &Db, account_id: Uuid, limit: i64) -> Result<Vec<EventRow>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, EventRow>(
        "select event_id, kind, account_id, ip, user_agent, detail, created_at from event
         where account_id = $1 order by event_id desc limit $2")
        .bind(account_id).bind(limit).fetch_all(pool).await)
}
