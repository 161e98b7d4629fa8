//! Issuing, rolling and revoking keys: the rules, the events and the owner's notices. Server
//! functions and the `/v1/keys/revoke` route both come through here.

use rand::Rng;
use rand::distributions::Alphanumeric;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::directory::{Change, KeyDirectory};
use super::format::{self, KeyType};
use super::scope::KeyScope;
use super::store::{self, KeyRow, KeyState};
use super::*;
use crate::accounts::format_time;
use crate::accounts::store::Account;
use crate::client::ClientInfo;
use crate::db::{Tx, new_id};
use crate::events::kind;
use crate::events::store::{NewEvent, record};
use crate::state::AppState;

pub fn check_label(label: &str) -> Result<String, AppError> {
    let label = label.trim();
    if label.is_empty() {
        return Err(AppError::invalid("label", "Give the key a name, e.g. the app or server that will use it."));
    }
    if label.chars().count() > LABEL_MAX || label.chars().any(char::is_control) {
        return Err(AppError::invalid("label", format!("Use at most {LABEL_MAX} characters, on one line.")));
    }
    Ok(label.to_string())
}

/// `never`, or a number of days from [`EXPIRY_CHOICES`].
pub fn parse_expiry(choice: &str) -> Result<Option<Duration>, AppError> {
    match choice {
        "" | "never" => Ok(None),
        days if EXPIRY_CHOICES.iter().any(|(value, _)| *value == days) => Ok(days.parse::<i64>().ok().map(Duration::days)),
        _ => Err(AppError::invalid("expires_in", "Choose one of the offered lifetimes.")),
    }
}

pub fn parse_grace(choice: &str) -> Result<Duration, AppError> {
    match choice {
        "now" => Ok(Duration::ZERO),
        "1h" => Ok(Duration::hours(1)),
        "24h" => Ok(Duration::hours(24)),
        "7d" => Ok(Duration::days(7)),
        _ => Err(AppError::invalid("grace", "Choose how long the old key keeps working.")),
    }
}

/// 30 base62 characters from the operating system's CSPRNG: 178 bits (ASVS 11.5.1).
fn random_part() -> String {
    rand::rngs::OsRng.sample_iter(&Alphanumeric).take(format::RANDOM_LEN).map(char::from).collect()
}

/// What a new key is to be.
struct Spec<'a> {
    label: &'a str,
    key_type: KeyType,
    expires_at: Option<OffsetDateTime>,
    replaces: Option<Uuid>,
    scope: &'a KeyScope,
    /// For the try-it console's key: the session it belongs to.
    console_of: Option<&'a str>,
}

/// Writes a new key into `tx` and returns it in full, with its row.
async fn insert_new(
    tx: &mut Tx,
    state: &AppState,
    account_id: Uuid,
    spec: Spec<'_>,
    now: OffsetDateTime,
) -> Result<(String, KeyRow), AppError> {
    let Spec { label, key_type, expires_at, replaces, scope, console_of } = spec;
    let scope = scope.to_columns();
    let word = &state.config.api_key_prefix;
    let api_key_id = new_id();
    let random = if console_of.is_some() { state.keys.hasher().console_random(api_key_id) } else { random_part() };
    let key = format::assemble(word, key_type, &random);
    let key_hash = state.keys.hasher().hash(&key);
    let (display_prefix, last4) = format::display_parts(&key, word, key_type);
    let new = store::NewKey {
        api_key_id,
        account_id,
        key_hash: &key_hash,
        display_prefix: &display_prefix,
        last4: &last4,
        label,
        key_type: key_type.as_str(),
        expires_at,
        replaces,
        scope: &scope,
        session_key_hash: console_of,
    };
    store::insert_key(tx, &new, now).await?;
    // A look-up of this very key before now (practically impossible) must not stay cached.
    KeyDirectory::announce(tx, &Change::Key { key_hash: key_hash.clone() }).await?;
    let row = KeyRow {
        api_key_id: new.api_key_id,
        account_id,
        key_hash,
        display_prefix,
        last4,
        label: label.to_string(),
        key_type: key_type.as_str().to_string(),
        expires_at,
        revoked_at: None,
        revoked_reason: None,
        replaces,
        created_at: now,
        last_used_at: None,
        scope,
        session_key_hash: console_of.map(str::to_string),
    };
    Ok((key, row))
}

async fn check_may_hold_another(tx: &mut Tx, account: &Account, now: OffsetDateTime) -> Result<(), AppError> {
    if account.email_verified_at.is_none() {
        return Err(AppError::message(UNVERIFIED));
    }
    if store::count_usable(tx, account.account_id, now).await? >= MAX_USABLE_KEYS {
        return Err(AppError::message(TOO_MANY));
    }
    Ok(())
}

pub async fn create(
    state: &AppState,
    account: &Account,
    label: &str,
    key_type: KeyType,
    lifetime: Option<Duration>,
    scope: &KeyScope,
    client: &ClientInfo,
) -> Result<IssuedKey, AppError> {
    let now = crate::db::now();
    let mut tx = state.db.begin().await?;
    check_may_hold_another(&mut tx, account, now).await?;
    let (key, row) = insert_new(
        &mut tx,
        state,
        account.account_id,
        Spec { label, key_type, expires_at: lifetime.map(|l| now + l), replaces: None, scope, console_of: None },
        now,
    )
    .await?;
    tx.commit().await?;
    state.keys.apply(&Change::Key { key_hash: row.key_hash.clone() });
    let detail = serde_json::json!({ "api_key_id": row.api_key_id, "key": row.masked(), "label": label, "type": key_type.as_str(),
        "scope": scope.to_json() });
    record(&state.db, NewEvent::by_account(kind::API_KEY_CREATED, account.account_id, client, detail)).await;
    notify(state, account, &format!("A new API key, \u{201c}{label}\u{201d} ({}), was created", row.masked()), client);
    Ok(IssuedKey { key, info: key_info(state, &row, now).await? })
}

pub async fn roll(state: &AppState, account: &Account, key_id: Uuid, grace: Duration, client: &ClientInfo) -> Result<IssuedKey, AppError> {
    let now = crate::db::now();
    let mut tx = state.db.begin().await?;
    let old = store::find_key_of(&mut tx, account.account_id, key_id).await?.ok_or(AppError::NotFound)?;
    if old.is_console() {
        return Err(AppError::message(CONSOLE_KEY_FIXED));
    }
    match old.state(now) {
        KeyState::Active => {}
        KeyState::Retiring { .. } => return Err(AppError::message(ALREADY_ROLLED)),
        KeyState::Revoked | KeyState::Expired => return Err(AppError::message(NOT_ACTIVE)),
    }
    // With a grace period both keys work for a while: the new one counts against the cap like
    // any other (else repeated rolls would hold any number of working keys).
    if grace.is_zero() {
        if account.email_verified_at.is_none() {
            return Err(AppError::message(UNVERIFIED));
        }
    } else {
        check_may_hold_another(&mut tx, account, now).await?;
    }
    let key_type = KeyType::parse(&old.key_type).unwrap_or(KeyType::Live);
    // The new key lives as long as the old one was meant to.
    let expires_at = old.expires_at.map(|at| now + (at - old.created_at));
    let (key, row) = insert_new(
        &mut tx,
        state,
        account.account_id,
        Spec { label: &old.label, key_type, expires_at, replaces: Some(old.api_key_id), scope: &old.scope(), console_of: None },
        now,
    )
    .await?;
    store::revoke_at(&mut tx, old.api_key_id, now + grace, "rolled").await?;
    let change = Change::Key { key_hash: old.key_hash.clone() };
    KeyDirectory::announce(&mut tx, &change).await?;
    tx.commit().await?;
    state.keys.apply(&change);
    let until = if grace.is_zero() { "now".to_string() } else { format!("until {}", format_time(now + grace)) };
    let detail = serde_json::json!({ "api_key_id": old.api_key_id, "key": old.masked(), "new_api_key_id": row.api_key_id,
        "new_key": row.masked(), "grace_seconds": grace.whole_seconds() });
    record(&state.db, NewEvent::by_account(kind::API_KEY_ROLLED, account.account_id, client, detail)).await;
    notify(
        state,
        account,
        &format!(
            "Your API key \u{201c}{}\u{201d} ({}) was rolled: the new key is {}, and the old one works {until}",
            old.label,
            old.masked(),
            row.masked()
        ),
        client,
    );
    Ok(IssuedKey { key, info: key_info(state, &row, now).await? })
}

/// Changes what an active (or retiring) key may do, on every instance at once; the owner gets
/// an event and a notice.
pub async fn change_scope(
    state: &AppState,
    account: &Account,
    key_id: Uuid,
    scope: &KeyScope,
    client: &ClientInfo,
) -> Result<KeyInfo, AppError> {
    let now = crate::db::now();
    let mut tx = state.db.begin().await?;
    let key = store::find_key_of(&mut tx, account.account_id, key_id).await?.ok_or(AppError::NotFound)?;
    if key.is_console() {
        return Err(AppError::message(CONSOLE_KEY_FIXED));
    }
    if matches!(key.state(now), KeyState::Revoked | KeyState::Expired) {
        return Err(AppError::message(NOT_CHANGEABLE));
    }
    let before = key.scope();
    if before == *scope {
        return Ok(key_info(state, &key, now).await?);
    }
    let columns = scope.to_columns();
    store::set_scope(&mut tx, key.api_key_id, &columns).await?;
    let change = Change::Key { key_hash: key.key_hash.clone() };
    KeyDirectory::announce(&mut tx, &change).await?;
    tx.commit().await?;
    state.keys.apply(&change);
    let detail = serde_json::json!({ "api_key_id": key.api_key_id, "key": key.masked(), "label": key.label,
        "before": before.to_json(), "after": scope.to_json() });
    record(&state.db, NewEvent::by_account(kind::API_KEY_SCOPE_CHANGED, account.account_id, client, detail)).await;
    let row = KeyRow { scope: columns, ..key };
    let info = key_info(state, &row, now).await?;
    notify(
        state,
        account,
        &format!("What your API key \u{201c}{}\u{201d} ({}) may do was changed to: {}", row.label, row.masked(), info.scope.summary()),
        client,
    );
    Ok(info)
}

/// The try-it console's key of the session with `session_key_hash`, in full, for the server to
/// send (never the browser). Made on the session's first call: a test key for every product,
/// read and write, working [`CONSOLE_KEY_HOURS`] at most and revoked when the session ends. Its
/// random part is derived from its id under the key secret, so it can be made again from the
/// row when needed and is stored nowhere.
pub async fn console_key(state: &AppState, account: &Account, session_key_hash: &str, client: &ClientInfo) -> Result<String, AppError> {
    if account.email_verified_at.is_none() {
        return Err(AppError::message(UNVERIFIED));
    }
    let now = crate::db::now();
    let word = &state.config.api_key_prefix;
    let mut tx = state.db.begin().await?;
    if let Some(row) = store::console_key_of(&mut tx, account.account_id, session_key_hash, now).await? {
        let key = format::assemble(word, KeyType::Test, &state.keys.hasher().console_random(row.api_key_id));
        // A changed key word (settings) makes another key: that one is simply left to end.
        if state.keys.hasher().hash(&key) == row.key_hash {
            return Ok(key);
        }
    }
    let spec = Spec {
        label: CONSOLE_KEY_LABEL,
        key_type: KeyType::Test,
        expires_at: Some(now + Duration::hours(CONSOLE_KEY_HOURS)),
        replaces: None,
        scope: &KeyScope::default(),
        console_of: Some(session_key_hash),
    };
    let (key, row) = insert_new(&mut tx, state, account.account_id, spec, now).await?;
    tx.commit().await?;
    state.keys.apply(&Change::Key { key_hash: row.key_hash.clone() });
    // Recorded, not mailed: every session that tries an API makes one.
    let detail =
        serde_json::json!({ "api_key_id": row.api_key_id, "key": row.masked(), "label": row.label, "type": "test", "console": true });
    record(&state.db, NewEvent::by_account(kind::API_KEY_CREATED, account.account_id, client, detail)).await;
    Ok(key)
}

/// Revokes the console keys of sessions that have ended (signed out, ended from another
/// session, by a reset or an admin, or expired), on every instance at once. Returns how many.
pub async fn end_console_keys(state: &AppState) -> Result<usize, sqlx::Error> {
    let now = crate::db::now();
    let ended = store::console_keys_of_ended_sessions(&state.db, now).await?;
    let mut count = 0;
    for key in ended {
        let mut tx = state.db.begin().await?;
        let change = Change::Key { key_hash: key.key_hash.clone() };
        if store::revoke_at(&mut tx, key.api_key_id, now, "session_ended").await? {
            KeyDirectory::announce(&mut tx, &change).await?;
            count += 1;
        }
        tx.commit().await?;
        state.keys.apply(&change);
    }
    Ok(count)
}

/// How often ended sessions' console keys are looked for. The keys are never shown to anyone,
/// so the seconds one outlives its session open nothing.
pub const CONSOLE_SWEEP_SECONDS: u64 = 5;

/// Ends console keys with their sessions, on every instance (each key is revoked once).
pub fn spawn_console_key_sweep(state: AppState) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(CONSOLE_SWEEP_SECONDS));
        loop {
            every.tick().await;
            if let Err(err) = end_console_keys(&state).await {
                tracing::warn!(error = %err, "ending console keys failed; will retry");
            }
        }
    });
}

/// Who revoked a key: its owner on the Keys page, or anyone holding it (`POST /v1/keys/revoke`).
pub enum Revoker<'a> {
    Owner(&'a ClientInfo),
    Holder(&'a ClientInfo),
}

pub enum Revoked {
    Now { key: Box<KeyRow> },
    Already,
    NotFound,
}

pub async fn revoke(state: &AppState, account_id: Uuid, key_id: Uuid, by: Revoker<'_>) -> Result<Revoked, AppError> {
    let now = crate::db::now();
    let mut tx = state.db.begin().await?;
    let Some(key) = store::find_key_of(&mut tx, account_id, key_id).await? else { return Ok(Revoked::NotFound) };
    let reason = match by {
        Revoker::Owner(_) => "revoked",
        Revoker::Holder(_) => "reported_leaked",
    };
    if !store::revoke_at(&mut tx, key.api_key_id, now, reason).await? {
        return Ok(Revoked::Already);
    }
    let change = Change::Key { key_hash: key.key_hash.clone() };
    KeyDirectory::announce(&mut tx, &change).await?;
    tx.commit().await?;
    state.keys.apply(&change);
    let account = crate::accounts::store::find_account(&state.db, account_id).await?;
    let detail = serde_json::json!({ "api_key_id": key.api_key_id, "key": key.masked(), "label": key.label });
    let (event_kind, client, message) = match by {
        Revoker::Owner(client) => {
            (kind::API_KEY_REVOKED, client, format!("Your API key \u{201c}{}\u{201d} ({}) was revoked", key.label, key.masked()))
        }
        Revoker::Holder(client) => (
            kind::API_KEY_REPORTED,
            client,
            format!(
                "Your API key \u{201c}{}\u{201d} ({}) was revoked because someone who holds it reported it, for example a secret \
                 scanner that found it in public code. Create a new key and replace it wherever it was used",
                key.label,
                key.masked()
            ),
        ),
    };
    record(&state.db, NewEvent::by_account(event_kind, account_id, client, detail)).await;
    if let Some(account) = account {
        notify(state, &account, &message, client);
    }
    Ok(Revoked::Now { key: Box::new(key) })
}

/// Issues a key and mails it in full (only called where the installation mails keys).
pub async fn mail_a_new_key(state: &AppState, account: &Account, client: &ClientInfo, label: &str) -> Result<(), AppError> {
    let now = crate::db::now();
    let mut tx = state.db.begin().await?;
    check_may_hold_another(&mut tx, account, now).await?;
    let (key, row) = insert_new(
        &mut tx,
        state,
        account.account_id,
        Spec { label, key_type: KeyType::Live, expires_at: None, replaces: None, scope: &KeyScope::default(), console_of: None },
        now,
    )
    .await?;
    tx.commit().await?;
    state.keys.apply(&Change::Key { key_hash: row.key_hash.clone() });
    let detail = serde_json::json!({ "api_key_id": row.api_key_id, "key": row.masked(), "label": label, "type": "live" });
    record(&state.db, NewEvent::by_account(kind::API_KEY_EMAILED, account.account_id, client, detail)).await;
    let site = &state.config.site_name;
    state.send_mail_later(crate::mail::compose(
        &account.email,
        &format!("Your new {site} API key"),
        site,
        &[
            &format!("Hello {},", account.display_name),
            &format!(
                "Here is the API key \u{201c}{label}\u{201d} you asked for. Keep it secret: anyone who has it can call the API as you."
            ),
            &key,
            "We do not keep a readable copy of it, so this email is the only place it is written down. Once you have stored it \
             somewhere safe, delete this email. You can revoke it on the Keys page at any time.",
        ],
        Some(("Open your keys", &state.config.link("/keys"))),
    ));
    Ok(())
}

/// An email about a key change, with where it came from (ASVS 6.3.7).
fn notify(state: &AppState, account: &Account, what: &str, client: &ClientInfo) {
    let site = &state.config.site_name;
    state.send_mail_later(crate::mail::compose(
        &account.email,
        &format!("An API key changed on your {site} account"),
        site,
        &[
            &format!("Hello {},", account.display_name),
            &format!(
                "{what}. This happened at {} from {}.",
                format_time(crate::db::now()),
                if client.ip.is_empty() { "an unknown address" } else { &client.ip }
            ),
            "If this was not you, sign in, revoke any key you do not recognise and change your password.",
        ],
        Some(("Open your keys", &state.config.link("/keys"))),
    ));
}

pub async fn key_info(state: &AppState, row: &KeyRow, now: OffsetDateTime) -> Result<KeyInfo, sqlx::Error> {
    let db = &state.db;
    let scope = row.scope().info(|slug| state.catalogue.find(slug).map(|p| p.config.name.clone()));
    let (state, retiring_until, requests_last_hour) = match row.state(now) {
        KeyState::Active => ("active", None, None),
        KeyState::Retiring { until } => {
            ("retiring", Some(format_time(until)), Some(store::key_requests_since(db, row.api_key_id, now - Duration::hours(1)).await?))
        }
        KeyState::Revoked => ("revoked", None, None),
        KeyState::Expired => ("expired", None, None),
    };
    Ok(KeyInfo {
        id: row.api_key_id.to_string(),
        label: row.label.clone(),
        key_type: row.key_type.clone(),
        masked: row.masked(),
        state: state.to_string(),
        created_at: format_time(row.created_at),
        last_used_at: row.last_used_at.map(format_time),
        expires_at: row.expires_at.map(format_time),
        retiring_until,
        requests_last_hour,
        scope,
        console: row.is_console(),
    })
}

/// The first instant of the calendar month (UTC) that holds `now`: where monthly quotas start.
pub fn month_start(now: OffsetDateTime) -> OffsetDateTime {
    let now = now.to_offset(time::UtcOffset::UTC);
    now.replace_day(1).map(|d| d.replace_time(time::Time::MIDNIGHT)).unwrap_or(now)
}

pub async fn plan_info(state: &AppState, account: &Account, now: OffsetDateTime) -> Result<PlanInfo, sqlx::Error> {
    let plan = state.config.plan(account.plan.as_deref());
    Ok(PlanInfo {
        name: plan.name.clone(),
        requests_per_minute: plan.requests_per_minute,
        requests_per_month: plan.requests_per_month,
        used_this_month: store::accepted_requests_since(&state.db, account.account_id, month_start(now)).await?,
    })
}
