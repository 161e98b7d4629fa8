//! Passkeys (WebAuthn): sign-up without a password, sign-in without typing anything
//! (discoverable credentials, also offered in the email field's autofill), re-authentication,
//! and the Security page where people add, name and remove them.
//!
//! Every ceremony has a start (server options to the browser) and a finish (the browser's answer
//! checked by webauthn-rs); the state between the two lives only in the server-side session
//! ([`ceremony`]). Mast stores the public credential only (ASVS 6.5, the Privacy Policy).

pub mod browser;
#[cfg(feature = "ssr")]
pub mod ceremony;
#[cfg(feature = "ssr")]
pub mod names;
mod pages;
#[cfg(feature = "ssr")]
pub mod relying_party;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::*;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

pub const ALREADY_REGISTERED: &str = "This passkey is already registered. Sign in with it instead.";
/// One message for every way a passkey sign-in can fail (ASVS 6.3.8).
pub const SIGN_IN_FAILED: &str = "This passkey could not sign you in. Try again, or sign in with your email and password.";
pub const UNREADABLE: &str = "The passkey response could not be read. Please try again.";
pub const NOT_VERIFIED: &str = "Your passkey could not be verified. Please try again.";
pub const UNAVAILABLE: &str = "Passkeys are not available on this portal.";
pub const LAST_WAY_IN: &str = "This passkey is your only way to sign in. Add another passkey or set a password before removing it.";

/// A passkey as its owner sees it on the Security page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// Synced to the provider's cloud (backup state), so it survives losing this device.
    pub backed_up: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecurityOverview {
    pub email: String,
    pub passkeys: Vec<PasskeyInfo>,
    pub has_password: bool,
    pub passkeys_available: bool,
    /// Seconds left to change credentials without confirming again (0: confirm first).
    pub change_window_seconds: i64,
    /// No credential can be added before the address is confirmed.
    pub email_confirmed: bool,
}

#[cfg(feature = "ssr")]
mod server {
    use std::sync::Arc;

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde::de::DeserializeOwned;
    use webauthn_rs::Webauthn;
    use webauthn_rs::prelude::*;

    use super::*;
    use crate::accounts::store::Account;
    use crate::state::AppState;

    /// The largest browser answer read (real ones are a few kilobytes).
    const RESPONSE_MAX: usize = 64 * 1024;

    pub fn relying_party(state: &AppState) -> Result<Arc<Webauthn>, AppError> {
        state.webauthn.clone().ok_or_else(|| AppError::message(UNAVAILABLE))
    }

    pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, AppError> {
        if json.len() > RESPONSE_MAX {
            return Err(AppError::message(UNREADABLE));
        }
        serde_json::from_str(json).map_err(|_| AppError::message(UNREADABLE))
    }

    /// Options for `navigator.credentials.create`, asking for a discoverable credential so the
    /// passkey can sign in without an email (webauthn-rs leaves residence to the authenticator).
    pub fn creation_options(options: &CreationChallengeResponse) -> Result<String, AppError> {
        let mut json = serde_json::to_value(options).map_err(|_| AppError::Internal)?;
        if let Some(selection) = json.pointer_mut("/publicKey/authenticatorSelection").and_then(|v| v.as_object_mut()) {
            selection.insert("residentKey".into(), "required".into());
            selection.insert("requireResidentKey".into(), true.into());
        }
        Ok(json.to_string())
    }

    /// Options for `navigator.credentials.get`; the page decides between button and autofill.
    pub fn request_options(options: &RequestChallengeResponse) -> Result<String, AppError> {
        let mut json = serde_json::to_value(options).map_err(|_| AppError::Internal)?;
        if let Some(object) = json.as_object_mut() {
            object.remove("mediation");
        }
        Ok(json.to_string())
    }

    pub fn credential_id(id: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(id)
    }

    pub fn stored_passkey(json: &str) -> Result<Passkey, AppError> {
        serde_json::from_str(json).map_err(|err| {
            tracing::error!(error = %err, "stored passkey cannot be read");
            AppError::Internal
        })
    }

    pub fn serialised(passkey: &Passkey) -> Result<String, AppError> {
        serde_json::to_string(passkey).map_err(|_| AppError::Internal)
    }

    pub async fn passkeys_of(state: &AppState, account_id: uuid::Uuid) -> Result<Vec<(store::PasskeyRow, Passkey)>, AppError> {
        let rows = store::list_passkeys_of_account(&state.db, account_id).await?;
        rows.into_iter().map(|row| stored_passkey(&row.credential).map(|p| (row, p))).collect()
    }

    /// What a ceremony keeps in the session between its start and its finish.
    #[derive(Serialize, Deserialize)]
    pub struct SignUpPending {
        pub account_id: uuid::Uuid,
        pub profile: crate::accounts::NewProfile,
        pub registration: PasskeyRegistration,
    }

    #[derive(Serialize, Deserialize)]
    pub struct AddPending {
        pub account_id: uuid::Uuid,
        pub registration: PasskeyRegistration,
    }

    #[derive(Serialize, Deserialize)]
    pub struct ReauthenticatePending {
        pub account_id: uuid::Uuid,
        pub authentication: PasskeyAuthentication,
    }

    /// webauthn-rs could not make a challenge: our fault, not the user's.
    pub fn could_not_start(err: WebauthnError) -> AppError {
        tracing::error!(error = %err, "could not start a passkey ceremony");
        AppError::Internal
    }

    /// A registration webauthn-rs refused (bad signature, wrong challenge or origin, no UV).
    pub fn refused(err: WebauthnError) -> AppError {
        tracing::info!(error = %err, "passkey registration refused");
        AppError::message(NOT_VERIFIED)
    }

    /// A verified registration, ready to store for `account_id`.
    pub struct Registered {
        pub credential_id: String,
        pub credential: String,
        pub name: String,
        pub backed_up: bool,
    }

    pub fn registered(passkey: &Passkey, response: &RegisterPublicKeyCredential, user_agent: &str) -> Result<Registered, AppError> {
        let aaguid = names::aaguid_of(response.response.attestation_object.as_ref());
        let stored = serde_json::to_value(passkey).map_err(|_| AppError::Internal)?;
        // webauthn-rs has no getter for the backup state; it is in the stored form.
        let backed_up = stored.pointer("/cred/backup_state").and_then(|b| b.as_bool()).unwrap_or(false);
        Ok(Registered {
            credential_id: credential_id(passkey.cred_id().as_ref()),
            credential: stored.to_string(),
            name: names::default_name(aaguid, user_agent),
            backed_up,
        })
    }

    impl Registered {
        pub fn as_new(&self, account_id: uuid::Uuid) -> store::NewPasskey<'_> {
            store::NewPasskey {
                account_id,
                credential_id: &self.credential_id,
                credential: &self.credential,
                name: &self.name,
                backed_up: self.backed_up,
            }
        }
    }

    pub fn info(row: &store::PasskeyRow) -> PasskeyInfo {
        PasskeyInfo {
            id: row.passkey_id.to_string(),
            name: row.name.clone(),
            created_at: crate::accounts::format_time(row.created_at),
            last_used_at: row.last_used_at.map(crate::accounts::format_time),
            backed_up: row.backed_up,
        }
    }

    /// After a sign-in or re-authentication: counter and backup state as the authenticator
    /// reported them, and the time of use.
    pub async fn record_use(
        state: &AppState,
        row: &store::PasskeyRow,
        mut passkey: Passkey,
        result: &AuthenticationResult,
    ) -> Result<(), AppError> {
        passkey.update_credential(result);
        store::record_use(&state.db, row.passkey_id, &serialised(&passkey)?, result.backup_state(), crate::db::now()).await?;
        Ok(())
    }

    /// The notice sent when the account's passkeys change (ASVS 6.3.7).
    pub fn notify(state: &AppState, account: &Account, what: &str, name: &str, client: &crate::client::ClientInfo) {
        let site = &state.config.site_name;
        let security = state.config.link("/security");
        state.send_mail_later(crate::mail::compose(
            &account.email,
            &format!("A passkey was {what} on your {site} account"),
            site,
            &[
                &format!("Hello {},", account.display_name),
                &format!(
                    "The passkey \u{201c}{name}\u{201d} was just {what} on your {site} account, from {} ({}).",
                    client.ip,
                    names::describe_browser(&client.user_agent)
                ),
                "If this was you, there is nothing to do. If not, sign in, check your passkeys on the Security page and contact us.",
            ],
            Some(("Open the Security page", &security)),
        ));
    }
}

/// Whether the server can run passkey ceremonies (off when the public URL is an IP address).
#[server(prefix = "/rpc", endpoint = "passkeys_available")]
pub async fn passkeys_available() -> Result<bool, AppError> {
    Ok(crate::state::AppState::current()?.webauthn.is_some())
}

/// Sign-up, step 1: the form is checked like a password sign-up, then the browser gets options
/// to create a passkey for the new account.
#[server(prefix = "/rpc", endpoint = "passkey_sign_up_start")]
pub async fn passkey_sign_up_start(
    email: String,
    display_name: String,
    organisation: Option<String>,
    country: Option<String>,
    accept_terms: Option<String>,
) -> Result<String, AppError> {
    use crate::accounts::{check_acceptance, check_profile, count_sign_up};
    use ceremony::Purpose;

    let state = crate::state::AppState::current()?;
    let profile = check_profile(&email, &display_name, organisation, country)?;
    check_acceptance(accept_terms.as_deref())?;
    let webauthn = server::relying_party(&state)?;
    count_sign_up(&state, &profile.email, &crate::state::current_client().await).await?;
    let account_id = crate::db::new_id();
    let (options, registration) =
        webauthn.start_passkey_registration(account_id, &profile.email, &profile.display_name, None).map_err(server::could_not_start)?;
    let session = crate::sessions::auth::session().await?;
    ceremony::begin(&session, Purpose::SignUp, server::SignUpPending { account_id, profile, registration }).await?;
    server::creation_options(&options)
}

/// Sign-up, step 2: the new passkey is checked and the account created with it, no password.
/// Like a password sign-up, the answer is the same whether or not the address had an account.
#[server(prefix = "/rpc", endpoint = "passkey_sign_up_finish")]
pub async fn passkey_sign_up_finish(credential: String) -> Result<String, AppError> {
    use crate::accounts::{FirstCredential, register};
    use ceremony::Purpose;
    use webauthn_rs::prelude::RegisterPublicKeyCredential;

    let started = tokio::time::Instant::now();
    let state = crate::state::AppState::current()?;
    let client = crate::state::current_client().await;
    let session = crate::sessions::auth::session().await?;
    let pending: server::SignUpPending = ceremony::take(&session, Purpose::SignUp).await?;
    let webauthn = server::relying_party(&state)?;
    let response: RegisterPublicKeyCredential = server::parse(&credential)?;
    let passkey = webauthn.finish_passkey_registration(&response, &pending.registration).map_err(server::refused)?;
    let registered = server::registered(&passkey, &response, &client.user_agent)?;
    if store::find_by_credential_id(&state.db, &registered.credential_id).await?.is_some() {
        return Err(AppError::message(ALREADY_REGISTERED));
    }
    let new = registered.as_new(pending.account_id);
    register(&state, &pending.profile, pending.account_id, FirstCredential::Passkey(&new), client).await?;
    crate::timing::answer_no_sooner_than(started, crate::timing::ACCOUNT_LOOKUP_MIN).await;
    Ok("/signup/check-email".into())
}

/// Sign-in, step 1: a challenge for any passkey of this site (discoverable credential); the
/// page shows it behind a button or in the email field's autofill.
#[server(prefix = "/rpc", endpoint = "passkey_sign_in_start")]
pub async fn passkey_sign_in_start() -> Result<String, AppError> {
    let state = crate::state::AppState::current()?;
    let webauthn = server::relying_party(&state)?;
    let (options, authentication) = webauthn.start_discoverable_authentication().map_err(server::could_not_start)?;
    let session = crate::sessions::auth::session().await?;
    ceremony::begin(&session, ceremony::Purpose::SignIn, authentication).await?;
    server::request_options(&options)
}

/// Sign-in, step 2: the passkey's account is found by the credential and its user handle, the
/// signature checked, the counter and backup state saved, and a new session begun. Throttled per
/// client network like password sign-ins (ASVS 6.3.1, 6.1.3), in buckets of its own.
#[server(prefix = "/rpc", endpoint = "passkey_sign_in_finish")]
pub async fn passkey_sign_in_finish(credential: String, #[server(default)] next: String) -> Result<String, AppError> {
    use crate::accounts::store::{Account, find_account, record_sign_in};
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    use crate::throttle;
    use webauthn_rs::prelude::{DiscoverableAuthentication, DiscoverableKey, PublicKeyCredential, WebauthnError};

    let state = crate::state::AppState::current()?;
    let client = crate::state::current_client().await;
    let now = state.clock.now();
    let session = crate::sessions::auth::session().await?;
    let authentication: DiscoverableAuthentication = ceremony::take(&session, ceremony::Purpose::SignIn).await?;
    let webauthn = server::relying_party(&state)?;
    // Counted before the signature is checked, in a bucket of passkeys' own (password guesses
    // never block a passkey).
    let pass = match throttle::attempt(&state.db, &[throttle::passkey_bucket(&client.network())], now).await? {
        Ok(pass) => pass,
        Err(refused) => return Err(crate::sessions::auth::sign_in_throttled(&state, &client, refused, "passkey").await),
    };

    // The outer error is the server's (the database); the inner one a refused passkey.
    let checked: Result<Result<_, (Option<Account>, &str, &str)>, AppError> = async {
        let refused = |account, reason, message| Ok(Err((account, reason, message)));
        let Ok(response) = server::parse::<PublicKeyCredential>(&credential) else {
            return refused(None, "unreadable", UNREADABLE);
        };
        let Ok((user_id, raw_credential_id)) = webauthn.identify_discoverable_authentication(&response) else {
            return refused(None, "no_user_handle", SIGN_IN_FAILED);
        };
        let Some(row) = store::find_by_credential_id(&state.db, &server::credential_id(raw_credential_id)).await? else {
            return refused(None, "unknown_credential", SIGN_IN_FAILED);
        };
        let Some(account) = find_account(&state.db, row.account_id).await? else {
            return refused(None, "unknown_credential", SIGN_IN_FAILED);
        };
        if user_id != row.account_id {
            return refused(Some(account), "user_handle_mismatch", SIGN_IN_FAILED);
        }
        let passkey = server::stored_passkey(&row.credential)?;
        match webauthn.finish_discoverable_authentication(&response, authentication, &[DiscoverableKey::from(&passkey)]) {
            Ok(result) => Ok(Ok((row, account, passkey, result))),
            Err(WebauthnError::CredentialPossibleCompromise) => refused(Some(account), "counter_regression", SIGN_IN_FAILED),
            Err(err) => {
                tracing::info!(error = %err, "passkey sign-in refused");
                refused(Some(account), "not_verified", SIGN_IN_FAILED)
            }
        }
    }
    .await;
    let (row, account, passkey, result) = match checked? {
        Ok(verified) => verified,
        Err((account, reason, message)) => {
            state.metrics.sign_in_failed("passkey");
            pass.keep(&state.db, now).await?;
            record(
                &state.db,
                NewEvent {
                    kind: kind::SIGN_IN_FAILED,
                    account_id: account.map(|a: Account| a.account_id),
                    actor_account_id: None,
                    client: Some(&client),
                    detail: serde_json::json!({ "method": "passkey", "reason": reason }),
                },
            )
            .await;
            return Err(AppError::message(message));
        }
    };
    pass.refund(&state.db).await?;
    if !account.is_active() {
        state.metrics.sign_in_failed("passkey");
        record(
            &state.db,
            NewEvent {
                kind: kind::SIGN_IN_FAILED,
                account_id: Some(account.account_id),
                actor_account_id: None,
                client: Some(&client),
                detail: serde_json::json!({ "method": "passkey", "reason": "suspended" }),
            },
        )
        .await;
        return Err(AppError::message("This account is suspended. Contact the operator of this portal."));
    }

    server::record_use(&state, &row, passkey, &result).await?;
    crate::sessions::auth::begin(&session, account.account_id, &client).await?;
    record_sign_in(&state.db, account.account_id, now).await?;
    record(
        &state.db,
        NewEvent::by_account(
            kind::SIGN_IN,
            account.account_id,
            &client,
            serde_json::json!({ "method": "passkey", "passkey_id": row.passkey_id }),
        ),
    )
    .await;
    Ok(crate::consent::safe_next(&next).to_string())
}

/// "Confirm it's you" with a password, to open the few minutes in which credentials can change.
#[server(prefix = "/rpc", endpoint = "reauthenticate_with_password")]
pub async fn reauthenticate_with_password(password: String) -> Result<(), AppError> {
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    let client = crate::state::current_client().await;
    let now = state.clock.now();
    if !crate::passwords::check_current(&state, &account, &password, &client, now).await? {
        record(
            &state.db,
            NewEvent::by_account(kind::REAUTHENTICATION_FAILED, account.account_id, &client, serde_json::json!({ "method": "password" })),
        )
        .await;
        return Err(AppError::invalid("password", "Your password is not correct."));
    }
    let session = crate::sessions::auth::session().await?;
    crate::sessions::auth::mark_reauthenticated(&session).await?;
    record(
        &state.db,
        NewEvent::by_account(kind::REAUTHENTICATED, account.account_id, &client, serde_json::json!({ "method": "password" })),
    )
    .await;
    Ok(())
}

/// "Confirm it's you" with one of the account's own passkeys, step 1.
#[server(prefix = "/rpc", endpoint = "reauthenticate_with_passkey_start")]
pub async fn reauthenticate_with_passkey_start() -> Result<String, AppError> {
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    let webauthn = server::relying_party(&state)?;
    let passkeys: Vec<_> = server::passkeys_of(&state, account.account_id).await?.into_iter().map(|(_, p)| p).collect();
    if passkeys.is_empty() {
        return Err(AppError::message("Your account has no passkey yet: confirm with your password."));
    }
    let (options, authentication) = webauthn.start_passkey_authentication(&passkeys).map_err(server::could_not_start)?;
    let session = crate::sessions::auth::session().await?;
    ceremony::begin(
        &session,
        ceremony::Purpose::Reauthenticate,
        server::ReauthenticatePending { account_id: account.account_id, authentication },
    )
    .await?;
    server::request_options(&options)
}

/// "Confirm it's you" with a passkey, step 2.
#[server(prefix = "/rpc", endpoint = "reauthenticate_with_passkey_finish")]
pub async fn reauthenticate_with_passkey_finish(credential: String) -> Result<(), AppError> {
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    use crate::throttle;
    use webauthn_rs::prelude::PublicKeyCredential;

    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    let client = crate::state::current_client().await;
    let now = state.clock.now();
    let session = crate::sessions::auth::session().await?;
    let pending: server::ReauthenticatePending = ceremony::take(&session, ceremony::Purpose::Reauthenticate).await?;
    let webauthn = server::relying_party(&state)?;
    let pass = match throttle::attempt(&state.db, &[throttle::passkey_bucket(&client.network())], now).await? {
        Ok(pass) => pass,
        Err(refused) => {
            return Err(AppError::TooManyRequests(format!("Too many attempts. Try again {}.", throttle::describe_wait(refused.wait))));
        }
    };
    let verified = async {
        if pending.account_id != account.account_id {
            return None;
        }
        let response: PublicKeyCredential = server::parse(&credential).ok()?;
        let result = webauthn.finish_passkey_authentication(&response, &pending.authentication).ok()?;
        let row = store::find_by_credential_id(&state.db, &server::credential_id(result.cred_id().as_ref())).await.ok()??;
        (row.account_id == account.account_id).then_some((row, result))
    }
    .await;
    let Some((row, result)) = verified else {
        pass.keep(&state.db, now).await?;
        record(
            &state.db,
            NewEvent::by_account(kind::REAUTHENTICATION_FAILED, account.account_id, &client, serde_json::json!({ "method": "passkey" })),
        )
        .await;
        return Err(AppError::message(NOT_VERIFIED));
    };
    pass.refund(&state.db).await?;
    server::record_use(&state, &row, server::stored_passkey(&row.credential)?, &result).await?;
    crate::sessions::auth::mark_reauthenticated(&session).await?;
    record(
        &state.db,
        NewEvent::by_account(
            kind::REAUTHENTICATED,
            account.account_id,
            &client,
            serde_json::json!({ "method": "passkey", "passkey_id": row.passkey_id }),
        ),
    )
    .await;
    Ok(())
}

/// Everything the Security page shows.
#[server(prefix = "/rpc", endpoint = "security_overview")]
pub async fn get_security_overview() -> Result<SecurityOverview, AppError> {
    crate::sessions::auth::no_store();
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    let passkeys = store::list_passkeys_of_account(&state.db, account.account_id).await?;
    Ok(SecurityOverview {
        email: account.email,
        passkeys: passkeys.iter().map(server::info).collect(),
        has_password: account.password_hash.is_some(),
        passkeys_available: state.webauthn.is_some(),
        change_window_seconds: crate::sessions::auth::seconds_left_to_change_credentials().await?,
        email_confirmed: account.email_verified_at.is_some(),
    })
}

/// Adding a passkey, step 1 (after a recent sign-in or "confirm it's you"); the account's
/// passkeys are excluded so a device does not register twice.
#[server(prefix = "/rpc", endpoint = "add_passkey_start")]
pub async fn add_passkey_start() -> Result<String, AppError> {
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_confirmed_recent_authentication().await?;
    let webauthn = server::relying_party(&state)?;
    let existing = server::passkeys_of(&state, account.account_id).await?.into_iter().map(|(_, p)| p.cred_id().clone()).collect();
    let (options, registration) = webauthn
        .start_passkey_registration(account.account_id, &account.email, &account.display_name, Some(existing))
        .map_err(server::could_not_start)?;
    let session = crate::sessions::auth::session().await?;
    ceremony::begin(&session, ceremony::Purpose::Add, server::AddPending { account_id: account.account_id, registration }).await?;
    server::creation_options(&options)
}

/// Adding a passkey, step 2: stored under a default name (provider or browser), with a notice
/// email and an event.
#[server(prefix = "/rpc", endpoint = "add_passkey_finish")]
pub async fn add_passkey_finish(credential: String) -> Result<PasskeyInfo, AppError> {
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    use webauthn_rs::prelude::RegisterPublicKeyCredential;

    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    if account.email_verified_at.is_none() {
        return Err(AppError::message(crate::sessions::CONFIRM_FIRST));
    }
    let client = crate::state::current_client().await;
    let session = crate::sessions::auth::session().await?;
    let pending: server::AddPending = ceremony::take(&session, ceremony::Purpose::Add).await?;
    if pending.account_id != account.account_id {
        return Err(AppError::message(ceremony::STALE));
    }
    let webauthn = server::relying_party(&state)?;
    let response: RegisterPublicKeyCredential = server::parse(&credential)?;
    let passkey = webauthn.finish_passkey_registration(&response, &pending.registration).map_err(server::refused)?;
    let registered = server::registered(&passkey, &response, &client.user_agent)?;
    let now = crate::db::now();
    let id = match store::insert_passkey(&state.db, &registered.as_new(account.account_id), now).await {
        Ok(id) => id,
        Err(err) if crate::db::is_unique_violation(&err) => return Err(AppError::message(ALREADY_REGISTERED)),
        Err(err) => return Err(err.into()),
    };
    record(
        &state.db,
        NewEvent::by_account(
            kind::PASSKEY_ADDED,
            account.account_id,
            &client,
            serde_json::json!({ "passkey_id": id, "name": registered.name, "backed_up": registered.backed_up }),
        ),
    )
    .await;
    server::notify(&state, &account, "added", &registered.name, &client);
    Ok(PasskeyInfo {
        id: id.to_string(),
        name: registered.name,
        created_at: crate::accounts::format_time(now),
        last_used_at: None,
        backed_up: registered.backed_up,
    })
}

#[server(prefix = "/rpc", endpoint = "rename_passkey")]
pub async fn rename_passkey(passkey_id: String, name: String) -> Result<(), AppError> {
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    let name = names::check_name(&name).map_err(|m| AppError::invalid("name", m))?;
    let passkey_id = uuid::Uuid::parse_str(&passkey_id).map_err(|_| AppError::NotFound)?;
    if !store::rename_passkey(&state.db, account.account_id, passkey_id, &name).await? {
        return Err(AppError::NotFound);
    }
    let client = crate::state::current_client().await;
    record(
        &state.db,
        NewEvent::by_account(
            kind::PASSKEY_RENAMED,
            account.account_id,
            &client,
            serde_json::json!({ "passkey_id": passkey_id, "name": name }),
        ),
    )
    .await;
    Ok(())
}

/// Removes a passkey (after a recent sign-in or "confirm it's you"), unless it is the account's
/// last way to sign in (ASVS 6.5.6).
#[server(prefix = "/rpc", endpoint = "remove_passkey")]
pub async fn remove_passkey(passkey_id: String) -> Result<(), AppError> {
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    use store::Removal;
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_recent_authentication().await?;
    let passkey_id = uuid::Uuid::parse_str(&passkey_id).map_err(|_| AppError::NotFound)?;
    match store::remove_passkey_keeping_a_way_in(&state.db, account.account_id, passkey_id).await? {
        Removal::NotFound => Err(AppError::NotFound),
        Removal::LastWayIn => Err(AppError::message(LAST_WAY_IN)),
        Removal::Deleted { name } => {
            let client = crate::state::current_client().await;
            record(
                &state.db,
                NewEvent::by_account(
                    kind::PASSKEY_REMOVED,
                    account.account_id,
                    &client,
                    serde_json::json!({ "passkey_id": passkey_id, "name": name }),
                ),
            )
            .await;
            server::notify(&state, &account, "removed", &name, &client);
            Ok(())
        }
    }
}
