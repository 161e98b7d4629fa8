//! `/contact` and its thanks page; the admins' inbox `/admin/messages` and one message
//! `/admin/messages/:id`. Messages are shown as text, never as HTML: strangers wrote them.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::*;
use crate::admin::AdminNav;
use crate::api_keys::thousands;
use crate::ui::{FieldError, FormError, PageError, SignedInOnly, action_error, invalid};

#[component]
pub fn ContactPage() -> impl IntoView {
    // Rendered once with the page: the token inside tells the server when that was.
    let form = Resource::new(|| (), |_| get_contact_form());
    let action = ServerAction::<SendContactMessage>::new();
    let error = action_error(action);
    view! {
        <Title text="Contact" />
        <section class="card contact-card">
            <h1>"Contact us"</h1>
            <p class="muted">"A question about the API, your account or your data? Write to us here; we answer by email."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || form.get().map(|loaded| match loaded {
                    Ok(f) => view! { <ContactFields form=f action=action error=error /> }.into_any(),
                    Err(e) => view! { <PageError error=e /> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// The form itself. Without JavaScript the browser checks required fields and lengths before
/// sending (so nothing typed is lost to a round trip); the server checks everything again.
#[component]
fn ContactFields(form: ContactForm, action: ServerAction<SendContactMessage>, error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <ActionForm action=action attr:class="contact-form">
            <input type="hidden" name="form_token" value=form.form_token />

            <label for="contact-name">"Your name"</label>
            <input id="contact-name" name="name" type="text" autocomplete="name" required maxlength=NAME_MAX.to_string() value=form.name
                aria-invalid=invalid(error, "name") aria-describedby="name-error" />
            <FieldError error=error field="name" />

            <label for="contact-email">"Email"</label>
            <input id="contact-email" name="email" type="email" autocomplete="email" required maxlength="254" value=form.email
                aria-invalid=invalid(error, "email") aria-describedby="email-hint email-error" />
            <p class="hint" id="email-hint">"We answer to this address."</p>
            <FieldError error=error field="email" />

            <label for="contact-subject">"Subject"</label>
            <input id="contact-subject" name="subject" type="text" required maxlength=SUBJECT_MAX.to_string()
                aria-invalid=invalid(error, "subject") aria-describedby="subject-error" />
            <FieldError error=error field="subject" />

            <label for="contact-message">"Message"</label>
            <textarea id="contact-message" name="message" rows="9" required maxlength=MESSAGE_MAX.to_string()
                aria-invalid=invalid(error, "message") aria-describedby="message-hint message-error"></textarea>
            <p class="hint" id="message-hint">"Up to 5,000 characters. Never send a password or an API key."</p>
            <FieldError error=error field="message" />

            // For bots only: off-screen, skipped by the keyboard and by screen readers.
            <div class="contact-trap" aria-hidden="true">
                <label for="contact-website">"Website (leave this empty)"</label>
                <input id="contact-website" name="website" type="text" tabindex="-1" autocomplete="off" />
            </div>

            <p class="hint">
                "We use what you send only to answer you, and delete it "
                {format!("{} days after the conversation is closed. ", form.kept_days)}
                "See the " <a href="/privacy">"Privacy Policy"</a> "."
            </p>
            // Beside the button: "that was quick" and the limits concern the press, not a field.
            <FormError error=error />
            <button type="submit" class="primary" disabled=move || action.pending().get()>"Send message"</button>
        </ActionForm>
    }
}

#[component]
pub fn ContactSentPage() -> impl IntoView {
    view! {
        <Title text="Message sent" />
        <section class="card auth-card">
            <h1>"Message sent"</h1>
            <p class="form-ok" role="status">"Thank you — your message was sent. We answer by email, usually within a few working days."</p>
            <p><A href="/">"Back to the home page"</A></p>
        </section>
    }
}

fn q(name: &'static str) -> impl Fn() -> Option<String> + Copy {
    let query = use_query_map();
    move || query.read().get(name).filter(|v| !v.is_empty())
}

const SHOW: [(&str, &str); 3] = [("open", "Open"), ("closed", "Closed"), ("all", "All")];

#[component]
pub fn AdminMessagesPage() -> impl IntoView {
    let (show, page) = (q("show"), q("page"));
    let list = Resource::new(move || (show(), page()), |(s, p)| admin_contact_messages(s.unwrap_or_default(), p.unwrap_or_default()));
    view! {
        <Title text="Admin: messages" />
        <section class="page wide">
            <h1>"Admin"</h1>
            <AdminNav />
            <SignedInOnly data=list view_fn=move |l: InboxPage| {
                let current = l.show.clone();
                let pager = {
                    let current = current.clone();
                    move |p: i64| format!("/admin/messages?show={current}&page={p}")
                };
                let noun = if l.total == 1 { "message" } else { "messages" };
                let state = match current.as_str() {
                    "open" => "open ",
                    "closed" => "closed ",
                    _ => "",
                };
                view! {
                    <nav class="range-switch inbox-switch" aria-label="Show messages">
                        {SHOW.into_iter().map(|(v, t)| view! {
                            // A plain link: the router still navigates in place, and aria-current is ours.
                            <a href=format!("/admin/messages?show={v}") aria-current=(current == v).then_some("page")>{t}</a>
                        }).collect_view()}
                    </nav>
                    <p class="muted">{format!("{} {state}{noun} · page {} of {}", thousands(l.total), l.page, l.pages)}</p>
                    {if l.rows.is_empty() {
                        view! { <p class="muted">"No messages here."</p> }.into_any()
                    } else {
                        view! {
                            <div class="table-scroll">
                                <table class="log inbox">
                                    <thead><tr><th>"Received (UTC)"</th><th>"Name"</th><th>"Email"</th><th>"Subject"</th><th class="num">"Replies"</th><th>"State"</th></tr></thead>
                                    <tbody>
                                        {l.rows.into_iter().map(|m| view! {
                                            <tr class=if m.closed { "closed" } else { "" }>
                                                <td>{m.received_at}</td>
                                                <td>{m.name}</td>
                                                <td>{m.email}</td>
                                                <td class="subject"><A href=format!("/admin/messages/{}", m.id)>{m.subject}</A></td>
                                                <td class="num">{m.replies}</td>
                                                <td>{if m.closed { view! { <span class="badge">"closed"</span> }.into_any() } else { view! { <span class="badge warn">"open"</span> }.into_any() }}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any()
                    }}
                    <crate::ui::Pager page=l.page pages=l.pages label="Pages of messages" href=pager />
                }
                .into_any()
            } />
        </section>
    }
    .into_any()
}

#[component]
pub fn AdminMessagePage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let reply = ServerAction::<AdminContactReply>::new();
    let close = ServerAction::<AdminContactClose>::new();
    let reopen = ServerAction::<AdminContactReopen>::new();
    // Read again after every action (each version counts one that finished).
    let detail = Resource::new(
        move || (id.get(), reply.version().get(), close.version().get(), reopen.version().get()),
        |(id, ..)| admin_contact_message(id),
    );
    let (reply_error, close_error, reopen_error) = (action_error(reply), action_error(close), action_error(reopen));
    view! {
        <Title text="Admin: message" />
        <section class="page wide">
            <h1>"Admin"</h1>
            <AdminNav />
            <p><A href="/admin/messages">"← All open messages"</A></p>
            <SignedInOnly data=detail view_fn=move |m: MessageDetail| {
                let closed = m.closed_at.is_some();
                let (id_for_state, id_for_reply) = (m.id.clone(), m.id.clone());
                let ip_link = m.ip.clone().map(|ip| format!("/admin/events?ip={}", crate::usage::encode(&ip)));
                view! {
                    <h2 class="message-subject">{m.subject.clone()}</h2>
                    <div class="grid">
                        <div class="card">
                            <h3>"From"</h3>
                            <dl class="facts">
                                <dt>"Name"</dt><dd>{m.name.clone()}</dd>
                                <dt>"Email"</dt><dd>{m.email.clone()}</dd>
                                <dt>"Account"</dt>
                                <dd>{match (m.account_id.clone(), m.account_email.clone()) {
                                    (Some(id), Some(email)) => view! { <A href=format!("/admin/accounts/{id}")>{email}</A> }.into_any(),
                                    _ => view! { <span class="muted">"not signed in"</span> }.into_any(),
                                }}</dd>
                                <dt>"Received"</dt><dd>{m.received_at.clone()}</dd>
                                <dt>"IP"</dt>
                                <dd>{match (m.ip.clone(), ip_link) {
                                    (Some(ip), Some(href)) => view! { <A href=href>{ip}</A> }.into_any(),
                                    _ => view! { "—" }.into_any(),
                                }}</dd>
                                <dt>"User agent"</dt><dd class="ua">{m.user_agent.clone().unwrap_or_else(|| "—".into())}</dd>
                                <dt>"State"</dt>
                                <dd>{match m.closed_at.clone() {
                                    Some(at) => format!("closed {at}{}", m.closed_by.clone().map(|b| format!(" by {b}")).unwrap_or_default()),
                                    None => "open".to_string(),
                                }}</dd>
                            </dl>
                        </div>
                        <div class="card">
                            <h3>"Actions"</h3>
                            {if closed {
                                view! {
                                    <ActionForm action=reopen attr:class="action-form">
                                        <FormError error=reopen_error />
                                        <input type="hidden" name="message_id" value=id_for_state.clone() />
                                        <p class="muted small">"Closed messages are deleted after the retention period."</p>
                                        <button type="submit">"Reopen"</button>
                                    </ActionForm>
                                }.into_any()
                            } else {
                                view! {
                                    <ActionForm action=close attr:class="action-form">
                                        <FormError error=close_error />
                                        <input type="hidden" name="message_id" value=id_for_state.clone() />
                                        <p class="muted small">"Close it once it is answered: it leaves the open list, and its retention period starts."</p>
                                        <button type="submit">"Close"</button>
                                    </ActionForm>
                                }.into_any()
                            }}
                        </div>
                    </div>
                    <div class="card">
                        <h3>"Message"</h3>
                        <div class="message-text">{m.message.clone()}</div>
                    </div>
                    <div class="card">
                        <h3>{format!("Replies ({})", m.replies.len())}</h3>
                        {if m.replies.is_empty() {
                            view! { <p class="muted">"No reply yet."</p> }.into_any()
                        } else {
                            view! {
                                <ol class="replies">
                                    {m.replies.iter().map(|r| view! {
                                        <li>
                                            <p class="muted small">{format!("{} · {}", r.sent_at, r.by.clone().unwrap_or_else(|| "a deleted admin".into()))}</p>
                                            <div class="message-text">{r.body.clone()}</div>
                                        </li>
                                    }).collect_view()}
                                </ol>
                            }.into_any()
                        }}
                        <ActionForm action=reply attr:class="reply-form">
                            <FormError error=reply_error />
                            <input type="hidden" name="message_id" value=id_for_reply.clone() />
                            <label for="reply-body">{format!("Reply to {}", m.email)}</label>
                            <textarea id="reply-body" name="body" rows="8" required maxlength=REPLY_MAX.to_string()
                                aria-invalid=invalid(reply_error, "body") aria-describedby="reply-hint body-error"></textarea>
                            <p class="hint" id="reply-hint">"Sent by email from this site's address; answers come back to the operator's address. The reply is kept with the message."</p>
                            <FieldError error=reply_error field="body" />
                            <button type="submit" class="primary" disabled=move || reply.pending().get()>"Send reply"</button>
                            {move || matches!(reply.value().get(), Some(Ok(()))).then(|| view! { <p class="form-ok" role="status">"Reply sent."</p> })}
                        </ActionForm>
                    </div>
                }
                .into_any()
            } />
        </section>
    }
    .into_any()
}
