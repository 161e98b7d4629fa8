//! `server`: runs Mast, applies migrations, and manages admins.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use server::{settings, startup};

const CONFIG_HELP: &str = "\
CONFIGURATION
  Built-in defaults, then a TOML file (--config, or ./mast.toml when present), then
  environment variables. Secrets are never printed.

  MAST_PUBLIC_URL               URL people open [http://localhost:3000]; https turns on
                                Secure, __Host- cookies and HSTS
  MAST_BIND                     listen address [127.0.0.1:3000]
  DATABASE_URL / MAST_DATABASE_URL
                                sqlite://data/mast.db (default, created on first start)
                                or postgres://user:pass@host/db (several instances)
  MAST_DATA_DIR                 generated secrets and the mail outbox [data]
  MAST_SITE_NAME                shown in pages and mails [Mast]
  MAST_MAIL_FROM                sender [Mast <no-reply@localhost>]
  MAST_CONTACT_EMAIL            privacy contact, shown in the Privacy Policy
  MAST_SMTP_URL                 smtp://user:pass@host:587 or smtps://…:465; unset: mail is
                                written to <data_dir>/outbox/*.eml and its link logged
  MAST_SESSION_IDLE_MINUTES     idle timeout [30]
  MAST_SESSION_ABSOLUTE_HOURS   absolute timeout [12]
  MAST_TRUSTED_PROXIES          e.g. [\"10.0.0.2\"]: peers whose X-Forwarded-For is believed
  MAST_PASSWORD_HASH_CONCURRENCY  argon2id hashes at once [number of cores]
  MAST_PASSKEY_RP_ID            passkeys' relying-party id, a domain [the public URL's host];
                                an IP public URL without it turns passkeys off
  MAST_PASSKEY_EXTRA_ORIGINS    e.g. [\"https://portal.example.com\"]: more origins on that id
  MAST_API_KEY_PREFIX           the word keys start with [mast] (mast_live_…)
  MAST_API_KEY_SECRET           HMAC key for stored API keys (32+ characters; the same on
                                every instance) [generated into <data_dir>/api-key-secret]
  MAST_UPSTREAM_URL             accepted /api/… requests go here; unset: /api/v1/echo only
  MAST_UPSTREAM_TIMEOUT_SECONDS  an upstream that has not begun to answer by then gets the
                                caller 504 upstream_timeout [30]
  MAST_SHUTDOWN_GRACE_SECONDS   on SIGTERM, how long requests in flight may finish [30]
  MAST_HEADER_READ_TIMEOUT_SECONDS  a request's whole header must arrive by then, also on a
                                kept-alive connection after its last answer [10]
  MAST_BODY_READ_TIMEOUT_SECONDS  a page or form request's whole body must arrive by then [30]
  MAST_IDLE_TIMEOUT_SECONDS     a connection on which no byte moves is closed after it [120]
  MAST_MAX_CONNECTIONS          connections served at once; more wait to be accepted [4096]
  MAST_OPERATOR_TOKEN           bearer token of POST /v1/keys/verify; unset: endpoint off
  MAST_METRICS_TOKEN            bearer token of GET /metrics; unset: only direct connections
                                from this machine may read it
  MAST_EMAIL_API_KEYS           true: mail a new key after verification and on request [false]
  MAST_DEFAULT_PLAN             plan of new accounts [free]; plans are set in the TOML file
  MAST_REQUEST_LOG_QUEUE        request-log records waiting at most [65536]; more are dropped
  MAST_REQUEST_LOG_BATCH        records per write [2000]
  MAST_REQUEST_LOG_FLUSH_MS     longest wait before a write [500]
  MAST_RETENTION_REQUEST_LOG_DAYS  days request logs and usage counts are kept [730]
  MAST_RETENTION_EVENT_DAYS     days security events are kept [730]
  MAST_RETENTION_UNVERIFIED_ACCOUNT_DAYS  days before an unconfirmed sign-up is deleted [7]
  MAST_RETENTION_CONTACT_MESSAGE_DAYS  days a closed contact message is kept [365]
  MAST_CONSENT_BLOCKS_API       true: refuse API keys until new Terms/Privacy Policy are
                                accepted [false: keys keep working]
  MAST_OPERATOR_EMAIL           where contact-form messages are announced [contact email]
  RUST_LOG                      log filter [info]; add mast::access=debug for a line per
                                request; MAST_LOG_FORMAT=json for JSON lines";

#[derive(Parser)]
#[command(name = "server", version, about = "Mast: a self-hosted developer portal", after_long_help = CONFIG_HELP)]
struct Cli {
    /// A TOML settings file (keys as the variables above, without MAST_ and in lower case).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve,
    /// Check the settings and every product's OpenAPI document and guides, then exit: 0 when
    /// `serve` would start, else the file, line and reason of the first problem.
    CheckConfig,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Delete now what the retention periods say has been kept long enough (the server also
    /// does this every hour), print what went, then exit.
    Prune,
    /// Development and benchmarks only: made-up accounts, keys and request logs over past
    /// days. Refuses a database that holds any real account.
    Seed {
        #[arg(long, default_value_t = 100)]
        accounts: usize,
        #[arg(long, default_value_t = 3)]
        keys: usize,
        #[arg(long, default_value_t = 1_000_000)]
        requests: u64,
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    /// Grant or revoke the admin role (there are no default accounts).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Make the account with this email an admin.
    Grant { email: String },
    /// Make the account with this email a developer again.
    Revoke { email: String },
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn"));
    if std::env::var("MAST_LOG_FORMAT").as_deref() == Ok("json") {
        tracing_subscriber::fmt().with_env_filter(filter).json().init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let config = match settings::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(problem) => {
            eprintln!("error: {problem}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => return check_config(&config),
        Command::Serve => serve(config).await,
        Command::Migrate => startup::open_database(&config)
            .await
            .map(|db| {
                tracing::info!(backend = db.backend_name(), "migrations applied");
            })
            .map_err(|e| e.to_string()),
        Command::Prune => prune(config).await,
        Command::Admin { action } => admin(config, action).await,
        Command::Seed { accounts, keys, requests, days } => {
            seed(config, server::seed::SeedPlan { accounts, keys_per_account: keys, records: requests, days }).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(config: &app::config::Config) -> ExitCode {
    match startup::check_config(config) {
        Ok(catalogue) => {
            let file = config.config_file.as_ref().map_or("built-in defaults and the environment".into(), |f| f.display().to_string());
            println!("ok: {file}");
            for product in &catalogue.products {
                let r = &product.reference;
                println!(
                    "  {} ({}): OpenAPI {}, version {}, {} operations, {} webhooks, {} models, {} guides",
                    product.config.slug,
                    product.config.name,
                    r.openapi,
                    r.version,
                    r.operations.len(),
                    r.webhooks.len(),
                    r.models.len(),
                    product.guides.len()
                );
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

async fn serve(config: app::config::Config) -> Result<(), String> {
    tracing::info!(settings = %settings::describe(&config), "starting Mast");
    let state = startup::build_state(config).await.map_err(|e| e.to_string())?;
    let running = startup::bind(state).await.map_err(|e| e.to_string())?;
    tracing::info!(addr = %running.addr, url = %running.state.config.public_url, mail = running.state.mailer.transport_name(), "listening");
    running.serve(startup::shutdown_signal()).await.map_err(|e| e.to_string())
}

async fn prune(config: app::config::Config) -> Result<(), String> {
    let db = startup::open_database(&config).await.map_err(|e| e.to_string())?;
    let periods = app::retention::Periods::from_config(&config);
    let swept = app::retention::sweep(&db, &periods, app::db::now()).await.map_err(|e| e.to_string())?;
    println!(
        "deleted {} rows: {} sessions, {} email links, {} throttle entries, {} security events, {} request-log records, \
         {}/{}/{} usage counts (minute/hour/day), {} unconfirmed accounts, {} contact messages",
        swept.total(),
        swept.sessions,
        swept.email_tokens,
        swept.throttles,
        swept.events,
        swept.request_logs,
        swept.usage_minutes,
        swept.usage_hours,
        swept.usage_days,
        swept.unverified_accounts,
        swept.contact_messages
    );
    db.close().await;
    Ok(())
}

async fn seed(config: app::config::Config, plan: server::seed::SeedPlan) -> Result<(), String> {
    let state = startup::build_state(config).await.map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let emails = server::seed::seed(&state, plan, |n| println!("{n} requests written ({:.0} s)", started.elapsed().as_secs_f64())).await?;
    println!(
        "seeded {} accounts with {} keys each and {} requests over {} days in {:.0} s; sign in as {} with the password {}",
        plan.accounts,
        plan.keys_per_account,
        plan.records,
        plan.days,
        started.elapsed().as_secs_f64(),
        emails.first().map_or("-", String::as_str),
        server::seed::PASSWORD
    );
    Ok(())
}

async fn admin(config: app::config::Config, action: AdminAction) -> Result<(), String> {
    let db = startup::open_database(&config).await.map_err(|e| e.to_string())?;
    let (email, role) = match &action {
        AdminAction::Grant { email } => (email, "admin"),
        AdminAction::Revoke { email } => (email, "developer"),
    };
    let found = app::accounts::store::set_role(&db, &app::accounts::normalize_email(email), role, app::db::now())
        .await
        .map_err(|e| e.to_string())?;
    if !found {
        return Err(format!("no account with the email {email}"));
    }
    app::events::store::record(
        &db,
        app::events::store::NewEvent {
            kind: if role == "admin" { app::events::kind::ADMIN_GRANTED } else { app::events::kind::ADMIN_REVOKED },
            account_id: app::accounts::store::find_account_by_email(&db, &app::accounts::normalize_email(email))
                .await
                .ok()
                .flatten()
                .map(|a| a.account_id),
            actor_account_id: None,
            client: None,
            detail: serde_json::json!({ "via": "command line" }),
        },
    )
    .await;
    println!("{email} is now {role}");
    Ok(())
}
