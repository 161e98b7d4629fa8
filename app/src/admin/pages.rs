//! Admin pages: `/admin` (accounts), `/admin/accounts/:id`, `/admin/logs`, `/admin/events`,
//! `/admin/deprecations`.
//! Filters live in the query string (links can be shared, work without JavaScript).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::{use_location, use_params_map, use_query_map};

use super::*;
use crate::api_keys::thousands;
use crate::ui::{FieldError, FormError, PageError, SignedInOnly, action_error};
use crate::usage::{OutcomeAndReasonFields, encode, latency_text};

/// The console's sections; beside "Messages", how many wait for an answer.
#[component]
pub fn AdminNav() -> impl IntoView {
    let location = use_location();
    // Asked again on each navigation, so closing messages shows in the count.
    let open = Resource::new(move || location.pathname.get(), |_| crate::contact::admin_contact_open_count());
    view! {
        <nav class="admin-nav" aria-label="Admin">
            <A href="/admin" exact=true>"Accounts"</A>
            <A href="/admin/messages">
                "Messages"
                <Suspense fallback=|| ()>
                    {move || open.get().and_then(Result::ok).filter(|n| *n > 0).map(|n| view! {
                        " " <span class="count">{n}<span class="visually-hidden">" open"</span></span>
                    })}
                </Suspense>
            </A>
            <A href="/admin/logs">"Request logs"</A>
            <A href="/admin/events">"Security events"</A>
            <A href="/admin/deprecations">"Deprecations"</A>
        </nav>
    }
}

fn q(name: &'static str) -> impl Fn() -> Option<String> + Copy {
    let query = use_query_map();
    move || query.read().get(name).filter(|v| !v.is_empty())
}

/// `base?name=value&…` of the non-empty values.
fn link(base: &str, pairs: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> =
        pairs.iter().filter_map(|(k, v)| v.as_ref().filter(|v| !v.is_empty()).map(|v| format!("{k}={}", encode(v)))).collect();
    if query.is_empty() { base.to_string() } else { format!("{base}?{}", query.join("&")) }
}

#[component]
pub fn AdminAccountsPage() -> impl IntoView {
    let (search, sort, page) = (q("search"), q("sort"), q("page"));
    let list = Resource::new(
        move || (search(), sort(), page()),
        |(s, o, p)| admin_accounts(s.unwrap_or_default(), o.unwrap_or_default(), p.unwrap_or_default()),
    );
    view! {
        <Title text="Admin: accounts" />
        <section class="page wide">
            <h1>"Admin"</h1>
            <AdminNav />
            <Form method="GET" action="/admin" attr:class="filters" attr:aria-label="Search accounts">
                <div class="field"><label for="filter-search">"Search"</label><input id="filter-search" type="search" name="search" placeholder="email, name or organisation" value=search().unwrap_or_default() /></div>
                <div class="field">
                    <label for="filter-sort">"Sort"</label>
                    <select id="filter-sort" name="sort">
                        {[("newest", "Newest first"), ("oldest", "Oldest first"), ("email", "Email"), ("last_sign_in", "Last sign-in")].into_iter()
                            .map(|(v, t)| view! { <option value=v selected=sort().as_deref() == Some(v)>{t}</option> }).collect_view()}
                    </select>
                </div>
                <button type="submit">"Search"</button>
            </Form>
            <SignedInOnly data=list view_fn=move |l: AccountList| {
                let pager = move |p: i64| link("/admin", &[("search", search()), ("sort", sort()), ("page", Some(p.to_string()))]);
                view! {
                    <p class="muted">{format!("{} {} · page {} of {}", thousands(l.total), if l.total == 1 { "account" } else { "accounts" }, l.page, l.pages)}</p>
                    <div class="table-scroll">
                        <table class="log">
                            <thead><tr><th>"Email"</th><th>"Name"</th><th>"Organisation"</th><th>"Status"</th><th>"Plan"</th><th class="num">"Keys"</th><th>"Last sign-in"</th><th>"Created"</th></tr></thead>
                            <tbody>
                                {l.rows.into_iter().map(|a| view! {
                                    <tr>
                                        <td><A href=format!("/admin/accounts/{}", a.id)>{a.email.clone()}</A>{(a.role == "admin").then(|| view! { " " <span class="badge">"admin"</span> })}</td>
                                        <td>{a.display_name}</td>
                                        <td>{a.organisation.unwrap_or_default()}</td>
                                        <td><StatusBadge status=a.status verified=a.verified /></td>
                                        <td>{a.plan}</td>
                                        <td class="num">{a.keys}</td>
                                        <td>{a.last_sign_in_at.unwrap_or_else(|| "never".into())}</td>
                                        <td>{a.created_at}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <crate::ui::Pager page=l.page pages=l.pages label="Pages of accounts" href=pager />
                }
                .into_any()
            } />
        </section>
    }
    .into_any()
}

#[component]
fn StatusBadge(status: String, verified: bool) -> impl IntoView {
    view! {
        {if status == "active" { view! { <span class="badge ok">"active"</span> }.into_any() } else { view! { <span class="badge danger">{status}</span> }.into_any() }}
        {(!verified).then(|| view! { " " <span class="badge warn">"unconfirmed"</span> })}
    }
}

#[component]
pub fn AdminAccountPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let status = ServerAction::<AdminSetStatus>::new();
    let plan = ServerAction::<AdminSetPlan>::new();
    let resend = ServerAction::<AdminResendVerification>::new();
    let end_sessions = ServerAction::<AdminEndSessions>::new();
    // Read again after every action (each version counts one that finished).
    let detail = Resource::new(
        move || (id.get(), status.version().get(), plan.version().get(), resend.version().get(), end_sessions.version().get()),
        |(id, ..)| admin_account(id),
    );
    let (status_error, plan_error, resend_error) = (action_error(status), action_error(plan), action_error(resend));
    let end_sessions_error = action_error(end_sessions);
    view! {
        <Title text="Admin: account" />
        <section class="page wide">
            <h1>"Admin"</h1>
            <AdminNav />
            <SignedInOnly data=detail view_fn=move |d: AccountDetail| {
                let a = d.account.clone();
                let suspended = a.status != "active";
                let (id_for_status, id_for_resend, id_for_sessions) = (a.id.clone(), a.id.clone(), a.id.clone());
                view! {
                    <h2>{a.email.clone()}</h2>
                    <div class="grid">
                        <div class="card">
                            <h3>"Account"</h3>
                            <dl class="facts">
                                <dt>"Name"</dt><dd>{a.display_name.clone()}</dd>
                                <dt>"Organisation"</dt><dd>{a.organisation.clone().unwrap_or_else(|| "—".into())}</dd>
                                <dt>"Country"</dt><dd>{d.country.clone().unwrap_or_else(|| "—".into())}</dd>
                                <dt>"Status"</dt><dd><StatusBadge status=a.status.clone() verified=a.verified /></dd>
                                <dt>"Role"</dt><dd>{a.role.clone()}</dd>
                                <dt>"Created"</dt><dd>{a.created_at.clone()}</dd>
                                <dt>"Last sign-in"</dt><dd>{a.last_sign_in_at.clone().unwrap_or_else(|| "never".into())}</dd>
                                <dt>"Passkeys"</dt><dd>{d.passkeys}</dd>
                                <dt>"Active sessions"</dt><dd>{d.sessions}</dd>
                            </dl>
                            <p><A href=link("/admin/logs", &[("account", Some(a.id.clone()))])>"This account's requests"</A> " · "
                               <A href=link("/admin/events", &[("account", Some(a.id.clone()))])>"Its security events"</A></p>
                        </div>
                        <div class="card">
                            <h3>"Actions"</h3>
                            <ActionForm action=plan attr:class="action-form">
                                <FormError error=plan_error />
                                <input type="hidden" name="account_id" value=a.id.clone() />
                                <label for="plan">"Plan"</label>
                                <select id="plan" name="plan">
                                    {d.plans.iter().map(|p| view! { <option value=p.clone() selected=*p == a.plan>{p.clone()}</option> }).collect_view()}
                                </select>
                                <button type="submit">"Change plan"</button>
                                <FieldError error=plan_error field="plan" />
                            </ActionForm>
                            {(!d.is_self).then(|| view! {
                                <ActionForm action=status attr:class="action-form">
                                    <FormError error=status_error />
                                    <input type="hidden" name="account_id" value=id_for_status.clone() />
                                    <input type="hidden" name="action" value=if suspended { "reactivate" } else { "suspend" } />
                                    {if suspended {
                                        view! { <button type="submit">"Reactivate account"</button> }.into_any()
                                    } else {
                                        view! {
                                            <p class="muted small">"Suspending ends the account's sessions and refuses its API keys at once."</p>
                                            <button type="submit" class="danger">"Suspend account"</button>
                                        }.into_any()
                                    }}
                                </ActionForm>
                            })}
                            {(!d.is_self && d.sessions > 0).then(|| view! {
                                <ActionForm action=end_sessions attr:class="action-form">
                                    <FormError error=end_sessions_error />
                                    <input type="hidden" name="account_id" value=id_for_sessions.clone() />
                                    <button type="submit">"Sign out everywhere"</button>
                                </ActionForm>
                            })}
                            {move || end_sessions.value().get().and_then(Result::ok).map(|n| view! {
                                <p class="form-ok" role="status">{format!("{n} session(s) ended.")}</p>
                            })}
                            {(!a.verified).then(|| view! {
                                <ActionForm action=resend attr:class="action-form">
                                    <FormError error=resend_error />
                                    <input type="hidden" name="account_id" value=id_for_resend.clone() />
                                    <button type="submit">"Resend confirmation email"</button>
                                    {move || matches!(resend.value().get(), Some(Ok(()))).then(|| view! { <p class="form-ok" role="status">"Sent."</p> })}
                                </ActionForm>
                            })}
                        </div>
                    </div>
                    <div class="card">
                        <h3>"API keys"</h3>
                        {if d.keys.is_empty() { view! { <p class="muted">"No keys."</p> }.into_any() } else { view! {
                            <table class="log">
                                <thead><tr><th>"Label"</th><th>"Key"</th><th>"Type"</th><th>"State"</th><th>"Created"</th><th>"Last used"</th></tr></thead>
                                <tbody>
                                    {d.keys.iter().map(|k| view! {
                                        <tr>
                                            <td>{k.label.clone()}</td>
                                            <td><code>{k.masked.clone()}</code></td>
                                            <td>{k.key_type.clone()}</td>
                                            <td>{k.state.clone()}</td>
                                            <td>{k.created_at.clone()}</td>
                                            <td>{k.last_used_at.clone().unwrap_or_else(|| "never".into())}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any() }}
                    </div>
                    <div class="card">
                        <h3>"Recent security events"</h3>
                        <EventTable rows=d.events.clone() />
                    </div>
                }
                .into_any()
            } />
        </section>
    }
    .into_any()
}

#[component]
fn EventTable(rows: Vec<EventInfo>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"No events match."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="log">
                <thead><tr><th>"Time (UTC)"</th><th>"Event"</th><th>"Account"</th><th>"By"</th><th>"IP"</th><th>"Details"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|e| view! {
                        <tr>
                            <td>{e.at}</td>
                            <td><code>{e.kind}</code></td>
                            <td>{match (e.account_id, e.account) {
                                (Some(id), Some(email)) => view! { <A href=format!("/admin/accounts/{id}")>{email}</A> }.into_any(),
                                _ => view! { "—" }.into_any(),
                            }}</td>
                            <td>{e.actor.unwrap_or_default()}</td>
                            <td>{e.ip}</td>
                            <td class="ua"><code>{(e.detail != "{}").then_some(e.detail)}</code></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

const LOG_FIELDS: [&str; 11] = ["account", "key", "route", "method", "status", "outcome", "code", "ip", "from", "to", "before"];

#[component]
pub fn AdminLogsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| AdminLogFilter::from_query(|name| query.read().get(name)));
    let page = Resource::new(move || filter.get(), admin_logs);
    let value = move |name: &'static str| query.read_untracked().get(name).unwrap_or_default();
    let pairs = move |skip_before: bool| -> Vec<(&'static str, Option<String>)> {
        LOG_FIELDS.iter().filter(|f| !(skip_before && **f == "before")).map(|f| (*f, query.read_untracked().get(f))).collect()
    };
    let error = Signal::derive(move || page.get().and_then(|r| r.err()));
    view! {
        <Title text="Admin: request logs" />
        <section class="page wide">
            <h1>"Admin"</h1>
            <AdminNav />
            <Form method="GET" action="/admin/logs" attr:class="filters" attr:aria-label="Filter requests">
                <div class="field"><label for="filter-account">"Account"</label><input id="filter-account" name="account" placeholder="email or id" value=value("account") /></div>
                <div class="field"><label for="filter-key">"Key"</label><input id="filter-key" name="key" placeholder="mast_live_AbCd" value=value("key") /></div>
                <div class="field"><label for="filter-route">"Path starts with"</label><input id="filter-route" name="route" placeholder="/api/v1/" value=value("route") /></div>
                <div class="field"><label for="filter-method">"Method"</label><input id="filter-method" name="method" size="7" value=value("method") /></div>
                <div class="field"><label for="filter-status">"Status"</label><input id="filter-status" name="status" inputmode="numeric" size="4" value=value("status") /></div>
                <OutcomeAndReasonFields outcome=value("outcome") code=value("code") />
                <div class="field"><label for="filter-ip">"IP"</label><input id="filter-ip" name="ip" value=value("ip") /></div>
                <div class="field"><label for="filter-from">"From (UTC)"</label><input id="filter-from" name="from" type="datetime-local" value=value("from") /></div>
                <div class="field"><label for="filter-to">"To (UTC)"</label><input id="filter-to" name="to" type="datetime-local" value=value("to") /></div>
                <button type="submit">"Filter"</button>
            </Form>
            // Inside a Transition, so the page waits for the filter's verdict before it is sent.
            <Transition fallback=|| ()>
                <FormError error=error />
                {LOG_FIELDS.into_iter().map(|f| view! { <FieldError error=error field=f /> }).collect_view()}
            </Transition>
            <p><a class="button" href=move || { query.track(); link("/admin/logs/export.csv", &pairs(true)) } download="">"Export CSV"</a></p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || page.get().map(|r| match r {
                    Ok(p) => {
                        let older = p.older.map(|id| { let mut pr = pairs(true); pr.push(("before", Some(id.to_string()))); link("/admin/logs", &pr) });
                        let newest = (!value("before").is_empty()).then(|| link("/admin/logs", &pairs(true)));
                        view! {
                            {if p.rows.is_empty() { view! { <p class="muted">"No requests match."</p> }.into_any() } else { view! {
                                <div class="table-scroll">
                                    <table class="log">
                                        <thead><tr><th>"Time (UTC)"</th><th>"Account"</th><th>"Key"</th><th>"Method"</th><th>"Path"</th><th class="num">"Status"</th><th>"Reason"</th><th>"IP"</th><th>"User agent"</th><th class="num">"Latency"</th></tr></thead>
                                        <tbody>
                                            {p.rows.into_iter().map(|r| view! {
                                                <tr class=if r.row.outcome == "accepted" { "" } else { "refused" }>
                                                    <td>{r.row.at}</td>
                                                    <td>{match (r.account_id, r.account) {
                                                        (Some(id), Some(email)) => view! { <A href=format!("/admin/accounts/{id}")>{email}</A> }.into_any(),
                                                        _ => view! { "—" }.into_any(),
                                                    }}</td>
                                                    <td><code>{r.key}</code></td>
                                                    <td>{r.row.method}</td>
                                                    <td><code>{r.row.route}</code></td>
                                                    <td class="num">{r.row.status}</td>
                                                    <td>{r.row.code.map(|c| view! { <code>{c}</code> })}</td>
                                                    <td>{r.row.ip}</td>
                                                    <td class="ua">{r.row.user_agent}</td>
                                                    <td class="num">{latency_text(r.row.latency_ms)}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }.into_any() }}
                            <nav class="pager" aria-label="Pages of requests">
                                {newest.map(|href| view! { <A href=href>"Newest"</A> })}
                                {older.map(|href| view! { <A href=href>"Older requests"</A> })}
                            </nav>
                        }.into_any()
                    }
                    Err(AppError::Invalid { .. }) => ().into_any(),
                    Err(AppError::Unauthorized) => view! { <crate::ui::SeeOther path=crate::ui::sign_in_path("/admin/logs") /> }.into_any(),
                    Err(e) => view! { <PageError error=e /> }.into_any(),
                })}
            </Transition>
        </section>
    }
    .into_any()
}

#[component]
pub fn AdminEventsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        let q = query.read();
        EventFilter {
            kind: q.get("kind"),
            account: q.get("account"),
            ip: q.get("ip"),
            from: q.get("from"),
            to: q.get("to"),
            before: q.get("before"),
        }
    });
    let page = Resource::new(move || filter.get(), admin_events);
    let value = move |name: &'static str| query.read_untracked().get(name).unwrap_or_default();
    let pairs = move || -> Vec<(&'static str, Option<String>)> {
        ["kind", "account", "ip", "from", "to"].into_iter().map(|f| (f, query.read_untracked().get(f))).collect()
    };
    view! {
        <Title text="Admin: security events" />
        <section class="page wide">
            <h1>"Admin"</h1>
            <AdminNav />
            <Form method="GET" action="/admin/events" attr:class="filters" attr:aria-label="Filter events">
                <div class="field">
                    <label for="filter-kind">"Events"</label>
                    <select id="filter-kind" name="kind">
                        <option value="">"All"</option>
                        {EVENT_GROUPS.iter().map(|(v, t)| view! { <option value=*v selected=value("kind") == *v>{*t}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field"><label for="filter-account">"Account"</label><input id="filter-account" name="account" placeholder="email or id" value=value("account") /></div>
                <div class="field"><label for="filter-ip">"IP"</label><input id="filter-ip" name="ip" value=value("ip") /></div>
                <div class="field"><label for="filter-from">"From (UTC)"</label><input id="filter-from" name="from" type="datetime-local" value=value("from") /></div>
                <div class="field"><label for="filter-to">"To (UTC)"</label><input id="filter-to" name="to" type="datetime-local" value=value("to") /></div>
                <button type="submit">"Filter"</button>
            </Form>
            <SignedInOnly data=page view_fn=move |p: EventPage| {
                let older = p.older.clone().map(|id| { let mut pr = pairs(); pr.push(("before", Some(id))); link("/admin/events", &pr) });
                view! {
                    <div class="card"><EventTable rows=p.rows /></div>
                    <nav class="pager" aria-label="Pages of events">
                        {(!value("before").is_empty()).then(|| view! { <A href=link("/admin/events", &pairs())>"Newest"</A> })}
                        {older.map(|href| view! { <A href=href>"Older events"</A> })}
                    </nav>
                }
                .into_any()
            } />
        </section>
    }
    .into_any()
}

type AllCallers = Vec<crate::deprecations::DeprecatedCallers>;

/// `/admin/deprecations`: who still calls each deprecated operation.
#[component]
pub fn AdminDeprecationsPage() -> impl IntoView {
    let page = Resource::new(|| (), |_| admin_deprecations());
    view! {
        <Title text="Admin: deprecations" />
        <section class="page wide">
            <h1>"Admin"</h1>
            <AdminNav />
            <SignedInOnly data=page view_fn=move |groups: AllCallers| { view! {
                <h2>"Deprecated operations still called"</h2>
                <p class="muted">{format!("Accounts whose keys called a deprecated operation in the last {} days.", crate::deprecations::RECENT_DAYS)}</p>
                {if groups.is_empty() {
                    view! { <div class="card"><p>"No account called a deprecated operation lately."</p></div> }.into_any()
                } else {
                    groups.into_iter().map(|g| view! {
                        <div class="card">
                            <h3><a href=g.operation.docs.clone() rel="external"><code>{format!("{} {}", g.operation.method, g.operation.path)}</code></a>
                                " " <span class="muted">{g.operation.product.clone()}</span></h3>
                            <p class="muted">{g.operation.sunset.clone().map_or_else(|| "No sunset date.".to_string(), |d| format!("Stops working after {d}."))}</p>
                            <table>
                                <thead><tr><th scope="col">"Account"</th><th scope="col" class="num">"Calls"</th><th scope="col">"Last call"</th></tr></thead>
                                <tbody>
                                    {g.accounts.into_iter().map(|(id, email, calls, last)| view! {
                                        <tr>
                                            <td><a href=format!("/admin/accounts/{id}")>{email}</a></td>
                                            <td class="num">{thousands(calls)}</td>
                                            <td>{last}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }).collect_view().into_any()
                }}
            }.into_any() } />
        </section>
    }
}
