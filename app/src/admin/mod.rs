//! The admin console: accounts, the request log and security events. Every server function
//! here checks the admin role on the server first; keys are only ever shown as prefix…last4.
//! Admin actions are security events themselves (who did what to whom, when, from where).

mod pages;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::*;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api_keys::KeyInfo;
use crate::error::AppError;
use crate::usage::{RequestFilter, RequestRow};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub organisation: Option<String>,
    pub verified: bool,
    pub status: String,
    pub role: String,
    pub plan: String,
    pub keys: i64,
    pub last_sign_in_at: Option<String>,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountList {
    pub rows: Vec<AccountSummary>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventInfo {
    pub id: String,
    pub at: String,
    pub kind: String,
    pub account_id: Option<String>,
    pub account: Option<String>,
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountDetail {
    pub account: AccountSummary,
    pub country: Option<String>,
    pub keys: Vec<KeyInfo>,
    pub passkeys: i64,
    pub sessions: i64,
    pub plans: Vec<String>,
    pub events: Vec<EventInfo>,
    /// The admin is looking at their own account (they cannot suspend it).
    pub is_self: bool,
}

/// A request-log row as admins see it: the account's email and the key masked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminLogRow {
    pub row: RequestRow,
    pub account_id: Option<String>,
    pub account: Option<String>,
    pub key: Option<String>,
    pub key_label: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminLogPage {
    pub rows: Vec<AdminLogRow>,
    pub older: Option<i64>,
}

/// The admin log filters on top of the developer's: account, key prefix, IP and time range.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdminLogFilter {
    pub common: RequestFilter,
    pub account: Option<String>,
    pub key: Option<String>,
    pub ip: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl AdminLogFilter {
    /// The filters from a page's query string (`get` reads one parameter).
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> AdminLogFilter {
        AdminLogFilter {
            common: RequestFilter::from_query(&get),
            account: get("account"),
            key: get("key"),
            ip: get("ip"),
            from: get("from"),
            to: get("to"),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventFilter {
    pub kind: Option<String>,
    pub account: Option<String>,
    pub ip: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub before: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    pub rows: Vec<EventInfo>,
    pub older: Option<String>,
}

/// Event kinds offered in the filter: groups first, then each kind.
pub const EVENT_GROUPS: &[(&str, &str)] = &[
    ("session.", "Sign-ins and sessions"),
    ("account.", "Accounts"),
    ("password.", "Passwords"),
    ("passkey.", "Passkeys"),
    ("api_key.", "API keys"),
    ("admin.", "Admin actions"),
    ("consent.", "Consent"),
    ("contact.", "Contact form"),
    ("request.", "Refused requests"),
];

#[cfg(feature = "ssr")]
pub mod guard {
    use super::*;
    use crate::accounts::store::Account;

    /// The signed-in admin; anyone else is refused (403, or 401 when not signed in).
    pub async fn require_admin() -> Result<Account, AppError> {
        let account = crate::sessions::auth::require_account().await?;
        crate::sessions::auth::no_store();
        if account.role != "admin" {
            let state = crate::state::AppState::current()?;
            let client = crate::state::current_client().await;
            crate::events::store::record(
                &state.db,
                crate::events::store::NewEvent::by_account(
                    crate::events::kind::ADMIN_REFUSED,
                    account.account_id,
                    &client,
                    serde_json::json!({}),
                ),
            )
            .await;
            return Err(AppError::Forbidden);
        }
        Ok(account)
    }
}

#[cfg(feature = "ssr")]
mod convert {
    use super::*;
    use crate::accounts::format_time;

    pub fn summary(row: &store::AccountListRow, config: &crate::config::Config) -> AccountSummary {
        AccountSummary {
            id: row.account_id.to_string(),
            email: row.email.clone(),
            display_name: row.display_name.clone(),
            organisation: row.organisation.clone(),
            verified: row.email_verified_at.is_some(),
            status: row.status.clone(),
            role: row.role.clone(),
            plan: config.plan(row.plan.as_deref()).name.clone(),
            keys: row.keys,
            last_sign_in_at: row.last_sign_in_at.map(format_time),
            created_at: format_time(row.created_at),
        }
    }

    pub fn event(row: &store::EventListRow) -> EventInfo {
        EventInfo {
            id: row.event_id.to_string(),
            at: format_time(row.created_at),
            kind: row.kind.clone(),
            account_id: row.account_id.map(|id| id.to_string()),
            account: row.email.clone(),
            actor: row.actor_email.clone(),
            ip: row.ip.clone(),
            user_agent: row.user_agent.clone(),
            detail: row.detail.clone(),
        }
    }

    /// `2026-11-25` or `2026-11-25T10:30` (what date and datetime-local inputs send), as UTC.
    pub fn parse_time(value: &Option<String>, field: &str) -> Result<Option<time::OffsetDateTime>, AppError> {
        let Some(text) = crate::usage::log::given(value) else { return Ok(None) };
        let date_format = time::macros::format_description!("[year]-[month]-[day]");
        let minute_format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
        if let Ok(date) = time::Date::parse(&text, date_format) {
            return Ok(Some(date.midnight().assume_utc()));
        }
        if let Ok(at) = time::PrimitiveDateTime::parse(&text, minute_format) {
            return Ok(Some(at.assume_utc()));
        }
        Err(AppError::invalid(field, "Enter a date like 2026-11-25 or 2026-11-25T10:30 (UTC)."))
    }

    /// An account named by email or id; an unknown one is an error the admin sees.
    pub async fn account_filter(db: &crate::db::Db, value: &Option<String>) -> Result<Option<uuid::Uuid>, AppError> {
        let Some(text) = crate::usage::log::given(value) else { return Ok(None) };
        match store::find_account_by_email_or_id(db, &text).await? {
            Some(account) => Ok(Some(account.account_id)),
            None => Err(AppError::invalid("account", "No account has this email or id.")),
        }
    }
}

#[server(prefix = "/rpc", endpoint = "admin_accounts")]
pub async fn admin_accounts(
    #[server(default)] search: String,
    #[server(default)] sort: String,
    #[server(default)] page: String,
) -> Result<AccountList, AppError> {
    let state = crate::state::AppState::current()?;
    guard::require_admin().await?;
    if search.chars().count() > 254 {
        return Err(AppError::invalid("search", "Search for at most 254 characters."));
    }
    let page = page.trim().parse::<i64>().unwrap_or(1).clamp(1, 1_000_000) - 1;
    let (rows, total) = store::search_accounts(&state.db, search.trim(), store::AccountOrder::parse(&sort), page).await?;
    Ok(AccountList {
        rows: rows.iter().map(|r| convert::summary(r, &state.config)).collect(),
        total,
        page: page + 1,
        pages: ((total + store::ACCOUNTS_PER_PAGE - 1) / store::ACCOUNTS_PER_PAGE).max(1),
    })
}

#[server(prefix = "/rpc", endpoint = "admin_account")]
pub async fn admin_account(account_id: String) -> Result<AccountDetail, AppError> {
    let state = crate::state::AppState::current()?;
    let admin = guard::require_admin().await?;
    let id = uuid::Uuid::parse_str(&account_id).map_err(|_| AppError::NotFound)?;
    let account = crate::accounts::store::find_account(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let now = crate::db::now();
    let key_rows = crate::api_keys::store::list_keys(&state.db, id).await?;
    let mut keys = Vec::with_capacity(key_rows.len());
    for row in &key_rows {
        keys.push(crate::api_keys::issue::key_info(&state, row, now).await?);
    }
    let list_row = store::AccountListRow {
        account_id: account.account_id,
        email: account.email.clone(),
        display_name: account.display_name.clone(),
        organisation: account.organisation.clone(),
        email_verified_at: account.email_verified_at,
        status: account.status.clone(),
        role: account.role.clone(),
        plan: account.plan.clone(),
        last_sign_in_at: account.last_sign_in_at,
        created_at: account.created_at,
        keys: key_rows.len() as i64,
    };
    let (events, _) = store::list_events(&state.db, &store::EventQuery { account_id: Some(id), ..Default::default() }).await?;
    Ok(AccountDetail {
        account: convert::summary(&list_row, &state.config),
        country: account.country.clone(),
        keys,
        passkeys: store::count_passkeys(&state.db, id).await?,
        sessions: crate::sessions::store::count_sessions_of_account(&state.db, id, now).await?,
        plans: state.config.plans.iter().map(|p| p.name.clone()).collect(),
        events: events.iter().take(20).map(convert::event).collect(),
        is_self: admin.account_id == id,
    })
}

/// Suspends (`suspend`) or reactivates (`reactivate`) an account. Suspension ends its sessions
/// and refuses its keys at once on every instance.
#[server(prefix = "/rpc", endpoint = "admin_set_status")]
pub async fn admin_set_status(account_id: String, action: String) -> Result<(), AppError> {
    let state = crate::state::AppState::current()?;
    let admin = guard::require_admin().await?;
    let id = uuid::Uuid::parse_str(&account_id).map_err(|_| AppError::NotFound)?;
    let (status, kind) = match action.as_str() {
        "suspend" => ("suspended", crate::events::kind::ADMIN_SUSPENDED),
        "reactivate" => ("active", crate::events::kind::ADMIN_REACTIVATED),
        _ => return Err(AppError::message("Choose suspend or reactivate.")),
    };
    if id == admin.account_id {
        return Err(AppError::message("You cannot suspend your own account."));
    }
    crate::accounts::store::find_account(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let now = crate::db::now();
    let changed = store::update_account(&state.db, &state.keys, id, store::AccountChange::Status(status), now).await?;
    if status == "suspended" {
        crate::sessions::store::delete_sessions_of_account(&state.db, id, None).await?;
    }
    if changed {
        record_admin_action(&state, &admin, id, kind, serde_json::json!({})).await;
    }
    Ok(())
}

/// Ends every session of an account (ASVS 7.4.5), e.g. when its owner reports a lost laptop.
#[server(prefix = "/rpc", endpoint = "admin_end_sessions")]
pub async fn admin_end_sessions(account_id: String) -> Result<u64, AppError> {
    let state = crate::state::AppState::current()?;
    let admin = guard::require_admin().await?;
    let id = uuid::Uuid::parse_str(&account_id).map_err(|_| AppError::NotFound)?;
    if id == admin.account_id {
        return Err(AppError::message("Use Sign out everywhere else on your Security page for your own sessions."));
    }
    crate::accounts::store::find_account(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let ended = crate::sessions::store::delete_sessions_of_account(&state.db, id, None).await?;
    record_admin_action(&state, &admin, id, crate::events::kind::ADMIN_SESSIONS_ENDED, serde_json::json!({ "ended": ended })).await;
    Ok(ended)
}

#[server(prefix = "/rpc", endpoint = "admin_set_plan")]
pub async fn admin_set_plan(account_id: String, plan: String) -> Result<(), AppError> {
    let state = crate::state::AppState::current()?;
    let admin = guard::require_admin().await?;
    let id = uuid::Uuid::parse_str(&account_id).map_err(|_| AppError::NotFound)?;
    if !state.config.plans.iter().any(|p| p.name == plan) {
        return Err(AppError::invalid("plan", "Choose one of the configured plans."));
    }
    let account = crate::accounts::store::find_account(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let before = state.config.plan(account.plan.as_deref()).name.clone();
    store::update_account(&state.db, &state.keys, id, store::AccountChange::Plan(&plan), crate::db::now()).await?;
    record_admin_action(&state, &admin, id, crate::events::kind::ADMIN_PLAN_CHANGED, serde_json::json!({ "from": before, "to": plan }))
        .await;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "admin_resend_verification")]
pub async fn admin_resend_verification(account_id: String) -> Result<(), AppError> {
    let state = crate::state::AppState::current()?;
    let admin = guard::require_admin().await?;
    let id = uuid::Uuid::parse_str(&account_id).map_err(|_| AppError::NotFound)?;
    let account = crate::accounts::store::find_account(&state.db, id).await?.ok_or(AppError::NotFound)?;
    if account.email_verified_at.is_some() {
        return Err(AppError::message("This address is already confirmed."));
    }
    crate::email_verification::send_verification(&state, &account).await?;
    record_admin_action(&state, &admin, id, crate::events::kind::ADMIN_VERIFICATION_SENT, serde_json::json!({})).await;
    Ok(())
}

#[cfg(feature = "ssr")]
async fn record_admin_action(
    state: &crate::state::AppState,
    admin: &crate::accounts::store::Account,
    account_id: uuid::Uuid,
    kind: &str,
    detail: serde_json::Value,
) {
    let client = crate::state::current_client().await;
    crate::events::store::record(
        &state.db,
        crate::events::store::NewEvent {
            kind,
            account_id: Some(account_id),
            actor_account_id: Some(admin.account_id),
            client: Some(&client),
            detail,
        },
    )
    .await;
}

/// The admin's log query from the page's filters, checked.
#[cfg(feature = "ssr")]
pub async fn admin_log_query(db: &crate::db::Db, filter: &AdminLogFilter, limit: i64) -> Result<crate::usage::log::LogQuery, AppError> {
    use crate::usage::log::{LogQuery, check_common, given};
    let mut query = LogQuery { limit, ..LogQuery::default() };
    check_common(&mut query, &filter.common)?;
    query.account_id = convert::account_filter(db, &filter.account).await?;
    if let Some(prefix) = given(&filter.key) {
        // Shown keys look like `mast_live_AbCd…wxyz`: search by the part before the ellipsis.
        let prefix = prefix.split('…').next().unwrap_or_default().to_string();
        query.api_key_ids = crate::api_keys::store::keys_with_prefix(db, &prefix, query.account_id).await?;
        if query.api_key_ids.is_empty() {
            let message = if query.account_id.is_some() {
                "No key of this account starts with this prefix."
            } else {
                "No key starts with this prefix."
            };
            return Err(AppError::invalid("key", message));
        }
    }
    query.ip = match given(&filter.ip) {
        Some(ip) if ip.parse::<std::net::IpAddr>().is_ok() => Some(ip),
        Some(_) => return Err(AppError::invalid("ip", "Enter an IP address like 203.0.113.7.")),
        None => None,
    };
    query.from = convert::parse_time(&filter.from, "from")?;
    query.to = convert::parse_time(&filter.to, "to")?;
    Ok(query)
}

#[server(prefix = "/rpc", endpoint = "admin_logs")]
pub async fn admin_logs(#[server(default)] filter: AdminLogFilter) -> Result<AdminLogPage, AppError> {
    let state = crate::state::AppState::current()?;
    guard::require_admin().await?;
    let query = admin_log_query(&state.db, &filter, crate::usage::log::PAGE_SIZE).await?;
    let (rows, older) = crate::usage::log::rows(&state.db, &query).await?;
    Ok(AdminLogPage {
        rows: rows
            .iter()
            .map(|r| AdminLogRow {
                row: r.to_request_row(),
                account_id: r.account_id.map(|id| id.to_string()),
                account: r.email.clone(),
                key: r.masked_key(),
                key_label: r.key_label.clone(),
            })
            .collect(),
        older,
    })
}

#[server(prefix = "/rpc", endpoint = "admin_events")]
pub async fn admin_events(#[server(default)] filter: EventFilter) -> Result<EventPage, AppError> {
    let state = crate::state::AppState::current()?;
    guard::require_admin().await?;
    let kind = crate::usage::log::given(&filter.kind);
    if kind.as_ref().is_some_and(|k| k.len() > 64 || !k.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')) {
        return Err(AppError::invalid("kind", "Choose an event kind from the list."));
    }
    let ip = crate::usage::log::given(&filter.ip);
    if ip.as_ref().is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_err()) {
        return Err(AppError::invalid("ip", "Enter an IP address like 203.0.113.7."));
    }
    let before = match crate::usage::log::given(&filter.before) {
        Some(b) => Some(uuid::Uuid::parse_str(&b).map_err(|_| AppError::invalid("before", "This page link is not valid."))?),
        None => None,
    };
    let query = store::EventQuery {
        kind,
        account_id: convert::account_filter(&state.db, &filter.account).await?,
        ip,
        from: convert::parse_time(&filter.from, "from")?,
        to: convert::parse_time(&filter.to, "to")?,
        before,
    };
    let (rows, older) = store::list_events(&state.db, &query).await?;
    Ok(EventPage { rows: rows.iter().map(convert::event).collect(), older: older.map(|id| id.to_string()) })
}

/// Every deprecated operation called recently, with the accounts that call it.
#[server(prefix = "/rpc", endpoint = "admin_deprecations")]
pub async fn admin_deprecations() -> Result<Vec<crate::deprecations::DeprecatedCallers>, AppError> {
    let state = crate::state::AppState::current()?;
    guard::require_admin().await?;
    let since = state.clock.now() - time::Duration::days(crate::deprecations::RECENT_DAYS);
    let mut out: Vec<crate::deprecations::DeprecatedCallers> = Vec::new();
    let mut last: Option<crate::deprecations::store::OperationKey> = None;
    for row in crate::deprecations::store::callers(&state.db, since).await? {
        if last.as_ref() != Some(&row.op) {
            out.push(crate::deprecations::DeprecatedCallers {
                operation: crate::deprecations::ssr::describe(&state, &row.op, 0, row.last_call_at),
                accounts: Vec::new(),
            });
            last = Some(row.op.clone());
        }
        if let Some(group) = out.last_mut() {
            group.operation.calls += row.calls;
            group.accounts.push((row.account_id.to_string(), row.email, row.calls, crate::accounts::format_time(row.last_call_at)));
        }
    }
    Ok(out)
}
