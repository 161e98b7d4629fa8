//! Pages that belong to no single concern: the landing page, header, footer, not found.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use crate::accounts::get_viewer;
use crate::sessions::SignOutButton;

#[component]
pub fn Header() -> impl IntoView {
    let location = use_location();
    // Asked again on every navigation, so sign-in and sign-out show at once.
    let who = Resource::new(move || location.pathname.get(), |_| get_viewer());
    // The installation's products do not change while it runs: asked once.
    let docs = Resource::new(|| (), |_| crate::products::docs_published());
    // A full page load: docs pages are rendered on the server only.
    let docs_link = move || docs.get().and_then(Result::ok).unwrap_or(false).then(|| view! { <a href="/docs" rel="external">"Docs"</a> });
    view! {
        <header class="site-header">
            <A href="/" attr:class="brand">
                <img class="brand-mark" src="/favicon.svg" alt="" width="26" height="26" />
                "Mast"
            </A>
            <nav aria-label="Main">
                <Transition fallback=|| ()>
                    {move || who.get().map(|who| match who.ok().flatten() {
                        Some(v) => view! {
                            {docs_link}
                            <A href="/dashboard">"Dashboard"</A>
                            <A href="/keys">"API keys"</A>
                            <A href="/account">"Account"</A>
                            {v.is_admin.then(|| view! { <A href="/admin">"Admin"</A> })}
                            <span class="who">{v.display_name}</span>
                            <SignOutButton />
                        }.into_any(),
                        None => view! {
                            {docs_link}
                            <A href="/signin">"Sign in"</A>
                            <A href="/signup" attr:class="button primary">"Get API keys"</A>
                        }.into_any(),
                    })}
                </Transition>
            </nav>
        </header>
    }
}

#[component]
pub fn Footer() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <a href="/terms">"Terms of Use"</a>
            <a href="/privacy">"Privacy Policy"</a>
            <a href="/contact">"Contact"</a>
            <span class="muted">"Powered by Mast"</span>
        </footer>
    }
}

#[component]
pub fn LandingPage() -> impl IntoView {
    view! {
        <Title text="" />
        <section class="hero">
            <h1>"Your API keys, your usage, in one place."</h1>
            <p class="lead">
                "Sign up, confirm your email and get an API key in a minute. Roll or revoke keys yourself, "
                "see every request and why one was refused, and keep an eye on your quota."
            </p>
            <div class="cta">
                <A href="/signup" attr:class="button primary large">"Create a free account"</A>
                <A href="/signin" attr:class="button secondary large">"Sign in"</A>
            </div>
        </section>
        <section class="features">
            <div class="card">
                <h2>"Keys you control"</h2>
                <p>"Live and test keys, shown once and stored only as a keyed hash. Roll with a grace period so nothing breaks; revoke at once."</p>
            </div>
            <div class="card">
                <h2>"Every request, explained"</h2>
                <p>"Your own request log with the reason for every refusal: unknown key, expired, rate limited or over quota."</p>
            </div>
            <div class="card">
                <h2>"Private by design"</h2>
                <p>"One session cookie, no trackers, and nothing kept longer than the Privacy Policy says."</p>
            </div>
        </section>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found" />
        <section class="card auth-card">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <p><A href="/">"Go to the home page"</A></p>
        </section>
    }
}
