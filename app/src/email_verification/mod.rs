//! Proving an email address (ASVS 6.4.1): a 256-bit random token, stored as SHA-256, single
//! use, expiring after 24 hours. The link opens a page with a button; only its POST uses the
//! token, so a mail scanner that follows links confirms nothing.

#[cfg(feature = "ssr")]
pub mod store;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::error::AppError;
use crate::ui::{FormError, action_error};

pub const PURPOSE: &str = "verify_email";
/// Links that confirm a new address for an existing account.
pub const CHANGE_PURPOSE: &str = "change_email";
pub const VERIFICATION_HOURS: i64 = 24;

#[cfg(feature = "ssr")]
pub mod tokens {
    use base64::Engine;
    use rand::RngCore;
    use sha2::{Digest, Sha256};

    /// A new token (43 URL-safe characters, 256 bits from the OS CSPRNG) and its stored hash.
    pub fn new_token() -> (String, String) {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let hash = hash_token(&token);
        (token, hash)
    }

    pub fn hash_token(token: &str) -> String {
        hex::encode(Sha256::digest(token.trim().as_bytes()))
    }
}

/// Creates a verification token for the account and mails its link (after the caller's commit).
#[cfg(feature = "ssr")]
pub async fn send_verification(state: &crate::state::AppState, account: &crate::accounts::store::Account) -> Result<(), AppError> {
    let now = crate::db::now();
    let (token, hash) = tokens::new_token();
    store::void_email_tokens(&state.db, account.account_id, PURPOSE, now).await?;
    let mut tx = state.db.begin().await?;
    store::insert_email_token(&mut tx, account.account_id, PURPOSE, &hash, now + time::Duration::hours(VERIFICATION_HOURS), now).await?;
    tx.commit().await?;
    let link = state.config.link(&format!("/verify-email?token={token}"));
    let site = &state.config.site_name;
    let mail = crate::mail::compose(
        &account.email,
        &format!("Confirm your email for {site}"),
        site,
        &[
            &format!("Hello {},", account.display_name),
            &format!("Please confirm that this is your email address to finish setting up your {site} account."),
            "The link works once and expires in 24 hours. If you did not sign up, ignore this email.",
        ],
        Some(("Confirm email", &link)),
    );
    state.send_mail_later(mail);
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "confirm_email")]
pub async fn confirm_email(token: String) -> Result<(), AppError> {
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    let state = crate::state::AppState::current()?;
    let now = crate::db::now();
    let invalid =
        || AppError::message("This link is invalid or has expired, or the address is already confirmed. Sign in to send a new link.");
    if token.len() > 128 {
        return Err(invalid());
    }
    let account_id = store::consume_email_token(&state.db, PURPOSE, &tokens::hash_token(&token), now).await?.ok_or_else(invalid)?;
    crate::accounts::store::mark_email_verified(&state.db, account_id, now).await?;
    let client = crate::state::current_client().await;
    record(
        &state.db,
        NewEvent {
            kind: kind::EMAIL_VERIFIED,
            account_id: Some(account_id),
            actor_account_id: None,
            client: Some(&client),
            detail: serde_json::Value::Null,
        },
    )
    .await;
    // Where the installation mails keys, a confirmed address gets its first key by email.
    if state.config.email_api_keys
        && let Some(account) = crate::accounts::store::find_account(&state.db, account_id).await?
        && let Err(err) = crate::api_keys::issue::mail_a_new_key(&state, &account, &client, "Key sent by email").await
    {
        tracing::warn!(error = %err, "could not mail a first API key");
    }
    leptos_axum::redirect("/verify-email/done");
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "resend_verification")]
pub async fn resend_verification() -> Result<String, AppError> {
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    use crate::throttle;
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    if account.email_verified_at.is_some() {
        return Ok("Your email address is already confirmed.".into());
    }
    let now = state.clock.now();
    let bucket = throttle::Bucket::new("address", format!("mail:verify:{}", account.account_id), throttle::MAIL_PER_ADDRESS);
    // Counted before the mail goes: a burst of clicks sends what the policy allows, no more.
    let pass = throttle::attempt(&state.db, &[bucket], now).await?.map_err(|refused| {
        AppError::TooManyRequests(format!("We just sent you a link. You can ask for another {}.", throttle::describe_wait(refused.wait)))
    })?;
    pass.keep(&state.db, now).await?;
    send_verification(&state, &account).await?;
    let client = crate::state::current_client().await;
    record(
        &state.db,
        NewEvent {
            kind: kind::VERIFICATION_SENT,
            account_id: Some(account.account_id),
            actor_account_id: None,
            client: Some(&client),
            detail: serde_json::Value::Null,
        },
    )
    .await;
    Ok(format!("We sent a new link to {}.", account.email))
}

/// `/verify-email?token=…`: a page with a button; nothing happens until it is pressed.
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let action = ServerAction::<ConfirmEmail>::new();
    let error = action_error(action);
    view! {
        <Title text="Confirm your email" />
        <section class="card auth-card">
            <h1>"Confirm your email"</h1>
            <p>"Press the button to confirm this address belongs to you."</p>
            <ActionForm action=action>
                <FormError error=error />
                <input type="hidden" name="token" prop:value=token value=token />
                <button type="submit" class="primary">"Confirm email"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn VerifyEmailDonePage() -> impl IntoView {
    view! {
        <Title text="Email confirmed" />
        <section class="card auth-card">
            <h1>"Email confirmed"</h1>
            <p>"Thank you. Your address is confirmed."</p>
            <p><A href="/dashboard">"Go to your dashboard"</A></p>
        </section>
    }
}

/// The dashboard banner of an unverified account, with its resend button.
#[component]
pub fn UnverifiedBanner(email: String) -> impl IntoView {
    let action = ServerAction::<ResendVerification>::new();
    let error = action_error(action);
    let sent = move || action.value().get().and_then(|r| r.ok());
    view! {
        <div class="banner warning" role="status">
            <p>
                "Please confirm your email address. We sent a link to " <strong>{email}</strong>
                ". Until then you cannot create API keys."
            </p>
            <ActionForm action=action attr:class="inline-form">
                <button type="submit" class="secondary">"Send a new link"</button>
            </ActionForm>
            {move || sent().map(|m| view! { <p class="form-ok">{m}</p> })}
            <FormError error=error />
        </div>
    }
}
