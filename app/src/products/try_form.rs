//! The try-it console as drawn under each operation: a form that posts to the server (no
//! JavaScript needed) and the answer of the last try. `public/docs.js` sends the same form in
//! place and draws the answer the same way.

use leptos::prelude::*;

use super::catalogue::Product;
use super::openapi::Operation;
use super::try_it::{TryAnswer, TryFlash, field_name, prefill};

/// Who reads the page, as the console sees them (made by the page, which knows the session).
pub enum TryViewer {
    /// With the page's sign-in link, which comes back to it.
    SignedOut {
        sign_in: String,
    },
    Unconfirmed,
    /// With the last try of the session when it was on this product's pages.
    Ready(Option<TryFlash>),
}

impl TryViewer {
    fn flash_for(&self, op: &Operation) -> Option<&TryFlash> {
        match self {
            TryViewer::Ready(Some(flash)) if flash.operation == op.anchor => Some(flash),
            _ => None,
        }
    }
}

/// The console of one operation.
pub fn try_section(product: &Product, op: &Operation, viewer: &TryViewer) -> AnyView {
    let anchor = &op.anchor;
    let body = match viewer {
        TryViewer::SignedOut { sign_in } => {
            view! { <p class="muted"><a href=sign_in.clone() rel="external">"Sign in"</a> " to send this request with your account."</p> }
                .into_any()
        }
        TryViewer::Unconfirmed => {
            view! { <p class="muted">"Confirm your email address (use the link we sent you) to send requests from here."</p> }.into_any()
        }
        TryViewer::Ready(_) => form(product, op, viewer.flash_for(op)).into_any(),
    };
    view! {
        <details class="try" id=format!("{anchor}-try") open=viewer.flash_for(op).is_some()>
            <summary>"Try it"</summary>
            {body}
        </details>
    }
    .into_any()
}

fn form(product: &Product, op: &Operation, flash: Option<&TryFlash>) -> impl IntoView {
    let r = &product.reference;
    let slug = &product.config.slug;
    let anchor = op.anchor.clone();
    let value_of = |field: &str, fallback: String| flash.map_or(fallback.clone(), |f| f.value(field).unwrap_or_default().to_string());
    let fields = op
        .parameters
        .iter()
        .map(|p| {
            let field = field_name(&p.location, &p.name);
            let id = format!("{anchor}-try-{}-{}", p.location, p.name);
            let value = value_of(&field, prefill(r, p));
            view! {
                <label for=id.clone()>
                    <code>{p.name.clone()}</code> " " <span class="muted small">{format!("{} parameter", p.location)}</span>
                    {p.required.then(|| view! { " " <span class="badge">"required"</span> })}
                </label>
                <input id=id name=field value=value required=p.required autocomplete="off" spellcheck="false" />
            }
        })
        .collect_view();
    let body = op.request_body.as_ref().map(|doc| {
        let media = doc.contents.first().map(|c| c.media_type.clone()).unwrap_or_else(|| "application/json".into());
        let example = op.body_example().map(|(_, e)| e.to_string()).unwrap_or_default();
        let text = value_of("body", example);
        let id = format!("{anchor}-try-body");
        view! {
            <label for=id.clone()>"Body " <span class="muted small">{media}</span></label>
            <textarea id=id name="body" rows="8" spellcheck="false" required=doc.required>{text}</textarea>
        }
    });
    view! {
        <form class="try-form" method="post" action=format!("/docs/{slug}/try/{anchor}") data-try=anchor.clone()>
            {fields}
            {body}
            <p class="muted small">
                "Sent by the portal with your try-it console key (a test key for this session, never shown): "
                "checked, limited and counted like any call, and listed in your requests."
            </p>
            <button type="submit" class="button">{format!("Send {}", op.method)}</button>
        </form>
        <div class="try-answer" id=format!("{anchor}-try-answer") aria-live="polite">
            {flash.map(|f| answer_view(&f.answer))}
        </div>
    }
}

/// The answer of a try, as `docs.js` also draws it.
pub fn answer_view(answer: &TryAnswer) -> AnyView {
    if let Some(problem) = &answer.problem {
        return view! { <p class="error" role="alert">{problem.clone()}</p> }.into_any();
    }
    let status = answer.status.unwrap_or_default();
    let class = format!("status s{}", status / 100);
    let headers: String = answer.headers.iter().map(|(n, v)| format!("{n}: {v}\n")).collect();
    view! {
        <p class="try-status">
            <span class=class>{format!("{status} {}", answer.reason)}</span>
            " " <span class="muted">{format!("in {} ms", answer.millis)}</span>
            " " <code class="muted small">{answer.request.clone()}</code>
        </p>
        <details class="try-headers">
            <summary>{format!("Headers ({})", answer.headers.len())}</summary>
            <pre tabindex="0"><code>{headers}</code></pre>
        </details>
        {(!answer.body.is_empty()).then(|| view! { <pre class="try-body" tabindex="0"><code>{answer.body.clone()}</code></pre> })}
        {answer.body_note.clone().map(|n| view! { <p class="muted small">{n}</p> })}
    }
    .into_any()
}
