//! The Terms of Use and the Privacy Policy: versioned Markdown shipped with the app, rendered on
//! the server, and each acceptance kept with version, SHA-256 of the text, time, IP and browser.

#[cfg(feature = "ssr")]
pub mod store;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_query_map};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One shipped document. When the text changes: bump `version` and `effective`, and put a
/// [`Revision`] saying what changed first in `changes`. Every account is then asked to accept
/// the new version at its next visit.
pub struct Document {
    pub slug: &'static str,
    pub title: &'static str,
    pub version: &'static str,
    pub effective: &'static str,
    /// Newest first; the first is this version.
    pub changes: &'static [Revision],
    #[cfg(feature = "ssr")]
    pub markdown: &'static str,
}

/// What one version changed, in a sentence or two a reader can take in.
#[derive(Clone, Copy, Debug)]
pub struct Revision {
    pub version: &'static str,
    pub effective: &'static str,
    pub summary: &'static str,
}

pub const TERMS: Document = Document {
    slug: "terms",
    title: "Terms of Use",
    version: "1.0",
    effective: "2026-11-24",
    changes: &[Revision { version: "1.0", effective: "2026-11-24", summary: "First version." }],
    #[cfg(feature = "ssr")]
    markdown: include_str!("terms.md"),
};

pub const PRIVACY: Document = Document {
    slug: "privacy",
    title: "Privacy Policy",
    version: "1.4",
    effective: "2026-12-06",
    changes: &[
        Revision {
            version: "1.4",
            effective: "2026-12-06",
            summary: "The docs' try-it console: the calls you send from it are recorded like your other API calls, \
                      with a test key made for your session, ended with it, and never shown.",
        },
        Revision {
            version: "1.3",
            effective: "2026-12-01",
            summary: "Your rights are now buttons in your account: download your data, correct your profile and email \
                      address, delete your account, see and end your sessions. New: the contact form and how long its \
                      messages are kept. Every retention period is stated as this portal is set up.",
        },
        Revision {
            version: "1.2",
            effective: "2026-11-25",
            summary: "API keys, the API request log and usage counts: what is kept, why and for how long.",
        },
        Revision {
            version: "1.1",
            effective: "2026-11-24",
            summary: "Passkeys: only their public key and a few facts about them are kept.",
        },
        Revision { version: "1.0", effective: "2026-11-24", summary: "First version." },
    ],
    #[cfg(feature = "ssr")]
    markdown: include_str!("privacy.md"),
};

pub const DOCUMENTS: [&Document; 2] = [&TERMS, &PRIVACY];

pub fn document(slug: &str) -> Option<&'static Document> {
    DOCUMENTS.into_iter().find(|d| d.slug == slug)
}

/// Where a page that needs the current documents accepted sends the visitor, to come back to `next`.
pub fn consent_path(next: &str) -> String {
    format!("/consent?next={}", safe_next(next))
}

/// `next` when it is a path on this site made only of plain characters; otherwise the dashboard
/// (a redirect target from a query must not lead elsewhere).
pub fn safe_next(next: &str) -> &str {
    let plain = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 200
        && next.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
    if plain { next } else { "/dashboard" }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevisionView {
    pub version: String,
    pub effective: String,
    pub summary: String,
}

impl From<&Revision> for RevisionView {
    fn from(r: &Revision) -> Self {
        RevisionView { version: r.version.into(), effective: r.effective.into(), summary: r.summary.into() }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenderedDocument {
    pub title: String,
    pub version: String,
    pub effective: String,
    pub html: String,
    pub changes: Vec<RevisionView>,
}

/// A document awaiting the account's acceptance, with what changed since the version it accepted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingDocument {
    pub slug: String,
    pub title: String,
    pub version: String,
    pub effective: String,
    pub accepted_version: Option<String>,
    pub changes: Vec<RevisionView>,
}

#[cfg(feature = "ssr")]
pub mod text {
    use super::Document;
    use crate::config::Config;
    use sha2::{Digest, Sha256};

    /// The document's Markdown with this installation's facts filled in: what the user reads.
    pub fn markdown(doc: &Document, config: &Config) -> String {
        let hours = |h: u32| if h == 1 { "1 hour".to_string() } else { format!("{h} hours") };
        let days = |d: u32| if d == 1 { "1 day".to_string() } else { format!("{d} days") };
        doc.markdown
            .replace("{{site_name}}", &config.site_name)
            .replace("{{contact_email}}", &config.contact_email)
            .replace("{{session_idle}}", &format!("{} minutes", config.session_idle_minutes))
            .replace("{{session_absolute}}", &hours(config.session_absolute_hours))
            .replace("{{retention_request_logs}}", &days(config.retention_request_log_days))
            .replace("{{retention_events}}", &days(config.retention_event_days))
            .replace("{{retention_unverified}}", &days(config.retention_unverified_account_days))
            .replace("{{retention_contact}}", &days(config.retention_contact_message_days))
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
        changes: doc.changes.iter().map(RevisionView::from).collect(),
    })
}

/// The documents the signed-in account has yet to accept in their current version.
#[server(prefix = "/rpc", endpoint = "pending_documents")]
pub async fn get_pending_documents() -> Result<Vec<PendingDocument>, AppError> {
    let state = crate::state::AppState::current()?;
    crate::sessions::auth::no_store();
    let account = crate::sessions::auth::require_account_pending_consent().await?;
    let accepted = store::list_consents(&state.db, account.account_id).await?;
    let pending = store::pending_documents(&state.db, account.account_id).await?;
    Ok(pending
        .into_iter()
        .map(|doc| {
            // Rows come newest first: the first of this document is the version last accepted.
            let accepted_version = accepted.iter().find(|c| c.document == doc.slug).map(|c| c.version.clone());
            let changes =
                doc.changes.iter().take_while(|r| Some(r.version) != accepted_version.as_deref()).map(RevisionView::from).collect();
            PendingDocument {
                slug: doc.slug.into(),
                title: doc.title.into(),
                version: doc.version.into(),
                effective: doc.effective.into(),
                accepted_version,
                changes,
            }
        })
        .collect())
}

/// Accepts the current version of every document the account has not accepted yet, then goes on
/// to `next`.
#[server(prefix = "/rpc", endpoint = "accept_documents")]
pub async fn accept_documents(next: String, accept: Option<String>) -> Result<(), AppError> {
    use crate::api_keys::directory::{Change, KeyDirectory};
    use crate::events::{kind, store::NewEvent};
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account_pending_consent().await?;
    if !matches!(accept.as_deref(), Some("on" | "true")) {
        return Err(AppError::invalid("accept", "Tick the box to accept, or sign out if you do not agree."));
    }
    let client = crate::state::current_client().await;
    let now = state.clock.now();
    let pending = store::pending_documents(&state.db, account.account_id).await?;
    if !pending.is_empty() {
        let change = Change::Account { account_id: account.account_id };
        let mut tx = state.db.begin().await?;
        for doc in &pending {
            let sha = text::sha256_hex(&text::markdown(doc, &state.config));
            let consent = store::NewConsent { document: doc.slug, version: doc.version, text_sha256: &sha };
            store::insert_consent(&mut tx, account.account_id, &consent, &client, now).await?;
        }
        // Keys refused for want of consent work again on every instance.
        KeyDirectory::announce(&mut tx, &change).await?;
        tx.commit().await?;
        state.keys.apply(&change);
        let versions: serde_json::Map<String, serde_json::Value> =
            pending.iter().map(|d| (d.slug.to_string(), serde_json::Value::from(d.version))).collect();
        crate::events::store::record(
            &state.db,
            NewEvent::by_account(kind::CONSENT_ACCEPTED, account.account_id, &client, serde_json::Value::Object(versions)),
        )
        .await;
    }
    leptos_axum::redirect(safe_next(&next));
    Ok(())
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
                        <section class="changes" aria-labelledby="changes-heading">
                            <h2 id="changes-heading">"What changed"</h2>
                            <Changes changes=doc.changes />
                        </section>
                    }.into_any(),
                    Err(_) => view! { <p>"This document does not exist."</p> }.into_any(),
                })}
            </Suspense>
        </article>
    }
}

/// Versions, newest first, with their dates and what each changed.
#[component]
fn Changes(changes: Vec<RevisionView>) -> impl IntoView {
    view! {
        <dl class="revisions">
            {changes.into_iter().map(|r| view! {
                <dt>{format!("Version {} · {}", r.version, r.effective)}</dt>
                <dd>{r.summary}</dd>
            }).collect_view()}
        </dl>
    }
}

/// `/consent`: the interstitial a signed-in person sees when a document changed since they
/// accepted it. The API keeps working meanwhile unless the installation says otherwise.
#[component]
pub fn ConsentPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || safe_next(&query.read().get("next").unwrap_or_default()).to_string();
    let pending = Resource::new(|| (), |_| get_pending_documents());
    let action = ServerAction::<AcceptDocuments>::new();
    let error = crate::ui::action_error(action);
    view! {
        <Title text="Updated terms" />
        <crate::ui::SignedInOnly data=pending heading="Updated terms" view_fn={move |docs: Vec<PendingDocument>| {
            if docs.is_empty() {
                return view! { <crate::ui::SeeOther path=next() /> }.into_any();
            }
            view! {
                <section class="card consent-card">
                    <h1>"We have updated our terms"</h1>
                    <p>"Please read what changed and accept to go on using your account."</p>
                    {docs.into_iter().map(|d| view! {
                        <section class="pending-document" aria-labelledby=format!("doc-{}", d.slug)>
                            <h2 id=format!("doc-{}", d.slug)>
                                <a href=format!("/{}", d.slug) target="_blank">{d.title.clone()}</a>
                                {format!(" — version {}, effective {}", d.version, d.effective)}
                            </h2>
                            <p class="muted">{match &d.accepted_version {
                                Some(v) => format!("You accepted version {v}."),
                                None => "You have not accepted this document yet.".to_string(),
                            }}</p>
                            <Changes changes=d.changes />
                        </section>
                    }).collect_view()}
                    <ActionForm action=action>
                        <crate::ui::FormError error=error />
                        <input type="hidden" name="next" value=next() />
                        <div class="checkbox">
                            <input id="accept" name="accept" type="checkbox" required aria-invalid=crate::ui::invalid(error, "accept") />
                            <label for="accept">"I have read and accept the updated documents."</label>
                        </div>
                        <crate::ui::FieldError error=error field="accept" />
                        <button type="submit" class="primary" disabled=move || action.pending().get()>"Accept and continue"</button>
                    </ActionForm>
                    <p class="hint">
                        "If you do not agree, you can still "
                        <a href="/account">"download your data or delete your account"</a>
                        ", or sign out."
                    </p>
                </section>
            }.into_any()
        }} />
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_document_says_what_its_current_version_changed() {
        for doc in DOCUMENTS {
            let current = doc.changes.first().expect("a revision");
            assert_eq!((current.version, current.effective), (doc.version, doc.effective), "{}", doc.slug);
        }
    }

    #[test]
    fn the_way_back_after_accepting_stays_on_this_site() {
        assert_eq!(safe_next("/keys/0193-ab"), "/keys/0193-ab");
        for outside in ["https://evil.example", "//evil.example", "/\\evil", "/a?b=c", "", "javascript:alert(1)"] {
            assert_eq!(safe_next(outside), "/dashboard", "{outside}");
        }
    }
}
