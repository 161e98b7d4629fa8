//! The Terms of Use and the Privacy Policy: versioned Markdown shipped with the app, rendered on
//! the server, and each acceptance kept with version, SHA-256 of the text, time, IP and browser.

#[cfg(feature = "ssr")]
pub mod store;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One shipped document. Bump `version` (and `effective`) whenever the text changes.
pub struct Document {
    pub slug: &'static str,
    pub title: &'static str,
    pub version: &'static str,
    pub effective: &'static str,
    #[cfg(feature = "ssr")]
    pub markdown: &'static str,
}

pub const TERMS: Document = Document {
    slug: "terms",
    title: "Terms of Use",
    version: "1.0",
    effective: "2026-11-24",
    #[cfg(feature = "ssr")]
    markdown: include_str!("terms.md"),
};

pub const PRIVACY: Document = Document {
    slug: "privacy",
    title: "Privacy Policy",
    version: "1.2",
    effective: "2026-11-25",
    #[cfg(feature = "ssr")]
    markdown: include_str!("privacy.md"),
};

pub const DOCUMENTS: [&Document; 2] = [&TERMS, &PRIVACY];

pub fn document(slug: &str) -> Option<&'static Document> {
    DOCUMENTS.into_iter().find(|d| d.slug == slug)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenderedDocument {
    pub title: String,
    pub version: String,
    pub effective: String,
    pub html: String,
}

#[cfg(feature = "ssr")]
pub mod text {
    use super::Document;
    use crate::config::Config;
    use sha2::{Digest, Sha256};

    /// The document's Markdown with this installation's facts filled in: what the user reads.
    pub fn markdown(doc: &Document, config: &Config) -> String {
        let hours = |h: u32| if h == 1 { "1 hour".to_string() } else { format!("{h} hours") };
        doc.markdown
            .replace("{{site_name}}", &config.site_name)
            .replace("{{contact_email}}", &config.contact_email)
            .replace("{{session_idle}}", &format!("{} minutes", config.session_idle_minutes))
            .replace("{{session_absolute}}", &hours(config.session_absolute_hours))
            .replace(
                "{{api_key_email}}",
                if config.email_api_keys {
                    "This portal also emails you a new API key after you confirm your address and whenever you ask for one                      on the Keys page. Email is less safe than copying a key from the page: delete the message once the key                      is stored."
                } else {
                    "We never send API keys by email: a key is shown once, on the Keys page."
                },
            )
    }

    pub fn sha256_hex(text: &str) -> String {
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    pub fn html(markdown: &str) -> String {
        use pulldown_cmark::{Options, Parser, html};
        let mut out = String::new();
        // The documents are ours; raw HTML in them is still not passed through.
        let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|event| match event {
            pulldown_cmark::Event::Html(t) | pulldown_cmark::Event::InlineHtml(t) => pulldown_cmark::Event::Text(t),
            other => other,
        });
        html::push_html(&mut out, parser);
        out
    }
}

#[server(prefix = "/rpc", endpoint = "legal_document")]
pub async fn legal_document(slug: String) -> Result<RenderedDocument, AppError> {
    let doc = document(&slug).ok_or(AppError::NotFound)?;
    let state = crate::state::AppState::current()?;
    let markdown = text::markdown(doc, &state.config);
    Ok(RenderedDocument {
        title: doc.title.into(),
        version: doc.version.into(),
        effective: doc.effective.into(),
        html: text::html(&markdown),
    })
}

/// `/terms` and `/privacy`.
#[component]
pub fn LegalPage() -> impl IntoView {
    let location = use_location();
    let slug = move || location.pathname.get().trim_start_matches('/').to_string();
    let doc = Resource::new(slug, legal_document);
    view! {
        <article class="page legal">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || doc.get().map(|doc| match doc {
                    Ok(doc) => view! {
                        <Title text=doc.title.clone() />
                        <p class="muted">{format!("Version {} · effective {}", doc.version, doc.effective)}</p>
                        <div class="prose" inner_html=doc.html></div>
                    }.into_any(),
                    Err(_) => view! { <p>"This document does not exist."</p> }.into_any(),
                })}
            </Suspense>
        </article>
    }
}
