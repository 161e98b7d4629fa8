//! Builds the running server from [`Config`]: database, migrations, mail, sessions, routes.

use std::net::SocketAddr;
use std::sync::Arc;

use app::config::Config;
use app::db::Db;
use app::mail::Mailer;
use app::passwords::PasswordHasher;
use app::sessions::store::DbSessionStore;
use app::state::AppState;
use app::{App, shell};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::security;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Db(#[from] app::db::DbError),
    #[error("mail settings: {0}")]
    Mail(#[from] app::mail::MailError),
    #[error("bind address {0:?} is not ip:port")]
    Bind(String),
    #[error("cannot create the data folder {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("public_url must start with http:// or https:// (got {0:?})")]
    PublicUrl(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Passkeys(#[from] app::passkeys::relying_party::RelyingPartyError),
}

/// Opens the database named by the settings and applies pending migrations.
pub async fn open_database(config: &Config) -> Result<Db, StartError> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    Ok(db)
}

pub fn leptos_options(config: &Config) -> Result<LeptosOptions, StartError> {
    let addr: SocketAddr = config.bind.parse().map_err(|_| StartError::Bind(config.bind.clone()))?;
    let env = match std::env::var("LEPTOS_ENV").as_deref() {
        Ok("DEV") | Ok("dev") => leptos::config::Env::DEV,
        _ => leptos::config::Env::PROD,
    };
    Ok(LeptosOptions::builder()
        .output_name("mast")
        .site_root(std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into()))
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .env(env)
        .reload_port(std::env::var("LEPTOS_RELOAD_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3001))
        .build())
}

pub async fn build_state(config: Config) -> Result<AppState, StartError> {
    if !(config.public_url.starts_with("http://") || config.public_url.starts_with("https://")) {
        return Err(StartError::PublicUrl(config.public_url));
    }
    let webauthn = match app::passkeys::relying_party::from_config(&config)? {
        app::passkeys::relying_party::Passkeys::On(webauthn) => Some(webauthn),
        app::passkeys::relying_party::Passkeys::Off { reason } => {
            tracing::warn!("passkeys are off: {reason}");
            None
        }
    };
    std::fs::create_dir_all(&config.data_dir).map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
    let db = open_database(&config).await?;
    let mailer = Mailer::from_config(&config)?;
    let hasher = PasswordHasher::new(config.password_hash_concurrency);
    hasher.warm_up();
    Ok(AppState { leptos_options: leptos_options(&config)?, db, config: Arc::new(config), mailer, hasher, webauthn })
}

pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let sessions =
        SessionManagerLayer::new(DbSessionStore::new(state.db.clone(), time::Duration::hours(i64::from(config.session_absolute_hours))))
            .with_name(config.session_cookie_name())
            .with_secure(config.is_https())
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_path("/")
            .with_always_save(true)
            .with_expiry(Expiry::OnInactivity(time::Duration::minutes(i64::from(config.session_idle_minutes))));

    let routes = generate_route_list(App);
    Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .leptos_routes_with_context(&state, routes, || (), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(|| (), shell))
        .layer(axum::middleware::from_fn(crate::rpc_status::set_error_status))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::guard))
        .with_state(state)
}

/// A server that is listening; `serve` runs it until the shutdown signal.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    listener: tokio::net::TcpListener,
}

pub async fn bind(state: AppState) -> Result<Running, StartError> {
    let listener = tokio::net::TcpListener::bind(&state.config.bind).await?;
    Running::on(listener, state)
}

impl Running {
    /// Serves on a listener bound elsewhere (tests bind port 0 first to learn their URL).
    pub fn on(listener: tokio::net::TcpListener, state: AppState) -> Result<Running, StartError> {
        Ok(Running { addr: listener.local_addr()?, state, listener })
    }

    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        app::retention::spawn_hourly(self.state.db.clone());
        let app = router(self.state.clone());
        // Pages stream in several writes: without TCP_NODELAY each one waits ~40 ms for an ACK.
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let result = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(shutdown).await;
        self.state.db.close().await;
        result
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}
