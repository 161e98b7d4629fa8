//! The Keys page: plan and usage this month, a new key shown once with a copy button, the list
//! (prefix…last4 only) with roll and revoke. Creating and rolling need JavaScript, because the new
//! key must be shown on this page and nowhere else; the buttons are enabled once hydrated.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::*;
use crate::ui::{FieldError, FormError, SignedInOnly, action_error, invalid};

#[cfg(feature = "hydrate")]
mod clipboard {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(inline_js = "export function copy_text(text) { navigator.clipboard.writeText(text).catch(() => {}); }")]
    extern "C" {
        pub fn copy_text(text: &str);
    }
}

fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    clipboard::copy_text(text);
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// True once the page runs in the browser (effects never run on the server).
fn hydrated() -> Signal<bool> {
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    ready.into()
}

#[component]
pub fn KeysPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_keys_overview());
    let refresh = Callback::new(move |_| overview.refetch());
    // Kept above the reloading list, so the new key stays on screen until dismissed.
    let issued = RwSignal::new(None::<IssuedKey>);
    view! {
        <Title text="API keys" />
        <section class="page">
            <h1>"API keys"</h1>
            <p class="muted">"Keys let your code call the API. Each is shown once, when it is created; we keep only a fingerprint of it."</p>
            {move || issued.get().map(|k| view! { <NewKey issued=k on_dismiss=Callback::new(move |_| issued.set(None)) /> })}
            <SignedInOnly data=overview view_fn=move |o: KeysOverview| view! { <Keys overview=o issued=issued refresh=refresh /> } />
        </section>
    }
}

#[component]
pub fn NewKey(issued: IssuedKey, on_dismiss: Callback<()>) -> impl IntoView {
    let copied = RwSignal::new(false);
    let key = issued.key.clone();
    view! {
        <div class="card new-key" role="region" aria-labelledby="new-key-heading">
            <h2 id="new-key-heading">{format!("Your new key \u{201c}{}\u{201d}", issued.info.label)}</h2>
            <p><strong>"Copy it now and keep it somewhere safe: it will not be shown again."</strong></p>
            <div class="key-box">
                <label for="new-key-value" class="visually-hidden">"New API key"</label>
                <input id="new-key-value" class="key-value" type="text" readonly value=issued.key.clone() spellcheck="false" />
                <button type="button" class="primary" on:click=move |_| { copy_to_clipboard(&key); copied.set(true); }>
                    {move || if copied.get() { "Copied" } else { "Copy key" }}
                </button>
            </div>
            <p role="status" class="muted small">{move || copied.get().then_some("The key is on your clipboard.")}</p>
            <button type="button" class="link-button" on:click=move |_| on_dismiss.run(())>"I have stored it safely"</button>
        </div>
    }
}

#[component]
fn Keys(overview: KeysOverview, issued: RwSignal<Option<IssuedKey>>, refresh: Callback<()>) -> impl IntoView {
    let plan = overview.plan.clone();
    let used_percent =
        if plan.requests_per_month == 0 { 100.0 } else { plan.used_this_month as f64 * 100.0 / plan.requests_per_month as f64 };
    let any_key = !overview.keys.is_empty();
    let api_base = overview.api_base.clone();
    view! {
        <div class="card plan">
            <h2>{format!("Plan: {}", plan.name)}</h2>
            <p>{format!("{} requests per minute · {} requests per month", thousands(plan.requests_per_minute as i64), thousands(plan.requests_per_month as i64))}</p>
            <label for="quota-meter">{format!("Used this month: {} of {}", thousands(plan.used_this_month), thousands(plan.requests_per_month as i64))}</label>
            <meter id="quota-meter" min="0" max="100" low="80" high="95" optimum="0" value=format!("{:.1}", used_percent.min(100.0))>
                {format!("{used_percent:.1}%")}
            </meter>
        </div>
        {if overview.verified {
            view! { <CreateKey issued=issued refresh=refresh products=overview.products.clone() /> }.into_any()
        } else {
            view! { <div class="card"><p class="form-error" role="alert">{UNVERIFIED}</p></div> }.into_any()
        }}
        {overview.email_keys.then(|| view! { <EmailMeAKey /> })}
        <div class="card">
            <h2>"Your keys"</h2>
            {if any_key {
                view! {
                    <ul class="keys" aria-label="Your keys">
                        {overview.keys.into_iter().map(|k| view! { <KeyItem key_info=k issued=issued refresh=refresh /> }).collect_view()}
                    </ul>
                }.into_any()
            } else {
                view! { <p>"You have no keys yet."</p> }.into_any()
            }}
        </div>
        <div class="card">
            <h2>"Call the API"</h2>
            <p>"Send the key in the " <code>"Authorization"</code> " header (or " <code>"X-API-Key"</code> "), never in the URL:"</p>
            <pre class="example"><code>{format!("curl -H \"Authorization: Bearer YOUR_KEY\" {api_base}")}</code></pre>
        </div>
    }
}

#[component]
fn CreateKey(issued: RwSignal<Option<IssuedKey>>, refresh: Callback<()>, products: Vec<ProductChoice>) -> impl IntoView {
    let create = ServerAction::<CreateKey>::new();
    let error = action_error(create);
    let ready = hydrated();
    Effect::new(move |_| {
        if let Some(Ok(new)) = create.value().get() {
            issued.set(Some(new));
            refresh.run(());
        }
    });
    view! {
        <div class="card">
            <h2>"Create a key"</h2>
            <ActionForm action=create attr:novalidate="" attr:class="key-form">
                <FormError error=error />
                <label for="key-label">"Name"</label>
                <input id="key-label" name="label" type="text" maxlength="60" required placeholder="e.g. Production server"
                    aria-invalid=invalid(error, "label") aria-describedby="label-error" />
                <FieldError error=error field="label" />
                <fieldset>
                    <legend>"Type"</legend>
                    <label class="choice"><input type="radio" name="key_type" value="live" checked /> " Live"</label>
                    <label class="choice"><input type="radio" name="key_type" value="test" /> " Test (for development; counts like live)"</label>
                </fieldset>
                <FieldError error=error field="key_type" />
                <label for="key-expiry">"Expires"</label>
                <select id="key-expiry" name="expires_in">
                    {EXPIRY_CHOICES.iter().map(|(value, text)| view! { <option value=*value>{*text}</option> }).collect_view()}
                </select>
                <FieldError error=error field="expires_in" />
                <details class="scope-fields">
                    <summary>"Limit what it may do"</summary>
                    <ScopeFields products=products current=ScopeInfo::default() error=error id="new-key" />
                </details>
                <button type="submit" class="primary" disabled=move || !ready.get() || create.pending().get()>"Create key"</button>
                <noscript><p class="hint">"Creating a key needs JavaScript, so that the key is shown to you once, on this page."</p></noscript>
            </ActionForm>
        </div>
    }
}

#[component]
fn EmailMeAKey() -> impl IntoView {
    let send = ServerAction::<EmailMeAKey>::new();
    let error = action_error(send);
    view! {
        <div class="card">
            <h2>"Get a key by email"</h2>
            <p class="muted">"We create a new key and email it to you. Email is less safe than copying it from this page."</p>
            <ActionForm action=send>
                <FormError error=error />
                {move || matches!(send.value().get(), Some(Ok(()))).then(|| view! { <p class="form-ok" role="status">"A new key is on its way to your inbox."</p> })}
                <button type="submit">"Email me a new key"</button>
            </ActionForm>
        </div>
    }
}

#[component]
pub fn KeyItem(key_info: KeyInfo, issued: RwSignal<Option<IssuedKey>>, refresh: Callback<()>) -> impl IntoView {
    let roll = ServerAction::<RollKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let rolling = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let ready = hydrated();
    Effect::new(move |_| {
        if let Some(Ok(new)) = roll.value().get() {
            rolling.set(false);
            issued.set(Some(new));
            refresh.run(());
        }
        if matches!(revoke.value().get(), Some(Ok(()))) {
            refresh.run(());
        }
    });
    let roll_error = action_error(roll);
    let revoke_error = action_error(revoke);
    let k = key_info;
    let usable = k.state == "active";
    let (state_class, state_text) = match k.state.as_str() {
        "active" => ("badge ok", "Active".to_string()),
        "retiring" => ("badge warn", format!("Rolled, works until {}", k.retiring_until.clone().unwrap_or_default())),
        "expired" => ("badge", "Expired".to_string()),
        _ => ("badge", "Revoked".to_string()),
    };
    let grace_id = format!("grace-{}", k.id);
    let (roll_id, revoke_id, label) = (k.id.clone(), k.id.clone(), k.label.clone());
    let label_for_revoke = label.clone();
    view! {
        <li class="key" class:inactive=!usable && k.state != "retiring">
            <div class="key-head">
                <A href=format!("/keys/{}", k.id) attr:class="key-label">{k.label.clone()}</A>
                <span class=if k.key_type == "test" { "badge" } else { "badge live" }>{k.key_type.clone()}</span>
                <span class=state_class>{state_text}</span>
            </div>
            <p><code class="key-masked">{k.masked.clone()}</code></p>
            <p class="muted small scope-summary">{k.scope.summary()}</p>
            {k.console.then(|| view! {
                <p class="muted small">"Used by the docs' try-it console in one of your sessions: never shown, and revoked when that session ends."</p>
            })}
            <p class="muted small">
                {format!("Created {}", k.created_at)} " · "
                <span class="last-used">{match k.last_used_at.clone() { Some(t) => format!("last used {t}"), None => "never used".into() }}</span>
                {k.expires_at.clone().map(|t| format!(" · expires {t}"))}
            </p>
            {k.requests_last_hour.map(|n| view! {
                <p class="traffic" role="note">
                    {if n == 0 { "No requests with this key in the last hour: nothing seems to use it any more.".to_string() }
                     else { format!("{} {} with this key in the last hour: something still uses it.", thousands(n), if n == 1 { "request" } else { "requests" }) }}
                </p>
            })}
            {(k.state == "active" || k.state == "retiring").then(|| view! {
                <div class="key-actions">
                    {(usable && !k.console).then(|| view! {
                        <button type="button" class="link-button" disabled=move || !ready.get() on:click=move |_| rolling.update(|r| *r = !*r)>
                            "Roll" <span class="visually-hidden">{format!(" {label}")}</span>
                        </button>
                    })}
                    <button type="button" class="link-button danger" disabled=move || !ready.get() on:click=move |_| confirming.update(|c| *c = !*c)>
                        "Revoke" <span class="visually-hidden">{format!(" {}", label_for_revoke.clone())}</span>
                    </button>
                </div>
            })}
            {move || rolling.get().then(|| { let (roll_id, grace_id) = (roll_id.clone(), grace_id.clone()); view! {
                <ActionForm action=roll attr:class="roll-form">
                    <input type="hidden" name="key_id" value=roll_id.clone() />
                    <label for=grace_id.clone()>"The old key keeps working for"</label>
                    <select id=grace_id.clone() name="grace">
                        {GRACE_CHOICES.iter().map(|(value, text)| view! { <option value=*value selected=*value == "24h">{*text}</option> }).collect_view()}
                    </select>
                    <button type="submit" class="primary" disabled=move || roll.pending().get()>"Roll key"</button>
                    <FieldError error=roll_error field="grace" />
                </ActionForm>
            }})}
            {move || confirming.get().then(|| { let revoke_id = revoke_id.clone(); view! {
                <ActionForm action=revoke attr:class="revoke-form">
                    <input type="hidden" name="key_id" value=revoke_id />
                    <p>"Requests with this key will be refused at once. This cannot be undone."</p>
                    <button type="submit" class="danger">"Revoke now"</button>
                    <button type="button" class="link-button" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </ActionForm>
            }})}
            {move || roll_error.get().filter(|e| e.field().is_none()).map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })}
            {move || revoke_error.get().map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })}
        </li>
    }
}

/// The fields of a key's scope, in the create form and the change form. `products`: the
/// installation's (no product fields when it has none).
#[component]
fn ScopeFields(products: Vec<ProductChoice>, current: ScopeInfo, error: Signal<Option<AppError>>, id: &'static str) -> impl IntoView {
    let every_api = current.products.is_none();
    let chosen: Vec<String> = current.products.iter().flatten().map(|(slug, _)| slug.clone()).collect();
    let networks_id = format!("{id}-networks");
    let hint_id = format!("{id}-networks-hint");
    view! {
        {(!products.is_empty()).then(|| view! {
            <fieldset>
                <legend>"APIs it may call"</legend>
                <label class="choice"><input type="radio" name="apis" value="all" checked=every_api /> " All APIs, also those published later"</label>
                <label class="choice"><input type="radio" name="apis" value="selected" checked=!every_api /> " Only the APIs ticked here:"</label>
                <div class="choices">
                    {products.into_iter().map(|p| {
                        let checked = chosen.contains(&p.slug);
                        view! { <label class="choice"><input type="checkbox" name="products[]" value=p.slug checked=checked /> " " {p.name}</label> }
                    }).collect_view()}
                </div>
                <FieldError error=error field="apis" />
                <FieldError error=error field="products" />
            </fieldset>
        })}
        <fieldset>
            <legend>"Access"</legend>
            <label class="choice"><input type="radio" name="access" value="read_write" checked=!current.read_only /> " Read and write"</label>
            <label class="choice"><input type="radio" name="access" value="read" checked=current.read_only /> " Read only (GET, HEAD and OPTIONS)"</label>
            <FieldError error=error field="access" />
        </fieldset>
        <label for=networks_id.clone()>"Client addresses (optional)"</label>
        <textarea id=networks_id name="networks" rows="3" spellcheck="false" placeholder="203.0.113.0/24"
            aria-invalid=invalid(error, "networks") aria-describedby=format!("{hint_id} networks-error")>{current.networks.join("\n")}</textarea>
        <p class="hint" id=hint_id>"One IPv4 or IPv6 address or CIDR range per line, up to 20. Leave it empty to allow any address."</p>
        <FieldError error=error field="networks" />
    }
}

/// Changes what a key may do; works without JavaScript (the page reloads with the result).
#[component]
pub fn ScopeForm(key_info: KeyInfo, products: Vec<ProductChoice>, refresh: Callback<()>) -> impl IntoView {
    let change = ServerAction::<SetKeyScope>::new();
    let error = action_error(change);
    Effect::new(move |_| {
        if matches!(change.value().get(), Some(Ok(_))) {
            refresh.run(());
        }
    });
    view! {
        <div class="card">
            <h2>"What this key may do"</h2>
            <p class="scope-summary">{key_info.scope.summary()}</p>
            {(key_info.state == "active" || key_info.state == "retiring").then(|| view! {
                <ActionForm action=change attr:novalidate="" attr:class="key-form">
                    <FormError error=error />
                    <input type="hidden" name="key_id" value=key_info.id.clone() />
                    <ScopeFields products=products current=key_info.scope.clone() error=error id="key-scope" />
                    <p class="hint">"A change applies to the next request on every server, and we email you about it."</p>
                    <button type="submit" class="primary" disabled=move || change.pending().get()>"Save scope"</button>
                    {move || matches!(change.value().get(), Some(Ok(_))).then(|| view! { <p class="form-ok" role="status">"Saved."</p> })}
                </ActionForm>
            })}
        </div>
    }
}

/// 12345678 → "12,345,678"
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The keys and plan the dashboard's summary shows, made by the page (see `DashboardPage`).
pub fn keys_overview() -> Resource<Result<KeysOverview, AppError>> {
    Resource::new(|| (), |_| get_keys_overview())
}

/// The dashboard's summary: plan limits, this month's use and how many keys are active.
#[component]
pub fn PlanCard(overview: Resource<Result<KeysOverview, AppError>>) -> impl IntoView {
    view! {
        <div class="card">
            <h2>"API keys"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || overview.get().map(|o| match o {
                    Ok(o) => {
                        let active = o.keys.iter().filter(|k| k.state == "active" || k.state == "retiring").count();
                        view! {
                            <p>{format!("Plan {}: {} requests per minute, {} per month.", o.plan.name,
                                thousands(o.plan.requests_per_minute as i64), thousands(o.plan.requests_per_month as i64))}</p>
                            <p>{format!("Used this month: {}. Active keys: {active}.", thousands(o.plan.used_this_month))}</p>
                            <A href="/keys">"Manage your keys"</A>
                        }.into_any()
                    }
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </Transition>
        </div>
    }
}
