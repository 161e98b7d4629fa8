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

/// Why an account with an unconfirmed address cannot add a passkey or a password.
pub const CONFIRM_FIRST: &str =
    "Confirm your email address first (use the link we sent you): until then no passkey or password can be added.";

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

    /// The signed-in account, which has accepted the current Terms and Privacy Policy.
    pub async fn require_account() -> Result<Account, AppError> {
        let account = require_account_pending_consent().await?;
        let state = AppState::current()?;
        if !crate::consent::store::pending_documents(&state.db, account.account_id).await?.is_empty() {
            return Err(AppError::ConsentRequired);
        }
        Ok(account)
    }

    /// The signed-in account, whether or not it has accepted the current documents: for what
    /// must stay open to someone who does not (yet) agree: reading and accepting them, the
    /// account page, export, deletion, sessions.
    pub async fn require_account_pending_consent() -> Result<Account, AppError> {
        current_account().await?.ok_or(AppError::Unauthorized)
    }

    /// The signed-in account, if it signed in or confirmed it is itself within the last few
    /// minutes; otherwise [`AppError::ReauthenticationRequired`] (ASVS 7.5.1).
    pub async fn require_recent_authentication() -> Result<Account, AppError> {
        // Pending consent does not matter here: deleting the account must stay possible.
        let account = require_account_pending_consent().await?;
        if seconds_left_to_change_credentials().await? == 0 {
            return Err(AppError::ReauthenticationRequired);
        }
        Ok(account)
    }

    /// Adding a credential (a passkey, a first password): a recent authentication, and a
    /// confirmed address. Until the address is confirmed the account may be a stranger's, made
    /// with someone else's address to wait for its owner.
    pub async fn require_confirmed_recent_authentication() -> Result<Account, AppError> {
        let account = require_recent_authentication().await?;
        if account.email_verified_at.is_none() {
            return Err(AppError::message(super::CONFIRM_FIRST));
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

    /// A sign-in the throttle refused: counted, recorded (ASVS 16.3.3), and the message to show.
    pub async fn sign_in_throttled(
        state: &AppState,
        client: &ClientInfo,
        refused: crate::throttle::Refused,
        method: &'static str,
    ) -> AppError {
        use crate::events::{
            kind,
            store::{NewEvent, record},
        };
        state.metrics.sign_ins_throttled.inc();
        record(
            &state.db,
            NewEvent {
                kind: kind::SIGN_IN_THROTTLED,
                account_id: None,
                actor_account_id: None,
                client: Some(client),
                detail: serde_json::json!({ "scope": refused.scope, "method": method }),
            },
        )
        .await;
        AppError::TooManyRequests(format!("Too many sign-in attempts. Try again {}.", crate::throttle::describe_wait(refused.wait)))
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

/// `next`: the page the person was sent from to sign in (a path on this site; else the dashboard).
#[server(prefix = "/rpc", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String, #[server(default)] next: String) -> Result<(), AppError> {
    use crate::accounts::{
        normalize_email,
        store::{find_account_by_email, record_sign_in},
    };
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    use crate::throttle;

    if email.len() > crate::accounts::EMAIL_MAX {
        return Err(AppError::invalid("email", "An email address has at most 254 characters."));
    }
    let state = crate::state::AppState::current()?;
    let client = crate::state::current_client().await;
    let now = state.clock.now();
    let email_normalized = normalize_email(&email);
    let buckets = throttle::password_buckets(&email_normalized, &client.network());
    // Counted before the password is checked: concurrent guesses cannot all pass a read.
    let pass = match throttle::attempt(&state.db, &buckets, now).await? {
        Ok(pass) => pass,
        Err(refused) => return Err(auth::sign_in_throttled(&state, &client, refused, "password").await),
    };

    let account = find_account_by_email(&state.db, &email_normalized).await?;
    let password_ok = state.hasher.verify(&password, account.as_ref().and_then(|a| a.password_hash.as_deref())).await;
    let account = match account {
        Some(account) if password_ok => account,
        account => {
            state.metrics.sign_in_failed("password");
            pass.keep(&state.db, now).await?;
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
    pass.refund(&state.db).await?;
    // The owner proved who they are from this network: its guesses are forgotten.
    throttle::store::clear(&state.db, &buckets[0].key).await?;
    if !account.is_active() {
        state.metrics.sign_in_failed("password");
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
    leptos_axum::redirect(crate::consent::safe_next(&next));
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
        let client = crate::state::current_client().await;
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
    let query = leptos_router::hooks::use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let action = ServerAction::<SignIn>::new();
    let error = action_error(action);
    view! {
        <Title text="Sign in" />
        <section class="card auth-card">
            <h1>"Sign in"</h1>
            <ActionForm action=action attr:novalidate="">
                <FormError error=error />
                <input type="hidden" name="next" prop:value=next value=next />
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

/// One of the signed-in person's sessions, as the sessions list shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionInfo {
    /// The stored key (SHA-256 of the session id): names the row, cannot be used as a cookie.
    pub id: String,
    pub browser: String,
    pub ip: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub current: bool,
}

#[server(prefix = "/rpc", endpoint = "list_sessions")]
pub async fn list_sessions() -> Result<Vec<SessionInfo>, AppError> {
    use crate::accounts::format_time;
    let state = crate::state::AppState::current()?;
    auth::no_store();
    let account = auth::require_account_pending_consent().await?;
    let current = auth::key_hash(&auth::session().await?);
    let rows = store::list_sessions_of_account(&state.db, account.account_id, state.clock.now()).await?;
    let mut sessions: Vec<SessionInfo> = rows
        .into_iter()
        .map(|row| SessionInfo {
            current: current.as_deref() == Some(row.session_key_hash.as_str()),
            browser: crate::passkeys::names::describe_user_agent(row.user_agent.as_deref().unwrap_or_default(), "Unknown browser"),
            ip: row.ip.unwrap_or_default(),
            created_at: format_time(row.created_at),
            last_seen_at: format_time(row.updated_at),
            id: row.session_key_hash,
        })
        .collect();
    // This session first, then the most recently used.
    sessions.sort_by_key(|s| !s.current);
    Ok(sessions)
}

/// Ends one of the account's other sessions (this one ends with "Sign out").
#[server(prefix = "/rpc", endpoint = "end_session")]
pub async fn end_session(id: String) -> Result<(), AppError> {
    use crate::events::{kind, store::NewEvent};
    let state = crate::state::AppState::current()?;
    let account = auth::require_account_pending_consent().await?;
    if auth::key_hash(&auth::session().await?).as_deref() == Some(id.as_str()) {
        return Err(AppError::message("This is the session you are using: sign out instead."));
    }
    if store::delete_session_of_account(&state.db, account.account_id, &id).await? == 0 {
        return Err(AppError::message("That session has already ended."));
    }
    let client = crate::state::current_client().await;
    crate::events::store::record(&state.db, NewEvent::by_account(kind::SESSION_ENDED, account.account_id, &client, serde_json::json!({})))
        .await;
    Ok(())
}

/// "Sign out everywhere else": every session of the account but this one ends.
#[server(prefix = "/rpc", endpoint = "end_other_sessions")]
pub async fn end_other_sessions() -> Result<u64, AppError> {
    use crate::events::{kind, store::NewEvent};
    let state = crate::state::AppState::current()?;
    let account = auth::require_account_pending_consent().await?;
    let keep = auth::key_hash(&auth::session().await?);
    let ended = store::delete_sessions_of_account(&state.db, account.account_id, keep.as_deref()).await?;
    let client = crate::state::current_client().await;
    crate::events::store::record(
        &state.db,
        NewEvent::by_account(kind::OTHER_SESSIONS_ENDED, account.account_id, &client, serde_json::json!({ "ended": ended })),
    )
    .await;
    Ok(ended)
}

/// The sessions list and its two actions. The page makes it before any view, once: made inside
/// a signed-in page's view, the server would make it again at each render pass, and a copy
/// from a pass it dropped can fail for want of the request and break the page's hydration.
#[derive(Clone, Copy)]
pub struct SessionList {
    end_one: ServerAction<EndSession>,
    end_others: ServerAction<EndOtherSessions>,
    sessions: Resource<Result<Vec<SessionInfo>, AppError>>,
}

impl SessionList {
    pub fn new() -> Self {
        let end_one = ServerAction::<EndSession>::new();
        let end_others = ServerAction::<EndOtherSessions>::new();
        let sessions = Resource::new(move || (end_one.version().get(), end_others.version().get()), |_| list_sessions());
        SessionList { end_one, end_others, sessions }
    }
}

/// The account's sessions, each with "Sign out" and, for the others, one button for all.
/// `offer` highlights the choice after a change of password or passkeys.
#[component]
pub fn SessionsCard(list: SessionList, #[prop(into)] offer: Signal<bool>) -> impl IntoView {
    let SessionList { end_one, end_others, sessions } = list;
    let error =
        Signal::derive(move || end_one.value().get().and_then(Result::err).or_else(|| end_others.value().get().and_then(Result::err)));
    view! {
        <div class="card" role="region" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Sessions"</h2>
            <p class="muted">"Where you are signed in. Sign out any session you do not recognise."</p>
            <FormError error=error />
            {move || end_others.value().get().and_then(Result::ok).map(|n| view! {
                <p class="form-ok" role="status">{if n == 1 { "1 other session signed out.".to_string() } else { format!("{n} other sessions signed out.") }}</p>
            })}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || sessions.get().map(|loaded| match loaded {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(list) => {
                        let others = list.iter().filter(|s| !s.current).count();
                        view! {
                            <table class="sessions">
                                <thead><tr><th>"Browser"</th><th>"IP address"</th><th>"Signed in"</th><th>"Last seen"</th><th><span class="visually-hidden">"Action"</span></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|s| view! {
                                        <tr>
                                            <td>{s.browser.clone()} {s.current.then(|| view! { " " <span class="badge ok">"This session"</span> })}</td>
                                            <td>{s.ip.clone()}</td>
                                            <td>{s.created_at.clone()}</td>
                                            <td>{s.last_seen_at.clone()}</td>
                                            <td>
                                                {(!s.current).then(|| view! {
                                                    <ActionForm action=end_one attr:class="inline-form">
                                                        <input type="hidden" name="id" value=s.id.clone() />
                                                        <button type="submit" class="secondary small" aria-label=format!("Sign out {} from {}", s.browser, s.ip)>"Sign out"</button>
                                                    </ActionForm>
                                                })}
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            {(others > 0).then(|| view! {
                                <div class=move || if offer.get() { "offer highlighted" } else { "offer" }>
                                    {move || offer.get().then(|| view! { <p>"You changed how you sign in. Sign out the sessions you are not using now?"</p> })}
                                    <ActionForm action=end_others>
                                        <button type="submit" class="secondary">{format!("Sign out everywhere else ({others})")}</button>
                                    </ActionForm>
                                </div>
                            })}
                        }.into_any()
                    }
                })}
            </Transition>
        </div>
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
