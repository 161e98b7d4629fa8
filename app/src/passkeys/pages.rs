//! Passkey controls on the sign-in and sign-up pages, and the Security page. Passkey controls
//! appear only after hydration in a browser with WebAuthn, and only when the server has passkeys
//! on; everything else works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;

use super::browser::{self, BrowserRefusal};
use super::*;
use crate::error::AppError;
use crate::ui::{FieldError, FormError, SignedInOnly, action_error, invalid};

/// True once hydrated in a browser that can use passkeys, on a server that offers them.
/// Asked from the browser after hydration (effects do not run on the server).
pub fn passkeys_usable() -> Signal<bool> {
    let usable = RwSignal::new(false);
    Effect::new(move |_| {
        if browser::supported() {
            leptos::task::spawn_local(async move {
                if let Ok(true) = passkeys_available().await {
                    usable.set(true);
                }
            });
        }
    });
    usable.into()
}

/// Runs a whole browser ceremony: server options, the browser's credential, the server's check.
async fn run_ceremony<S, F, SF, FF, T>(start: S, finish: F, create: bool, via_autofill: bool) -> Result<T, AppError>
where
    S: FnOnce() -> SF,
    SF: std::future::Future<Output = Result<String, AppError>>,
    F: FnOnce(String) -> FF,
    FF: std::future::Future<Output = Result<T, AppError>>,
{
    let options = start().await?;
    let credential = if create { browser::create(&options).await } else { browser::get(&options, via_autofill).await };
    finish(credential.map_err(BrowserRefusal::into_error)?).await
}

/// Full page load, so the header and every resource see the new session.
fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().assign(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// The passkey half of the sign-in page: a button, and the browser's autofill on the email field.
#[component]
pub fn PasskeySignIn() -> impl IntoView {
    let usable = passkeys_usable();
    let query = leptos_router::hooks::use_query_map();
    let sign_in = Action::new_unsync(move |via_autofill: &bool| {
        let via_autofill = *via_autofill;
        let next = query.read_untracked().get("next").unwrap_or_default();
        async move {
            let finish = move |credential| passkey_sign_in_finish(credential, next);
            let result = run_ceremony(passkey_sign_in_start, finish, false, via_autofill).await;
            if let Ok(path) = &result {
                go_to(path);
            }
            result
        }
    });
    // Offer passkeys in the email field's suggestions where the browser can (conditional UI).
    Effect::new(move |started: Option<bool>| {
        if started == Some(true) || !usable.get() {
            return started.unwrap_or(false);
        }
        leptos::task::spawn_local(async move {
            if browser::autofill_supported().await {
                sign_in.dispatch_local(true);
            }
        });
        true
    });
    on_cleanup(browser::cancel_autofill);
    let error = move || match sign_in.value().get() {
        // An autofill request replaced by a newer one is not the person's doing: say nothing.
        Some(Err(e)) if e != BrowserRefusal::Aborted.into_error() => Some(e.to_string()),
        _ => None,
    };
    view! {
        <Show when=move || usable.get()>
            <div class="passkey-option">
                <p class="or"><span>"or"</span></p>
                {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                <button type="button" class="passkey-button" on:click=move |_| { sign_in.dispatch_local(false); }
                    disabled=move || sign_in.pending().get() && sign_in.input().get() == Some(false)>
                    <PasskeyIcon />
                    "Sign in with a passkey"
                </button>
            </div>
        </Show>
    }
}

/// The fields of the sign-up form that a passkey sign-up sends.
#[derive(Clone, Copy, Default)]
pub struct SignUpFields {
    pub email: NodeRef<leptos::html::Input>,
    pub display_name: NodeRef<leptos::html::Input>,
    pub organisation: NodeRef<leptos::html::Input>,
    pub country: NodeRef<leptos::html::Input>,
    pub accept_terms: NodeRef<leptos::html::Input>,
}

/// "Create account with a passkey": the same form, no password; errors show in `error`.
#[component]
pub fn PasskeySignUp(fields: SignUpFields, error: RwSignal<Option<AppError>>) -> impl IntoView {
    let usable = passkeys_usable();
    let sign_up = Action::new_unsync(move |_: &()| {
        let value = |node: NodeRef<leptos::html::Input>| node.get_untracked().map(|i| i.value()).unwrap_or_default();
        let optional = move |node| Some(value(node)).filter(|v: &String| !v.trim().is_empty());
        let (email, name, organisation, country) =
            (value(fields.email), value(fields.display_name), optional(fields.organisation), optional(fields.country));
        let accepted = fields.accept_terms.get_untracked().map(|i| i.checked()).unwrap_or(false).then(|| "on".to_string());
        async move {
            let start = move || passkey_sign_up_start(email, name, organisation, country, accepted);
            let result = run_ceremony(start, passkey_sign_up_finish, true, false).await;
            match &result {
                Ok(path) => go_to(path),
                Err(e) => error.set(Some(e.clone())),
            }
            result
        }
    });
    view! {
        <Show when=move || usable.get()>
            <div class="passkey-option">
                <p class="or"><span>"or"</span></p>
                <button type="button" class="passkey-button" on:click=move |_| { error.set(None); sign_up.dispatch_local(()); }
                    disabled=move || sign_up.pending().get()>
                    <PasskeyIcon />
                    "Create account with a passkey"
                </button>
                <p class="hint">"No password needed: your device or password manager keeps the passkey."</p>
            </div>
        </Show>
    }
}

#[component]
fn PasskeyIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
            <circle cx="9" cy="7" r="4" fill="none" stroke="currentColor" stroke-width="2" />
            <path d="M2 21v-1a6 6 0 0 1 9.5-4.9" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
            <circle cx="17.5" cy="13.5" r="2.5" fill="none" stroke="currentColor" stroke-width="2" />
            <path d="M17.5 16v5l1.5-1-1.5-1.5 1.5-1" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" />
        </svg>
    }
}

/// `/security`: passkeys and password.
#[component]
pub fn SecurityPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_security_overview());
    let refresh = move || overview.refetch();
    // Made here, not in the view below (see SessionList).
    let sessions = crate::sessions::SessionList::new();
    // Kept here so a message survives the reload of the overview below it.
    let notice = RwSignal::new(None::<String>);
    view! {
        <Title text="Security" />
        <section class="page">
            <h1>"Security"</h1>
            <p class="muted">"How you sign in to this portal."</p>
            <SignedInOnly data=overview view_fn=move |o| view! {
                <Security overview=o notice=notice sessions=sessions refresh=Callback::new(move |_| refresh()) />
            } />
        </section>
    }
}

#[component]
fn Security(
    overview: SecurityOverview,
    notice: RwSignal<Option<String>>,
    sessions: crate::sessions::SessionList,
    refresh: Callback<()>,
) -> impl IntoView {
    let usable = passkeys_usable();
    let can_change = overview.change_window_seconds > 0;
    let has_passkeys = !overview.passkeys.is_empty();
    let only_way_in = !overview.has_password && overview.passkeys.len() == 1;
    let add = Action::new_unsync(move |_: &()| async move {
        let result = run_ceremony(add_passkey_start, add_passkey_finish, true, false).await;
        match &result {
            Ok(added) => {
                notice.set(Some(format!("Passkey \u{201c}{}\u{201d} added. You can rename it below.", added.name)));
                refresh.run(());
            }
            Err(AppError::ReauthenticationRequired) => refresh.run(()),
            Err(_) => {}
        }
        result
    });
    let add_error = move || add.value().get().and_then(Result::err).filter(|e| *e != AppError::ReauthenticationRequired);
    view! {
        {(!can_change).then(|| view! {
            <ConfirmItsYou has_password=overview.has_password has_passkeys=has_passkeys usable=usable refresh=refresh
                purpose="To add or remove passkeys, or to set or change your password, confirm it's you. You then have 5 minutes." />
        })}
        {move || notice.get().map(|n| view! { <p class="form-ok" role="status">{n}</p> })}
        <div class="card">
            <h2>"Passkeys"</h2>
            <p class="muted">
                "A passkey signs you in with your fingerprint, face or device PIN. It stays on your device or in your password manager; "
                "this portal keeps only its public key."
            </p>
            {if overview.passkeys.is_empty() {
                view! { <p>"You have no passkeys yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="passkeys" aria-label="Your passkeys">
                        {overview.passkeys.into_iter().map(|p| view! {
                            <PasskeyItem passkey=p can_remove=can_change && !only_way_in only_way_in=only_way_in refresh=refresh
                                removed=Callback::new(move |name: String| notice.set(Some(format!("Passkey \u{201c}{name}\u{201d} removed."))))
                            />
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {move || add_error().map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })}
            {move || if !overview.passkeys_available {
                view! { <p class="hint">{UNAVAILABLE}</p> }.into_any()
            } else if !overview.email_confirmed {
                view! { <p class="hint">{crate::sessions::CONFIRM_FIRST}</p> }.into_any()
            } else if usable.get() {
                view! {
                    <button type="button" class="primary" disabled=move || !can_change || add.pending().get()
                        on:click=move |_| { notice.set(None); add.dispatch_local(()); }>
                        "Add a passkey"
                    </button>
                    {(!can_change).then(|| view! { <p class="hint">"Confirm it's you above to add a passkey."</p> })}
                }.into_any()
            } else {
                view! { <p class="hint">"This browser cannot create passkeys."</p> }.into_any()
            }}
        </div>
        {if overview.has_password {
            view! { <crate::passwords::ChangePasswordCard can_change=can_change /> }.into_any()
        } else {
            view! { <crate::passwords::SetPasswordCard can_change=can_change /> }.into_any()
        }}
        // After a passkey was added or removed, ending the other sessions is offered.
        <crate::sessions::SessionsCard list=sessions offer=Signal::derive(move || notice.get().is_some()) />
    }
}

#[component]
fn PasskeyItem(
    passkey: PasskeyInfo,
    can_remove: bool,
    only_way_in: bool,
    refresh: Callback<()>,
    removed: Callback<String>,
) -> impl IntoView {
    let rename = ServerAction::<RenamePasskey>::new();
    let remove = ServerAction::<RemovePasskey>::new();
    let editing = RwSignal::new(false);
    let removed_name = passkey.name.clone();
    Effect::new(move |_| {
        if matches!(remove.value().get(), Some(Ok(()))) {
            removed.run(removed_name.clone());
        }
        if matches!(rename.value().get(), Some(Ok(()))) || matches!(remove.value().get(), Some(Ok(()))) {
            editing.set(false);
            refresh.run(());
        }
        if matches!(remove.value().get(), Some(Err(AppError::ReauthenticationRequired))) {
            refresh.run(());
        }
    });
    let rename_error = action_error(rename);
    let remove_error = action_error(remove);
    let id = passkey.id.clone();
    let name = passkey.name.clone();
    let field_id = format!("name-{}", passkey.id);
    let (form_id, form_name) = (passkey.id.clone(), passkey.name.clone());
    view! {
        <li class="passkey">
            <div class="passkey-head">
                <strong class="passkey-name">{passkey.name.clone()}</strong>
                {if passkey.backed_up {
                    view! { <span class="badge ok" title="Synced by your passkey provider: it survives losing this device">"Synced"</span> }.into_any()
                } else {
                    view! { <span class="badge" title="Kept on one device or security key only">"This device only"</span> }.into_any()
                }}
            </div>
            <p class="muted small">
                {format!("Added {}", passkey.created_at)} " · "
                {match passkey.last_used_at.clone() { Some(t) => format!("last used {t}"), None => "never used to sign in".into() }}
            </p>
            {move || if editing.get() {
                let (form_id, form_name, field_id) = (form_id.clone(), form_name.clone(), field_id.clone());
                view! {
                    <ActionForm action=rename attr:class="rename-form" attr:novalidate="">
                        <input type="hidden" name="passkey_id" value=form_id />
                        <label for=field_id.clone()>"Passkey name"</label>
                        <input id=field_id name="name" type="text" maxlength="60" required value=form_name
                            aria-invalid=invalid(rename_error, "name") />
                        <FieldError error=rename_error field="name" />
                        <div class="passkey-actions">
                            <button type="submit" class="primary">"Save name"</button>
                            <button type="button" class="link-button" on:click=move |_| editing.set(false)>"Cancel"</button>
                        </div>
                    </ActionForm>
                }.into_any()
            } else {
                let (id, name) = (id.clone(), name.clone());
                view! {
                    <div class="passkey-actions">
                        <button type="button" class="link-button" on:click=move |_| editing.set(true)>
                            "Rename" <span class="visually-hidden">{format!(" {name}")}</span>
                        </button>
                        {can_remove.then(|| view! {
                            <ActionForm action=remove attr:class="inline-form">
                                <input type="hidden" name="passkey_id" value=id />
                                <button type="submit" class="link-button danger">
                                    "Remove" <span class="visually-hidden">{format!(" {}", name.clone())}</span>
                                </button>
                            </ActionForm>
                        })}
                        {only_way_in.then(|| view! { <span class="hint">"Your only way to sign in: add another passkey or a password before removing it."</span> })}
                    </div>
                }.into_any()
            }}
            {move || remove_error.get().filter(|e| *e != AppError::ReauthenticationRequired)
                .map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })}
        </li>
    }
}

/// "Confirm it's you": opens a few minutes in which passkeys and password can change.
#[component]
pub fn ConfirmItsYou(
    has_password: bool,
    has_passkeys: bool,
    usable: Signal<bool>,
    refresh: Callback<()>,
    /// What confirming opens, in a sentence.
    purpose: &'static str,
) -> impl IntoView {
    let with_password = ServerAction::<ReauthenticateWithPassword>::new();
    let password_error = action_error(with_password);
    let with_passkey = Action::new_unsync(move |_: &()| async move {
        let result = run_ceremony(reauthenticate_with_passkey_start, reauthenticate_with_passkey_finish, false, false).await;
        if result.is_ok() {
            refresh.run(());
        }
        result
    });
    Effect::new(move |_| {
        if matches!(with_password.value().get(), Some(Ok(()))) {
            refresh.run(());
        }
    });
    view! {
        <div class="card confirm" role="region" aria-labelledby="confirm-heading">
            <h2 id="confirm-heading">"Confirm it's you"</h2>
            <p>{purpose}</p>
            {has_password.then(|| view! {
                <ActionForm action=with_password attr:novalidate="">
                    <FormError error=password_error />
                    <label for="reauth-password">"Your password"</label>
                    <input id="reauth-password" name="password" type="password" autocomplete="current-password" required
                        aria-invalid=invalid(password_error, "password") />
                    <FieldError error=password_error field="password" />
                    <button type="submit" class="primary">"Confirm with password"</button>
                </ActionForm>
            })}
            <Show when=move || has_passkeys && usable.get()>
                {move || with_passkey.value().get().and_then(Result::err).map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })}
                <button type="button" class="passkey-button" on:click=move |_| { with_passkey.dispatch_local(()); }>
                    <PasskeyIcon />
                    "Confirm with a passkey"
                </button>
            </Show>
        </div>
    }
}
