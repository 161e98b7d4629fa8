//! Password policy (ASVS 6.2, NIST 800-63B 5.1.1) and argon2id hashing (ASVS 11.4.2).
//!
//! Length 8..=128, checked exactly as typed (no trimming, no case change); no composition
//! rules; refused when among the ~30,000 most common passwords (zxcvbn's list, MIT, shipped
//! in `common_passwords.txt`), equal to the email or its local part, or the site name.

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

/// Checks a new password; the error is the message to show next to the field.
#[cfg(feature = "ssr")]
pub fn check_policy(password: &str, email: &str, site_name: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(format!("Use at least {MIN_LEN} characters."));
    }
    if chars > MAX_LEN {
        return Err(format!("Use at most {MAX_LEN} characters."));
    }
    let lower = password.to_lowercase();
    let email = email.trim().to_lowercase();
    let local_part = email.split('@').next().unwrap_or_default();
    if lower == email || (local_part.len() >= MIN_LEN && lower == local_part) {
        return Err("Don't use your email address as your password.".into());
    }
    if lower == site_name.to_lowercase() || lower == format!("{}123", site_name.to_lowercase()) {
        return Err(format!("Don't use the name of {site_name} as your password."));
    }
    if is_common(&lower) {
        return Err("This password is one of the most common ones and easy to guess. Choose another.".into());
    }
    Ok(())
}

#[cfg(feature = "ssr")]
fn is_common(lowercased: &str) -> bool {
    use std::collections::HashSet;
    use std::sync::LazyLock;
    static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| include_str!("common_passwords.txt").lines().collect());
    COMMON.contains(lowercased)
}

#[cfg(feature = "ssr")]
pub use hashing::PasswordHasher;

#[cfg(feature = "ssr")]
mod hashing {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, LazyLock};

    use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString, rand_core::OsRng};
    use argon2::{Algorithm, Argon2, Params, Version};
    use tokio::sync::Semaphore;

    fn argon2() -> Argon2<'static> {
        // OWASP: argon2id, m = 19 MiB, t = 2, p = 1. The values are constants, so this cannot fail.
        #[allow(clippy::expect_used)]
        let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Verified when the email is unknown, so that answer costs the same time as a known one.
    static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2().hash_password(b"not a real password, only for timing", &salt).map(|h| h.to_string()).unwrap_or_default()
    });

    /// Hashes and verifies on the blocking pool, at most `concurrency` at once, so a burst of
    /// sign-ins cannot starve the async workers that serve the API. New hashes (sign-up, a new
    /// password) may hold only half of those slots: a burst of sign-ups cannot starve sign-in.
    #[derive(Clone)]
    pub struct PasswordHasher {
        permits: Arc<Semaphore>,
        new_hash_permits: Arc<Semaphore>,
        verifications: Arc<AtomicU64>,
    }

    impl PasswordHasher {
        pub fn new(concurrency: usize) -> Self {
            let concurrency = concurrency.max(1);
            PasswordHasher {
                permits: Arc::new(Semaphore::new(concurrency)),
                new_hash_permits: Arc::new(Semaphore::new(concurrency.div_ceil(2))),
                verifications: Arc::default(),
            }
        }

        /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) with a fresh random salt.
        pub async fn hash(&self, password: &str) -> Option<String> {
            let _share = self.new_hash_permits.acquire().await.ok()?;
            let _permit = self.permits.acquire().await.ok()?;
            let password = password.to_owned();
            tokio::task::spawn_blocking(move || {
                let salt = SaltString::generate(&mut OsRng);
                argon2().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).ok()
            })
            .await
            .ok()
            .flatten()
        }

        /// Checks `password` against `stored`; with no stored hash it checks a dummy one and fails.
        pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
            let Ok(_permit) = self.permits.acquire().await else { return false };
            self.verifications.fetch_add(1, Ordering::Relaxed);
            let known = stored.is_some();
            let stored = stored.map(str::to_owned).unwrap_or_else(|| DUMMY_HASH.clone());
            let password = password.to_owned();
            let matched = tokio::task::spawn_blocking(move || {
                PasswordHash::new(&stored).map(|hash| argon2().verify_password(password.as_bytes(), &hash).is_ok()).unwrap_or(false)
            })
            .await
            .unwrap_or(false);
            known && matched
        }

        /// How many passwords this process has checked: what a throttle must bound, whatever
        /// the answers said.
        pub fn verifications(&self) -> u64 {
            self.verifications.load(Ordering::Relaxed)
        }

        /// Computes the dummy hash now rather than during the first sign-in.
        pub fn warm_up(&self) {
            LazyLock::force(&DUMMY_HASH);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_burst_of_sign_ups_leaves_sign_in_a_hashing_slot() {
            let hasher = PasswordHasher::new(2);
            let sign_ups: Vec<_> = (0..6)
                .map(|n| {
                    let hasher = hasher.clone();
                    tokio::spawn(async move { hasher.hash(&format!("a new password {n}")).await })
                })
                .collect();
            // However the burst is scheduled, new hashes never hold more than half the slots.
            let mut fewest_free = usize::MAX;
            while sign_ups.iter().any(|t| !t.is_finished()) {
                fewest_free = fewest_free.min(hasher.permits.available_permits());
                tokio::task::yield_now().await;
            }
            assert_eq!(fewest_free, 1, "one slot stayed free for sign-in throughout");
            for sign_up in sign_ups {
                assert!(sign_up.await.unwrap().is_some());
            }
            assert!(!hasher.verify("wrong", None).await, "and sign-in is served");
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn asvs_6_2_1_and_6_2_9_length_bounds() {
        assert!(check_policy("sh0rt!x", "a@b.c", "Mast").is_err());
        assert!(check_policy("correct horse battery", "a@b.c", "Mast").is_ok());
        assert!(check_policy(&"x1y2z3w4".repeat(16), "a@b.c", "Mast").is_ok()); // 128
        assert!(check_policy(&"x1y2z3w4".repeat(16).replace("x1", "x12"), "a@b.c", "Mast").is_err());
    }

    #[test]
    fn asvs_6_2_4_common_passwords_email_and_site_name_refused() {
        for weak in ["password", "Password", "12345678", "qwertyuiop", "iloveyou"] {
            assert!(check_policy(weak, "a@b.c", "Mast").is_err(), "{weak} should be refused");
        }
        assert!(check_policy("someone@example.com", "Someone@Example.com", "Mast").is_err());
        assert!(check_policy("mastmast", "a@b.c", "MastMast").is_err());
    }

    #[test]
    fn asvs_6_2_5_no_composition_rules() {
        assert!(check_policy("lowercase only words", "a@b.c", "Mast").is_ok());
        assert!(check_policy("ñandú über straße", "a@b.c", "Mast").is_ok());
    }

    #[test]
    fn shipped_list_holds_at_least_ten_thousand_entries() {
        assert!(include_str!("common_passwords.txt").lines().count() >= 10_000);
    }
}

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::error::AppError;
use crate::ui::{FieldError, FormError, action_error, invalid};

pub const RESET_PURPOSE: &str = "reset_password";
pub const RESET_MINUTES: i64 = 30;
/// The answer to every reset request, whether or not the address has an account (ASVS 6.3.8).
pub const RESET_REQUESTED: &str =
    "If an account uses this address, we sent it a link to choose a new password. The link works for 30 minutes.";

#[server(prefix = "/rpc", endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<String, AppError> {
    use crate::accounts::{normalize_email, store::find_account_by_email, validate_email};
    use crate::email_verification::{store as tokens_store, tokens};
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };
    use crate::throttle;

    let started = tokio::time::Instant::now();
    validate_email(&email).map_err(|m| AppError::invalid("email", m))?;
    let state = crate::state::AppState::current()?;
    let client = crate::state::current_client().await;
    let now = state.clock.now();
    let email_normalized = normalize_email(&email);
    // Throttled per address and per client network, known or not, so the answer never tells
    // them apart; every request counts, before anything is sent.
    let buckets = [
        throttle::Bucket::new("address", format!("mail:reset:{email_normalized}"), throttle::MAIL_PER_ADDRESS),
        throttle::Bucket::new("ip", format!("mail:reset-ip:{}", client.network()), throttle::SIGN_IN_PER_IP),
    ];
    match throttle::attempt(&state.db, &buckets, now).await? {
        Ok(pass) => pass.keep(&state.db, now).await?,
        Err(_) => {
            crate::timing::answer_no_sooner_than(started, crate::timing::ACCOUNT_LOOKUP_MIN).await;
            return Ok(RESET_REQUESTED.into());
        }
    }
    let account = find_account_by_email(&state.db, &email_normalized).await?.filter(|a| a.is_active());
    // Only a confirmed address's passkeys are its owner's: an unconfirmed passkey-only account
    // may be a stranger's trap, and its reset link is how the owner takes the address back.
    if let Some(account) = account.as_ref().filter(|a| a.password_hash.is_none() && a.email_verified_at.is_some()) {
        // A passkey-only account has no password to reset, and an emailed link must not become
        // a way around its passkeys (ASVS 6.4.3): the owner is told how to get in instead.
        let site = &state.config.site_name;
        state.send_mail_later(crate::mail::compose(&account.email, &format!("About your {site} password"), site, &[
            &format!("Hello {},", account.display_name),
            &format!("Someone, probably you, asked to reset the password of your {site} account. Your account has no password: you sign in with a passkey."),
            "Use \u{201c}Sign in with a passkey\u{201d} on the sign-in page. If you no longer have any of your passkeys, contact the operator of this portal. If you did not ask for this, ignore this email.",
        ], Some(("Sign in", &state.config.link("/signin")))));
        record(
            &state.db,
            NewEvent {
                kind: kind::PASSWORD_RESET_REQUESTED,
                account_id: Some(account.account_id),
                actor_account_id: None,
                client: Some(&client),
                detail: serde_json::json!({ "refused": "passkey_only" }),
            },
        )
        .await;
    } else if let Some(account) = account {
        let (token, hash) = tokens::new_token();
        tokens_store::void_email_tokens(&state.db, account.account_id, RESET_PURPOSE, now).await?;
        let mut tx = state.db.begin().await?;
        tokens_store::insert_email_token(
            &mut tx,
            account.account_id,
            RESET_PURPOSE,
            &hash,
            now + time::Duration::minutes(RESET_MINUTES),
            now,
        )
        .await?;
        tx.commit().await?;
        let site = &state.config.site_name;
        let link = state.config.link(&format!("/reset-password?token={token}"));
        state.send_mail_later(crate::mail::compose(&account.email, &format!("Reset your {site} password"), site, &[
            &format!("Hello {},", account.display_name),
            "Someone, probably you, asked to reset the password of your account. Choose a new one with the link below.",
            "The link works once and expires in 30 minutes. If you did not ask for this, ignore this email: your password stays as it is.",
        ], Some(("Choose a new password", &link))));
        record(
            &state.db,
            NewEvent {
                kind: kind::PASSWORD_RESET_REQUESTED,
                account_id: Some(account.account_id),
                actor_account_id: None,
                client: Some(&client),
                detail: serde_json::Value::Null,
            },
        )
        .await;
    }
    crate::timing::answer_no_sooner_than(started, crate::timing::ACCOUNT_LOOKUP_MIN).await;
    Ok(RESET_REQUESTED.into())
}

#[server(prefix = "/rpc", endpoint = "reset_password")]
pub async fn reset_password(token: String, new_password: String) -> Result<(), AppError> {
    use crate::accounts::store::{find_account, set_password_hash};
    use crate::email_verification::{store as tokens_store, tokens};
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };

    let state = crate::state::AppState::current()?;
    let client = crate::state::current_client().await;
    let now = state.clock.now();
    let invalid_link = || AppError::message("This link is invalid or has expired. Ask for a new one.");
    // Links are guessed per client network like passwords: counted first, refunded when valid.
    let bucket = crate::throttle::Bucket::new("ip", format!("reset-link:ip:{}", client.network()), crate::throttle::SIGN_IN_PER_IP);
    let pass = crate::throttle::attempt(&state.db, &[bucket], now).await?.map_err(|refused| {
        AppError::TooManyRequests(format!("Too many attempts. Try again {}.", crate::throttle::describe_wait(refused.wait)))
    })?;
    let hash = tokens::hash_token(&token);
    let found = match tokens_store::find_valid_email_token(&state.db, RESET_PURPOSE, &hash, now).await? {
        Some(account_id) => find_account(&state.db, account_id).await?,
        None => None,
    };
    let Some(account) = found else {
        pass.keep(&state.db, now).await?;
        return Err(invalid_link());
    };
    pass.refund(&state.db).await?;
    let account_id = account.account_id;
    check_policy(&new_password, &account.email, &state.config.site_name).map_err(|m| AppError::invalid("new_password", m))?;
    // Only now use the token: a refused password leaves the link working.
    tokens_store::consume_email_token(&state.db, RESET_PURPOSE, &hash, now).await?.ok_or_else(invalid_link)?;
    let new_hash = state.hasher.hash(&new_password).await.ok_or(AppError::Internal)?;
    set_password_hash(&state.db, account_id, &new_hash, now).await?;
    crate::sessions::store::delete_sessions_of_account(&state.db, account_id, None).await?;
    // The link proved the mailbox, so the address is confirmed too. If this confirms it, every
    // passkey made before is a stranger's until shown otherwise: only the new password stays.
    let removed_passkeys = if account.email_verified_at.is_none() {
        crate::passkeys::store::delete_passkeys_of_account(&state.db, account_id).await?
    } else {
        0
    };
    crate::accounts::store::mark_email_verified(&state.db, account_id, now).await?;
    record(
        &state.db,
        NewEvent {
            kind: kind::PASSWORD_RESET,
            account_id: Some(account_id),
            actor_account_id: None,
            client: Some(&client),
            detail: serde_json::json!({ "confirmed_the_address": account.email_verified_at.is_none(), "passkeys_removed": removed_passkeys }),
        },
    )
    .await;
    notify_password_changed(&state, &account);
    leptos_axum::redirect("/signin?reset=done");
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String, sign_out_others: Option<String>) -> Result<String, AppError> {
    use crate::accounts::store::set_password_hash;
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };

    let state = crate::state::AppState::current()?;
    // Like every credential change: a sign-in or "confirm it's you" from the last 5 minutes.
    let account = crate::sessions::auth::require_recent_authentication().await?;
    let client = crate::state::current_client().await;
    let now = state.clock.now();
    if !check_current(&state, &account, &current_password, &client, now).await? {
        record(
            &state.db,
            NewEvent {
                kind: kind::PASSWORD_CHANGE_FAILED,
                account_id: Some(account.account_id),
                actor_account_id: None,
                client: Some(&client),
                detail: serde_json::Value::Null,
            },
        )
        .await;
        return Err(AppError::invalid("current_password", "Your current password is not correct."));
    }
    check_policy(&new_password, &account.email, &state.config.site_name).map_err(|m| AppError::invalid("new_password", m))?;
    let new_hash = state.hasher.hash(&new_password).await.ok_or(AppError::Internal)?;
    set_password_hash(&state.db, account.account_id, &new_hash, now).await?;
    let mut ended = 0;
    if sign_out_others.is_some() {
        let session = crate::sessions::auth::session().await?;
        let keep = crate::sessions::auth::key_hash(&session);
        ended = crate::sessions::store::delete_sessions_of_account(&state.db, account.account_id, keep.as_deref()).await?;
    }
    record(
        &state.db,
        NewEvent {
            kind: kind::PASSWORD_CHANGED,
            account_id: Some(account.account_id),
            actor_account_id: None,
            client: Some(&client),
            detail: serde_json::json!({ "other_sessions_ended": ended }),
        },
    )
    .await;
    notify_password_changed(&state, &account);
    Ok(if ended > 0 { format!("Password changed. {ended} other session(s) signed out.") } else { "Password changed.".into() })
}

/// A password for an account that signs in with passkeys only (after a recent sign-in or
/// "confirm it's you"), so it has a second way in.
#[server(prefix = "/rpc", endpoint = "set_password")]
pub async fn set_password(new_password: String) -> Result<String, AppError> {
    use crate::accounts::store::set_password_hash;
    use crate::events::{
        kind,
        store::{NewEvent, record},
    };

    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_confirmed_recent_authentication().await?;
    if account.password_hash.is_some() {
        return Err(AppError::message("Your account already has a password: change it instead."));
    }
    check_policy(&new_password, &account.email, &state.config.site_name).map_err(|m| AppError::invalid("new_password", m))?;
    let new_hash = state.hasher.hash(&new_password).await.ok_or(AppError::Internal)?;
    set_password_hash(&state.db, account.account_id, &new_hash, crate::db::now()).await?;
    let client = crate::state::current_client().await;
    record(
        &state.db,
        NewEvent {
            kind: kind::PASSWORD_CHANGED,
            account_id: Some(account.account_id),
            actor_account_id: None,
            client: Some(&client),
            detail: serde_json::json!({ "first_password": true }),
        },
    )
    .await;
    notify_password_changed(&state, &account);
    Ok("Password set. You can now sign in with it too.".into())
}

/// Checks the signed-in person's current password ("confirm it's you", change password) in the
/// sign-in buckets of their address, counted before the check: a session is no way around the
/// throttle. `Ok(false)` is a wrong password.
#[cfg(feature = "ssr")]
pub async fn check_current(
    state: &crate::state::AppState,
    account: &crate::accounts::store::Account,
    password: &str,
    client: &crate::client::ClientInfo,
    now: time::OffsetDateTime,
) -> Result<bool, AppError> {
    use crate::throttle;
    let buckets = throttle::password_buckets(&account.email_normalized, &client.network());
    let pass = throttle::attempt(&state.db, &buckets, now)
        .await?
        .map_err(|refused| AppError::TooManyRequests(format!("Too many attempts. Try again {}.", throttle::describe_wait(refused.wait))))?;
    if state.hasher.verify(password, account.password_hash.as_deref()).await {
        pass.refund(&state.db).await?;
        Ok(true)
    } else {
        pass.keep(&state.db, now).await?;
        Ok(false)
    }
}

#[cfg(feature = "ssr")]
fn notify_password_changed(state: &crate::state::AppState, account: &crate::accounts::store::Account) {
    let site = &state.config.site_name;
    let reset = state.config.link("/forgot-password");
    state.send_mail_later(crate::mail::compose(
        &account.email,
        &format!("Your {site} password was changed"),
        site,
        &[
            &format!("Hello {},", account.display_name),
            &format!("The password of your {site} account was just changed."),
            "If this was you, there is nothing to do. If not, reset your password now and contact us.",
        ],
        Some(("Reset your password", &reset)),
    ));
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    let error = action_error(action);
    let done = move || action.value().get().and_then(|r| r.ok());
    view! {
        <Title text="Reset your password" />
        <section class="card auth-card">
            <h1>"Reset your password"</h1>
            <p class="muted">"Enter the address of your account and we will email you a link."</p>
            <ActionForm action=action attr:novalidate="">
                <FormError error=error />
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required maxlength="254"
                    aria-invalid=invalid(error, "email") />
                <FieldError error=error field="email" />
                <button type="submit" class="primary">"Send link"</button>
            </ActionForm>
            {move || done().map(|m| view! { <p class="form-ok" role="status">{m}</p> })}
            <p class="below-form"><A href="/signin">"Back to sign in"</A></p>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let action = ServerAction::<ResetPassword>::new();
    let error = action_error(action);
    view! {
        <Title text="Choose a new password" />
        <section class="card auth-card">
            <h1>"Choose a new password"</h1>
            <ActionForm action=action attr:novalidate="">
                <FormError error=error />
                <input type="hidden" name="token" prop:value=token value=token />
                <input type="text" name="username" autocomplete="username" hidden />
                <NewPasswordField error=error />
                <p class="hint">"Signing in with the new password ends every other session."</p>
                <button type="submit" class="primary">"Save password"</button>
            </ActionForm>
        </section>
    }
}

/// Enabled while credentials may change (a sign-in or "confirm it's you" in the last 5 minutes).
#[component]
pub fn ChangePasswordCard(can_change: bool) -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let error = action_error(action);
    let done = move || action.value().get().and_then(|r| r.ok());
    view! {
        <div class="card">
            <h2>"Change password"</h2>
            <ActionForm action=action attr:novalidate="">
                <FormError error=error />
                <label for="current_password">"Current password"</label>
                <input id="current_password" name="current_password" type="password" autocomplete="current-password" required
                    aria-invalid=invalid(error, "current_password") />
                <FieldError error=error field="current_password" />
                <NewPasswordField error=error />
                <div class="checkbox">
                    <input id="sign_out_others" name="sign_out_others" type="checkbox" checked />
                    <label for="sign_out_others">"Sign out my other sessions"</label>
                </div>
                <button type="submit" class="primary" disabled=!can_change>"Change password"</button>
                {(!can_change).then(|| view! { <p class="hint">"Confirm it's you above to change your password."</p> })}
            </ActionForm>
            {move || done().map(|m| view! { <p class="form-ok" role="status">{m}</p> })}
        </div>
    }
}

/// A password for an account that has none (passkeys only); enabled while credentials may change.
#[component]
pub fn SetPasswordCard(can_change: bool) -> impl IntoView {
    let action = ServerAction::<SetPassword>::new();
    let error = action_error(action);
    let done = move || action.value().get().and_then(|r| r.ok());
    view! {
        <div class="card">
            <h2>"Password"</h2>
            <p class="muted">"Your account has no password. A password is a second way in if you lose your passkeys."</p>
            <ActionForm action=action attr:novalidate="">
                <FormError error=error />
                <NewPasswordField error=error />
                <button type="submit" class="primary" disabled=!can_change>"Set password"</button>
            </ActionForm>
            {move || done().map(|m| view! { <p class="form-ok" role="status">{m}</p> })}
        </div>
    }
}

/// The "New password" input of the reset, change and set forms, with its error.
#[component]
fn NewPasswordField(error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <label for="new_password">"New password"</label>
        <input id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="8" maxlength="128"
            aria-invalid=invalid(error, "new_password") />
        <FieldError error=error field="new_password" />
    }
}
