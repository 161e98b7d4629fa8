//! The docs pages, drawn on the server from the catalogue. Views are built once per request from
//! the parsed reference (nothing reactive: these pages are never hydrated).

use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::{Meta, Title};

use super::catalogue::{Catalogue, Product};
use super::openapi::{Content, Operation, Parameter, Reference, Schema, SchemaId};
use super::try_form::{TryViewer, try_section};
use super::try_it::{FLASH_KEY, TryFlash};
use crate::accounts::store::Account;
use crate::config::DocsAccess;
use crate::error::AppError;
use crate::ui::{PageError, SeeOther, sign_in_path};

/// Who reads the docs: a signed-in account, or nobody.
async fn reader() -> Option<Account> {
    crate::sessions::auth::current_account().await.ok().flatten()
}

fn catalogue() -> Option<Arc<Catalogue>> {
    crate::state::AppState::current().ok().map(|s| s.catalogue.clone())
}

fn param(name: &str) -> String {
    leptos_router::hooks::use_params_map().with_untracked(|p| p.get(name).unwrap_or_default())
}

fn query(name: &str) -> String {
    leptos_router::hooks::use_query_map().with_untracked(|q| q.get(name).unwrap_or_default())
}

fn current_path() -> String {
    leptos_router::hooks::use_location().pathname.get_untracked()
}

/// The product named in the path, if this reader may see it; otherwise the page to answer with:
/// 404 for no such product, sign-in (and back) for a developers-only one.
async fn readable_product(slug: &str) -> Result<(Arc<Catalogue>, usize, Option<Account>), AnyView> {
    let not_found = || view! { <PageError error=AppError::NotFound heading=Some("API not found") /> }.into_any();
    let Some(catalogue) = catalogue() else { return Err(not_found()) };
    let Some(index) = catalogue.products.iter().position(|p| p.config.slug == slug) else { return Err(not_found()) };
    let account = reader().await;
    if catalogue.products[index].config.docs == DocsAccess::Developers && account.is_none() {
        return Err(view! { <SeeOther path=sign_in_path(&current_path()) /> }.into_any());
    }
    Ok((catalogue, index, account))
}

/// The reader's try-it console, taking the last try's answer out of the session (it is shown once).
async fn try_viewer(account: &Option<Account>, slug: &str) -> TryViewer {
    match account {
        None => TryViewer::SignedOut { sign_in: sign_in_path(&current_path()) },
        Some(a) if a.email_verified_at.is_none() => TryViewer::Unconfirmed,
        Some(_) => TryViewer::Ready(take_flash(slug).await),
    }
}

async fn take_flash(slug: &str) -> Option<TryFlash> {
    let session = crate::sessions::auth::session().await.ok()?;
    let flash: TryFlash = session.get(FLASH_KEY).await.ok().flatten()?;
    if flash.product != slug {
        return None;
    }
    let _ = session.remove_value(FLASH_KEY).await;
    Some(flash)
}

fn visible(product: &Product, account: &Option<Account>) -> bool {
    product.config.docs == DocsAccess::Public || account.is_some()
}

pub fn index_page() -> AnyView {
    view! {
        <Title text="API documentation" />
        <Meta name="description" content="Reference documentation and guides of the APIs published on this portal." />
        <Suspense fallback=|| ()>{Suspend::new(async move { index_body().await })}</Suspense>
    }
    .into_any()
}

async fn index_body() -> AnyView {
    let catalogue = catalogue().unwrap_or_else(|| Arc::new(Catalogue::empty()));
    let account = reader().await;
    let cards = catalogue
        .products
        .iter()
        .filter(|p| visible(p, &account))
        .map(|p| {
            let slug = p.config.slug.clone();
            let guides =
                p.guides.iter().map(|g| view! { <li><a href=format!("/docs/{slug}/{}", g.slug)>{g.title.clone()}</a></li> }).collect_view();
            view! {
                <article class="card api-card">
                    <h2><a href=format!("/docs/{slug}")>{p.config.name.clone()}</a></h2>
                    <p class="muted">{format!("Version {} · {} operations", p.reference.version, p.reference.operations.len())}</p>
                    {p.reference.summary.clone().map(|s| view! { <p>{s}</p> })}
                    {(!p.guides.is_empty()).then(|| view! { <h3>"Guides"</h3><ul class="guide-list">{guides}</ul> })}
                    <p><a href=format!("/docs/{slug}")>"Read the reference"</a></p>
                </article>
            }
        })
        .collect_view();
    let call_to_action = match &account {
        Some(_) => view! { <a class="button primary" href="/keys" rel="external">"Your API keys"</a> }.into_any(),
        None => view! { <a class="button primary" href="/signup" rel="external">"Get a key"</a> }.into_any(),
    };
    let empty = catalogue.products.iter().all(|p| !visible(p, &account));
    view! {
        <section class="docs-index">
            <div class="page-heading">
                <h1>"API documentation"</h1>
                {call_to_action}
            </div>
            {empty.then(|| view! { <p class="muted">"No API is published here yet."</p> })}
            <div class="api-cards">{cards}</div>
        </section>
    }
    .into_any()
}

pub fn product_page() -> AnyView {
    let slug = param("product");
    let q = query("q");
    view! { <Suspense fallback=|| ()>{Suspend::new(async move { product_body(slug, q).await })}</Suspense> }.into_any()
}

async fn product_body(slug: String, q: String) -> AnyView {
    let (catalogue, index, account) = match readable_product(&slug).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let product = &catalogue.products[index];
    let r = &product.reference;
    let q = q.trim().to_string();
    let viewer = try_viewer(&account, &slug).await;
    let main = if !q.is_empty() {
        search_results(product, &q)
    } else if r.split {
        view! {
            {overview(product, &account)}
            <h2>"Operations by tag"</h2>
            <ul class="tag-list">
                {r.tags.iter().map(|t| view! {
                    <li>
                        <a href=format!("/docs/{slug}/tags/{}", t.slug)>{t.name.clone()}</a>
                        " " <span class="muted">{t.operations.len()} " operations"</span>
                    </li>
                }).collect_view()}
            </ul>
            {webhooks(product)}
        }
        .into_any()
    } else {
        view! {
            {overview(product, &account)}
            {r.tags.iter().map(|t| tag_section(product, t.slug.as_str(), false, Some(&viewer))).collect_view()}
            {webhooks(product)}
        }
        .into_any()
    };
    let title = if q.is_empty() { product.config.name.clone() } else { format!("Search: {q} · {}", product.config.name) };
    view! {
        <Title text=title />
        {r.summary.clone().map(|s| view! { <Meta name="description" content=s /> })}
        {layout(product, main, &q)}
    }
    .into_any()
}

/// A page of one product beside its navigation column: `page` gives its title and main part,
/// or `None` for a 404 (`missing` names what was not found). Pages with operations get the
/// reader's try-it console.
fn product_subpage(
    missing: &'static str,
    with_operations: bool,
    page: impl FnOnce(&Product, Option<&TryViewer>) -> Option<(String, AnyView)> + Send + 'static,
) -> AnyView {
    let slug = param("product");
    view! {
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let (catalogue, index, account) = match readable_product(&slug).await {
                    Ok(found) => found,
                    Err(page) => return page,
                };
                let product = &catalogue.products[index];
                let viewer = if with_operations { Some(try_viewer(&account, &slug).await) } else { None };
                match page(product, viewer.as_ref()) {
                    Some((title, main)) => {
                        let title = format!("{title} · {}", product.config.name);
                        view! { <Title text=title /> {layout(product, main, "")} }.into_any()
                    }
                    None => view! { <PageError error=AppError::NotFound heading=Some(missing) /> }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

pub fn tag_page() -> AnyView {
    let tag = param("tag");
    product_subpage("Tag not found", true, move |product, viewer| {
        let t = product.reference.tags.iter().find(|t| t.slug == tag)?;
        Some((t.name.clone(), tag_section(product, &tag, true, viewer)))
    })
}

pub fn models_page() -> AnyView {
    product_subpage("Page not found", false, |product, _| {
        let r = &product.reference;
        let models = r
            .models
            .iter()
            .map(|id| {
                let name = r.schemas[*id].name.clone().unwrap_or_default();
                view! {
                    <section class="model" id=format!("schema-{name}")>
                        <h2>{name.clone()}</h2>
                        {schema_view(r, &product.config.slug, *id, &mut Walk::model())}
                    </section>
                }
            })
            .collect_view();
        Some(("Models".into(), view! { <h1>"Models"</h1> {models} }.into_any()))
    })
}

pub fn guide_page() -> AnyView {
    let page = param("page");
    product_subpage("Page not found", false, move |product, _| {
        let guide = product.guides.iter().find(|g| g.slug == page)?;
        Some((guide.title.clone(), view! { <div class="prose guide" inner_html=guide.html.clone()></div> }.into_any()))
    })
}

/// The navigation column beside every page of a product.
fn layout(product: &Product, main: AnyView, q: &str) -> AnyView {
    let r = &product.reference;
    let slug = product.config.slug.clone();
    let href = |op: &Operation| r.operation_href(&slug, op);
    let guides =
        product.guides.iter().map(|g| view! { <li><a href=format!("/docs/{slug}/{}", g.slug)>{g.title.clone()}</a></li> }).collect_view();
    let tags = r
        .tags
        .iter()
        .map(|t| {
            let ops = t
                .operations
                .iter()
                .map(|i| {
                    let op = &r.operations[*i];
                    view! {
                        <li class:deprecated=op.deprecated>
                            <a href=href(op)><span class=format!("method {}", op.method.to_lowercase())>{op.method.clone()}</span> " " {op.title()}</a>
                        </li>
                    }
                })
                .collect_view();
            let tag_href = if r.split { format!("/docs/{slug}/tags/{}", t.slug) } else { format!("/docs/{slug}#tag-{}", t.slug) };
            view! { <li><a class="nav-tag" href=tag_href>{t.name.clone()}</a><ul>{ops}</ul></li> }
        })
        .collect_view();
    view! {
        <div class="docs">
            <nav class="docs-nav" aria-label=format!("{} documentation", product.config.name)>
                <form class="docs-search" role="search" method="get" action=format!("/docs/{slug}")>
                    <label for="docs-q">"Search this API"</label>
                    <div class="search-row">
                        <input id="docs-q" type="search" name="q" value=q.to_string() maxlength="200" />
                        <button type="submit">"Search"</button>
                    </div>
                </form>
                <p class="nav-title"><a href=format!("/docs/{slug}")>{product.config.name.clone()}</a></p>
                {(!product.guides.is_empty()).then(|| view! { <p class="nav-heading">"Guides"</p><ul>{guides}</ul> })}
                <p class="nav-heading">"Reference"</p>
                <ul class="nav-tags">{tags}</ul>
                {(!r.models.is_empty()).then(|| view! { <p class="nav-heading"><a href=format!("/docs/{slug}/models")>"Models"</a></p> })}
            </nav>
            <article class="docs-main">{main}</article>
        </div>
        <script type="module" src="/docs.js" nonce=leptos::nonce::use_nonce()></script>
    }
    .into_any()
}

fn overview(product: &Product, account: &Option<Account>) -> AnyView {
    let r = &product.reference;
    let slug = product.config.slug.clone();
    let base = crate::state::AppState::current().map(|s| s.config.link(&format!("/api/{slug}"))).unwrap_or_default();
    let key_link = match account {
        Some(_) => view! { <a href="/keys" rel="external">"your API keys"</a> }.into_any(),
        None => view! { <a href="/signup" rel="external">"Get a key"</a> }.into_any(),
    };
    view! {
        <header class="docs-header">
            <h1>{product.config.name.clone()}</h1>
            <p class="muted">{format!("Version {} · OpenAPI {}", r.version, r.openapi)}</p>
            {r.description.clone().map(|d| view! { <div class="prose" inner_html=d></div> })}
            <dl class="docs-facts">
                <dt>"Base URL"</dt><dd><code>{base}</code></dd>
                <dt>"Authentication"</dt>
                <dd>"Send your API key in " <code>"Authorization: Bearer …"</code> " (or " <code>"X-API-Key"</code> "). " {key_link}</dd>
                <dt>"OpenAPI document"</dt>
                <dd>
                    <a href=format!("/docs/{slug}/openapi.json") rel="external">"openapi.json"</a> " · "
                    <a href=format!("/docs/{slug}/openapi.yaml") rel="external">"openapi.yaml"</a>
                </dd>
            </dl>
        </header>
    }
    .into_any()
}

fn search_results(product: &Product, q: &str) -> AnyView {
    let r = &product.reference;
    let slug = product.config.slug.clone();
    let needle = q.to_lowercase();
    let words: Vec<&str> = needle.split_whitespace().collect();
    let matches = |text: &str| words.iter().all(|w| text.contains(w));
    let ops: Vec<&Operation> = r.operations.iter().filter(|op| matches(&op.search_text)).collect();
    let guides: Vec<_> = product.guides.iter().filter(|g| matches(&g.search_text) || matches(&g.title.to_lowercase())).collect();
    let count = ops.len() + guides.len();
    let href = |op: &Operation| r.operation_href(&slug, op);
    view! {
        <h1>"Search results"</h1>
        <p role="status">{match count { 0 => format!("Nothing matches “{q}”."), 1 => format!("1 result for “{q}”."), n => format!("{n} results for “{q}”.") }}</p>
        <ul class="search-results">
            {guides.iter().map(|g| view! { <li><a href=format!("/docs/{slug}/{}", g.slug)>{g.title.clone()}</a> " " <span class="muted">"Guide"</span></li> }).collect_view()}
            {ops.iter().map(|op| view! {
                <li>
                    <a href=href(op)><span class=format!("method {}", op.method.to_lowercase())>{op.method.clone()}</span> " " <code>{op.path.clone()}</code></a>
                    " " {op.summary.clone()}
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// A tag and its operations: the page's subject (`as_page`, its own page) or a section of the
/// whole reference.
fn tag_section(product: &Product, tag_slug: &str, as_page: bool, viewer: Option<&TryViewer>) -> AnyView {
    let r = &product.reference;
    let Some(tag) = r.tags.iter().find(|t| t.slug == tag_slug) else { return ().into_any() };
    let level = if as_page { 2 } else { 3 };
    let heading = if as_page { view! { <h1>{tag.name.clone()}</h1> }.into_any() } else { view! { <h2>{tag.name.clone()}</h2> }.into_any() };
    view! {
        <section class="tag" id=format!("tag-{}", tag.slug)>
            {heading}
            {tag.description.clone().map(|d| view! { <div class="prose" inner_html=d></div> })}
            {tag.operations.iter().map(|i| operation_view(product, *i, false, level, viewer)).collect_view()}
        </section>
    }
    .into_any()
}

fn webhooks(product: &Product) -> AnyView {
    let r = &product.reference;
    if r.webhooks.is_empty() {
        return ().into_any();
    }
    view! {
        <section class="tag" id="webhooks">
            <h2>"Webhooks"</h2>
            <p class="muted">"Requests this API sends to an address you give it."</p>
            {(0..r.webhooks.len()).map(|i| operation_view(product, i, true, 3, None)).collect_view()}
        </section>
    }
    .into_any()
}

/// `viewer`: the reader's try-it console, where the page has one (webhooks never do).
fn operation_view(product: &Product, index: usize, webhook: bool, level: u8, viewer: Option<&TryViewer>) -> AnyView {
    let sub = level + 1;
    let r = &product.reference;
    let slug = &product.config.slug;
    let op = if webhook { &r.webhooks[index] } else { &r.operations[index] };
    let anchor = op.anchor.clone();
    let shown_path = if webhook { op.path.clone() } else { format!("/api/{slug}{}", op.path) };
    let samples = if webhook { None } else { product.samples.get(index) };
    let by_location = |location: &str| op.parameters.iter().filter(|p| p.location == location).collect::<Vec<_>>();
    let parameter_tables = ["path", "query", "header", "cookie"]
        .iter()
        .filter_map(|location| {
            let params = by_location(location);
            (!params.is_empty()).then(|| parameters_table(r, slug, location, &params, sub))
        })
        .collect_view();
    view! {
        <section class="operation" id=anchor.clone() aria-labelledby=format!("{anchor}-title")>
            {operation_heading(level, &anchor, op.title())}
            <p class="endpoint">
                <span class=format!("method {}", op.method.to_lowercase())>{if webhook { format!("{} (webhook)", op.method) } else { op.method.clone() }}</span>
                " " <code>{shown_path}</code>
                {op.deprecated.then(|| view! { " " <span class="badge warn">"Deprecated"</span> })}
                {op.sunset.clone().map(|d| view! { " " <span class="badge warn">{format!("Stops working after {d}")}</span> })}
            </p>
            {op.description.clone().map(|d| view! { <div class="prose" inner_html=d></div> })}
            {parameter_tables}
            {op.request_body.as_ref().map(|body| view! {
                {heading(sub, if body.required { "Request body (required)".into() } else { "Request body".into() })}
                {body.description.clone().map(|d| view! { <div class="prose" inner_html=d></div> })}
                {body.contents.iter().map(|c| content_view(r, slug, c, "Example request")).collect_view()}
            })}
            {heading(sub, "Responses".into())}
            <dl class="responses">
                {op.responses.iter().map(|resp| view! {
                    <dt><span class=format!("status s{}", resp.status.chars().next().unwrap_or('d'))>{resp.status.clone()}</span></dt>
                    <dd>
                        {resp.description.clone().map(|d| view! { <div class="prose" inner_html=d></div> })}
                        {(!resp.headers.is_empty()).then(|| parameters_table(r, slug, "response header", &resp.headers.iter().collect::<Vec<_>>(), sub + 1))}
                        {resp.contents.iter().map(|c| content_view(r, slug, c, "Example answer")).collect_view()}
                    </dd>
                }).collect_view()}
            </dl>
            {samples.map(|samples| view! {
                <div class="samples">
                    {heading(sub, "Code samples".into())}
                    {samples.iter().enumerate().map(|(i, s)| {
                        let id = format!("{anchor}-sample-{}", s.language.to_lowercase());
                        view! {
                            <details class="sample" open=i == 0>
                                <summary>{s.language}</summary>
                                <pre tabindex="0"><code id=id.clone()>{s.code.clone()}</code></pre>
                                <button type="button" class="copy" data-copy=id hidden>"Copy"</button>
                            </details>
                        }
                    }).collect_view()}
                </div>
            })}
            {viewer.filter(|_| !webhook).map(|viewer| try_section(product, op, viewer))}
        </section>
    }
    .into_any()
}

/// A heading of `level` (2 to 4): operations are h3 under a tag's h2 on the whole reference,
/// and h2 on a tag's own page, and what they hold one level below.
fn heading(level: u8, text: String) -> AnyView {
    match level {
        2 => view! { <h2>{text}</h2> }.into_any(),
        3 => view! { <h3>{text}</h3> }.into_any(),
        _ => view! { <h4>{text}</h4> }.into_any(),
    }
}

/// An operation's heading, with a link to its own anchor.
fn operation_heading(level: u8, anchor: &str, title: String) -> AnyView {
    let id = format!("{anchor}-title");
    let link = view! { <a class="anchor" href=format!("#{anchor}") aria-label=format!("Link to {title}")>"#"</a> };
    match level {
        2 => view! { <h2 id=id>{title.clone()} {link}</h2> }.into_any(),
        _ => view! { <h3 id=id>{title.clone()} {link}</h3> }.into_any(),
    }
}

fn parameters_table(r: &Reference, slug: &str, location: &str, params: &[&Parameter], level: u8) -> AnyView {
    let heading_text = match location {
        "path" => "Path parameters",
        "query" => "Query parameters",
        "header" => "Header parameters",
        "cookie" => "Cookie parameters",
        _ => "Headers",
    };
    view! {
        {heading(level, heading_text.to_string())}
        <table class="params">
            <thead><tr><th scope="col">"Name"</th><th scope="col">"Type"</th><th scope="col">"Description"</th></tr></thead>
            <tbody>
                {params.iter().map(|p| view! {
                    <tr>
                        <th scope="row">
                            <code>{p.name.clone()}</code>
                            {p.required.then(|| view! { <span class="badge">"required"</span> })}
                            {p.deprecated.then(|| view! { <span class="badge warn">"deprecated"</span> })}
                        </th>
                        <td>{p.schema.map(|s| type_label(r, slug, s))}</td>
                        <td>
                            {p.description.clone().map(|d| view! { <div class="prose" inner_html=d></div> })}
                            {p.schema.map(|s| facts(&r.schemas[s]))}
                            {p.example.clone().map(|e| view! { <p class="fact">"Example: " <code>{e}</code></p> })}
                        </td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

fn content_view(r: &Reference, slug: &str, content: &Content, example_label: &'static str) -> AnyView {
    view! {
        <div class="content">
            <p class="media-type"><code>{content.media_type.clone()}</code></p>
            {content.schema.map(|s| schema_view(r, slug, s, &mut Walk::content()))}
            {content.example.clone().map(|e| view! {
                <details class="example">
                    <summary>{example_label}</summary>
                    <pre tabindex="0"><code>{e}</code></pre>
                </details>
            })}
        </div>
    }
    .into_any()
}

/// How much of a schema one place on a page draws. A named schema inside another is drawn in
/// place while the place's budget of rows lasts and it is not too deep; past that it is a link to
/// its model. Without a budget, a model naming another four times, each naming the next, would
/// draw 4 × 4 × 4 … copies: the page grows with the document, never exponentially.
struct Walk {
    /// The schemas being drawn, outermost first: one met again is recursive.
    path: Vec<SchemaId>,
    rows_left: usize,
}

impl Walk {
    /// Deeper than this, a named schema is a link even with rows to spare.
    const MAX_DEPTH: usize = 4;

    /// A request or response body: nested models drawn in place, up to 60 rows.
    fn content() -> Self {
        Walk { path: Vec::new(), rows_left: 60 }
    }

    /// A section of the models page, where every other model is a section of its own.
    fn model() -> Self {
        Walk { path: Vec::new(), rows_left: 0 }
    }

    fn depth(&self) -> usize {
        self.path.len()
    }

    /// Why `id` is a link here instead of being drawn, or `None` to draw it (and spend its rows).
    fn link_instead(&mut self, s: &Schema, id: SchemaId) -> Option<&'static str> {
        if self.path.contains(&id) {
            return Some("Recursive: ");
        }
        let rows = (s.properties.len() + s.all_of.len() + s.one_of.len() + s.any_of.len()).max(1);
        if self.depth() > 0 && s.name.is_some() && (self.depth() > Self::MAX_DEPTH || rows > self.rows_left) {
            return Some("See ");
        }
        self.rows_left = self.rows_left.saturating_sub(rows);
        None
    }
}

/// `string (date-time)`, `array of Pet`, `integer | null`; a named schema links to its model.
fn type_label(r: &Reference, slug: &str, id: SchemaId) -> AnyView {
    let s = &r.schemas[id];
    let link = |name: &str| view! { <a href=format!("/docs/{slug}/models#schema-{name}")>{name.to_string()}</a> }.into_any();
    if let Some(name) = &s.name {
        return link(name);
    }
    if let Some(b) = s.boolean {
        return view! { <span class="type">{if b { "any value" } else { "no value" }}</span> }.into_any();
    }
    let mut types: Vec<String> = s.types.clone();
    if types.is_empty() {
        types.push(
            if !s.one_of.is_empty() {
                "one of"
            } else if !s.any_of.is_empty() {
                "any of"
            } else if !s.all_of.is_empty() || !s.properties.is_empty() {
                "object"
            } else {
                "any"
            }
            .into(),
        );
    }
    let items = s.items.filter(|_| types.iter().any(|t| t == "array")).map(|items| view! { " of " {type_label(r, slug, items)} });
    let format = s.format.clone().map(|f| format!(" ({f})"));
    view! { <span class="type">{types.join(" | ")} {format}</span> {items} }.into_any()
}

/// Enum, const, default, example and limits of a schema, one line each.
fn facts(s: &Schema) -> AnyView {
    let json = |v: &serde_json::Value| v.to_string();
    view! {
        {s.read_only.then(|| view! { <span class="badge">"read-only"</span> })}
        {s.write_only.then(|| view! { <span class="badge">"write-only"</span> })}
        {s.deprecated.then(|| view! { <span class="badge warn">"deprecated"</span> })}
        {(!s.enum_values.is_empty()).then(|| view! {
            <p class="fact">"One of: " {s.enum_values.iter().map(|v| view! { <code>{json(v)}</code> " " }).collect_view()}</p>
        })}
        {s.const_value.as_ref().map(|v| view! { <p class="fact">"Always " <code>{json(v)}</code></p> })}
        {s.default.as_ref().map(|v| view! { <p class="fact">"Default: " <code>{json(v)}</code></p> })}
        {(!s.constraints.is_empty()).then(|| view! { <p class="fact">{s.constraints.join(", ")}</p> })}
    }
    .into_any()
}

/// A schema drawn as a tree: its type and facts, then its properties, items and alternatives,
/// each nested level folded (`<details>`). A schema that contains itself is drawn once and
/// then named with a link; nested models beyond the [`Walk`]'s budget are links too.
fn schema_view(r: &Reference, slug: &str, id: SchemaId, walk: &mut Walk) -> AnyView {
    let s = &r.schemas[id];
    if let Some(why) = walk.link_instead(s, id) {
        let name = s.name.clone().unwrap_or_else(|| "this schema".into());
        let href = format!("/docs/{slug}/models#schema-{name}");
        return view! { <p class="fact">{why} <a href=href>{name}</a></p> }.into_any();
    }
    let depth = walk.depth();
    walk.path.push(id);
    let properties = (!s.properties.is_empty()).then(|| {
        s.properties
            .iter()
            .map(|p| {
                let child = &r.schemas[p.schema];
                let nested = has_structure(r, p.schema);
                let inner = if nested { Some(schema_view(r, slug, p.schema, walk)) } else { None };
                view! {
                    <li>
                        <code class="prop">{p.name.clone()}</code> " "
                        {type_label(r, slug, p.schema)}
                        {p.required.then(|| view! { " " <span class="badge">"required"</span> })}
                        {child.description.clone().map(|d| view! { <div class="prose" inner_html=d></div> })}
                        {facts(child)}
                        {inner.map(|inner| view! { <details><summary>"Fields of " {p.name.clone()}</summary>{inner}</details> })}
                    </li>
                }
            })
            .collect_view()
    });
    let view = view! {
        <div class="schema">
            <p class="schema-type">{type_label_structural(r, slug, id)}</p>
            {s.description.clone().filter(|_| depth == 0).map(|d| view! { <div class="prose" inner_html=d></div> })}
            {(depth == 0).then(|| facts(s))}
            {properties.map(|p| view! { <ul class="props">{p}</ul> })}
            {composition(r, slug, s, walk)}
            {s.items.filter(|i| has_structure(r, *i)).map(|items| view! {
                <details open=depth == 0><summary>"Items"</summary>{schema_view(r, slug, items, walk)}</details>
            })}
            {s.additional.map(|extra| match extra {
                Some(extra) => view! { <p class="fact">"Other keys: " {type_label(r, slug, extra)}</p> }.into_any(),
                None => view! { <p class="fact">"Other keys: any value"</p> }.into_any(),
            })}
        </div>
    }
    .into_any();
    walk.path.pop();
    view
}

/// The schema's type on its own line, where a name would only repeat the heading.
fn type_label_structural(r: &Reference, slug: &str, id: SchemaId) -> AnyView {
    let s = &r.schemas[id];
    match &s.name {
        Some(name) => {
            let types = if s.types.is_empty() { "object".to_string() } else { s.types.join(" | ") };
            view! { <strong>{name.clone()}</strong> " " <span class="type">{types}</span> }.into_any()
        }
        None => type_label(r, slug, id),
    }
}

/// Whether a schema has more to show than its type label: fields, alternatives or structured items.
fn has_structure(r: &Reference, id: SchemaId) -> bool {
    let s = &r.schemas[id];
    let own = has_own_structure(s);
    // Items are looked through only while unnamed: a named one may be an array of itself.
    own || s.items.is_some_and(|i| if r.schemas[i].name.is_some() { has_own_structure(&r.schemas[i]) } else { has_structure(r, i) })
}

fn has_own_structure(s: &Schema) -> bool {
    !s.properties.is_empty() || s.is_composite() || s.additional.flatten().is_some()
}

fn composition(r: &Reference, slug: &str, s: &Schema, walk: &mut Walk) -> AnyView {
    let mut parts = Vec::new();
    for (label, list) in [("All of", &s.all_of), ("One of", &s.one_of), ("Any of", &s.any_of)] {
        if list.is_empty() {
            continue;
        }
        let items = list
            .iter()
            .map(|id| {
                let structured = has_structure(r, *id);
                let inner = structured.then(|| schema_view(r, slug, *id, walk));
                view! {
                    <li>
                        {type_label(r, slug, *id)}
                        {inner.map(|inner| view! { <details><summary>"Fields"</summary>{inner}</details> })}
                    </li>
                }
            })
            .collect_view();
        parts.push(view! { <p class="fact">{label} ":"</p> <ul class="variants">{items}</ul> }.into_any());
    }
    if let Some(d) = &s.discriminator {
        let mapping = d.mapping.iter().map(|(value, name)| view! { <li><code>{value.clone()}</code> " → " <a href=format!("/docs/{slug}/models#schema-{name}")>{name.clone()}</a></li> }).collect_view();
        parts.push(
            view! { <p class="fact">"Chosen by the field " <code>{d.property.clone()}</code></p> <ul class="variants">{mapping}</ul> }
                .into_any(),
        );
    }
    if let Some(not) = s.not {
        parts.push(view! { <p class="fact">"Not: " {type_label(r, slug, not)}</p> }.into_any());
    }
    parts.into_iter().collect_view().into_any()
}
