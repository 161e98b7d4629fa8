//! The contact form and the admins' inbox: a message is kept with where it came from and
//! announced to the operator; bots get nothing (honeypot, fill time, signed token, limits);
//! admins answer by email, close and reopen; closed messages go after the retention period.

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use time::Duration;
use uuid::Uuid;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, error_message, mails_to, unique_email, wait_for_mail};

/// The form token of `/contact`, read from the page as a browser would.
async fn form_token(app: &TestApp, client: &Client) -> String {
    let res = client.get(app.url("/contact")).send().await.expect("GET /contact");
    assert_eq!(res.status(), StatusCode::OK);
    token_in(&res.text().await.expect("page"))
}

fn token_in(html: &str) -> String {
    let at = html.find("name=\"form_token\"").unwrap_or_else(|| panic!("no form token in {html}"));
    let rest = &html[at..];
    let start = rest.find("value=\"").expect("the token's value") + "value=\"".len();
    rest[start..].split('"').next().expect("closing quote").to_string()
}

/// A valid message from `email`; `changes` replace fields by name.
fn letter(email: &str, subject: &str, token: &str, changes: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("name", "Ada Lovelace".to_string()),
        ("email", email.to_string()),
        ("subject", subject.to_string()),
        ("message", "Hello,\r\n\r\nhow do I raise my plan's limit?\r\nThanks".to_string()),
        ("website", String::new()),
        ("form_token", token.to_string()),
    ];
    for (name, value) in changes {
        match fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = value.to_string(),
            None => fields.push((name, value.to_string())),
        }
    }
    fields
}

async fn send(app: &TestApp, client: &Client, fields: &[(&'static str, String)]) -> Response {
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::support::rpc_with(client, &app.base, "contact_send", &form).await
}

/// A message sent as a person would: the page, a few seconds of typing, send.
pub(crate) async fn send_ok(app: &TestApp, client: &Client, email: &str, subject: &str) -> Uuid {
    let token = form_token(app, client).await;
    app.clock.advance(Duration::seconds(5));
    let res = send(app, client, &letter(email, subject, &token, &[])).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    message_id(app, email, subject).await
}

async fn messages_from(app: &TestApp, email: &str) -> Vec<app::contact::store::ContactMessageRow> {
    app::contact::store::messages_of_account(&app.db, Uuid::nil(), Some(&email.to_lowercase())).await.expect("messages")
}

async fn message_id(app: &TestApp, email: &str, subject: &str) -> Uuid {
    messages_from(app, email).await.into_iter().find(|m| m.subject == subject).expect("the message is stored").contact_message_id
}

async fn call(client: &Client, app: &TestApp, endpoint: &str, form: &[(&str, &str)]) -> Response {
    crate::support::rpc_with(client, &app.base, endpoint, form).await
}

fn sink_url() -> String {
    std::env::var("MAST_TEST_SINK_URL").unwrap_or_else(|_| "http://127.0.0.1:1080".into())
}

/// The raw source (headers included) of the newest mail to `to` with `subject`.
async fn mail_source(to: &str, subject: &str) -> String {
    let all: Vec<Value> = reqwest::get(format!("{}/api/email", sink_url())).await.expect("sink").json().await.expect("sink JSON");
    let mail = all
        .into_iter()
        .rev()
        .find(|m| m["subject"] == subject && m.to_string().to_lowercase().contains(&to.to_lowercase()))
        .unwrap_or_else(|| panic!("no mail to {to} with subject {subject:?}"));
    let id = mail["id"].as_str().expect("mail id");
    reqwest::get(format!("{}/api/email/{id}/source", sink_url())).await.expect("source").text().await.expect("source text")
}

async fn stored(app: &TestApp) -> i64 {
    app.count_all("contact_message").await
}

async fn policy_contact_message_is_stored_with_ip_and_user_agent_and_operator_is_emailed(backend: Backend) {
    let operator = unique_email("operator");
    let configured = operator.clone();
    let Some(app) = TestApp::spawn_with(backend, move |c| c.operator_email = Some(configured)).await else { return };
    let sender = unique_email("sender");
    let subject = format!("Plan limits {}", Uuid::now_v7().simple());
    let token = form_token(&app, &app.client).await;
    app.clock.advance(Duration::seconds(5));
    let res = send(&app, &app.client, &letter(&sender, &subject, &token, &[])).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["location"], "/contact/sent", "the page then shows the thanks");

    let rows = messages_from(&app, &sender).await;
    assert_eq!(rows.len(), 1);
    let m = &rows[0];
    assert_eq!((m.name.as_str(), m.email.as_str(), m.subject.as_str()), ("Ada Lovelace", sender.as_str(), subject.as_str()));
    assert_eq!(m.message, "Hello,\n\nhow do I raise my plan's limit?\nThanks", "line breaks kept, as \\n");
    assert_eq!(m.ip.as_deref(), Some("127.0.0.1"));
    assert!(m.user_agent.as_deref().is_some_and(|ua| ua.contains("MastTests")), "{:?}", m.user_agent);
    assert_eq!(m.account_id, None, "not signed in");
    assert!(m.closed_at.is_none());

    let mail = wait_for_mail(&operator, &format!("Contact form: {subject}")).await;
    assert!(mail.text.contains(&format!("Ada Lovelace <{sender}>")), "{}", mail.text);
    assert!(mail.text.contains("how do I raise my plan's limit?"), "{}", mail.text);
    assert!(mail.text.contains(&app.url(&format!("/admin/messages/{}", m.contact_message_id))), "{}", mail.text);
    assert!(mails_to(&sender).await.is_empty(), "no automatic mail to the sender");
    assert!(app.all_event_text().await.contains("contact.received"));

    let thanks = app.get("/contact/sent").await.text().await.unwrap();
    assert!(thanks.contains("Thank you — your message was sent. We answer by email, usually within a few working days."));
}

mod policy_contact_message_is_stored_with_ip_and_user_agent_and_operator_is_emailed {
    use crate::support::Backend;

    #[test]
    fn sqlite() {
        crate::support::run(async {
            super::policy_contact_message_is_stored_with_ip_and_user_agent_and_operator_is_emailed(Backend::Sqlite).await;
        });
    }

    #[test]
    fn postgres() {
        crate::support::run(async {
            super::policy_contact_message_is_stored_with_ip_and_user_agent_and_operator_is_emailed(Backend::Postgres).await;
        });
    }
}

on_both_backends! {
    async fn contact_honeypot_is_answered_like_success_but_nothing_is_kept(app: TestApp) {
        let operator = app.config.contact_email.clone();
        let (bot, person) = (unique_email("bot"), unique_email("person"));
        let bot_subject = format!("Cheap pills {}", Uuid::now_v7().simple());
        let token = form_token(&app, &app.client).await;
        app.clock.advance(Duration::seconds(5));
        let trapped = send(&app, &app.client, &letter(&bot, &bot_subject, &token, &[("website", "http://pills.example")])).await;
        let (status, location) = (trapped.status(), trapped.headers().get("location").cloned());
        let body = trapped.text().await.unwrap();
        assert_eq!(stored(&app).await, 0, "nothing kept");

        let subject = format!("A real question {}", Uuid::now_v7().simple());
        let real = send(&app, &app.client, &letter(&person, &subject, &token, &[])).await;
        assert_eq!((status, location), (real.status(), real.headers().get("location").cloned()), "the same answer");
        assert_eq!(body, real.text().await.unwrap());
        assert_eq!(stored(&app).await, 1);

        // The real message's mail arrives; the bot's, sent before it, never does.
        wait_for_mail(&operator, &subject).await;
        assert!(!mails_to(&operator).await.iter().any(|m| m.subject.contains(&bot_subject)), "nothing sent for the bot");
        assert!(mails_to(&bot).await.is_empty());

        let events = app.all_event_text().await;
        let refused = events.lines().find(|l| l.starts_with("contact.spam_refused")).expect("the refusal is an event");
        assert!(refused.contains("honeypot"), "{refused}");
        for personal in [&bot, "Ada Lovelace", &bot_subject, "pills.example"] {
            assert!(!refused.contains(personal), "no personal data in the event: {refused}");
        }
    }
}

on_both_backends! {
    async fn contact_sent_faster_than_a_person_types_is_refused_with_a_clear_error(app: TestApp) {
        let sender = unique_email("quick");
        let token = form_token(&app, &app.client).await;
        let res = send(&app, &app.client, &letter(&sender, "Quick", &token, &[])).await;
        let (status, field, message) = error_message(res).await;
        assert_eq!((status, field), (StatusCode::BAD_REQUEST, None));
        assert_eq!(message, "That was quick: please check your message and send it again.");
        assert_eq!(stored(&app).await, 0);
        assert!(app.all_event_text().await.contains("too_quick"));

        // The form kept its token: a second press a moment later goes through.
        app.clock.advance(Duration::seconds(5));
        let res = send(&app, &app.client, &letter(&sender, "Quick", &token, &[])).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(stored(&app).await, 1);
    }
}

on_both_backends! {
    async fn contact_forged_or_stale_form_token_is_refused(app: TestApp) {
        let sender = unique_email("forged");
        let token = form_token(&app, &app.client).await;
        app.clock.advance(Duration::seconds(5));
        let (millis, signature) = token.split_once('.').expect("time.signature");
        let earlier = format!("{}.{signature}", millis.parse::<i64>().unwrap() - 60_000);
        let flipped = format!("{millis}.{}{}", if signature.starts_with('0') { "1" } else { "0" }, &signature[1..]);
        let other_secret = app::api_keys::secret::KeyHasher::new(b"not this server's secret, but long enough");
        let foreign = app::contact::token::issue(&other_secret, app.clock.now() - Duration::minutes(1));
        for bad in [earlier.as_str(), flipped.as_str(), foreign.as_str(), "", "1700000000000.00", "garbage"] {
            let res = send(&app, &app.client, &letter(&sender, "Forged", bad, &[])).await;
            let (status, field, message) = error_message(res).await;
            assert_eq!((status, field), (StatusCode::BAD_REQUEST, None), "{bad:?}");
            assert!(message.contains("reload the page"), "{bad:?}: {message}");
        }
        let fields: Vec<(&'static str, String)> = letter(&sender, "No token", "", &[]).into_iter().filter(|(n, _)| *n != "form_token").collect();
        let (status, _, message) = error_message(send(&app, &app.client, &fields).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.contains("reload the page"), "{message}");

        // A page left open for more than a day must be reloaded.
        app.clock.advance(Duration::hours(24));
        let (status, _, message) = error_message(send(&app, &app.client, &letter(&sender, "Stale", &token, &[])).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.contains("reload the page"), "{message}");
        assert_eq!(stored(&app).await, 0);
        assert!(app.all_event_text().await.contains("bad_token"));
        // A fresh page works.
        send_ok(&app, &app.client, &sender, "Fresh").await;
    }
}

on_both_backends! {
    async fn contact_rate_limited_per_ip_and_per_email(app: TestApp) {
        let token = form_token(&app, &app.client).await;
        app.clock.advance(Duration::seconds(5));
        let chatty = unique_email("chatty");
        for i in 0..3 {
            let res = send(&app, &app.client, &letter(&chatty, &format!("Question {i}"), &token, &[])).await;
            assert_eq!(res.status(), StatusCode::OK, "message {i}");
        }
        // The same address, however it is written.
        let res = send(&app, &app.client, &letter(&chatty.to_uppercase(), "Question 3", &token, &[])).await;
        let (status, _, message) = error_message(res).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(message.starts_with("You have sent several messages") && message.contains("try again in"), "{message}");

        // Other addresses from the same IP: five messages an hour in all.
        for i in 0..2 {
            let res = send(&app, &app.client, &letter(&unique_email("other"), "Another", &token, &[])).await;
            assert_eq!(res.status(), StatusCode::OK, "other {i}");
        }
        let res = send(&app, &app.client, &letter(&unique_email("sixth"), "Sixth", &token, &[])).await;
        let (status, _, message) = error_message(res).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{message}");
        assert!(message.contains("try again in"), "{message}");
        assert_eq!(stored(&app).await, 5);
        assert!(app.all_event_text().await.contains("contact.throttled"));

        // An hour later the limits are lifted.
        app.clock.advance(Duration::minutes(61));
        let res = send(&app, &app.client, &letter(&chatty, "Later", &token, &[])).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(stored(&app).await, 6);
    }
}

on_both_backends! {
    async fn contact_bad_fields_get_clear_errors(app: TestApp) {
        let sender = unique_email("fields");
        let token = form_token(&app, &app.client).await;
        app.clock.advance(Duration::seconds(5));
        let (long_name, long_subject, long_message) = ("n".repeat(101), "s".repeat(151), "m".repeat(5_001));
        let long_email = format!("{}@example.test", "e".repeat(250));
        let cases: [(&str, &str, &str); 14] = [
            ("name", "", "Enter your name."),
            ("name", "   ", "Enter your name."),
            ("name", &long_name, "at most 100 characters"),
            ("name", "Ada\u{0}Lovelace", "not allowed"),
            ("email", "", "Enter your email address."),
            ("email", "not-an-address", "like name@example.com"),
            ("email", &long_email, "too long"),
            ("subject", "", "Enter a subject."),
            ("subject", &long_subject, "at most 150 characters"),
            ("subject", "Hi\u{1b}[31m", "not allowed"),
            ("message", "", "Enter your message."),
            ("message", " \r\n ", "Enter your message."),
            ("message", &long_message, "at most 5,000 characters"),
            ("message", "Ring\u{7}ring", "not allowed"),
        ];
        for (field, value, expected) in cases {
            let res = send(&app, &app.client, &letter(&sender, "Fields", &token, &[(field, value)])).await;
            let (status, got_field, message) = error_message(res).await;
            assert_eq!((status, got_field.as_deref()), (StatusCode::BAD_REQUEST, Some(field)), "{field}={value:?}: {message}");
            assert!(message.contains(expected), "{field}={value:?}: {message}");
        }
        // A field left out of the form entirely is named too.
        let without_name: Vec<(&'static str, String)> = letter(&sender, "Fields", &token, &[]).into_iter().filter(|(n, _)| *n != "name").collect();
        let (_, field, _) = error_message(send(&app, &app.client, &without_name).await).await;
        assert_eq!(field.as_deref(), Some("name"));
        assert_eq!(stored(&app).await, 0, "nothing stored");

        // At the limits, counted in characters: accepted.
        let (name, subject, message) = ("é".repeat(100), "s".repeat(150), format!("{}\tend", "ü".repeat(4_996)));
        let res = send(&app, &app.client, &letter(&sender, &subject, &token, &[("name", &name), ("message", &message)])).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(stored(&app).await, 1);

        // Without JavaScript: the browser posts the form and follows the redirect to the page,
        // which shows the error; a good message lands on the thanks page.
        let referer = app.url("/contact");
        let plain = |fields: Vec<(&'static str, String)>| {
            app.client.post(app.url("/rpc/contact_send")).header("accept", "text/html").header("referer", referer.clone()).form(&fields).send()
        };
        let res = plain(letter(&unique_email("nojs"), "", &token, &[])).await.unwrap();
        assert_eq!(res.status(), StatusCode::FOUND);
        let back = res.headers()["location"].to_str().unwrap().to_string();
        assert!(back.contains("/contact?") && back.contains("__err="), "{back}");
        let page = app.client.get(if back.starts_with("http") { back.clone() } else { app.url(&back) }).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("Enter a subject."));
        let res = plain(letter(&unique_email("nojs"), "Without JavaScript", &token, &[])).await.unwrap();
        assert_eq!(res.status(), StatusCode::FOUND);
        assert_eq!(res.headers()["location"], "/contact/sent");
        assert_eq!(stored(&app).await, 2);
    }
}

on_both_backends! {
    async fn contact_signed_in_sender_is_linked_to_the_account(app: TestApp) {
        let email = unique_email("member");
        app.verified_account(&email).await;
        let account_id = app.account_id(&email).await;
        let html = app.get("/contact").await.text().await.unwrap();
        assert!(html.contains(&format!("value=\"{email}\"")), "the address is filled in");
        assert!(html.contains("value=\"Ada Lovelace\""), "and the name");
        let id = send_ok(&app, &app.client, &email, "From my account").await;
        let m = app::contact::store::find_message(&app.db, id).await.unwrap().unwrap();
        assert_eq!(m.account_id, Some(account_id));
        assert!(app.event_kinds(account_id).await.iter().any(|k| k == "contact.received"));

        // An anonymous visitor's message is linked to nobody, even with a member's address.
        let stranger = app.new_browser();
        let html = stranger.get(app.url("/contact")).send().await.unwrap().text().await.unwrap();
        assert!(!html.contains(&email), "nothing prefilled for a stranger");
        let other = send_ok(&app, &stranger, &email, "Not signed in").await;
        assert_eq!(app::contact::store::find_message(&app.db, other).await.unwrap().unwrap().account_id, None);
    }
}

on_both_backends! {
    async fn contact_messages_of_an_account_are_found_by_account_or_address_and_deleted_with_their_replies(app: TestApp) {
        let email = unique_email("Owner");
        app.verified_account(&email).await;
        let account_id = app.account_id(&email).await;
        let signed_in = send_ok(&app, &app.client, "another-address@example.test", "Signed in, other address").await;
        let by_address = send_ok(&app, &app.new_browser(), &email.to_uppercase(), "Anonymous, same address").await;
        let unrelated = send_ok(&app, &app.new_browser(), &unique_email("unrelated"), "Someone else").await;
        let (admin, _) = crate::admin::admin_browser(&app).await;
        let reply = [("message_id", by_address.to_string()), ("body", "Answered.".to_string())];
        let reply: Vec<(&str, &str)> = reply.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(call(&admin, &app, "admin_contact_reply", &reply).await.status(), StatusCode::OK);

        let normalized = email.to_lowercase();
        let found = app::contact::store::messages_of_account(&app.db, account_id, Some(&normalized)).await.unwrap();
        assert_eq!(found.iter().map(|m| m.contact_message_id).collect::<Vec<_>>(), vec![signed_in, by_address], "oldest first");
        let json = serde_json::to_value(&found).unwrap();
        assert!(json[0]["created_at"].as_str().is_some_and(|t| t.ends_with('Z')), "times as RFC 3339: {json}");
        let replies = app::contact::store::replies_of_messages(&app.db, &[signed_in, by_address]).await.unwrap();
        assert_eq!(replies.len(), 1);
        assert_eq!((replies[0].contact_message_id, replies[0].body.as_str()), (by_address, "Answered."));

        let mut tx = app.db.begin().await.unwrap();
        let deleted = app::contact::store::delete_messages_of_account_in(&mut tx, account_id, Some(&normalized)).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(deleted, 2);
        assert_eq!(stored(&app).await, 1);
        assert!(app::contact::store::find_message(&app.db, unrelated).await.unwrap().is_some());
        assert_eq!(app.count_all("contact_reply").await, 0, "replies went with their message");
    }
}

on_both_backends! {
    async fn admin_reads_replies_by_email_and_closes_messages(app: TestApp) {
        let sender = unique_email("asker");
        let subject = format!("Question {}", Uuid::now_v7().simple());
        let token = form_token(&app, &app.client).await;
        app.clock.advance(Duration::seconds(5));
        let evil = "Hi <script>alert(1)</script>\n\nsecond paragraph";
        assert_eq!(send(&app, &app.client, &letter(&sender, &subject, &token, &[("message", evil)])).await.status(), StatusCode::OK);
        let id = message_id(&app, &sender, &subject).await.to_string();
        let (admin, admin_email) = crate::admin::admin_browser(&app).await;

        let list = crate::support::ok_json(call(&admin, &app, "admin_contact_messages", &[]).await).await;
        assert_eq!(list["show"], "open");
        assert_eq!(list["total"], 1);
        let row = &list["rows"][0];
        assert_eq!((row["id"].as_str(), row["subject"].as_str(), row["email"].as_str()), (Some(id.as_str()), Some(subject.as_str()), Some(sender.as_str())));
        assert_eq!((row["replies"].as_i64(), row["closed"].as_bool()), (Some(0), Some(false)));
        assert_eq!(crate::support::ok_json(call(&admin, &app, "admin_contact_open_count", &[]).await).await, 1);

        let detail = crate::support::ok_json(call(&admin, &app, "admin_contact_message", &[("message_id", &id)]).await).await;
        assert_eq!(detail["message"], evil);
        assert_eq!(detail["ip"], "127.0.0.1");
        assert!(detail["user_agent"].as_str().unwrap().contains("MastTests"));
        // The page shows the message as text: the script is escaped, never run.
        let page = admin.get(app.url(&format!("/admin/messages/{id}"))).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("&lt;script") && !html.contains("<script>alert(1)"), "escaped");
        assert!(html.contains("Messages"), "in the admin navigation");
        let inbox = admin.get(app.url("/admin/messages")).send().await.unwrap();
        assert_eq!(inbox.status(), StatusCode::OK);
        assert!(inbox.text().await.unwrap().contains(&subject));

        // A reply: checked, mailed to the sender with answers going to the operator, kept.
        let (status, field, _) = error_message(call(&admin, &app, "admin_contact_reply", &[("message_id", &id), ("body", " ")]).await).await;
        assert_eq!((status, field.as_deref()), (StatusCode::BAD_REQUEST, Some("body")));
        let too_long = "r".repeat(10_001);
        let (status, field, _) = error_message(call(&admin, &app, "admin_contact_reply", &[("message_id", &id), ("body", &too_long)]).await).await;
        assert_eq!((status, field.as_deref()), (StatusCode::BAD_REQUEST, Some("body")));
        let body = "Thanks for asking.\r\n\r\nThe pro plan allows 1,200 requests a minute.";
        assert_eq!(call(&admin, &app, "admin_contact_reply", &[("message_id", &id), ("body", body)]).await.status(), StatusCode::OK);
        let mail = wait_for_mail(&sender, &format!("Re: {subject}")).await;
        assert!(mail.text.contains("The pro plan allows 1,200 requests a minute."), "{}", mail.text);
        assert!(mail.text.contains("Hello Ada Lovelace,"), "{}", mail.text);
        let source = mail_source(&sender, &format!("Re: {subject}")).await;
        assert!(source.contains(&format!("Reply-To: {}", app.config.contact_email)), "answers go to the operator: {source}");
        let detail = crate::support::ok_json(call(&admin, &app, "admin_contact_message", &[("message_id", &id)]).await).await;
        assert_eq!(detail["replies"].as_array().unwrap().len(), 1);
        assert_eq!(detail["replies"][0]["body"], "Thanks for asking.\n\nThe pro plan allows 1,200 requests a minute.");
        assert_eq!(detail["replies"][0]["by"], admin_email.as_str());
        let list = crate::support::ok_json(call(&admin, &app, "admin_contact_messages", &[]).await).await;
        assert_eq!(list["rows"][0]["replies"], 1);

        // Closed, it leaves the open list and is found under Closed and All.
        assert_eq!(call(&admin, &app, "admin_contact_close", &[("message_id", &id)]).await.status(), StatusCode::OK);
        assert_eq!(crate::support::ok_json(call(&admin, &app, "admin_contact_messages", &[]).await).await["total"], 0);
        let closed = crate::support::ok_json(call(&admin, &app, "admin_contact_messages", &[("show", "closed")]).await).await;
        assert_eq!((closed["total"].as_i64(), closed["rows"][0]["closed"].as_bool()), (Some(1), Some(true)));
        assert_eq!(crate::support::ok_json(call(&admin, &app, "admin_contact_messages", &[("show", "all")]).await).await["total"], 1);
        assert_eq!(crate::support::ok_json(call(&admin, &app, "admin_contact_open_count", &[]).await).await, 0);
        let detail = crate::support::ok_json(call(&admin, &app, "admin_contact_message", &[("message_id", &id)]).await).await;
        assert!(detail["closed_at"].is_string());
        assert_eq!(detail["closed_by"], admin_email.as_str());

        assert_eq!(call(&admin, &app, "admin_contact_reopen", &[("message_id", &id)]).await.status(), StatusCode::OK);
        assert_eq!(crate::support::ok_json(call(&admin, &app, "admin_contact_messages", &[]).await).await["total"], 1);
        assert!(crate::support::ok_json(call(&admin, &app, "admin_contact_message", &[("message_id", &id)]).await).await["closed_at"].is_null());

        let events = app.all_event_text().await;
        for kind in ["admin.contact_replied", "admin.contact_closed", "admin.contact_reopened"] {
            assert!(events.contains(kind), "{kind} is recorded");
        }
        let missing = Uuid::now_v7().to_string();
        for endpoint in ["admin_contact_message", "admin_contact_close"] {
            assert_eq!(call(&admin, &app, endpoint, &[("message_id", &missing)]).await.status(), StatusCode::NOT_FOUND);
            assert_eq!(call(&admin, &app, endpoint, &[("message_id", "nope")]).await.status(), StatusCode::NOT_FOUND);
        }
    }
}

on_both_backends! {
    async fn admin_inbox_refuses_non_admins(app: TestApp) {
        let id = send_ok(&app, &app.new_browser(), &unique_email("visitor"), "Hello").await.to_string();
        let developer = unique_email("developer");
        app.verified_account(&developer).await;
        let calls: [(&str, Vec<(&str, &str)>); 6] = [
            ("admin_contact_messages", vec![]),
            ("admin_contact_open_count", vec![]),
            ("admin_contact_message", vec![("message_id", id.as_str())]),
            ("admin_contact_reply", vec![("message_id", id.as_str()), ("body", "Gotcha")]),
            ("admin_contact_close", vec![("message_id", id.as_str())]),
            ("admin_contact_reopen", vec![("message_id", id.as_str())]),
        ];
        for (endpoint, form) in &calls {
            assert_eq!(call(&app.client, &app, endpoint, form).await.status(), StatusCode::FORBIDDEN, "{endpoint} as a developer");
            assert_eq!(call(&app.new_browser(), &app, endpoint, form).await.status(), StatusCode::UNAUTHORIZED, "{endpoint} signed out");
        }
        for page in ["/admin/messages".to_string(), format!("/admin/messages/{id}")] {
            let res = app.get(&page).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{page}");
            assert!(!res.text().await.unwrap().contains("visitor-"), "{page} shows nothing of the message");
        }
        let kinds = app.event_kinds(app.account_id(&developer).await).await;
        assert!(kinds.iter().filter(|k| *k == "admin.refused").count() >= calls.len(), "each refusal is an event: {kinds:?}");
        let m = app::contact::store::find_message(&app.db, id.parse().unwrap()).await.unwrap().unwrap();
        assert!(m.closed_at.is_none(), "nothing changed");
        assert_eq!(app.count_all("contact_reply").await, 0);
    }
}

on_both_backends! {
    async fn policy_closed_contact_messages_deleted_after_retention(app: TestApp) {
        let closed = send_ok(&app, &app.client, &unique_email("closed"), "Answered").await;
        let open = send_ok(&app, &app.client, &unique_email("open"), "Waiting").await;
        let (admin, _) = crate::admin::admin_browser(&app).await;
        let reply = [("message_id", closed.to_string()), ("body", "Done.".to_string())];
        let reply: Vec<(&str, &str)> = reply.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(call(&admin, &app, "admin_contact_reply", &reply).await.status(), StatusCode::OK);
        assert_eq!(call(&admin, &app, "admin_contact_close", &[("message_id", &closed.to_string())]).await.status(), StatusCode::OK);
        assert_eq!(app.config.retention_contact_message_days, 365);
        let now = app.clock.now();

        let swept = app::retention::sweep(&app.db, &app.retention(), now + Duration::days(364)).await.unwrap();
        assert_eq!(swept.contact_messages, 0, "kept for 365 days after closing");
        assert!(app::contact::store::find_message(&app.db, closed).await.unwrap().is_some());

        let swept = app::retention::sweep(&app.db, &app.retention(), now + Duration::days(366)).await.unwrap();
        assert_eq!(swept.contact_messages, 1);
        assert!(app::contact::store::find_message(&app.db, closed).await.unwrap().is_none(), "deleted");
        assert_eq!(app.count_all("contact_reply").await, 0, "with its replies");
        assert!(app::contact::store::find_message(&app.db, open).await.unwrap().is_some(), "an open message of the same age is kept");
    }
}

on_both_backends! {
    async fn contact_pages_send_the_security_headers_and_malformed_posts_get_4xx(app: TestApp) {
        for path in ["/contact", "/contact/sent"] {
            let res = app.get(path).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert_eq!(res.headers()["cache-control"], "no-store", "{path}: a page with a fresh token is never cached");
            let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
            let nonce = csp.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).unwrap_or_else(|| panic!("{path}: {csp}")).to_string();
            let html = res.text().await.unwrap();
            for script in html.split("<script").skip(1) {
                let tag = script.split('>').next().unwrap();
                assert!(tag.contains("src=") || tag.contains(&format!("nonce=\"{nonce}\"")), "{path}: <script{tag}>");
            }
        }
        let huge = "x".repeat(200_000);
        let bodies: Vec<(&str, Vec<u8>)> = vec![
            ("application/x-www-form-urlencoded", b"".to_vec()),
            ("application/x-www-form-urlencoded", b"name=%ZZ&email=%".to_vec()),
            ("application/x-www-form-urlencoded", b"name=\xff\xfe&message=\xc3".to_vec()),
            ("application/x-www-form-urlencoded", format!("name={huge}&email={huge}&message={huge}&form_token={huge}").into_bytes()),
            ("application/x-www-form-urlencoded", b"name=a&name=b&form_token=1.2&form_token=3.4".to_vec()),
            ("application/json", br#"{"name": 5, "message": null}"#.to_vec()),
            ("text/plain", b"\x00\x01\x02".to_vec()),
        ];
        for endpoint in ["contact_form", "contact_send"] {
            for (content_type, body) in &bodies {
                let res = app.client.post(app.url(&format!("/rpc/{endpoint}"))).header("content-type", *content_type).body(body.clone()).send().await.unwrap();
                assert!(!res.status().is_server_error(), "{endpoint} with {content_type}: {}", res.status());
            }
        }
        assert_eq!(stored(&app).await, 0);
    }
}
