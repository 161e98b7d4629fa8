//! API keys: developers issue, roll and revoke them on the Keys page. A key is shown once and
//! stored as an HMAC ([`secret`]); the gateway finds keys through the cached [`directory`].

#[cfg(feature = "ssr")]
pub mod directory;
#[cfg(feature = "ssr")]
pub mod format;
#[cfg(feature = "ssr")]
pub mod issue;
mod pages;
#[cfg(feature = "ssr")]
pub mod scope;
#[cfg(feature = "ssr")]
pub mod secret;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::*;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Keys an account may hold at once (active or in their grace period).
pub const MAX_USABLE_KEYS: i64 = 20;
pub const LABEL_MAX: usize = 60;
pub const UNVERIFIED: &str = "Confirm your email address first: only confirmed accounts can create API keys.";
pub const TOO_MANY: &str = "You have 20 usable keys, the most an account can hold. Revoke one you no longer use first.";
pub const NOT_ACTIVE: &str = "This key is no longer active, so it cannot be rolled.";
pub const NOT_CHANGEABLE: &str = "This key no longer works, so what it may do cannot be changed.";
pub const ALREADY_ROLLED: &str = "This key has already been rolled and is in its grace period.";
pub const CONSOLE_KEY_FIXED: &str = "This is the try-it console's key for one of your sessions: it cannot be rolled or changed, only revoked, and it ends with the session.";
/// The label of the keys the docs' try-it console calls with.
pub const CONSOLE_KEY_LABEL: &str = "Try-it console";
/// The longest a console key works, whatever its session does.
pub const CONSOLE_KEY_HOURS: i64 = 12;

/// Lifetimes offered when creating a key.
pub const EXPIRY_CHOICES: &[(&str, &str)] = &[("never", "Never"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year")];
/// How long a rolled key keeps working, as offered on the page.
pub const GRACE_CHOICES: &[(&str, &str)] = &[("now", "Stop it now"), ("1h", "1 hour"), ("24h", "24 hours"), ("7d", "7 days")];

/// A key as its owner sees it: never the key itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub id: String,
    pub label: String,
    pub key_type: String,
    /// `mast_live_AbCd…wxyz`
    pub masked: String,
    /// active, retiring, revoked or expired
    pub state: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    /// For a retiring key: when it stops working, and its requests in the last hour.
    pub retiring_until: Option<String>,
    pub requests_last_hour: Option<i64>,
    pub scope: ScopeInfo,
    /// The try-it console's key of one of the owner's sessions: it can only be revoked.
    #[serde(default)]
    pub console: bool,
}

/// What a key may do, as its owner sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScopeInfo {
    /// (slug, name) of the products it may call; `None`: every product, also ones added later.
    pub products: Option<Vec<(String, String)>>,
    /// Only GET, HEAD and OPTIONS.
    pub read_only: bool,
    /// CIDR ranges it may be used from; empty: any address.
    pub networks: Vec<String>,
}

impl ScopeInfo {
    /// "All APIs · read and write · any address": one line for the key list.
    pub fn summary(&self) -> String {
        let apis = match &self.products {
            None => "All APIs".to_string(),
            Some(products) => products.iter().map(|(_, name)| name.as_str()).collect::<Vec<_>>().join(", "),
        };
        let access = if self.read_only { "read only" } else { "read and write" };
        let from = match self.networks.len() {
            0 => "any address".to_string(),
            1..=3 => format!("from {}", self.networks.join(", ")),
            n => format!("from {n} address ranges"),
        };
        format!("{apis} \u{b7} {access} \u{b7} {from}")
    }
}

/// A product a key can be limited to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProductChoice {
    pub slug: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanInfo {
    pub name: String,
    pub requests_per_minute: u32,
    pub requests_per_month: u64,
    pub used_this_month: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeysOverview {
    pub keys: Vec<KeyInfo>,
    pub plan: PlanInfo,
    pub verified: bool,
    /// The installation mails keys on request.
    pub email_keys: bool,
    /// Where the protected API answers, for the page's example call.
    pub api_base: String,
    /// The products a key can be limited to (empty: the installation has none).
    pub products: Vec<ProductChoice>,
}

/// A key just created: the only time the full key is ever sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssuedKey {
    pub key: String,
    pub info: KeyInfo,
}

#[server(prefix = "/rpc", endpoint = "keys_overview")]
pub async fn get_keys_overview() -> Result<KeysOverview, AppError> {
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    crate::sessions::auth::no_store();
    let now = crate::db::now();
    let rows = store::list_keys(&state.db, account.account_id).await?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in &rows {
        keys.push(issue::key_info(&state, row, now).await?);
    }
    Ok(KeysOverview {
        keys,
        plan: issue::plan_info(&state, &account, now).await?,
        verified: account.email_verified_at.is_some(),
        email_keys: state.config.email_api_keys,
        api_base: state.config.link(&example_path(&state)),
        products: product_choices(&state),
    })
}

/// A path the page's example call can really use: the built-in echo, or with products the
/// first product's first GET without parameters (else its base).
#[cfg(feature = "ssr")]
fn example_path(state: &crate::state::AppState) -> String {
    let Some(product) = state.catalogue.products.first() else { return "/api/v1/echo".to_string() };
    let ops = &product.reference.operations;
    let path = ops.iter().find(|op| op.method == "GET" && !op.path.contains('{')).map_or("/", |op| op.path.as_str());
    format!("/api/{}{path}", product.config.slug)
}

/// The products a key can be limited to: all the installation publishes (a plan may change).
#[cfg(feature = "ssr")]
pub fn product_choices(state: &crate::state::AppState) -> Vec<ProductChoice> {
    state.catalogue.products.iter().map(|p| ProductChoice { slug: p.config.slug.clone(), name: p.config.name.clone() }).collect()
}

/// The scope a form sent, checked against the installation's products.
#[cfg(feature = "ssr")]
fn scope_from_form(
    state: &crate::state::AppState,
    apis: String,
    products: Vec<String>,
    access: String,
    networks: String,
) -> Result<scope::KeyScope, AppError> {
    let slugs: Vec<&str> = state.catalogue.products.iter().map(|p| p.config.slug.as_str()).collect();
    scope::parse(&scope::ScopeInput { apis, products, access, networks }, &slugs)
}

/// Creates a key for a confirmed, active account and shows it once.
/// `apis` (`all` or `selected`), `products[]`, `access` (`read_write` or `read`) and `networks`
/// (one address or CIDR range per line) limit what it may do; left out, it may do everything.
#[server(prefix = "/rpc", endpoint = "create_key")]
pub async fn create_key(
    label: String,
    key_type: String,
    expires_in: String,
    #[server(default)] apis: String,
    #[server(default)] products: Vec<String>,
    #[server(default)] access: String,
    #[server(default)] networks: String,
) -> Result<IssuedKey, AppError> {
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    let label = issue::check_label(&label)?;
    let key_type = format::KeyType::parse(&key_type).ok_or_else(|| AppError::invalid("key_type", "Choose live or test."))?;
    let lifetime = issue::parse_expiry(&expires_in)?;
    let scope = scope_from_form(&state, apis, products, access, networks)?;
    let client = crate::state::current_client().await;
    issue::create(&state, &account, &label, key_type, lifetime, &scope, &client).await
}

/// Changes what one of the signed-in developer's keys may do (same fields as `create_key`).
#[server(prefix = "/rpc", endpoint = "set_key_scope")]
pub async fn set_key_scope(
    key_id: String,
    #[server(default)] apis: String,
    #[server(default)] products: Vec<String>,
    #[server(default)] access: String,
    #[server(default)] networks: String,
) -> Result<KeyInfo, AppError> {
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    let key_id = uuid::Uuid::parse_str(&key_id).map_err(|_| AppError::NotFound)?;
    let scope = scope_from_form(&state, apis, products, access, networks)?;
    let client = crate::state::current_client().await;
    issue::change_scope(&state, &account, key_id, &scope, &client).await
}

/// Replaces a key by a new one; the old one keeps working for the chosen grace period.
#[server(prefix = "/rpc", endpoint = "roll_key")]
pub async fn roll_key(key_id: String, grace: String) -> Result<IssuedKey, AppError> {
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    let key_id = uuid::Uuid::parse_str(&key_id).map_err(|_| AppError::NotFound)?;
    let grace = issue::parse_grace(&grace)?;
    let client = crate::state::current_client().await;
    issue::roll(&state, &account, key_id, grace, &client).await
}

/// Stops a key at once.
#[server(prefix = "/rpc", endpoint = "revoke_key")]
pub async fn revoke_key(key_id: String) -> Result<(), AppError> {
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    let key_id = uuid::Uuid::parse_str(&key_id).map_err(|_| AppError::NotFound)?;
    let client = crate::state::current_client().await;
    match issue::revoke(&state, account.account_id, key_id, issue::Revoker::Owner(&client)).await? {
        issue::Revoked::Now { .. } | issue::Revoked::Already => Ok(()),
        issue::Revoked::NotFound => Err(AppError::NotFound),
    }
}

/// Issues a fresh key and mails it (only where the installation allows mailing keys).
#[server(prefix = "/rpc", endpoint = "email_me_a_key")]
pub async fn email_me_a_key() -> Result<(), AppError> {
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    if !state.config.email_api_keys {
        return Err(AppError::message("This portal does not send keys by email."));
    }
    let client = crate::state::current_client().await;
    issue::mail_a_new_key(&state, &account, &client, "Key sent by email").await
}
