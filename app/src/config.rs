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
    /// The word keys start with: `mast` gives `mast_live_…` and `mast_test_…`.
    pub api_key_prefix: String,
    /// Key for the keys' HMAC-SHA256; unset: generated into `data_dir/api-key-secret` on first start.
    /// Changing it invalidates every key.
    #[serde(skip_serializing)]
    pub api_key_secret: Option<SecretString>,
    /// Mail a fresh key after verification and on request. Off: keys are only ever shown once on screen.
    pub email_api_keys: bool,
    /// The plans accounts can be on; limits apply per account.
    pub plans: Vec<Plan>,
    /// The plan of every account that has not been given another.
    pub default_plan: String,
    /// Accepted `/api/…` requests are forwarded here (`/api/v1/x` → `<upstream>/v1/x`); unset: only
    /// the built-in `/api/v1/echo` answers.
    pub upstream_url: Option<String>,
    /// An upstream that has not begun its answer after this many seconds gets the caller a
    /// `504 upstream_timeout` (a hung service must not hold connections, nor a shutdown, forever).
    pub upstream_timeout_seconds: u64,
    /// On SIGTERM, requests in flight get this many seconds to finish; connections still open
    /// after it are closed, so a stop always ends.
    pub shutdown_grace_seconds: u64,
    /// A client must send a request's whole header within this many seconds of the server
    /// waiting for it (a new connection, or a kept-alive one after its last answer).
    pub header_read_timeout_seconds: u64,
    /// A site request (pages, forms) must send its whole body within this many seconds.
    pub body_read_timeout_seconds: u64,
    /// A connection on which no byte moves either way for this many seconds is closed (a
    /// client that stopped reading an answer, or stopped sending a body).
    pub idle_timeout_seconds: u64,
    /// Connections served at once; more wait in the listen queue until one closes.
    pub max_connections: usize,
    /// Bearer token of `POST /v1/keys/verify`, for operators with their own gateway; unset: that endpoint is off.
    #[serde(skip_serializing)]
    pub operator_token: Option<SecretString>,
    /// Bearer token of `GET /metrics`; unset: served only to direct connections from this machine.
    #[serde(skip_serializing)]
    pub metrics_token: Option<SecretString>,
    /// Request-log records waiting for the writer at most; more are dropped and counted, never waited for.
    pub request_log_queue: usize,
    /// The writer commits a batch when it holds this many records or after this many milliseconds.
    pub request_log_batch: usize,
    pub request_log_flush_ms: u64,
    /// Days API request logs and their usage counts are kept.
    pub retention_request_log_days: u32,
    /// Days security events are kept.
    pub retention_event_days: u32,
    /// Days before an account whose address was never confirmed is deleted.
    pub retention_unverified_account_days: u32,
    /// Days a contact message is kept after it was closed.
    pub retention_contact_message_days: u32,
    /// When a new version of the Terms or the Privacy Policy awaits acceptance, refuse the
    /// account's API keys (`consent_required`) until it is accepted. Off: keys keep working.
    pub consent_blocks_api: bool,
    /// Where contact-form messages are announced; unset: `contact_email`.
    pub operator_email: Option<String>,
    /// The APIs this portal publishes (`[[products]]`), each under `/api/<slug>/…` with its own
    /// upstream and reference docs. Empty: one API at `/api/…` (`upstream_url`, or the echo).
    pub products: Vec<ProductConfig>,
    /// The settings file, when one was read: products' documents and guides are found relative
    /// to its folder, and problems are reported with its lines.
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
}

/// One published API, as the operator declares it in `mast.toml`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ProductConfig {
    /// `/api/<slug>/…` and `/docs/<slug>`: 1–32 of a-z, 0-9 and '-'.
    pub slug: String,
    pub name: String,
    /// Accepted calls go here: `/api/<slug>/v1/x?y` → `<upstream_url>/v1/x?y`.
    pub upstream_url: String,
    /// OpenAPI 3.0 or 3.1 document, YAML or JSON, relative to the settings file.
    pub openapi: PathBuf,
    /// Plans whose keys may call it; unset: every plan.
    #[serde(default)]
    pub plans: Option<Vec<String>>,
    /// Who may read its docs.
    #[serde(default)]
    pub docs: DocsAccess,
    /// A folder of Markdown guides shown beside the reference, relative to the settings file.
    #[serde(default)]
    pub guides: Option<PathBuf>,
    /// Operations that stop working on a date (`[[products.sunsets]]`).
    #[serde(default)]
    pub sunsets: Vec<SunsetConfig>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DocsAccess {
    /// Readable signed out (search engines too).
    #[default]
    Public,
    /// Only for signed-in people.
    Developers,
}

/// `[[products.sunsets]] path = "/v1/pets/{id}" method = "GET" date = "2027-06-30"`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct SunsetConfig {
    /// A path template of the product's document.
    pub path: String,
    pub method: String,
    /// The last day it answers (UTC), `YYYY-MM-DD`.
    pub date: String,
}

impl ProductConfig {
    /// Whether keys on `plan` may call this product.
    pub fn allows_plan(&self, plan: &str) -> bool {
        self.plans.as_ref().is_none_or(|plans| plans.iter().any(|p| p == plan))
    }
}

/// A plan: how many API requests an account may make per minute and per calendar month (UTC).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Plan {
    pub name: String,
    pub requests_per_minute: u32,
    pub requests_per_month: u64,
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
            api_key_prefix: "mast".into(),
            api_key_secret: None,
            email_api_keys: false,
            plans: vec![
                Plan { name: "free".into(), requests_per_minute: 60, requests_per_month: 10_000 },
                Plan { name: "pro".into(), requests_per_minute: 1_200, requests_per_month: 1_000_000 },
            ],
            default_plan: "free".into(),
            upstream_url: None,
            upstream_timeout_seconds: 30,
            shutdown_grace_seconds: 30,
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 30,
            idle_timeout_seconds: 120,
            max_connections: 4096,
            operator_token: None,
            metrics_token: None,
            request_log_queue: 65_536,
            request_log_batch: 2_000,
            request_log_flush_ms: 500,
            retention_request_log_days: 730,
            retention_event_days: 730,
            retention_unverified_account_days: 7,
            retention_contact_message_days: 365,
            consent_blocks_api: false,
            operator_email: None,
            products: Vec::new(),
            config_file: None,
        }
    }
}

/// A problem in the settings or in a file they name: where it is and why, as
/// `mast.toml:12: reason`. `setting` (e.g. `products.1.slug`) lets the settings loader find the
/// line of a problem found after loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub setting: Option<String>,
    pub reason: String,
}

impl ConfigProblem {
    pub fn in_file(file: impl Into<PathBuf>, line: Option<usize>, reason: impl Into<String>) -> ConfigProblem {
        ConfigProblem { file: file.into(), line, setting: None, reason: reason.into() }
    }

    /// A problem with one setting (a dotted path such as `products.0.upstream_url`).
    pub fn setting(config: &Config, setting: impl Into<String>, reason: impl Into<String>) -> ConfigProblem {
        let file = config.config_file.clone().unwrap_or_else(|| PathBuf::from("(settings)"));
        ConfigProblem { file, line: None, setting: Some(setting.into()), reason: reason.into() }
    }
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

impl std::error::Error for ConfigProblem {}

impl Config {
    /// Where paths in the settings are relative to: the settings file's folder, else the
    /// working directory.
    pub fn relative_path(&self, path: &std::path::Path) -> PathBuf {
        match self.config_file.as_ref().and_then(|f| f.parent()) {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

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

    /// The plan called `name`, or the default plan when there is none of that name.
    pub fn plan(&self, name: Option<&str>) -> &Plan {
        static FALLBACK: std::sync::OnceLock<Plan> = std::sync::OnceLock::new();
        name.and_then(|n| self.plans.iter().find(|p| p.name == n))
            .or_else(|| self.plans.iter().find(|p| p.name == self.default_plan))
            .or(self.plans.first())
            .unwrap_or_else(|| FALLBACK.get_or_init(|| Config::default().plans[0].clone()))
    }

    pub fn session_cookie_name(&self) -> &'static str {
        if self.is_https() { "__Host-mast_session" } else { "mast_session" }
    }
}
