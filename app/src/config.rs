//! Installation settings. Defaults run out of the box; the server crate layers a TOML file and
//! `MAST_*` environment variables over them. Secrets are `SecretString`, never printed.

use std::net::IpAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// The URL people open; its scheme decides the cookie's Secure flag and `__Host-` prefix.
    pub public_url: String,
    /// Address the HTTP server listens on.
    pub bind: String,
    /// `sqlite://…` (embedded, the default) or `postgres://…`.
    pub database_url: String,
    /// Generated secrets and the mail outbox live here.
    pub data_dir: PathBuf,
    /// Shown in pages, mails and the policies; also refused as a password.
    pub site_name: String,
    /// Sender of every mail, e.g. `Mast <no-reply@example.com>`.
    pub mail_from: String,
    /// Where people write about privacy; shown in the Privacy Policy.
    pub contact_email: String,
    /// `smtp://user:pass@host:587` (STARTTLS) or `smtps://…:465`; unset writes mail to `data/outbox/`.
    #[serde(skip_serializing)]
    pub smtp_url: Option<SecretString>,
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: u32,
    /// A session ends this many hours after sign-in, however active.
    pub session_absolute_hours: u32,
    /// Peers whose `X-Forwarded-For` is believed (your load balancer). Empty: never.
    pub trusted_proxies: Vec<IpAddr>,
    /// At most this many password hashes computed at once (argon2id uses 19 MiB each).
    pub password_hash_concurrency: usize,
    /// Passkeys' relying-party id: a domain, the public URL's host unless set. Passkeys made
    /// for one id work only there, so choose it once (e.g. `example.com` for all subdomains).
    pub passkey_rp_id: Option<String>,
    /// More origins allowed in passkey ceremonies besides the public URL's (each on the RP id).
    pub passkey_extra_origins: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            public_url: "http://localhost:3000".into(),
            bind: "127.0.0.1:3000".into(),
            database_url: "sqlite://data/mast.db".into(),
            data_dir: PathBuf::from("data"),
            site_name: "Mast".into(),
            mail_from: "Mast <no-reply@localhost>".into(),
            contact_email: "privacy@localhost".into(),
            smtp_url: None,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            trusted_proxies: Vec::new(),
            password_hash_concurrency: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            passkey_rp_id: None,
            passkey_extra_origins: Vec::new(),
        }
    }
}

impl Config {
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The origin (`scheme://host[:port]`) of the public URL, as browsers send it in `Origin`.
    pub fn public_origin(&self) -> String {
        let url = self.public_url.trim_end_matches('/');
        match url.find("://") {
            Some(i) => match url[i + 3..].find('/') {
                Some(j) => url[..i + 3 + j].to_string(),
                None => url.to_string(),
            },
            None => url.to_string(),
        }
    }

    /// An absolute link to `path` (which starts with `/`).
    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.public_url.trim_end_matches('/'), path)
    }

    pub fn session_cookie_name(&self) -> &'static str {
        if self.is_https() { "__Host-mast_session" } else { "mast_session" }
    }
}
