//! Mast's web app: pages, forms and server functions, one module per concern.
#![cfg_attr(feature = "ssr", deny(clippy::unwrap_used, clippy::await_holding_lock))]

pub mod accounts;
pub mod admin;
pub mod api_keys;
pub mod client;
pub mod consent;
pub mod contact;
pub mod deprecations;
pub mod email_verification;
pub mod error;
pub mod events;
pub mod hydration;
pub mod pages;
pub mod passkeys;
pub mod passwords;
pub mod privacy;
pub mod products;
pub mod sessions;
pub mod throttle;
pub mod ui;
pub mod usage;

#[cfg(feature = "ssr")]
pub mod clock;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod mail;
#[cfg(feature = "ssr")]
pub mod markdown;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod retention;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod timing;

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// The HTML document around the app. Its scripts carry this response's nonce, which the
/// server's security middleware minted and puts in the Content-Security-Policy (ASVS 3.4.3).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="description" content="Mast: the developer portal of this API. Sign up, get API keys, see your usage." />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // /pkg/mast.<hash>.css: named after its content, so browsers keep it (server/src/security.rs).
                <HashedStylesheet options=options.clone() id="leptos" />
                <AutoReload options=options.clone() />
                // Docs pages are rendered on the server only: they load no WebAssembly.
                {(!on_server_only_page()).then(|| view! { <hydration::DeferredHydration options /> })}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Whether this request is for a page rendered on the server only (`products::SERVER_ONLY_PREFIX`).
fn on_server_only_page() -> bool {
    #[cfg(feature = "ssr")]
    {
        let path = use_context::<http::request::Parts>().map(|p| p.uri.path().to_string()).unwrap_or_default();
        let prefix = products::SERVER_ONLY_PREFIX;
        path == prefix || path.starts_with(&format!("{prefix}/"))
    }
    #[cfg(not(feature = "ssr"))]
    false
}

/// This response's CSP nonce. The server's security middleware mints it before anything
/// renders and sets the header from it, so the header and the page's scripts always agree,
/// whatever happens while the page renders.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug)]
pub struct PageNonce(pub String);

/// Gives Leptos the request's nonce for its scripts (the streamed data and the hydration
/// script). Pages call it as their additional context, after leptos_axum provided a random
/// nonce of its own that no header would name.
#[cfg(feature = "ssr")]
pub fn provide_page_nonce() {
    let nonce = use_context::<http::request::Parts>().and_then(|parts| parts.extensions.get::<PageNonce>().cloned());
    if let Some(PageNonce(nonce)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}

/// Scripts only from this origin or with this response's nonce; no plugins, framing or `<base>`.
#[cfg(feature = "ssr")]
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'nonce-{nonce}'; \
         img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|page: String| if page.is_empty() { "Mast".to_string() } else { format!("{page} · Mast") } />
        <Router>
            // rel="external": the router leaves this link to the browser, which moves the
            // keyboard focus into main (the router would only scroll there).
            <a class="skip-link" href="#main" rel="external">"Skip to content"</a>
            <pages::Header />
            <main id="main" tabindex="-1">
                // In order: the HTML arrives complete, so every page works without JavaScript.
                <Routes fallback=pages::NotFound>
                    <Route path=path!("") view=pages::LandingPage ssr=SsrMode::InOrder />
                    <Route path=path!("signup") view=accounts::SignUpPage ssr=SsrMode::InOrder />
                    <Route path=path!("signup/check-email") view=accounts::CheckEmailPage ssr=SsrMode::InOrder />
                    <Route path=path!("signin") view=sessions::SignInPage ssr=SsrMode::InOrder />
                    <Route path=path!("verify-email") view=email_verification::VerifyEmailPage ssr=SsrMode::InOrder />
                    <Route path=path!("verify-email/done") view=email_verification::VerifyEmailDonePage ssr=SsrMode::InOrder />
                    <Route path=path!("forgot-password") view=passwords::ForgotPasswordPage ssr=SsrMode::InOrder />
                    <Route path=path!("reset-password") view=passwords::ResetPasswordPage ssr=SsrMode::InOrder />
                    // Signed-in pages render whole before sending, so a signed-out visitor gets a real redirect.
                    <Route path=path!("dashboard") view=accounts::DashboardPage ssr=SsrMode::Async />
                    <Route path=path!("account") view=accounts::AccountPage ssr=SsrMode::Async />
                    <Route path=path!("keys") view=api_keys::KeysPage ssr=SsrMode::Async />
                    <Route path=path!("keys/:id") view=usage::KeyPage ssr=SsrMode::Async />
                    <Route path=path!("security") view=passkeys::SecurityPage ssr=SsrMode::Async />
                    <Route path=path!("admin") view=admin::AdminAccountsPage ssr=SsrMode::Async />
                    <Route path=path!("admin/accounts/:id") view=admin::AdminAccountPage ssr=SsrMode::Async />
                    <Route path=path!("admin/logs") view=admin::AdminLogsPage ssr=SsrMode::Async />
                    <Route path=path!("admin/events") view=admin::AdminEventsPage ssr=SsrMode::Async />
                    <Route path=path!("admin/deprecations") view=admin::AdminDeprecationsPage ssr=SsrMode::Async />
                    <Route path=path!("consent") view=consent::ConsentPage ssr=SsrMode::Async />
                    <Route path=path!("confirm-email-change") view=accounts::ConfirmEmailChangePage ssr=SsrMode::InOrder />
                    <Route path=path!("goodbye") view=privacy::GoodbyePage ssr=SsrMode::InOrder />
                    <Route path=path!("contact") view=contact::ContactPage ssr=SsrMode::InOrder />
                    <Route path=path!("contact/sent") view=contact::ContactSentPage ssr=SsrMode::InOrder />
                    <Route path=path!("admin/messages") view=contact::AdminMessagesPage ssr=SsrMode::Async />
                    <Route path=path!("admin/messages/:id") view=contact::AdminMessagePage ssr=SsrMode::Async />
                    <Route path=path!("terms") view=consent::LegalPage ssr=SsrMode::InOrder />
                    <Route path=path!("privacy") view=consent::LegalPage ssr=SsrMode::InOrder />
                    // Rendered whole before sending: a developers-only API sends visitors to sign in.
                    <Route path=path!("docs") view=products::DocsIndexPage ssr=SsrMode::Async />
                    <Route path=path!("docs/:product") view=products::DocsProductPage ssr=SsrMode::Async />
                    <Route path=path!("docs/:product/tags/:tag") view=products::DocsTagPage ssr=SsrMode::Async />
                    <Route path=path!("docs/:product/models") view=products::DocsModelsPage ssr=SsrMode::Async />
                    <Route path=path!("docs/:product/:page") view=products::DocsGuidePage ssr=SsrMode::Async />
                </Routes>
            </main>
            <pages::Footer />
        </Router>
    }
}
