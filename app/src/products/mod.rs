//! Products: the APIs the operator publishes (`[[products]]`), each with its upstream, its
//! reference docs rendered from OpenAPI, guides and code samples.
//!
//! The docs pages are rendered on the server only, from the [`catalogue::Catalogue`] read at
//! start: the browser gets their HTML and a few lines of script (`public/docs.js`: copy
//! buttons), never the document's data to hydrate. A reference can be megabytes of OpenAPI.

#[cfg(feature = "ssr")]
pub mod catalogue;
#[cfg(feature = "ssr")]
pub mod openapi;
mod pages;
#[cfg(feature = "ssr")]
mod render;
#[cfg(feature = "ssr")]
pub mod samples;
#[cfg(feature = "ssr")]
mod try_form;
#[cfg(feature = "ssr")]
pub mod try_it;

pub use pages::*;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Paths under which pages are rendered on the server only and load no WebAssembly.
pub const SERVER_ONLY_PREFIX: &str = "/docs";

/// A product as the dashboard lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiSummary {
    pub slug: String,
    pub name: String,
    pub version: String,
    pub summary: Option<String>,
}

/// The products the signed-in developer's plan may call ("Your APIs" on the dashboard).
#[server(prefix = "/rpc", endpoint = "your_apis")]
pub async fn your_apis() -> Result<Vec<ApiSummary>, AppError> {
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    let plan = state.config.plan(account.plan.as_deref()).name.clone();
    Ok(state
        .catalogue
        .products
        .iter()
        .filter(|p| p.config.allows_plan(&plan))
        .map(|p| ApiSummary {
            slug: p.config.slug.clone(),
            name: p.config.name.clone(),
            version: p.reference.version.clone(),
            summary: p.reference.summary.clone(),
        })
        .collect())
}

/// Whether the portal publishes any API docs (the header links to them).
#[server(prefix = "/rpc", endpoint = "docs_published")]
pub async fn docs_published() -> Result<bool, AppError> {
    Ok(!crate::state::AppState::current()?.catalogue.products.is_empty())
}

/// The dashboard's data for [`YourApisCard`], asked for once by the page.
pub fn your_apis_resource() -> Resource<Result<Vec<ApiSummary>, AppError>> {
    Resource::new(|| (), |_| your_apis())
}

/// "Your APIs" on the dashboard: the products the developer's plan may call, with their docs.
/// Nothing when the installation publishes none.
#[component]
pub fn YourApisCard(apis: Resource<Result<Vec<ApiSummary>, AppError>>) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || apis.get().and_then(Result::ok).filter(|a| !a.is_empty()).map(|apis| view! {
                <div class="card">
                    <h2>"Your APIs"</h2>
                    <ul class="plain">
                        {apis.into_iter().map(|a| view! {
                            <li>
                                // A full page load: docs pages are rendered on the server only.
                                <a href=format!("/docs/{}", a.slug) rel="external">{a.name}</a>
                                " " <span class="muted small">{format!("version {}", a.version)}</span>
                                {a.summary.map(|s| view! { <br /><span class="muted small">{s}</span> })}
                            </li>
                        }).collect_view()}
                    </ul>
                </div>
            })}
        </Transition>
    }
}
