//! What every server function and route can reach: database, settings, mail, password hashing,
//! the passkey relying party.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::config::Config;
use crate::db::Db;
use crate::mail::{Mail, Mailer};
use crate::passwords::PasswordHasher;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<Config>,
    pub mailer: Mailer,
    pub hasher: PasswordHasher,
    /// The relying party for passkey ceremonies; `None` when passkeys are off (IP public URL).
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// API key look-ups, cached; changes announced to every instance.
    pub keys: Arc<crate::api_keys::directory::KeyDirectory>,
    /// The time; tests move it forward.
    pub clock: crate::clock::Clock,
    /// Counters and gauges served at `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The published APIs, their references and guides, read at start.
    pub catalogue: Arc<crate::products::catalogue::Catalogue>,
}

impl AppState {
    /// The state of the request being served. Absent only when a page render was abandoned
    /// while one of its resources still runs: that resource then fails quietly rather than
    /// panicking the connection's task.
    pub fn current() -> Result<AppState, crate::error::AppError> {
        leptos::prelude::use_context::<AppState>().ok_or(crate::error::AppError::Internal)
    }

    /// Sends in the background: the answer to the user does not wait for (or reveal) the mail.
    pub fn send_mail_later(&self, mail: Mail) {
        let mailer = self.mailer.clone();
        tokio::spawn(async move {
            let subject = mail.subject.clone();
            if let Err(err) = mailer.send(mail).await {
                tracing::error!(error = %err, subject, "could not send mail");
            }
        });
    }
}

/// The client of the request being served by a server function: `X-Forwarded-For` is read only
/// from the configured trusted proxies. (Here rather than in `client`, which knows no settings.)
pub async fn current_client() -> crate::client::ClientInfo {
    use axum::extract::ConnectInfo;
    let trusted = leptos::prelude::use_context::<AppState>().map(|s| s.config.trusted_proxies.clone()).unwrap_or_default();
    let headers: http::HeaderMap = leptos_axum::extract().await.unwrap_or_default();
    let peer = leptos_axum::extract::<ConnectInfo<std::net::SocketAddr>>().await.ok().map(|c| c.0);
    crate::client::ClientInfo::from_parts(peer, &headers, &trusted)
}
