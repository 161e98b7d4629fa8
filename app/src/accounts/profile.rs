//! Correction, as the Privacy Policy promises: the profile can be edited, and the email address
//! changed after "confirm it's you" and a link to the new address (the old one is told).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::error::AppError;
use crate::ui::{FieldError, FormError, action_error, invalid};

/// Email-change links expire after this many hours.
pub const EMAIL_CHANGE_HOURS: i64 = 24;

#[server(prefix = "/rpc", endpoint = "update_profile")]
pub async fn update_profile(display_name: String, organisation: Option<String>, country: Option<String>) -> Result<String, AppError> {
    use crate::events::{kind, store::NewEvent};
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account_pending_consent().await?;
    // The same rules as at sign-up; the address is checked by its own form.
    let profile = super::check_profile(&account.email, &display_name, organisation, country)?;
    let changed: Vec<&str> = [
        ("display_name", profile.display_name != account.display_name),
        ("organisation", profile.organisation != account.organisation),
        ("country", profile.country != account.country),
    ]
    .into_iter()
    .filter_map(|(field, differs)| differs.then_some(field))
    .collect();
    if changed.is_empty() {
        return Ok("Nothing to save: your profile is unchanged.".into());
    }
    super::store::update_profile(
        &state.db,
        account.account_id,
        &profile.display_name,
        profile.organisation.as_deref(),
        profile.country.as_deref(),
        state.clock.now(),
    )
    .await?;
    let client = crate::state::current_client().await;
    // Which fields changed, not their values: the event log keeps no profile data.
    crate::events::store::record(
        &state.db,
        NewEvent::by_account(kind::PROFILE_UPDATED, account.account_id, &client, serde_json::json!({ "fields": changed })),
    )
    .await;
    Ok("Profile saved.".into())
}

/// Sends a link to the new address; the change happens when it is followed. A taken address
/// gets the same answer and no link, so the form does not tell who has an account.
#[server(prefix = "/rpc", endpoint = "request_email_change")]
pub async fn request_email_change(new_email: String) -> Result<String, AppError> {
    use crate::email_verification::{store, tokens};
    use crate::events::{kind, store::NewEvent};
    use crate::throttle::{self, Bucket};
    let started = tokio::time::Instant::now();
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_recent_authentication().await?;
    super::validate_email(&new_email).map_err(|m| AppError::invalid("new_email", m))?;
    let new_email = new_email.trim().to_string();
    let normalized = super::normalize_email(&new_email);
    if normalized == account.email_normalized {
        return Err(AppError::invalid("new_email", "This is already your email address."));
    }
    let answer = format!("If {new_email} can be used, we sent it a link. Your address changes when you follow it (within 24 hours).");
    let client = crate::state::current_client().await;
    let now = state.clock.now();
    // Each request mails two addresses: counted per account and per new address first.
    let buckets = [
        Bucket::new("account", format!("mail:email-change:{}", account.account_id), throttle::MAIL_PER_ADDRESS),
        Bucket::new("address", format!("mail:email-change-to:{normalized}"), throttle::MAIL_PER_ADDRESS),
    ];
    let pass = throttle::attempt(&state.db, &buckets, now).await?.map_err(|refused| {
        AppError::TooManyRequests(format!(
            "You asked for several changes in a short time. Try again {}.",
            throttle::describe_wait(refused.wait)
        ))
    })?;
    pass.keep(&state.db, now).await?;
    crate::events::store::record(
        &state.db,
        NewEvent::by_account(kind::EMAIL_CHANGE_REQUESTED, account.account_id, &client, serde_json::json!({})),
    )
    .await;
    if super::store::find_account_by_email(&state.db, &normalized).await?.is_some() {
        // As long as for a free address: the time does not tell that this one has an account.
        crate::timing::answer_no_sooner_than(started, crate::timing::ACCOUNT_LOOKUP_MIN).await;
        return Ok(answer);
    }
    let (token, hash) = tokens::new_token();
    store::void_email_tokens(&state.db, account.account_id, crate::email_verification::CHANGE_PURPOSE, now).await?;
    let mut tx = state.db.begin().await?;
    store::insert_email_change_token(&mut tx, account.account_id, &hash, &new_email, now + time::Duration::hours(EMAIL_CHANGE_HOURS), now)
        .await?;
    tx.commit().await?;
    let site = &state.config.site_name;
    let link = state.config.link(&format!("/confirm-email-change?token={token}"));
    state.send_mail_later(crate::mail::compose(
        &new_email,
        &format!("Confirm your new email address for {site}"),
        site,
        &[
            &format!("Hello {},", account.display_name),
            &format!("You asked to use this address for your {site} account. Confirm it to make the change."),
            "The link works once and expires in 24 hours. If you did not ask for this, ignore this email.",
        ],
        Some(("Confirm new address", &link)),
    ));
    state.send_mail_later(crate::mail::compose(
        &account.email,
        &format!("A change of your {site} email address was requested"),
        site,
        &[
            &format!("Hello {},", account.display_name),
            &format!("Someone signed in to your account asked to change its email address to {new_email}. Nothing changes until that address confirms."),
            &format!("If it was not you, change your password and sign out your other sessions on the Security page, and write to {}.", state.config.contact_email),
        ],
        Some(("Open Security", &state.config.link("/security"))),
    ));
    crate::timing::answer_no_sooner_than(started, crate::timing::ACCOUNT_LOOKUP_MIN).await;
    Ok(answer)
}

/// Follows an email-change link: the account's address becomes the new one, confirmed.
#[server(prefix = "/rpc", endpoint = "confirm_email_change")]
pub async fn confirm_email_change(token: String) -> Result<String, AppError> {
    use crate::email_verification::{store, tokens};
    use crate::events::{kind, store::NewEvent};
    let state = crate::state::AppState::current()?;
    let now = state.clock.now();
    let invalid = || AppError::message("This link is invalid or has expired. Ask for a new one on your account page.");
    if token.len() > 128 {
        return Err(invalid());
    }
    let (account_id, new_email) =
        store::consume_email_change_token(&state.db, &tokens::hash_token(&token), now).await?.ok_or_else(invalid)?;
    let old = super::store::find_account(&state.db, account_id).await?.ok_or_else(invalid)?;
    match super::store::change_email(&state.db, account_id, &new_email, &super::normalize_email(&new_email), now).await {
        Err(err) if crate::db::is_unique_violation(&err) => {
            return Err(AppError::message("This address now belongs to another account, so it cannot be yours too."));
        }
        other => other?,
    }
    // Links already sent to the old address (reset, confirmation) must not work after the move.
    for purpose in [crate::passwords::RESET_PURPOSE, crate::email_verification::PURPOSE] {
        store::void_email_tokens(&state.db, account_id, purpose, now).await?;
    }
    let client = crate::state::current_client().await;
    crate::events::store::record(&state.db, NewEvent::by_account(kind::EMAIL_CHANGED, account_id, &client, serde_json::json!({}))).await;
    let site = &state.config.site_name;
    state.send_mail_later(crate::mail::compose(
        &old.email,
        &format!("Your {site} email address was changed"),
        site,
        &[
            &format!("Hello {},", old.display_name),
            &format!("The email address of your {site} account is now {new_email}. We will write there from now on."),
            &format!("If you did not make this change, write to {} at once.", state.config.contact_email),
        ],
        None,
    ));
    Ok(format!("Your email address is now {new_email}."))
}

/// The profile, editable in place.
#[component]
pub fn ProfileCard(display_name: String, organisation: Option<String>, country: Option<String>) -> impl IntoView {
    let action = ServerAction::<UpdateProfile>::new();
    let error = action_error(action);
    let done = move || action.value().get().and_then(|r| r.ok());
    view! {
        <div class="card" role="region" aria-labelledby="profile-heading">
            <h2 id="profile-heading">"Profile"</h2>
            <ActionForm action=action attr:novalidate="">
                <FormError error=error />
                <label for="display_name">"Your name"</label>
                <input id="display_name" name="display_name" type="text" autocomplete="name" required maxlength="100" value=display_name
                    aria-invalid=invalid(error, "display_name") aria-describedby="display_name-error" />
                <FieldError error=error field="display_name" />
                <div class="row">
                    <div>
                        <label for="organisation">"Organisation " <span class="muted">"(optional)"</span></label>
                        <input id="organisation" name="organisation" type="text" autocomplete="organization" maxlength="120"
                            value=organisation.unwrap_or_default() aria-invalid=invalid(error, "organisation") />
                        <FieldError error=error field="organisation" />
                    </div>
                    <div>
                        <label for="country">"Country " <span class="muted">"(optional)"</span></label>
                        <input id="country" name="country" type="text" autocomplete="country-name" maxlength="60"
                            value=country.unwrap_or_default() aria-invalid=invalid(error, "country") />
                        <FieldError error=error field="country" />
                    </div>
                </div>
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Save profile"</button>
            </ActionForm>
            {move || done().map(|m| view! { <p class="form-ok" role="status">{m}</p> })}
        </div>
    }
}

/// The address, and the form to change it (open after "confirm it's you").
#[component]
pub fn EmailCard(email: String, verified_at: Option<String>, can_change: bool) -> impl IntoView {
    let action = ServerAction::<RequestEmailChange>::new();
    let error = action_error(action);
    let done = move || action.value().get().and_then(|r| r.ok());
    view! {
        <div class="card" role="region" aria-labelledby="email-heading">
            <h2 id="email-heading">"Email address"</h2>
            <p>
                <strong>{email}</strong> " "
                {match verified_at {
                    Some(at) => view! { <span class="badge ok">{format!("confirmed {at}")}</span> }.into_any(),
                    None => view! { <span class="badge warn">"not confirmed"</span> }.into_any(),
                }}
            </p>
            <ActionForm action=action attr:novalidate="">
                <FormError error=error />
                <label for="new_email">"New email address"</label>
                <input id="new_email" name="new_email" type="email" autocomplete="email" required maxlength="254"
                    aria-invalid=invalid(error, "new_email") aria-describedby="new_email-hint new_email-error" />
                <p class="hint" id="new_email-hint">"We send a link to the new address; your old address is told about the change."</p>
                <FieldError error=error field="new_email" />
                <button type="submit" class="secondary" disabled=move || !can_change || action.pending().get()>"Change email address"</button>
                {(!can_change).then(|| view! { <p class="hint">"Confirm it's you above first."</p> })}
            </ActionForm>
            {move || done().map(|m| view! { <p class="form-ok" role="status">{m}</p> })}
        </div>
    }
}

/// `/confirm-email-change?token=…`: a button, so a mail scanner that follows links changes nothing.
#[component]
pub fn ConfirmEmailChangePage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let action = ServerAction::<ConfirmEmailChange>::new();
    let error = action_error(action);
    let done = move || action.value().get().and_then(|r| r.ok());
    view! {
        <Title text="Confirm your new email address" />
        <section class="card auth-card">
            <h1>"Confirm your new email address"</h1>
            {move || match done() {
                Some(message) => view! {
                    <p class="form-ok" role="status">{message}</p>
                    <p><a href="/account">"Go to your account"</a></p>
                }.into_any(),
                None => view! {
                    <ActionForm action=action>
                        <FormError error=error />
                        <input type="hidden" name="token" value=token() />
                        <button type="submit" class="primary">"Use this address"</button>
                    </ActionForm>
                }.into_any(),
            }}
        </section>
    }
}
