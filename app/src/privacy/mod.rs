//! The Privacy Policy's promises that are buttons: download everything held about the account
//! (the JSON export, served by the server crate), and delete the account.

#[cfg(feature = "ssr")]
pub mod store;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::error::AppError;
use crate::ui::{FieldError, FormError, action_error, invalid};

/// The address of the JSON export.
pub const EXPORT_PATH: &str = "/account/export.json";

/// Deletes the signed-in account after a recent "confirm it's you" and the typed address:
/// keys stop working at once on every instance, sessions end, personal data goes, request-log
/// records are kept without account or IP, and a confirmation is mailed.
#[server(prefix = "/rpc", endpoint = "delete_account")]
pub async fn delete_account(confirm_email: String) -> Result<(), AppError> {
    use crate::api_keys::directory::{Change, KeyDirectory};
    use crate::events::{kind, store::NewEvent};
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_recent_authentication().await?;
    if crate::accounts::normalize_email(&confirm_email) != account.email_normalized {
        return Err(AppError::invalid("confirm_email", "Type the email address of this account to confirm."));
    }
    let change = Change::Account { account_id: account.account_id };
    let mut tx = state.db.begin().await?;
    KeyDirectory::announce(&mut tx, &change).await?;
    // Also the messages sent from this address while signed out.
    crate::contact::store::delete_messages_of_account_in(&mut tx, account.account_id, account.confirmed_email()).await?;
    let deleted = store::delete_account_in(&mut tx, account.account_id).await?;
    tx.commit().await?;
    state.keys.apply(&change);
    // The session row went with the account; this forgets the cookie's session too.
    let _ = crate::sessions::auth::session().await?.flush().await;
    // Kept without account, IP or browser: only that an account went, and what was kept of it.
    crate::events::store::record(
        &state.db,
        NewEvent {
            kind: kind::ACCOUNT_DELETED,
            account_id: None,
            actor_account_id: None,
            client: None,
            detail: serde_json::json!(deleted),
        },
    )
    .await;
    let site = &state.config.site_name;
    state.send_mail_later(crate::mail::compose(
        &account.email,
        &format!("Your {site} account was deleted"),
        site,
        &[
            &format!("Hello {},", account.display_name),
            &format!("Your {site} account has been deleted, as you asked. Its API keys no longer work and every session has ended."),
            "We deleted your profile, passkeys, keys, sessions, acceptances and security events. Records of past API requests are kept only as counts, without your account, IP address or browser.",
            &format!("This is the last email we send you. If you did not delete your account, write to {} at once.", state.config.contact_email),
        ],
        None,
    ));
    leptos_axum::redirect("/goodbye");
    Ok(())
}

/// "Your data" on the account page: the export and what it holds.
#[component]
pub fn YourDataCard() -> impl IntoView {
    view! {
        <div class="card" role="region" aria-labelledby="data-heading">
            <h2 id="data-heading">"Your data"</h2>
            <p>
                "Download everything this portal holds about you in one JSON file: profile, accepted documents, passkeys and keys "
                "(without their secrets), sessions, security events, contact messages, usage counts and every API request logged for your keys."
            </p>
            // A download, not a page: rel=external keeps the router out of it.
            <a class="button secondary" href=EXPORT_PATH download="" rel="external">"Download your data (JSON)"</a>
        </div>
    }
}

/// Account deletion, behind "confirm it's you" (`can_delete`) and the typed address.
#[component]
pub fn DeleteAccountCard(can_delete: bool) -> impl IntoView {
    let action = ServerAction::<DeleteAccount>::new();
    let error = action_error(action);
    view! {
        <div class="card danger" role="region" aria-labelledby="delete-heading">
            <h2 id="delete-heading">"Delete your account"</h2>
            <p>
                "Your API keys stop working at once, every session ends, and your profile, passkeys, keys, acceptances and security "
                "events are deleted. Records of past API requests are kept only as counts, without your account or IP address. "
                "This cannot be undone: download your data first if you want a copy."
            </p>
            <ActionForm action=action attr:novalidate="">
                <FormError error=error />
                <label for="confirm_email">"Type your email address to confirm"</label>
                <input id="confirm_email" name="confirm_email" type="email" autocomplete="off" required maxlength="254"
                    aria-invalid=invalid(error, "confirm_email") aria-describedby="confirm_email-error" />
                <FieldError error=error field="confirm_email" />
                <button type="submit" class="danger" disabled=move || !can_delete || action.pending().get()>"Delete my account"</button>
                {(!can_delete).then(|| view! { <p class="hint">"Confirm it's you above first."</p> })}
            </ActionForm>
        </div>
    }
}

/// Where a deleted account lands.
#[component]
pub fn GoodbyePage() -> impl IntoView {
    view! {
        <Title text="Account deleted" />
        <section class="card auth-card">
            <h1>"Your account was deleted"</h1>
            <p>"Your keys no longer work and you have been signed out everywhere. We sent a last confirmation to your email address."</p>
            <p><a href="/">"Go to the home page"</a></p>
        </section>
    }
}
