//! The contact form and the admins' inbox.
//!
//! Anyone may write, so the form keeps bots out without a third-party service: a honeypot field
//! people never see (filled: answered like success, nothing kept), a signed form token that tells
//! when the page was rendered (sent sooner than a person can type, or a day later: refused), and
//! limits per IP and per address shared by every instance through the throttle table. The
//! operator gets a mail with a link to the message; the sender gets nothing automatic (a bot
//! could otherwise make us mail any address), only the admins' replies.

mod pages;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::*;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

pub const NAME_MAX: usize = 100;
pub const SUBJECT_MAX: usize = 150;
pub const MESSAGE_MAX: usize = 5_000;
pub const REPLY_MAX: usize = 10_000;

/// Where the form sends people after a message (and bots after a honeypot).
pub const SENT_PAGE: &str = "/contact/sent";

pub const TOO_QUICK: &str = "That was quick: please check your message and send it again.";
pub const FORM_EXPIRED: &str =
    "This form has expired or could not be checked. Please copy your message, reload the page and send it again.";

/// What the form starts with: its token, and the sender's name and address when signed in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactForm {
    pub form_token: String,
    pub name: String,
    pub email: String,
    pub signed_in: bool,
    /// Days a message is kept after its conversation is closed (said beside the form).
    pub kept_days: u32,
}

/// One line of the admins' inbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InboxLine {
    pub id: String,
    pub received_at: String,
    pub name: String,
    pub email: String,
    pub subject: String,
    pub closed: bool,
    pub replies: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InboxPage {
    pub rows: Vec<InboxLine>,
    /// `open`, `closed` or `all`.
    pub show: String,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplyInfo {
    pub sent_at: String,
    /// The admin's address; `None` once that account is deleted.
    pub by: Option<String>,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageDetail {
    pub id: String,
    pub received_at: String,
    pub name: String,
    pub email: String,
    pub subject: String,
    pub message: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The sender's account, when they were signed in (and it still exists).
    pub account_id: Option<String>,
    pub account_email: Option<String>,
    pub closed_at: Option<String>,
    pub closed_by: Option<String>,
    pub replies: Vec<ReplyInfo>,
}

/// Limits of the form, counted per sent message.
#[cfg(feature = "ssr")]
pub mod limits {
    use std::time::Duration;

    use crate::throttle::Policy;

    /// Messages from one IP in an hour (several people may share one).
    pub const PER_IP: Policy = Policy { free: 5, max_per_hour: 5, max_delay: Duration::from_secs(3600) };
    /// Messages from one address in an hour.
    pub const PER_ADDRESS: Policy = Policy { free: 3, max_per_hour: 3, max_delay: Duration::from_secs(3600) };
}

/// The form token: when the page was rendered, signed, so the server needs no session or cookie
/// to know how long a visitor took. `<unix ms>.<hex HMAC-SHA256>`, under a key derived from the
/// API-key secret (never used for anything else).
#[cfg(feature = "ssr")]
pub mod token {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    use time::{Duration, OffsetDateTime};

    use crate::api_keys::secret::KeyHasher;

    /// Faster than this, no person wrote the message.
    pub const MIN_FILL: Duration = Duration::seconds(3);
    /// A form older than this must be reloaded: a token cannot be collected once and reused for ever.
    pub const MAX_AGE: Duration = Duration::hours(24);

    #[derive(Debug, PartialEq, Eq)]
    pub enum Refusal {
        TooQuick,
        Invalid,
    }

    fn mac(keys: &KeyHasher, millis: i128) -> Hmac<Sha256> {
        let sub_key = keys.digest("mast contact form v1");
        let mut mac = Hmac::<Sha256>::new_from_slice(&sub_key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(millis.to_string().as_bytes());
        mac
    }

    pub fn issue(keys: &KeyHasher, now: OffsetDateTime) -> String {
        let millis = now.unix_timestamp_nanos() / 1_000_000;
        format!("{millis}.{}", hex::encode(mac(keys, millis).finalize().into_bytes()))
    }

    pub fn check(keys: &KeyHasher, token: &str, now: OffsetDateTime) -> Result<(), Refusal> {
        let (millis, signature) = token.trim().split_once('.').ok_or(Refusal::Invalid)?;
        let millis: i128 = millis.parse().map_err(|_| Refusal::Invalid)?;
        let signature = hex::decode(signature).map_err(|_| Refusal::Invalid)?;
        mac(keys, millis).verify_slice(&signature).map_err(|_| Refusal::Invalid)?;
        let nanos = millis.checked_mul(1_000_000).ok_or(Refusal::Invalid)?;
        let rendered = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| Refusal::Invalid)?;
        let age = now - rendered;
        if age > MAX_AGE {
            return Err(Refusal::Invalid);
        }
        // A page rendered "in the future" (clocks of two instances a little apart) is just as quick.
        if age < MIN_FILL {
            return Err(Refusal::TooQuick);
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_token_is_good_from_three_seconds_to_a_day_and_only_with_its_signature() {
            let keys = KeyHasher::new(b"a secret of at least thirty-two bytes, for tests");
            // A whole millisecond, as the token keeps it.
            let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
            let token = issue(&keys, at);
            assert_eq!(check(&keys, &token, at), Err(Refusal::TooQuick));
            assert_eq!(check(&keys, &token, at + Duration::milliseconds(2_999)), Err(Refusal::TooQuick));
            assert_eq!(check(&keys, &token, at + MIN_FILL), Ok(()));
            assert_eq!(check(&keys, &token, at + MAX_AGE), Ok(()));
            assert_eq!(check(&keys, &token, at + MAX_AGE + Duration::seconds(1)), Err(Refusal::Invalid));
            let other = KeyHasher::new(b"another secret of thirty-two bytes or more");
            assert_eq!(check(&other, &token, at + MIN_FILL), Err(Refusal::Invalid), "signed under another secret");
            let (millis, signature) = token.split_once('.').unwrap();
            let earlier = format!("{}.{signature}", millis.parse::<i128>().unwrap() - 60_000);
            assert_eq!(check(&keys, &earlier, at + MIN_FILL), Err(Refusal::Invalid), "a changed time");
            for junk in ["", ".", "x.y", "123", "123.zz"] {
                assert_eq!(check(&keys, junk, at), Err(Refusal::Invalid), "{junk:?}");
            }
        }
    }
}

/// Checks of what people type.
#[cfg(feature = "ssr")]
pub mod fields {
    use crate::error::AppError;

    /// One line of text, trimmed: required, at most `max` characters, no control characters.
    pub fn line(value: &str, field: &str, label: &str, max: usize, missing: &str) -> Result<String, AppError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(AppError::invalid(field, missing));
        }
        let count = value.chars().count();
        if count > max {
            return Err(AppError::invalid(field, format!("{label} can be at most {max} characters (this one has {count}).")));
        }
        if value.chars().any(char::is_control) {
            return Err(AppError::invalid(field, format!("{label} contains characters that are not allowed.")));
        }
        Ok(value.to_string())
    }

    /// Several lines: browsers send line breaks as CRLF, kept as `\n`; tabs are fine, other
    /// control characters are not (they could rewrite what an admin sees in a terminal or mail).
    pub fn text(value: &str, field: &str, label: &str, max: usize, missing: &str) -> Result<String, AppError> {
        let value = value.replace("\r\n", "\n").replace('\r', "\n");
        let value = value.trim();
        if value.is_empty() {
            return Err(AppError::invalid(field, missing));
        }
        let count = value.chars().count();
        if count > max {
            return Err(AppError::invalid(
                field,
                format!(
                    "{label} can be at most {} characters (this one has {}).",
                    crate::api_keys::thousands(max as i64),
                    crate::api_keys::thousands(count as i64)
                ),
            ));
        }
        if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(AppError::invalid(field, format!("{label} contains characters that are not allowed.")));
        }
        Ok(value.to_string())
    }

    /// Paragraphs of a mail: split at blank lines.
    pub fn paragraphs(text: &str) -> Vec<&str> {
        text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn messages_keep_line_breaks_and_tabs_but_no_other_control_characters() {
            assert_eq!(text("a\r\n\tb\r", "m", "Message", 10, "x").unwrap(), "a\n\tb");
            assert!(text("a\u{1b}[31m", "m", "Message", 10, "x").is_err());
            assert!(line("a\tb", "n", "Name", 10, "x").is_err());
            assert_eq!(line("  Ada  ", "n", "Name", 3, "x").unwrap(), "Ada");
            assert_eq!(text(&"é".repeat(5), "m", "Message", 5, "x").unwrap().chars().count(), 5, "characters, not bytes");
            assert!(text(&"é".repeat(6), "m", "Message", 5, "x").is_err());
        }
    }
}

/// Records an event at the app's time; a failure is logged and does not fail the request.
#[cfg(feature = "ssr")]
async fn note(state: &crate::state::AppState, event: crate::events::store::NewEvent<'_>) {
    let kind = event.kind.to_string();
    if let Err(err) = crate::events::store::insert_event(&state.db, event, state.clock.now()).await {
        tracing::error!(error = %err, kind, "could not record security event");
    }
}

/// The form's token, and the signed-in sender's name and address to start with.
#[server(prefix = "/rpc", endpoint = "contact_form")]
pub async fn get_contact_form() -> Result<ContactForm, AppError> {
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::current_account().await?;
    Ok(ContactForm {
        form_token: token::issue(state.keys.hasher(), state.clock.now()),
        signed_in: account.is_some(),
        kept_days: state.config.retention_contact_message_days,
        name: account.as_ref().map(|a| a.display_name.clone()).unwrap_or_default(),
        email: account.map(|a| a.email).unwrap_or_default(),
    })
}

/// Sends a message from the contact form. Every field is read even when missing, so each
/// gets its own clear error rather than "the form could not be read".
#[server(prefix = "/rpc", endpoint = "contact_send")]
pub async fn send_contact_message(
    #[server(default)] name: String,
    #[server(default)] email: String,
    #[server(default)] subject: String,
    #[server(default)] message: String,
    #[server(default)] website: String,
    #[server(default)] form_token: String,
) -> Result<(), AppError> {
    use crate::events::{kind, store::NewEvent};
    use crate::throttle::{self, Bucket};

    let state = crate::state::AppState::current()?;
    let client = crate::state::current_client().await;
    let now = state.clock.now();
    let spam = |reason: &'static str| NewEvent {
        kind: kind::CONTACT_SPAM_REFUSED,
        account_id: None,
        actor_account_id: None,
        client: Some(&client),
        detail: serde_json::json!({ "reason": reason }),
    };

    // Only a bot fills a field nobody can see: it is told "sent" and learns nothing.
    if !website.is_empty() {
        crate::events::record_anonymous_refusal(&state.db, &state.metrics.refusals_unrecorded, spam("honeypot"), now).await;
        leptos_axum::redirect(SENT_PAGE);
        return Ok(());
    }

    // A person's mistakes first: they are what a person can fix.
    let name = fields::line(&name, "name", "Your name", NAME_MAX, "Enter your name.")?;
    crate::accounts::validate_email(&email).map_err(|m| AppError::invalid("email", m))?;
    let email = email.trim().to_string();
    let subject = fields::line(&subject, "subject", "The subject", SUBJECT_MAX, "Enter a subject.")?;
    let message = fields::text(&message, "message", "The message", MESSAGE_MAX, "Enter your message.")?;

    match token::check(state.keys.hasher(), &form_token, now) {
        Ok(()) => {}
        Err(token::Refusal::TooQuick) => {
            crate::events::record_anonymous_refusal(&state.db, &state.metrics.refusals_unrecorded, spam("too_quick"), now).await;
            return Err(AppError::message(TOO_QUICK));
        }
        Err(token::Refusal::Invalid) => {
            crate::events::record_anonymous_refusal(&state.db, &state.metrics.refusals_unrecorded, spam("bad_token"), now).await;
            return Err(AppError::message(FORM_EXPIRED));
        }
    }

    let email_normalized = crate::accounts::normalize_email(&email);
    // Each message uses one of the hour's allowance, counted before it is kept.
    let buckets = [
        Bucket::new("ip", format!("contact:ip:{}", client.network()), limits::PER_IP),
        Bucket::new("email", format!("contact:email:{email_normalized}"), limits::PER_ADDRESS),
    ];
    let pass = match throttle::attempt(&state.db, &buckets, now).await? {
        Ok(pass) => pass,
        Err(refused) => {
            note(
                &state,
                NewEvent {
                    kind: kind::CONTACT_THROTTLED,
                    account_id: None,
                    actor_account_id: None,
                    client: Some(&client),
                    detail: serde_json::json!({ "scope": refused.scope }),
                },
            )
            .await;
            return Err(AppError::TooManyRequests(format!(
                "You have sent several messages in a short time. Please try again {}.",
                throttle::describe_wait(refused.wait)
            )));
        }
    };

    let account = crate::sessions::auth::current_account().await?;
    let account_id = account.as_ref().map(|a| a.account_id);
    let new = store::NewMessage {
        account_id,
        name: &name,
        email: &email,
        email_normalized: &email_normalized,
        subject: &subject,
        message: &message,
        ip: &client.ip,
        user_agent: &client.user_agent,
    };
    let id = store::insert_message(&state.db, &new, now).await?;
    pass.keep(&state.db, now).await?;
    note(
        &state,
        NewEvent {
            kind: kind::CONTACT_RECEIVED,
            account_id,
            actor_account_id: None,
            client: Some(&client),
            detail: serde_json::json!({ "message": id.to_string() }),
        },
    )
    .await;
    state.send_mail_later(operator_mail(&state, id, &name, &email, account.is_some(), &subject, &message));
    leptos_axum::redirect(SENT_PAGE);
    Ok(())
}

/// Where messages are announced: the operator's address, or the contact address.
#[cfg(feature = "ssr")]
fn operator_address(config: &crate::config::Config) -> String {
    config.operator_email.as_deref().map(str::trim).filter(|e| !e.is_empty()).unwrap_or(&config.contact_email).to_string()
}

#[cfg(feature = "ssr")]
fn operator_mail(
    state: &crate::state::AppState,
    id: uuid::Uuid,
    name: &str,
    email: &str,
    signed_in: bool,
    subject: &str,
    message: &str,
) -> crate::mail::Mail {
    let site = &state.config.site_name;
    let link = state.config.link(&format!("/admin/messages/{id}"));
    let from = format!("From: {name} <{email}>{}", if signed_in { " (signed in)" } else { "" });
    let subject_line = format!("Subject: {subject}");
    let mut paragraphs = vec!["A message came through the contact form.", from.as_str(), subject_line.as_str()];
    paragraphs.extend(fields::paragraphs(message));
    paragraphs.push("Answer it from the admin console, so the reply is sent from the site's address and kept with the message.");
    crate::mail::compose(
        &operator_address(&state.config),
        &format!("Contact form: {subject}"),
        site,
        &paragraphs,
        Some(("Open the message", &link)),
    )
}

#[cfg(feature = "ssr")]
mod convert {
    use super::*;
    use crate::accounts::format_time;

    pub fn line(row: &store::InboxRow) -> InboxLine {
        InboxLine {
            id: row.contact_message_id.to_string(),
            received_at: format_time(row.created_at),
            name: row.name.clone(),
            email: row.email.clone(),
            subject: row.subject.clone(),
            closed: row.closed_at.is_some(),
            replies: row.replies,
        }
    }

    pub fn message_id(text: &str) -> Result<uuid::Uuid, AppError> {
        uuid::Uuid::parse_str(text.trim()).map_err(|_| AppError::NotFound)
    }

    pub async fn message(state: &crate::state::AppState, id: uuid::Uuid) -> Result<store::ContactMessageRow, AppError> {
        store::find_message(&state.db, id).await?.ok_or(AppError::NotFound)
    }
}

/// An admin's action on a message, in the security event log (about the sender's account, if any).
#[cfg(feature = "ssr")]
async fn record_admin_action(
    state: &crate::state::AppState,
    admin: &crate::accounts::store::Account,
    message: &store::ContactMessageRow,
    kind: &str,
) {
    let client = crate::state::current_client().await;
    note(
        state,
        crate::events::store::NewEvent {
            kind,
            account_id: message.account_id,
            actor_account_id: Some(admin.account_id),
            client: Some(&client),
            detail: serde_json::json!({ "message": message.contact_message_id.to_string() }),
        },
    )
    .await;
}

/// The inbox: `show` is `open` (the default), `closed` or `all`; pages of 50.
#[server(prefix = "/rpc", endpoint = "admin_contact_messages")]
pub async fn admin_contact_messages(#[server(default)] show: String, #[server(default)] page: String) -> Result<InboxPage, AppError> {
    let state = crate::state::AppState::current()?;
    crate::admin::guard::require_admin().await?;
    let inbox = store::Inbox::parse(show.trim());
    let page = page.trim().parse::<i64>().unwrap_or(1).clamp(1, 1_000_000) - 1;
    let (rows, total) = store::list_messages(&state.db, inbox, page).await?;
    Ok(InboxPage {
        rows: rows.iter().map(convert::line).collect(),
        show: inbox.as_str().to_string(),
        total,
        page: page + 1,
        pages: ((total + store::MESSAGES_PER_PAGE - 1) / store::MESSAGES_PER_PAGE).max(1),
    })
}

/// How many messages wait for an answer (shown in the admin console's navigation).
#[server(prefix = "/rpc", endpoint = "admin_contact_open_count")]
pub async fn admin_contact_open_count() -> Result<i64, AppError> {
    let state = crate::state::AppState::current()?;
    crate::admin::guard::require_admin().await?;
    Ok(store::count_open(&state.db).await?)
}

#[server(prefix = "/rpc", endpoint = "admin_contact_message")]
pub async fn admin_contact_message(message_id: String) -> Result<MessageDetail, AppError> {
    use crate::accounts::{format_time, store::find_account};
    let state = crate::state::AppState::current()?;
    crate::admin::guard::require_admin().await?;
    let m = convert::message(&state, convert::message_id(&message_id)?).await?;
    let account = match m.account_id {
        Some(id) => find_account(&state.db, id).await?,
        None => None,
    };
    let closed_by = match m.closed_by {
        Some(id) => find_account(&state.db, id).await?.map(|a| a.email),
        None => None,
    };
    let replies = store::replies_with_admins(&state.db, m.contact_message_id).await?;
    Ok(MessageDetail {
        id: m.contact_message_id.to_string(),
        received_at: format_time(m.created_at),
        name: m.name,
        email: m.email,
        subject: m.subject,
        message: m.message,
        ip: m.ip,
        user_agent: m.user_agent,
        account_id: account.as_ref().map(|a| a.account_id.to_string()),
        account_email: account.map(|a| a.email),
        closed_at: m.closed_at.map(format_time),
        closed_by,
        replies: replies.into_iter().map(|r| ReplyInfo { sent_at: format_time(r.sent_at), by: r.admin_email, body: r.body }).collect(),
    })
}

/// Answers a message by mail to its sender, from the site's address with replies going to the
/// operator, and keeps the answer with the message. Sent before it is stored: the admin is told
/// at once when the mail could not go, and no reply is kept that nobody received.
#[server(prefix = "/rpc", endpoint = "admin_contact_reply")]
pub async fn admin_contact_reply(message_id: String, #[server(default)] body: String) -> Result<(), AppError> {
    let state = crate::state::AppState::current()?;
    let admin = crate::admin::guard::require_admin().await?;
    let m = convert::message(&state, convert::message_id(&message_id)?).await?;
    let body = fields::text(&body, "body", "A reply", REPLY_MAX, "Write your reply first.")?;
    let now = state.clock.now();

    let site = &state.config.site_name;
    let greeting = format!("Hello {},", m.name);
    let about = format!("This answers your message “{}” of {}.", m.subject, crate::accounts::format_time(m.created_at));
    let mut paragraphs = vec![greeting.as_str()];
    paragraphs.extend(fields::paragraphs(&body));
    paragraphs.push(&about);
    let mut mail = crate::mail::compose(&m.email, &format!("Re: {}", m.subject), site, &paragraphs, None);
    mail.reply_to = Some(operator_address(&state.config));
    if let Err(err) = state.mailer.send(mail).await {
        tracing::error!(error = %err, message = %m.contact_message_id, "could not send a contact reply");
        return Err(AppError::message("The reply could not be sent, so it was not kept. Please try again later."));
    }
    store::insert_reply(&state.db, m.contact_message_id, admin.account_id, &body, now).await?;
    record_admin_action(&state, &admin, &m, crate::events::kind::ADMIN_CONTACT_REPLIED).await;
    Ok(())
}

/// Closes a message: it leaves the open inbox, and its retention period starts.
#[server(prefix = "/rpc", endpoint = "admin_contact_close")]
pub async fn admin_contact_close(message_id: String) -> Result<(), AppError> {
    let state = crate::state::AppState::current()?;
    let admin = crate::admin::guard::require_admin().await?;
    let m = convert::message(&state, convert::message_id(&message_id)?).await?;
    if store::set_closed(&state.db, m.contact_message_id, Some(admin.account_id), state.clock.now()).await? {
        record_admin_action(&state, &admin, &m, crate::events::kind::ADMIN_CONTACT_CLOSED).await;
    }
    Ok(())
}

/// Reopens a closed message (it is kept again until closed).
#[server(prefix = "/rpc", endpoint = "admin_contact_reopen")]
pub async fn admin_contact_reopen(message_id: String) -> Result<(), AppError> {
    let state = crate::state::AppState::current()?;
    let admin = crate::admin::guard::require_admin().await?;
    let m = convert::message(&state, convert::message_id(&message_id)?).await?;
    if store::set_closed(&state.db, m.contact_message_id, None, state.clock.now()).await? {
        record_admin_action(&state, &admin, &m, crate::events::kind::ADMIN_CONTACT_REOPENED).await;
    }
    Ok(())
}
