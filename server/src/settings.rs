//! Loads [`Config`]: built-in defaults, then an optional TOML file, then `MAST_*` environment
//! variables (and `DATABASE_URL`). Later layers win.

use std::path::Path;

use app::config::Config;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    match file {
        Some(path) => figment = figment.merge(Toml::file_exact(path)),
        None => figment = figment.merge(Toml::file("mast.toml")),
    }
    figment.merge(Env::prefixed("MAST_")).merge(Env::raw().only(&["DATABASE_URL"])).extract().map_err(Box::new)
}

/// The settings as they may be printed: every secret replaced.
pub fn describe(config: &Config) -> String {
    let redact_url = |url: &str| match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    };
    format!(
        "public_url={} bind={} database={} data_dir={} mail={} session_idle={}min session_absolute={}h trusted_proxies={:?} \
         upstream={} verify_endpoint={} email_api_keys={} plans={:?} default_plan={}",
        config.public_url,
        config.bind,
        redact_url(&config.database_url),
        config.data_dir.display(),
        if config.smtp_url.is_some() { "smtp (configured)" } else { "outbox" },
        config.session_idle_minutes,
        config.session_absolute_hours,
        config.trusted_proxies,
        config.upstream_url.as_deref().map(redact_url).unwrap_or_else(|| "none (built-in echo)".into()),
        if config.operator_token.is_some() { "on" } else { "off" },
        config.email_api_keys,
        config.plans.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        config.default_plan,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_never_prints_database_password() {
        let config = Config { database_url: "postgres://mast:hunter2@db:5432/mast".into(), ..Config::default() };
        let text = describe(&config);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("db:5432/mast"));
    }
}
