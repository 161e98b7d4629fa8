//! Accounts: sign-up, the profile, the dashboard shell and the account page.

mod profile;
#[cfg(feature = "ssr")]
pub mod store;

pub use profile::*;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::ui::{FieldError, FormError, SignedInOnly, action_error, invalid};

pub const DISPLAY_NAME_MAX: usize = 100;
pub const ORGANISATION_MAX: usize = 120;
pub const COUNTRY_MAX: usize = 60;
pub const EMAIL_MAX: usize = 254;

/// The key an email is found by: trimmed and lower-cased, so `Ann@X.org` and `ann@x.org` are one account.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks the shape of an address (RFC 5321 lengths, one `@`, a dotted domain, no spaces).
pub fn validate_email(email: &str) -> Result<(), &'static str> {
    let email = email.trim();
    if email.is_empty() {
        return Err("Enter your email address.");
    }
    if email.len() > EMAIL_MAX {
        return Err("This email address is too long.");
    }
    let Some((local, domain)) = email.rsplit_once('@') else { return Err("Enter an email address like name@example.com.") };
    let ok = !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',')
        && !domain.contains('@');
    if ok { Ok(()) } else { Err("Enter an email address like name@example.com.") }
}

#[cfg(feature = "ssr")]
fn optional_text(value: Option<String>, field: &str, max: usize, label: &str) -> Result<Option<String>, AppError> {
    let value = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    if let Some(v) = &value {
        if v.chars().count() > max {
            return Err(AppError::invalid(field, format!("{label} can be at most {max} characters.")));
        }
        if v.chars().any(char::is_control) {
            return Err(AppError::invalid(field, format!("{label} contains characters that are not allowed.")));
        }
    }
    Ok(value)
}

/// What every page may know about the visitor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    pub display_name: String,
    pub email: String,
    pub verified: bool,
    pub is_admin: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcceptedDocument {
    pub document: String,
    pub title: String,
    pub version: String,
    pub accepted_at: String,
    pub ip: String,
    pub user_agent: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountOverview {
    pub viewer: Viewer,
    pub organisation: Option<String>,
    pub country: Option<String>,
    pub created_at: String,
    pub verified_at: Option<String>,
    pub accepted: Vec<AcceptedDocument>,
}

/// `2026-11-24 15:47:09 UTC`
#[cfg(feature = "ssr")]
pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second())
}

/// A sign-up form that passed its checks (the password, if any, is checked on its own).
#[cfg(feature = "ssr")]
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewProfile {
    pub email: String,
    pub display_name: String,
    pub organisation: Option<String>,
    pub country: Option<String>,
}

#[cfg(feature = "ssr")]
pub fn check_profile(
    email: &str,
    display_name: &str,
    organisation: Option<String>,
    country: Option<String>,
) -> Result<NewProfile, AppError> {
    validate_email(email).map_err(|m| AppError::invalid("email", m))?;
    let display_name = display_name.trim().to_string();
    if display_name.is_empty() {
        return Err(AppError::invalid("display_name", "Enter the name we should call you."));
    }
    let display_name = optional_text(Some(display_name), "display_name", DISPLAY_NAME_MAX, "Your name")?.unwrap_or_default();
    let organisation = optional_text(organisation, "organisation", ORGANISATION_MAX, "Organisation")?;
    let country = optional_text(country, "country", COUNTRY_MAX, "Country")?;
    Ok(NewProfile { email: email.trim().to_string(), display_name, organisation, country })
}

/// The consent checkbox: an account needs both documents accepted.
#[cfg(feature = "ssr")]
pub fn check_acceptance(accept_terms: Option<&str>) -> Result<(), AppError> {
    match accept_terms {
        Some("on" | "true") => Ok(()),
        _ => Err(AppError::invalid("accept_terms", "Please accept the Terms of Use and the Privacy Policy to create an account.")),
    }
}

/// Counts a sign-up (password or passkey) per address and per client network before anything is
/// hashed or mailed: each one mails the address and costs a hash. The answer is the same for a
/// taken address and a new one.
#[cfg(feature = "ssr")]
pub async fn count_sign_up(state: &crate::state::AppState, email: &str, client: &crate::client::ClientInfo) -> Result<(), AppError> {
    use crate::throttle::{self, Bucket};
    let now = state.clock.now();
    let buckets = [
        Bucket::new("address", format!("signup:email:{}", normalize_email(email)), throttle::MAIL_PER_ADDRESS),
        Bucket::new("ip", format!("signup:ip:{}", client.network()), throttle::SIGN_UP_PER_CLIENT),
    ];
    match throttle::attempt(&state.db, &buckets, now).await? {
        Ok(pass) => Ok(pass.keep(&state.db, now).await?),
        Err(refused) => Err(AppError::TooManyRequests(format!(
            "Too many sign-ups {} in a short time. Please try again {}.",
            if refused.scope == "ip" { "from your network" } else { "with this address" },
            throttle::describe_wait(refused.wait)
        ))),
    }
}

/// How the new account signs in: a password hash, or its first passkey.
#[cfg(feature = "ssr")]
pub enum FirstCredential<'a> {
    Password(&'a str),
    Passkey(&'a crate::passkeys::store::NewPasskey<'a>),
}

/// Writes the account, its consents and its first credential in one transaction. A taken address
/// answers like a new one: what differs (events, mails) runs in the background, so neither the
/// answer nor its timing tells them apart (ASVS 6.3.8).
#[cfg(feature = "ssr")]
pub async fn register(
    state: &crate::state::AppState,
    profile: &NewProfile,
    account_id: uuid::Uuid,
    credential: FirstCredential<'_>,
    client: crate::client::ClientInfo,
) -> Result<(), AppError> {
    use crate::consent::{
        DOCUMENTS,
        store::{NewConsent, insert_consent},
        text,
    };
    use store::{NewAccount, insert_account};

    let email_normalized = normalize_email(&profile.email);
    let now = crate::db::now();
    let mut tx = state.db.begin().await?;
    let new = NewAccount {
        account_id,
        email: &profile.email,
        email_normalized: &email_normalized,
        display_name: &profile.display_name,
        organisation: profile.organisation.as_deref(),
        country: profile.country.as_deref(),
        password_hash: match credential {
            FirstCredential::Password(hash) => Some(hash),
            FirstCredential::Passkey(_) => None,
        },
    };
    match insert_account(&mut tx, &new, now).await {
        Ok(()) => {
            for doc in DOCUMENTS {
                let markdown = text::markdown(doc, &state.config);
                let sha = text::sha256_hex(&markdown);
                let consent = NewConsent { document: doc.slug, version: doc.version, text_sha256: &sha };
                insert_consent(&mut tx, account_id, &consent, &client, now).await?;
            }
            let method = match credential {
                FirstCredential::Password(_) => "password",
                FirstCredential::Passkey(passkey) => {
                    match crate::passkeys::store::insert_passkey_in(&mut tx, passkey, now).await {
                        Err(err) if crate::db::is_unique_violation(&err) => {
                            return Err(AppError::message(crate::passkeys::ALREADY_REGISTERED));
                        }
                        other => other?,
                    };
                    "passkey"
                }
            };
            tx.commit().await?;
            tokio::spawn(after_new_account(state.clone(), account_id, client, method));
        }
        Err(err) if crate::db::is_unique_violation(&err) => {
            drop(tx);
            tokio::spawn(after_taken_address(state.clone(), email_normalized, client));
        }
        Err(err) => return Err(err.into()),
    }
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "sign_up")]
pub async fn sign_up(
    email: String,
    display_name: String,
    password: String,
    organisation: Option<String>,
    country: Option<String>,
    accept_terms: Option<String>,
) -> Result<(), AppError> {
    let started = tokio::time::Instant::now();
    let state = crate::state::AppState::current()?;
    let client = crate::state::current_client().await;

    let profile = check_profile(&email, &display_name, organisation, country)?;
    crate::passwords::check_policy(&password, &email, &state.config.site_name).map_err(|m| AppError::invalid("password", m))?;
    check_acceptance(accept_terms.as_deref())?;
    count_sign_up(&state, &profile.email, &client).await?;

    // Hash before looking the address up: a taken address costs the same time as a new one.
    let hash = state.hasher.hash(&password).await.ok_or(AppError::Internal)?;
    register(&state, &profile, crate::db::new_id(), FirstCredential::Password(&hash), client).await?;
    crate::timing::answer_no_sooner_than(started, crate::timing::ACCOUNT_LOOKUP_MIN).await;
    leptos_axum::redirect("/signup/check-email");
    Ok(())
}

/// After a sign-up: the events and the confirmation mail.
#[cfg(feature = "ssr")]
async fn after_new_account(state: crate::state::AppState, account_id: uuid::Uuid, client: crate::client::ClientInfo, method: &'static str) {
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    record(
        &state.db,
        NewEvent {
            kind: kind::SIGN_UP,
            account_id: Some(account_id),
            actor_account_id: None,
            client: Some(&client),
            detail: serde_json::json!({ "method": method }),
        },
    )
    .await;
    record(
        &state.db,
        NewEvent {
            kind: kind::CONSENT_ACCEPTED,
            account_id: Some(account_id),
            actor_account_id: None,
            client: Some(&client),
            detail: serde_json::json!({ "terms": crate::consent::TERMS.version, "privacy": crate::consent::PRIVACY.version }),
        },
    )
    .await;
    let sent = match store::find_account(&state.db, account_id).await {
        Ok(Some(account)) => crate::email_verification::send_verification(&state, &account).await,
        Ok(None) => Ok(()),
        Err(err) => Err(err.into()),
    };
    if sent.is_err() {
        // The person can ask for a new link from the dashboard.
        tracing::error!(%account_id, "could not send the confirmation mail after sign-up");
    }
}

/// After a sign-up with an address that has an account: tell its owner, nobody else.
#[cfg(feature = "ssr")]
async fn after_taken_address(state: crate::state::AppState, email_normalized: String, client: crate::client::ClientInfo) {
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    let Ok(Some(owner)) = store::find_account_by_email(&state.db, &email_normalized).await else { return };
    record(
        &state.db,
        NewEvent {
            kind: kind::SIGN_UP_EXISTING,
            account_id: Some(owner.account_id),
            actor_account_id: None,
            client: Some(&client),
            detail: serde_json::Value::Null,
        },
    )
    .await;
    let site = &state.config.site_name;
    let reset = state.config.link("/forgot-password");
    state.send_mail_later(crate::mail::compose(&owner.email, &format!("Someone tried to sign up to {site} with your address"), site, &[
        &format!("Hello {},", owner.display_name),
        &format!("Someone just tried to create a {site} account with this email address, which already has an account."),
        "If it was you, sign in instead. If you forgot your password, you can reset it. If it was not you, you can ignore this email: nothing has changed.",
    ], Some(("Reset your password", &reset))));
}

/// The visitor, if signed in. Every page's header asks this.
#[server(prefix = "/rpc", endpoint = "viewer")]
pub async fn get_viewer() -> Result<Option<Viewer>, AppError> {
    let account = crate::sessions::auth::current_account().await?;
    Ok(account.map(|a| Viewer {
        display_name: a.display_name,
        email: a.email,
        verified: a.email_verified_at.is_some(),
        is_admin: a.role == "admin",
    }))
}

#[server(prefix = "/rpc", endpoint = "account_overview")]
pub async fn get_account_overview() -> Result<AccountOverview, AppError> {
    let state = crate::state::AppState::current()?;
    crate::sessions::auth::no_store();
    let account = crate::sessions::auth::require_account().await?;
    overview_of(&state, account).await
}

/// What the account page shows; open while new documents await acceptance, so someone who does
/// not agree can still export their data or delete the account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountPageData {
    pub overview: AccountOverview,
    pub has_password: bool,
    pub has_passkeys: bool,
    /// Seconds left to change the address or delete the account (0: confirm it's you first).
    pub change_window_seconds: i64,
}

#[server(prefix = "/rpc", endpoint = "account_page")]
pub async fn get_account_page() -> Result<AccountPageData, AppError> {
    let state = crate::state::AppState::current()?;
    crate::sessions::auth::no_store();
    let account = crate::sessions::auth::require_account_pending_consent().await?;
    let has_password = account.password_hash.is_some();
    let has_passkeys = !crate::passkeys::store::list_passkeys_of_account(&state.db, account.account_id).await?.is_empty();
    Ok(AccountPageData {
        overview: overview_of(&state, account).await?,
        has_password,
        has_passkeys,
        change_window_seconds: crate::sessions::auth::seconds_left_to_change_credentials().await?,
    })
}

#[cfg(feature = "ssr")]
async fn overview_of(state: &crate::state::AppState, a: store::Account) -> Result<AccountOverview, AppError> {
    use crate::consent::{document, store::list_consents};
    let accepted = list_consents(&state.db, a.account_id)
        .await?
        .into_iter()
        .map(|c| AcceptedDocument {
            title: document(&c.document).map(|d| d.title.to_string()).unwrap_or_else(|| c.document.clone()),
            document: c.document,
            version: c.version,
            accepted_at: format_time(c.accepted_at),
            ip: c.ip.unwrap_or_default(),
            user_agent: c.user_agent.unwrap_or_default(),
        })
        .collect();
    Ok(AccountOverview {
        viewer: Viewer {
            display_name: a.display_name,
            email: a.email,
            verified: a.email_verified_at.is_some(),
            is_admin: a.role == "admin",
        },
        organisation: a.organisation,
        country: a.country,
        created_at: format_time(a.created_at),
        verified_at: a.email_verified_at.map(format_time),
        accepted,
    })
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let password_error = action_error(action);
    // A passkey sign-up reports into the same places as the password form.
    let passkey_error = RwSignal::new(None::<AppError>);
    let error = Signal::derive(move || passkey_error.get().or_else(|| password_error.get()));
    Effect::new(move |_| {
        if action.pending().get() {
            passkey_error.set(None);
        }
    });
    Effect::new(move |_| {
        if passkey_error.get().is_some() {
            action.clear();
        }
    });
    let fields = crate::passkeys::SignUpFields::default();
    view! {
        <Title text="Create your account" />
        <section class="card auth-card">
            <h1>"Create your account"</h1>
            <p class="muted">"Get API keys and see your usage. It takes a minute."</p>
            <ActionForm action=action attr:novalidate="">
                <FormError error=error />
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="email" required maxlength="254" node_ref=fields.email
                    aria-invalid=invalid(error, "email") aria-describedby="email-error" />
                <FieldError error=error field="email" />

                <label for="display_name">"Your name"</label>
                <input id="display_name" name="display_name" type="text" autocomplete="name" required maxlength="100" node_ref=fields.display_name
                    aria-invalid=invalid(error, "display_name") aria-describedby="display_name-error" />
                <FieldError error=error field="display_name" />

                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="128"
                    aria-invalid=invalid(error, "password") aria-describedby="password-hint password-error" />
                <p class="hint" id="password-hint">"At least 8 characters. A few unusual words make a strong password."</p>
                <FieldError error=error field="password" />

                <div class="row">
                    <div>
                        <label for="organisation">"Organisation " <span class="muted">"(optional)"</span></label>
                        <input id="organisation" name="organisation" type="text" autocomplete="organization" maxlength="120" node_ref=fields.organisation
                            aria-invalid=invalid(error, "organisation") />
                        <FieldError error=error field="organisation" />
                    </div>
                    <div>
                        <label for="country">"Country " <span class="muted">"(optional)"</span></label>
                        <input id="country" name="country" type="text" autocomplete="country-name" maxlength="60" node_ref=fields.country
                            aria-invalid=invalid(error, "country") />
                        <FieldError error=error field="country" />
                    </div>
                </div>

                <div class="checkbox">
                    <input id="accept_terms" name="accept_terms" type="checkbox" required aria-invalid=invalid(error, "accept_terms") node_ref=fields.accept_terms />
                    <label for="accept_terms">
                        "I accept the " <a href="/terms" target="_blank">"Terms of Use"</a> " and the "
                        <a href="/privacy" target="_blank">"Privacy Policy"</a> "."
                    </label>
                </div>
                <FieldError error=error field="accept_terms" />
                <p class="hint">"This service is not for children under 13."</p>
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Create account"</button>
            </ActionForm>
            <crate::passkeys::PasskeySignUp fields=fields error=passkey_error />
            <p class="below-form">"Already have an account? " <A href="/signin">"Sign in"</A></p>
        </section>
    }
}

#[component]
pub fn CheckEmailPage() -> impl IntoView {
    view! {
        <Title text="Check your email" />
        <section class="card auth-card">
            <h1>"Check your email"</h1>
            <p>"If the address can be used, we sent it a link to confirm it. The link works for 24 hours."</p>
            <p>"Then " <A href="/signin">"sign in"</A> "."</p>
        </section>
    }
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_account_overview());
    // The cards' data is asked for here, once. Made inside the signed-in view below, the server
    // would ask again at each of its render passes, and an answer to a pass it dropped can be an
    // error (no request any more) that the browser then hydrates against: a dead page.
    let plan = crate::api_keys::keys_overview();
    let usage = crate::usage::dashboard_usage();
    let deprecated = crate::deprecations::deprecated_calls();
    let apis = crate::products::your_apis_resource();
    view! {
        <Title text="Dashboard" />
        <SignedInOnly data=overview heading="Dashboard" view_fn=move |o: AccountOverview| view! {
            <section class="page">
                {(!o.viewer.verified).then(|| view! { <crate::email_verification::UnverifiedBanner email=o.viewer.email.clone() /> })}
                <h1>{format!("Welcome, {}", o.viewer.display_name)}</h1>
                <crate::deprecations::DeprecationsCard calls=deprecated />
                <div class="grid">
                    <crate::api_keys::PlanCard overview=plan />
                    <div class="card">
                        <h2>"Your account"</h2>
                        <p>"Profile, passkeys and password, and the documents you accepted."</p>
                        <A href="/account">"Open account settings"</A>
                    </div>
                    <crate::products::YourApisCard apis=apis />
                </div>
                <crate::usage::UsageSection usage=usage />
            </section>
        } />
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let page = Resource::new(|| (), |_| get_account_page());
    view! {
        <Title text="Account" />
        <SignedInOnly data=page heading="Account" view_fn={move |p: AccountPageData| {
            let o = p.overview;
            let can_change = p.change_window_seconds > 0;
            view! {
                <section class="page">
                    <h1>"Account"</h1>
                    <p class="muted">{format!("Member since {}.", o.created_at)}</p>
                    <ProfileCard display_name=o.viewer.display_name.clone() organisation=o.organisation.clone() country=o.country.clone() />
                    {(!can_change).then(|| view! {
                        <crate::passkeys::ConfirmItsYou has_password=p.has_password has_passkeys=p.has_passkeys
                            usable=crate::passkeys::passkeys_usable() refresh=Callback::new(move |_| page.refetch())
                            purpose="To change your email address or delete your account, confirm it's you. You then have 5 minutes." />
                    })}
                    <EmailCard email=o.viewer.email.clone() verified_at=o.verified_at.clone() can_change=can_change />
                    <div class="card" role="region" aria-labelledby="accepted-heading">
                        <h2 id="accepted-heading">"Accepted documents"</h2>
                        <table>
                            <thead><tr><th>"Document"</th><th>"Version"</th><th>"Accepted"</th><th>"From IP"</th><th>"Browser"</th></tr></thead>
                            <tbody>
                                {o.accepted.iter().map(|d| view! {
                                    <tr>
                                        <td><a href=format!("/{}", d.document)>{d.title.clone()}</a></td>
                                        <td>{d.version.clone()}</td>
                                        <td>{d.accepted_at.clone()}</td>
                                        <td>{d.ip.clone()}</td>
                                        <td class="user-agent">{d.user_agent.clone()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <div class="card">
                        <h2>"Security"</h2>
                        <p>"Passkeys, password and the sessions where you are signed in."</p>
                        <A href="/security">"Passkeys, password and sessions"</A>
                    </div>
                    <crate::privacy::YourDataCard />
                    <crate::privacy::DeleteAccountCard can_delete=can_change />
                </section>
            }
        }} />
    }
}
