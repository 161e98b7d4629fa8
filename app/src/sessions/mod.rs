//! Signing in and out, and who is signed in (ASVS V7).
//!
//! A signed-in session holds [`SignedIn`] under `auth`; its id is rotated at sign-in; it ends
//! after the idle timeout (tower-sessions expiry) or the absolute timeout (checked here and in
//! the store), and sign-out deletes it on the server.

#[cfg(feature = "ssr")]
pub mod store;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::error::AppError;
use crate::ui::{FormError, action_error};

pub const AUTH_KEY: &str = "auth";
pub const CLIENT_KEY: &str = "client";

/// What the session store keeps about a signed-in account.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SignedIn {
    pub account_id: uuid::Uuid,
    /// Unix seconds.
    pub signed_in_at: i64,
    /// Unix seconds of the last "confirm it's you" (password or passkey), if any.
    #[serde(default)]
    pub reauthenticated_at: Option<i64>,
}

/// How long a sign-in or re-authentication counts as recent enough to change credentials
/// (ASVS 7.5.1).
pub const REAUTH_WINDOW_SECONDS: i64 = 5 * 60;

#[cfg(feature = "ssr")]
impl SignedIn {
    /// When this session last proved who it is: its sign-in or its latest re-authentication.
    pub fn last_authenticated_at(&self) -> i64 {
        self.reauthenticated_at.unwrap_or(self.signed_in_at).max(self.signed_in_at)
    }

    pub fn is_recent(&self, now: i64) -> bool {
        now - self.last_authenticated_at() <= REAUTH_WINDOW_SECONDS
    }
}

#[cfg(feature = "ssr")]
pub mod auth {
    use tower_sessions::Session;

    use super::*;
    use crate::accounts::store::{Account, find_account};
    use crate::client::ClientInfo;
    use crate::state::AppState;

    pub async fn session() -> Result<Session, AppError> {
        leptos_axum::extract::<Session>().await.map_err(|err| {
            tracing::error!(error = %err, "no session layer");
            AppError::Internal
        })
    }

    /// The signed-in, active account of this request, if any. A session past its absolute
    /// timeout, or of an account that is gone or suspended, is ended here.
    pub async fn current_account() -> Result<Option<Account>, AppError> {
        let state = AppState::current()?;
        account_of(&state, &session().await?).await
    }

    /// The same for handlers outside Leptos (the CSV exports), given the request's session.
    pub async fn account_of(state: &AppState, session: &Session) -> Result<Option<Account>, AppError> {
        let signed_in: Option<SignedIn> = session.get(AUTH_KEY).await.map_err(|_| AppError::Internal)?;
        let Some(signed_in) = signed_in else { return Ok(None) };
        let age = crate::db::now().unix_timestamp() - signed_in.signed_in_at;
        let account = if age > i64::from(state.config.session_absolute_hours) * 3600 {
            None
        } else {
            find_account(&state.db, signed_in.account_id).await?.filter(Account::is_active)
        };
        if account.is_none() {
            let _ = session.flush().await;
        }
        Ok(account)
    }

    pub async fn require_account() -> Result<Account, AppError> {
        current_account().await?.ok_or(AppError::Unauthorized)
    }

    /// The signed-in account, if it signed in or confirmed it is itself within the last few
    /// minutes; otherwise [`AppError::ReauthenticationRequired`] (ASVS 7.5.1).
    pub async fn require_recent_authentication() -> Result<Account, AppError> {
        let account = require_account().await?;
        if seconds_left_to_change_credentials().await? == 0 {
            return Err(AppError::ReauthenticationRequired);
        }
        Ok(account)
    }

    /// Seconds left in this session's window for changing credentials (0 when closed).
    pub async fn seconds_left_to_change_credentials() -> Result<i64, AppError> {
        let session = session().await?;
        let signed_in: Option<SignedIn> = session.get(AUTH_KEY).await.map_err(|_| AppError::Internal)?;
        let now = crate::db::now().unix_timestamp();
        Ok(signed_in.map_or(0, |s| (s.last_authenticated_at() + REAUTH_WINDOW_SECONDS - now).max(0)))
    }

    /// Records a successful "confirm it's you" with a new session id (ASVS 7.2.4).
    pub async fn mark_reauthenticated(session: &Session) -> Result<(), AppError> {
        let signed_in: Option<SignedIn> = session.get(AUTH_KEY).await.map_err(|_| AppError::Internal)?;
        let mut signed_in = signed_in.ok_or(AppError::Unauthorized)?;
        signed_in.reauthenticated_at = Some(crate::db::now().unix_timestamp());
        session.cycle_id().await.map_err(|_| AppError::Internal)?;
        session.insert(AUTH_KEY, signed_in).await.map_err(|_| AppError::Internal)?;
        session.save().await.map_err(|_| AppError::Internal)?;
        Ok(())
    }

    /// Starts an authenticated session: a new id (ASVS 7.2.4), the account, the client.
    pub async fn begin(session: &Session, account_id: uuid::Uuid, client: &ClientInfo) -> Result<(), AppError> {
        let signed_in = SignedIn { account_id, signed_in_at: crate::db::now().unix_timestamp(), reauthenticated_at: None };
        session.cycle_id().await.map_err(|_| AppError::Internal)?;
        session.insert(AUTH_KEY, signed_in).await.map_err(|_| AppError::Internal)?;
        session
            .insert(CLIENT_KEY, serde_json::json!({ "ip": client.ip, "user_agent": client.user_agent }))
            .await
            .map_err(|_| AppError::Internal)?;
        session.save().await.map_err(|_| AppError::Internal)?;
        Ok(())
    }

    /// Marks this answer private to the signed-in person: no cache may keep it.
    pub fn no_store() {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.insert_header(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
        }
    }

    /// The stored key of this request's session, to keep it when ending the others.
    pub fn key_hash(session: &Session) -> Option<String> {
        session.id().map(|id| super::store::session_key_hash(&id))
    }
}

/// One message for every way a sign-in can fail (ASVS 6.3.8).
pub const SIGN_IN_FAILED: &str = "The email or password is not correct.";

#[server(prefix = "/rpc", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    use crate::accounts::{
        normalize_email,
        store::{find_account_by_email, record_sign_in},
    };
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    use crate::throttle::{self, store as throttle_store};

    let state = crate::state::AppState::current()?;
    let client = crate::client::current().await;
    let now = crate::db::now();
    let email_key = format!("signin:acct:{}", normalize_email(&email));
    let ip_key = format!("signin:ip:{}", client.ip);

    for key in [&email_key, &ip_key] {
        if let Some(wait) = throttle_store::blocked_for(&state.db, key, now).await? {
            record(
                &state.db,
                NewEvent {
                    kind: kind::SIGN_IN_THROTTLED,
                    account_id: None,
                    actor_account_id: None,
                    client: Some(&client),
                    detail: serde_json::json!({ "scope": if key == &ip_key { "ip" } else { "account" } }),
                },
            )
            .await;
            return Err(AppError::TooManyRequests(format!("Too many sign-in attempts. Try again {}.", throttle::describe_wait(wait))));
        }
    }

    let account = if email.len() <= 254 { find_account_by_email(&state.db, &normalize_email(&email)).await? } else { None };
    let password_ok = state.hasher.verify(&password, account.as_ref().and_then(|a| a.password_hash.as_deref())).await;
    let account = match account {
        Some(account) if password_ok => account,
        account => {
            throttle_store::record_failure(&state.db, &email_key, throttle::SIGN_IN_PER_ACCOUNT, now).await?;
            throttle_store::record_failure(&state.db, &ip_key, throttle::SIGN_IN_PER_IP, now).await?;
            record(
                &state.db,
                NewEvent {
                    kind: kind::SIGN_IN_FAILED,
                    account_id: account.map(|a| a.account_id),
                    actor_account_id: None,
                    client: Some(&client),
                    detail: serde_json::json!({ "method": "password" }),
                },
            )
            .await;
            return Err(AppError::message(SIGN_IN_FAILED));
        }
    };
    if !account.is_active() {
        record(
            &state.db,
            NewEvent {
                kind: kind::SIGN_IN_FAILED,
                account_id: Some(account.account_id),
                actor_account_id: None,
                client: Some(&client),
                detail: serde_json::json!({ "method": "password", "reason": "suspended" }),
            },
        )
        .await;
        return Err(AppError::message("This account is suspended. Contact the operator of this portal."));
    }

    throttle_store::clear(&state.db, &email_key).await?;
    let session = auth::session().await?;
    auth::begin(&session, account.account_id, &client).await?;
    record_sign_in(&state.db, account.account_id, now).await?;
    record(
        &state.db,
        NewEvent {
            kind: kind::SIGN_IN,
            account_id: Some(account.account_id),
            actor_account_id: None,
            client: Some(&client),
            detail: serde_json::json!({ "method": "password" }),
        },
    )
    .await;
    leptos_axum::redirect("/dashboard");
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    let state = crate::state::AppState::current()?;
    let account = auth::current_account().await?;
    let session = auth::session().await?;
    session.flush().await.map_err(|_| AppError::Internal)?;
    if let Some(account) = account {
        let client = crate::client::current().await;
        record(
            &state.db,
            NewEvent {
                kind: kind::SIGN_OUT,
                account_id: Some(account.account_id),
                actor_account_id: None,
                client: Some(&client),
                detail: serde_json::Value::Null,
            },
        )
        .await;
    }
    leptos_axum::redirect("/");
    Ok(())
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let error = action_error(action);
    view! {
        <Title text="Sign in" />
        <section class="card auth-card">
            <h1>"Sign in"</h1>
            <ActionForm action=action attr:novalidate="">
                <FormError error=error />
                <label for="email">"Email"</label>
                // "webauthn": the browser may offer passkeys in this field's suggestions.
                <input id="email" name="email" type="email" autocomplete="username webauthn" required maxlength="254" />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required />
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Sign in"</button>
            </ActionForm>
            <crate::passkeys::PasskeySignIn />
            <p class="below-form"><A href="/forgot-password">"Forgot your password?"</A></p>
            <p class="below-form">"New here? " <A href="/signup">"Create an account"</A></p>
        </section>
    }
}

/// The sign-out button of the header: a POST, like every change.
#[component]
pub fn SignOutButton() -> impl IntoView {
    let action = ServerAction::<SignOut>::new();
    view! {
        <ActionForm action=action attr:class="inline-form">
            <button type="submit" class="link-button">"Sign out"</button>
        </ActionForm>
    }
}
