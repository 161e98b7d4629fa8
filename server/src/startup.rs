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

use crate::gateway::limits::{Quotas, RateLimiter};
use crate::gateway::{Gateway, Routes};
use crate::operations::{self, Draining};
use crate::{request_log, security};
use app::api_keys::directory::KeyDirectory;
use app::api_keys::secret::KeyHasher;
use app::products::catalogue::Catalogue;

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
    #[error("API key secret: {0}")]
    KeySecret(#[from] app::api_keys::secret::SecretError),
    #[error("{0}")]
    Settings(String),
    #[error("{0}")]
    Config(app::config::ConfigProblem),
}

/// Settings that would fail later, refused at start with a message that says how to fix them.
fn check_settings(config: &Config) -> Result<(), StartError> {
    let bad = |m: String| Err(StartError::Settings(m));
    if !app::api_keys::format::is_valid_word(&config.api_key_prefix) {
        return bad(format!("api_key_prefix must be 1-16 lower-case letters or digits (got {:?})", config.api_key_prefix));
    }
    if config.plans.is_empty() {
        return bad("plans must name at least one plan".into());
    }
    if !config.plans.iter().any(|p| p.name == config.default_plan) {
        return bad(format!("default_plan {:?} is not one of the plans", config.default_plan));
    }
    let mut names: Vec<&str> = config.plans.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return bad("two plans have the same name".into());
    }
    for (name, seconds) in [
        ("upstream_timeout_seconds", config.upstream_timeout_seconds),
        ("header_read_timeout_seconds", config.header_read_timeout_seconds),
        ("body_read_timeout_seconds", config.body_read_timeout_seconds),
        ("idle_timeout_seconds", config.idle_timeout_seconds),
    ] {
        if seconds == 0 {
            return bad(format!("{name} must be at least 1"));
        }
    }
    // A short bearer token can be guessed; an empty one would match an empty header.
    for (name, token) in [("operator_token", &config.operator_token), ("metrics_token", &config.metrics_token)] {
        if let Some(token) = token {
            use secrecy::ExposeSecret;
            let length = token.expose_secret().chars().count();
            if length < 32 {
                return bad(format!(
                    "{name} must be at least 32 characters (it has {length}); generate one with `openssl rand -hex 32`, or leave it unset"
                ));
            }
        }
    }
    if config.max_connections == 0 {
        return bad("max_connections must be at least 1".into());
    }
    if let Some(url) = &config.upstream_url {
        let timeout = std::time::Duration::from_secs(config.upstream_timeout_seconds);
        crate::gateway::forward::Upstream::new(url, timeout, config.session_cookie_name()).map_err(StartError::Settings)?;
    }
    Ok(())
}

/// Everything `serve` would refuse to start on, without opening the database: the settings,
/// then every product's OpenAPI document and guides. What `server check-config` runs.
pub fn check_config(config: &Config) -> Result<Catalogue, StartError> {
    if !(config.public_url.starts_with("http://") || config.public_url.starts_with("https://")) {
        return Err(StartError::PublicUrl(config.public_url.clone()));
    }
    check_settings(config)?;
    Catalogue::load(config).map_err(|problem| StartError::Config(crate::settings::locate(problem)))
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
    let site_root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
    // `cargo leptos build` names the bundle files after their content and lists the names in
    // <site>/hash.txt (Cargo.toml), so the site folder alone says which files a page loads.
    // Leptos joins this path to the binary's folder: an absolute path keeps it in the site.
    let hash_file = std::path::absolute(std::path::Path::new(&site_root).join("hash.txt"))?;
    let hash_files = hash_file.is_file();
    Ok(LeptosOptions::builder()
        .output_name("mast")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .hash_files(hash_files)
        .hash_file(Arc::from(hash_file.to_string_lossy().as_ref()))
        .site_addr(addr)
        .env(env)
        .reload_port(std::env::var("LEPTOS_RELOAD_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3001))
        .build())
}

pub async fn build_state(config: Config) -> Result<AppState, StartError> {
    let catalogue = check_config(&config)?;
    let webauthn = match app::passkeys::relying_party::from_config(&config)? {
        app::passkeys::relying_party::Passkeys::On(webauthn) => Some(webauthn),
        app::passkeys::relying_party::Passkeys::Off { reason } => {
            tracing::warn!("passkeys are off: {reason}");
            None
        }
    };
    std::fs::create_dir_all(&config.data_dir).map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
    // Secrets, mail with links and (by default) the database live here: for the server's user only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
    }
    let db = open_database(&config).await?;
    let keys = Arc::new(KeyDirectory::new(db.clone(), KeyHasher::from_config(&config)?));
    let mailer = Mailer::from_config(&config)?;
    let hasher = PasswordHasher::new(config.password_hash_concurrency);
    hasher.warm_up();
    Ok(AppState {
        leptos_options: leptos_options(&config)?,
        db,
        config: Arc::new(config),
        mailer,
        hasher,
        webauthn,
        keys,
        clock: Default::default(),
        metrics: Default::default(),
        catalogue: Arc::new(catalogue),
    })
}

/// The whole HTTP surface: operations (`/healthz`, `/readyz`, `/metrics`), the API's OpenAPI
/// document, the protected API (no sessions, no CSRF guard: API clients send keys, not cookies)
/// and the site.
pub fn router(state: AppState, gateway: Arc<Gateway>, draining: Draining) -> Router {
    Router::new()
        .merge(operations::router(state.clone(), gateway.log.clone(), draining))
        .route("/openapi.json", axum::routing::get(crate::openapi::document))
        .merge(crate::gateway::router(gateway.clone()))
        .merge(site_router(state.clone(), gateway))
        .layer(axum::middleware::from_fn_with_state(state, operations::observe))
}

/// The app's page routes, listed once per process and shared by every server it starts.
///
/// Listing renders the whole app once with resource loading switched off process-wide
/// (leptos_server's `SuppressResourceLoad`, leptos-rs/leptos#4773): a page another server in the
/// same process renders meanwhile would wait forever for its data. And that render leaves tasks
/// behind (the header's viewer look-up, never to finish) on whatever runtime it ran on; torn down
/// together with a runtime's live page renders they have been seen to deadlock a worker inside
/// the reactive owner tree. So the listing runs once, on a thread and runtime of its own that are
/// kept for the life of the process and never run anything else.
pub fn page_routes() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    static LISTING_RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    ROUTES
        .get_or_init(|| {
            std::thread::spawn(|| {
                #[allow(clippy::expect_used)] // a current-thread runtime without I/O: nothing to fail on
                let runtime = LISTING_RUNTIME.get_or_init(|| {
                    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime for the route listing")
                });
                runtime.block_on(async { generate_route_list(App) })
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
        .clone()
}

fn site_router(state: AppState, gateway: Arc<Gateway>) -> Router {
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

    Router::new()
        .merge(crate::exports::router())
        .merge(crate::documents::router())
        .merge(crate::try_it::router(gateway))
        .leptos_routes_with_context(&state, page_routes(), app::provide_page_nonce, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(app::provide_page_nonce, shell))
        .layer(bundle_compression())
        .layer(axum::middleware::from_fn(crate::rpc_status::set_error_status))
        .layer(axum::middleware::from_fn(crate::rpc_status::redirects_carry_no_page))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::guard))
        .layer(axum::middleware::from_fn(crate::run_to_end::run_to_end))
        .layer(axum::middleware::from_fn_with_state(
            std::time::Duration::from_secs(config.body_read_timeout_seconds),
            crate::connections::body_deadline,
        ))
        .with_state(state)
}

/// Brotli or gzip for the wasm, JavaScript, CSS and SVG files when the build did not leave a
/// compressed copy beside them (`cargo leptos build --release --precompress` does; those are
/// sent as they are). Pages and server-function answers stay uncompressed: they carry personal
/// data next to text a visitor can choose, the combination BREACH reads through compression.
fn bundle_compression() -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::{CompressionLayer, CompressionLevel, Predicate, predicate::SizeAbove};
    let bundle_file = |_: http::StatusCode, _: http::Version, headers: &http::HeaderMap, _: &http::Extensions| {
        let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        ["application/wasm", "text/javascript", "application/javascript", "text/css", "image/svg+xml"]
            .iter()
            .any(|t| content_type.starts_with(t))
    };
    CompressionLayer::new().quality(CompressionLevel::Precise(5)).compress_when(SizeAbove::new(1024).and(bundle_file))
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
        app::retention::spawn_hourly(self.state.clone());
        app::deprecations::spawn_notices(self.state.clone());
        app::api_keys::issue::spawn_console_key_sweep(self.state.clone());
        self.state.keys.spawn_listener();
        let config = &self.state.config;
        let quotas = Arc::new(Quotas::new(self.state.db.clone()));
        let (log, writer) = request_log::start(
            self.state.db.clone(),
            quotas.clone(),
            self.state.metrics.clone(),
            config.request_log_queue,
            config.request_log_batch,
            std::time::Duration::from_millis(config.request_log_flush_ms),
        );
        // The settings were checked when the state was built: these build.
        let mut routes = Routes::from_config(config, &self.state.catalogue).map_err(std::io::Error::other)?;
        routes
            .load_deprecations(&self.state.catalogue, &self.state.db, &config.public_url, self.state.clock.now())
            .await
            .map_err(std::io::Error::other)?;
        let gateway = Arc::new(Gateway {
            app: self.state.clone(),
            limiter: RateLimiter::default(),
            unknown_keys: Default::default(),
            quotas,
            log: log.clone(),
            routes,
        });
        let draining = Draining::default();
        let app = router(self.state.clone(), gateway, draining.clone());
        let (signalled, grace_starts) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            shutdown.await;
            draining.begin();
            let _ = signalled.send(());
        };
        let serving = crate::connections::serve(self.listener, app, crate::connections::Limits::from_config(config), shutdown);
        // A graceful stop waits for every open connection; one that never ends (a hung upstream,
        // a client that stops reading) must not hold the process, nor the log flush, forever.
        let grace = std::time::Duration::from_secs(config.shutdown_grace_seconds);
        let grace_over = async move {
            if grace_starts.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            () = serving => {},
            () = grace_over => {
                tracing::warn!(seconds = grace.as_secs(), "shutdown grace period over: closing the connections still open");
            }
        }
        // Every request has been answered: write what the log still holds, then close.
        writer.shutdown().await;
        tracing::info!(written = log.counters.written.get(), dropped = log.counters.dropped.get(), "request log closed");
        self.state.db.close().await;
        Ok(())
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
