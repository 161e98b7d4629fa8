//! Outgoing mail. SMTP when `smtp_url` is set; otherwise every message is written as an `.eml`
//! file under `<data_dir>/outbox/` (readable by the server's user only) and the log says where,
//! so a new installation can finish sign-up with no mail server. No link is ever logged: links
//! carry tokens.

use std::path::PathBuf;
use std::sync::Arc;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address: {0}")]
    Address(#[from] lettre::address::AddressError),
    #[error("cannot build message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("smtp: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("outbox: {0}")]
    Io(#[from] std::io::Error),
}

/// One message: plain text and HTML bodies.
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Where answers go, when not to the sender (`mail_from` is often a no-reply address).
    pub reply_to: Option<String>,
}

#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Arc<Transport>,
}

enum Transport {
    Outbox(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Mailer {
    pub fn from_config(config: &Config) -> Result<Mailer, MailError> {
        let from: Mailbox = config.mail_from.parse()?;
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())?.build()),
            None => Transport::Outbox(config.data_dir.join("outbox")),
        };
        Ok(Mailer { from, transport: Arc::new(transport) })
    }

    pub fn transport_name(&self) -> &'static str {
        match *self.transport {
            Transport::Outbox(_) => "outbox",
            Transport::Smtp(_) => "smtp",
        }
    }

    pub async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let mut builder = Message::builder().from(self.from.clone()).to(mail.to.parse()?).subject(&mail.subject);
        match mail.reply_to.as_deref().map(str::parse::<Mailbox>) {
            Some(Ok(reply_to)) => builder = builder.reply_to(reply_to),
            // A misconfigured address must not stop the mail itself.
            Some(Err(err)) => tracing::warn!(error = %err, "the Reply-To address is not valid; sending without it"),
            None => {}
        }
        let message = builder.multipart(MultiPart::alternative_plain_html(mail.text, mail.html))?;
        match &*self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await?;
            }
            Transport::Outbox(dir) => {
                let path = dir.join(format!("{}.eml", crate::db::new_id()));
                write_private(dir, &path, message.formatted()).await?;
                // Where it is, never what it says: its link may carry a reset or sign-in token.
                tracing::info!(path = %path.display(), subject = %mail.subject, "mail written to the outbox (set MAST_SMTP_URL to send it)");
            }
        }
        Ok(())
    }
}

/// Writes an outbox file that only the server's user may read, in a folder only it may open.
async fn write_private(dir: &std::path::Path, path: &std::path::Path, bytes: Vec<u8>) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut folder = tokio::fs::DirBuilder::new();
    folder.recursive(true);
    #[cfg(unix)]
    folder.mode(0o700);
    folder.create(dir).await?;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await?;
    file.write_all(&bytes).await?;
    file.flush().await
}

/// Escapes text for the HTML part of a mail.
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A plain, readable mail: a greeting, paragraphs, and an optional button with its link.
pub fn compose(to: &str, subject: &str, site: &str, paragraphs: &[&str], action: Option<(&str, &str)>) -> Mail {
    let mut text = String::new();
    let mut html = String::from("<div style=\"font-family:system-ui,sans-serif;max-width:560px;margin:0 auto;color:#1b2330\">");
    for p in paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
        html.push_str(&format!("<p>{}</p>", html_escape(p)));
    }
    if let Some((label, link)) = action {
        text.push_str(&format!("{label}: {link}\n\n"));
        html.push_str(&format!(
            "<p><a href=\"{0}\" style=\"display:inline-block;padding:10px 16px;background:#2450d6;color:#fff;\
             border-radius:6px;text-decoration:none\">{1}</a></p><p style=\"font-size:13px;color:#555\">{0}</p>",
            html_escape(link),
            html_escape(label)
        ));
    }
    text.push_str(&format!("— {site}\n"));
    html.push_str(&format!("<p style=\"color:#555\">— {}</p></div>", html_escape(site)));
    Mail { to: to.to_string(), subject: subject.to_string(), text, html, reply_to: None }
}
