//! The dashboard's usage section and the page of one key with its own request log. Range and
//! filters live in the query string: every view has a link, works without JavaScript, and
//! after hydration switches without a full reload.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::{use_params_map, use_query_map};

use super::*;
use crate::api_keys::{IssuedKey, KeyItem, NewKey, ScopeForm, thousands};
use crate::error::AppError;
use crate::ui::{FieldError, FormError, SignedInOnly};

fn query_value(name: &'static str) -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get(name).unwrap_or_default())
}

/// Links to the four ranges, the current one marked.
#[component]
fn RangeSwitch(base: String, current: Range) -> impl IntoView {
    view! {
        <nav class="range-switch" aria-label="Time range">
            {Range::ALL.into_iter().map(|r| {
                let href = format!("{base}{}range={}", if base.contains('?') { "&" } else { "?" }, r.as_str());
                // A plain link: the router still navigates in place, and aria-current is ours.
                view! { <a href=href aria-current=(r == current).then_some("page")>{r.label()}</a> }
            }).collect_view()}
        </nav>
    }
}

/// A ranked list with a bar per row (SVG: inline styles are not allowed by the CSP).
#[component]
fn Ranking(title: &'static str, rows: Vec<Count>, empty: &'static str) -> impl IntoView {
    let top = rows.iter().map(|r| r.requests).max().unwrap_or(1).max(1);
    view! {
        <div class="card ranking">
            <h3>{title}</h3>
            {if rows.is_empty() {
                view! { <p class="muted">{empty}</p> }.into_any()
            } else {
                view! {
                    <table>
                        <tbody>
                            {rows.into_iter().map(|r| view! {
                                <tr>
                                    <th scope="row"><code>{r.name.clone()}</code></th>
                                    <td class="num">{thousands(r.requests)}</td>
                                    <td class="bar-cell"><svg viewBox="0 0 100 8" aria-hidden="true" preserveAspectRatio="none">
                                        <rect class="rank-bar" x="0" y="0" height="8" width=(r.requests as f64 * 100.0 / top as f64).max(1.0) />
                                    </svg></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </div>
    }
}

#[component]
fn ReportDetails(report: UsageReport) -> impl IntoView {
    let latency = report.mean_latency_ms.map_or_else(|| "—".to_string(), latency_text);
    let by_key = report.by_key.clone();
    view! {
        <dl class="figures">
            <div><dt>"Accepted"</dt><dd>{thousands(report.accepted)}</dd></div>
            <div><dt>"Refused"</dt><dd>{thousands(report.refused)}</dd></div>
            <div><dt>"Failed upstream"</dt><dd>{thousands(report.failed)}</dd></div>
            <div><dt>"Mean latency"</dt><dd>{latency}</dd></div>
        </dl>
        <div class="grid">
            {(!by_key.is_empty()).then(|| view! {
                <div class="card ranking by-key">
                    <h3>"By key"</h3>
                    <table>
                        <thead><tr><th>"Key"</th><th class="num">"Accepted"</th><th class="num">"Refused"</th></tr></thead>
                        <tbody>
                            {by_key.into_iter().map(|k| view! {
                                <tr>
                                    <th scope="row"><A href=format!("/keys/{}", k.id)>{k.label.clone()}</A> " " <code class="muted small">{k.masked.clone()}</code></th>
                                    <td class="num">{thousands(k.accepted)}</td>
                                    <td class="num">{thousands(k.refused)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
            <Ranking title="Top routes" rows=report.top_routes.clone() empty="No requests in this range." />
            <Ranking title="Refusals by reason" rows=report.refusals.clone() empty="No refused requests in this range." />
        </div>
    }
    .into_any()
}

/// The dashboard's usage in the range the address names, made by the page (see `DashboardPage`).
pub fn dashboard_usage() -> Resource<Result<DashboardUsage, AppError>> {
    let range = query_value("range");
    Resource::new(move || range.get(), get_dashboard_usage)
}

/// The dashboard's usage: chart, figures, rankings and the quota against the plan.
#[component]
pub fn UsageSection(usage: Resource<Result<DashboardUsage, AppError>>) -> impl IntoView {
    view! {
        <SignedInOnly data=usage view_fn=move |u: DashboardUsage| {
            let plan = u.plan.clone();
            let percent = if plan.requests_per_month == 0 { 100.0 } else { plan.used_this_month as f64 * 100.0 / plan.requests_per_month as f64 };
            let range = u.report.range;
            view! {
                <section class="usage" aria-labelledby="usage-heading">
                    <div class="usage-head">
                        <h2 id="usage-heading">"Usage"</h2>
                        <RangeSwitch base="/dashboard".into() current=range />
                        <a class="button" href=format!("/usage/export.csv?range={}", range.as_str()) download="">"Export CSV"</a>
                    </div>
                    <div class="card">
                        <UsageChart report=u.report.clone() caption=format!("Requests, last {} (UTC)", range.label()) />
                        <label for="month-quota">{format!("Quota this month: {} of {} requests ({:.1}%)", thousands(plan.used_this_month), thousands(plan.requests_per_month as i64), percent)}</label>
                        <meter id="month-quota" min="0" max="100" low="80" high="95" optimum="0" value=format!("{:.1}", percent.min(100.0))>{format!("{percent:.1}%")}</meter>
                    </div>
                    <ReportDetails report=u.report />
                </section>
            }
            .into_any()
        } />
    }
}

/// `/keys/:id`: one key's chart, settings and request log.
#[component]
pub fn KeyPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key_id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let request = Memo::new(move |_| {
        let q = query.read();
        let filter = RequestFilter::from_query(|name| q.get(name));
        (key_id.get(), q.get("range").unwrap_or_default(), filter)
    });
    let page = Resource::new(move || request.get(), |(id, range, filter)| get_key_usage(id, range, filter));
    let issued = RwSignal::new(None::<IssuedKey>);
    let refresh = Callback::new(move |_| page.refetch());
    view! {
        <Title text="API key" />
        <section class="page wide">
            <p><A href="/keys">"← All keys"</A></p>
            {move || issued.get().map(|k| view! { <NewKey issued=k on_dismiss=Callback::new(move |_| issued.set(None)) /> })}
            <SignedInOnly data=page heading="API key" view_fn=move |p: KeyUsagePage| {
                let (_, range, filter) = request.get_untracked();
                let base = format!("/keys/{}", p.key.id);
                view! {
                    <h1>{format!("Key \u{201c}{}\u{201d}", p.key.label)}</h1>
                    <ul class="keys"><KeyItem key_info=p.key.clone() issued=issued refresh=refresh /></ul>
                    {(!p.key.console).then(|| view! { <ScopeForm key_info=p.key.clone() products=p.products.clone() refresh=refresh /> })}
                    <div class="usage-head">
                        <h2>"Usage"</h2>
                        <RangeSwitch base=base.clone() current=Range::parse(&range) />
                    </div>
                    <div class="card">
                        <UsageChart report=p.report.clone() caption=format!("Requests with this key, last {} (UTC)", p.report.range.label()) />
                    </div>
                    <ReportDetails report=p.report.clone() />
                    <RequestLog base=base page=p.requests filter=filter range=range />
                }
                .into_any()
            } />
        </section>
    }
}

/// The two select boxes every request-log filter has: outcome and refusal reason, with the current choices selected.
#[component]
pub fn OutcomeAndReasonFields(outcome: String, code: String) -> impl IntoView {
    view! {
        <div class="field">
            <label for="filter-outcome">"Outcome"</label>
            <select id="filter-outcome" name="outcome">
                <option value="">"Any"</option>
                {["accepted", "refused", "failed"].into_iter().map(|o| view! { <option value=o selected=outcome == o>{o}</option> }).collect_view()}
            </select>
        </div>
        <div class="field">
            <label for="filter-code">"Reason"</label>
            <select id="filter-code" name="code">
                <option value="">"Any"</option>
                {REFUSAL_CODES.iter().map(|c| view! { <option value=*c selected=code == *c>{*c}</option> }).collect_view()}
            </select>
        </div>
    }
}

#[component]
fn RequestLog(base: String, page: Result<RequestPage, AppError>, filter: RequestFilter, range: String) -> impl IntoView {
    let (page, error) = match page {
        Ok(page) => (page, None),
        Err(e) => (RequestPage { rows: Vec::new(), older: None }, Some(e)),
    };
    let error = Signal::derive(move || error.clone());
    let mut older_query = vec![];
    for (name, value) in [
        ("outcome", &filter.outcome),
        ("code", &filter.code),
        ("method", &filter.method),
        ("route", &filter.route),
        ("status", &filter.status),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            older_query.push(format!("{name}={}", encode(v)));
        }
    }
    if !range.is_empty() {
        older_query.push(format!("range={}", encode(&range)));
    }
    let older = page.older.map(|id| {
        let mut q = older_query.clone();
        q.push(format!("before={id}"));
        format!("{base}?{}", q.join("&"))
    });
    let first_page = filter.before.is_some().then(|| format!("{base}?{}", older_query.join("&")));
    view! {
        <div class="card request-log">
            <h2 id="requests-heading">"Requests"</h2>
            <Form method="GET" action=base.clone() attr:class="filters" attr:aria-label="Filter requests">
                <input type="hidden" name="range" value=range.clone() />
                <OutcomeAndReasonFields outcome=filter.outcome.clone().unwrap_or_default() code=filter.code.clone().unwrap_or_default() />
                <div class="field"><label for="filter-method">"Method"</label><input id="filter-method" name="method" size="7" value=filter.method.clone().unwrap_or_default() /></div>
                <div class="field"><label for="filter-route">"Path starts with"</label><input id="filter-route" name="route" placeholder="/api/v1/" value=filter.route.clone().unwrap_or_default() /></div>
                <div class="field"><label for="filter-status">"Status"</label><input id="filter-status" name="status" inputmode="numeric" size="4" value=filter.status.clone().unwrap_or_default() /></div>
                <button type="submit">"Filter"</button>
            </Form>
            <FormError error=error />
            {["outcome", "code", "method", "route", "status", "before"].into_iter().map(|f| view! { <FieldError error=error field=f /> }).collect_view()}
            {if page.rows.is_empty() {
                view! { <p class="muted">"No requests match."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                        <table class="log" aria-labelledby="requests-heading">
                            <thead><tr>
                                <th>"Time (UTC)"</th><th>"Method"</th><th>"Path"</th><th class="num">"Status"</th>
                                <th>"Reason"</th><th>"IP"</th><th>"User agent"</th><th class="num">"Latency"</th>
                            </tr></thead>
                            <tbody>
                                {page.rows.into_iter().map(|r| view! {
                                    <tr class=if r.outcome == "accepted" { "" } else { "refused" }>
                                        <td>{r.at}</td>
                                        <td>{r.method}</td>
                                        <td><code>{r.route}</code></td>
                                        <td class="num">{r.status}</td>
                                        <td>{r.code.map(|c| view! { <code>{c}</code> })}</td>
                                        <td>{r.ip}</td>
                                        <td class="ua">{r.user_agent}</td>
                                        <td class="num">{latency_text(r.latency_ms)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            <nav class="pager" aria-label="Pages of requests">
                {first_page.map(|href| view! { <A href=href>"Newest"</A> })}
                {older.map(|href| view! { <A href=href>"Older requests"</A> })}
            </nav>
        </div>
    }
    .into_any()
}

/// `85 µs` below a millisecond, `12.3 ms` above.
pub fn latency_text(ms: f64) -> String {
    if ms < 1.0 { format!("{:.0} µs", ms * 1000.0) } else { format!("{ms:.1} ms") }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
