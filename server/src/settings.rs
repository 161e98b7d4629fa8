//! Loads [`Config`]: built-in defaults, then an optional TOML file, then `MAST_*` environment
//! variables (and `DATABASE_URL`). Later layers win.
//!
//! The file is read strictly: a setting Mast does not know (a typo, or a table of a newer
//! release) stops the start with its line and the nearest known name, instead of being ignored.

use std::path::{Path, PathBuf};

use app::config::{Config, ConfigProblem, Plan, ProductConfig, SunsetConfig};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

/// The file read when no `--config` is given, if it exists.
pub const DEFAULT_FILE: &str = "mast.toml";

pub fn load(file: Option<&Path>) -> Result<Config, ConfigProblem> {
    let path = match file {
        Some(path) => Some(path.to_path_buf()),
        None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
    };
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = &path {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigProblem::in_file(path, None, format!("cannot read it: {e}")))?;
        check_file(path, &text)?;
        figment = figment.merge(Toml::string(&text));
    }
    let mut config: Config = figment.merge(Env::prefixed("MAST_")).merge(Env::raw().only(&["DATABASE_URL"])).extract().map_err(|e| {
        let file = path.clone().unwrap_or_else(|| PathBuf::from("(environment)"));
        ConfigProblem::in_file(file, None, e.to_string())
    })?;
    config.config_file = path.map(|p| std::path::absolute(&p).unwrap_or(p));
    for warning in unknown_environment(std::env::vars().map(|(name, _)| name)) {
        tracing::warn!("{warning}");
    }
    Ok(config)
}

/// Gives a problem found after loading (it names a setting) the line of that setting.
pub fn locate(mut problem: ConfigProblem) -> ConfigProblem {
    if problem.line.is_none()
        && let Some(setting) = &problem.setting
        && let Ok(text) = std::fs::read_to_string(&problem.file)
    {
        problem.line = line_of_setting(&text, setting);
    }
    problem
}

/// The file alone must be valid settings, with nothing Mast does not know.
fn check_file(path: &Path, text: &str) -> Result<(), ConfigProblem> {
    let mut unknown = Vec::new();
    let parsed: Result<Config, toml::de::Error> =
        serde_ignored::deserialize(toml::Deserializer::new(text), |setting| unknown.push(setting.to_string().replace("?.", "")));
    match (unknown.first(), parsed) {
        // A mistyped name also makes its setting "missing": the name is the thing to fix.
        (None, Err(err)) => {
            let line = err.span().map(|span| line_at(text, span.start));
            Err(ConfigProblem::in_file(path, line, err.message().trim().to_string()))
        }
        (None, Ok(_)) => Ok(()),
        (Some(setting), _) => {
            let (parent, name) = setting.rsplit_once('.').unwrap_or(("", setting));
            let known = known_names(parent);
            let hint = nearest(name, &known).map(|n| format!("; did you mean `{n}`?")).unwrap_or_default();
            let place = match parent {
                "" => String::new(),
                p => format!(" in {}", describe_table(p)),
            };
            Err(ConfigProblem::in_file(path, line_of_setting(text, setting), format!("unknown setting `{name}`{place}{hint}")))
        }
    }
}

/// `products.1.sunsets.0` → "[[products.sunsets]] #1 of [[products]] #2", for people.
fn describe_table(path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    let mut tables = Vec::new();
    for pair in parts.chunks(2) {
        tables.push(pair[0]);
        match pair.get(1).and_then(|i| i.parse::<usize>().ok()) {
            Some(i) => out.push(format!("[[{}]] #{}", tables.join("."), i + 1)),
            None => out.push(format!("[{}]", tables.join("."))),
        }
    }
    out.reverse();
    out.join(" of ")
}

/// The names a table at `parent` may hold (`""`: the top level).
fn known_names(parent: &str) -> Vec<String> {
    let shape: String = parent.split('.').filter(|p| p.parse::<usize>().is_err()).collect::<Vec<_>>().join(".");
    let names_of = |value: serde_json::Value| value.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    match shape.as_str() {
        "" => {
            let mut names = names_of(serde_json::to_value(Config::default()).unwrap_or_default());
            // Secrets are never serialised, so they are named here.
            names.extend(["smtp_url", "api_key_secret", "operator_token", "metrics_token"].map(String::from));
            names
        }
        "plans" => {
            names_of(serde_json::to_value(Plan { name: String::new(), requests_per_minute: 0, requests_per_month: 0 }).unwrap_or_default())
        }
        "products" => names_of(serde_json::to_value(sample_product()).unwrap_or_default()),
        "products.sunsets" => names_of(
            serde_json::to_value(SunsetConfig { path: String::new(), method: String::new(), date: String::new() }).unwrap_or_default(),
        ),
        _ => Vec::new(),
    }
}

fn sample_product() -> ProductConfig {
    ProductConfig {
        slug: String::new(),
        name: String::new(),
        upstream_url: String::new(),
        openapi: PathBuf::new(),
        plans: Some(Vec::new()),
        docs: Default::default(),
        guides: Some(PathBuf::new()),
        sunsets: Vec::new(),
    }
}

/// The known name closest to a mistyped one, when it is close enough to be what was meant.
fn nearest<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), k))
        .filter(|(distance, k)| *distance <= 3.max(k.len() / 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k.as_str())
}

/// `MAST_*` variables that name no setting: most likely typos, which would otherwise be
/// silently ignored. (Not refused: test and benchmark tools use the prefix too.)
fn unknown_environment(names: impl Iterator<Item = String>) -> Vec<String> {
    const OTHERS: &[&str] = &["MAST_LOG_FORMAT", "MAST_TEST_", "MAST_E2E_", "MAST_LOAD_", "MAST_SCALE_", "MAST_BENCH_"];
    let known: Vec<String> = known_names("").iter().map(|n| format!("MAST_{}", n.to_ascii_uppercase())).collect();
    names
        .filter(|n| n.starts_with("MAST_") && !OTHERS.iter().any(|o| n.starts_with(o)) && !known.contains(n))
        .map(|n| match nearest(&n, &known) {
            Some(k) => format!("{n} is not a setting of Mast and is ignored; did you mean {k}?"),
            None => format!("{n} is not a setting of Mast and is ignored"),
        })
        .collect()
}

/// The 1-based line of the byte at `offset`.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of a setting such as `products.1.upstream_url` in a TOML file written the usual way
/// (`[[products]]` headers, `key = value` lines); `None` when it is written otherwise.
pub fn line_of_setting(text: &str, setting: &str) -> Option<usize> {
    let parts: Vec<&str> = setting.split('.').collect();
    // The table that holds the key: names and the index of each array of tables.
    let (table, key): (Vec<(&str, Option<usize>)>, &str) = {
        let mut table = Vec::new();
        let mut i = 0;
        while i + 1 < parts.len() {
            let index = parts.get(i + 1).and_then(|p| p.parse::<usize>().ok());
            table.push((parts[i], index));
            i += if index.is_some() { 2 } else { 1 };
        }
        if i >= parts.len() {
            // The path ends with an index: the line of that table's header.
            let last = table.pop()?;
            let header = header_line(text, &table, last)?;
            return Some(header);
        }
        (table, parts[i])
    };
    let start = if table.is_empty() {
        0
    } else {
        let (outer, last) = table.split_at(table.len() - 1);
        header_line(text, outer, last[0])?
    };
    let is_key = |line: &str| {
        let line = line.trim();
        line.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
            || line == format!("[{key}]")
            || line == format!("[[{key}]]")
    };
    for (n, line) in text.lines().enumerate().skip(start) {
        if is_key(line) {
            return Some(n + 1);
        }
        if line.trim_start().starts_with('[') {
            return None;
        }
    }
    None
}

/// The line (1-based) of the header of table `last` inside the tables `outer`.
fn header_line(text: &str, outer: &[(&str, Option<usize>)], last: (&str, Option<usize>)) -> Option<usize> {
    let mut names: Vec<&str> = outer.iter().map(|(n, _)| *n).collect();
    names.push(last.0);
    let wanted_array = format!("[[{}]]", names.join("."));
    let wanted_table = format!("[{}]", names.join("."));
    // Count headers of the outer arrays to find where the wanted one may start.
    let mut from = 0;
    for depth in 0..outer.len() {
        let header = format!("[[{}]]", outer[..=depth].iter().map(|(n, _)| *n).collect::<Vec<_>>().join("."));
        let index = outer[depth].1.unwrap_or(0);
        from = text.lines().enumerate().skip(from).filter(|(_, l)| l.trim() == header).nth(index).map(|(n, _)| n + 1)?;
    }
    let index = last.1.unwrap_or(0);
    let stop_at = |line: &str| {
        outer.last().is_some_and(|_| line.trim() == format!("[[{}]]", outer.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(".")))
    };
    text.lines()
        .enumerate()
        .skip(from)
        .take_while(|(_, l)| !stop_at(l))
        .filter(|(_, l)| l.trim() == wanted_array || l.trim() == wanted_table)
        .nth(index)
        .map(|(n, _)| n + 1)
}

/// The settings as they may be printed: every secret replaced.
pub fn describe(config: &Config) -> String {
    let redact_url = |url: &str| match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    };
    let api = if config.products.is_empty() {
        format!("upstream={}", config.upstream_url.as_deref().map(redact_url).unwrap_or_else(|| "none (built-in echo)".into()))
    } else {
        format!("products={:?}", config.products.iter().map(|p| p.slug.as_str()).collect::<Vec<_>>())
    };
    format!(
        "public_url={} bind={} database={} data_dir={} mail={} session_idle={}min session_absolute={}h trusted_proxies={:?} \
         {api} verify_endpoint={} email_api_keys={} plans={:?} default_plan={}",
        config.public_url,
        config.bind,
        redact_url(&config.database_url),
        config.data_dir.display(),
        if config.smtp_url.is_some() { "smtp (configured)" } else { "outbox" },
        config.session_idle_minutes,
        config.session_absolute_hours,
        config.trusted_proxies,
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

    fn problem_of(text: &str) -> String {
        check_file(Path::new("mast.toml"), text).err().map(|p| p.to_string()).unwrap_or_else(|| "ok".into())
    }

    const PRODUCTS: &str = "public_url = \"http://localhost:3000\"\n\n[[products]]\nslug = \"pets\"\nname = \"Pets\"\n\
        upstream_url = \"http://127.0.0.1:9000\"\nopenapi = \"pets.yaml\"\n\n[[products]]\nslug = \"orders\"\nname = \"Orders\"\n\
        upstream_url = \"http://127.0.0.1:9001\"\nopenapi = \"orders.yaml\"\n";

    #[test]
    fn unknown_settings_are_refused_with_their_line_and_the_nearest_name() {
        assert_eq!(problem_of(PRODUCTS), "ok");
        assert_eq!(
            problem_of("public_url = \"http://x\"\nupstrem_url = \"http://y\"\n"),
            "mast.toml:2: unknown setting `upstrem_url`; did you mean `upstream_url`?"
        );
        let typo = PRODUCTS.replace("upstream_url = \"http://127.0.0.1:9001\"", "upstream = \"http://127.0.0.1:9001\"");
        assert_eq!(problem_of(&typo), "mast.toml:12: unknown setting `upstream` in [[products]] #2; did you mean `upstream_url`?");
        let sunset = format!("{PRODUCTS}\n[[products.sunsets]]\npath = \"/v1/x\"\nmethod = \"GET\"\ndat = \"2027-01-01\"\n");
        assert_eq!(
            problem_of(&sunset),
            "mast.toml:18: unknown setting `dat` in [[products.sunsets]] #1 of [[products]] #2; did you mean `date`?"
        );
        assert_eq!(problem_of("[branding]\ncolor = \"red\"\n"), "mast.toml:1: unknown setting `branding`");
    }

    #[test]
    fn malformed_files_and_wrong_types_name_their_line() {
        let syntax = problem_of("public_url = \"http://x\"\nbind = \n");
        assert!(syntax.starts_with("mast.toml:2: "), "{syntax}");
        let wrong_type = problem_of("session_idle_minutes = \"ten\"\n");
        assert!(wrong_type.starts_with("mast.toml:1: "), "{wrong_type}");
        assert!(wrong_type.contains("invalid type"), "{wrong_type}");
        let missing = problem_of("[[products]]\nslug = \"pets\"\nname = \"Pets\"\nopenapi = \"p.yaml\"\n");
        assert!(missing.starts_with("mast.toml:1: ") && missing.contains("missing field `upstream_url`"), "{missing}");
    }

    #[test]
    fn settings_found_after_loading_get_their_line() {
        assert_eq!(line_of_setting(PRODUCTS, "products.1.upstream_url"), Some(12));
        assert_eq!(line_of_setting(PRODUCTS, "products.0.slug"), Some(4));
        assert_eq!(line_of_setting(PRODUCTS, "products.1"), Some(9));
        assert_eq!(line_of_setting(PRODUCTS, "public_url"), Some(1));
        assert_eq!(line_of_setting(PRODUCTS, "products.2.slug"), None);
    }

    #[test]
    fn mistyped_environment_variables_are_named() {
        let warnings = unknown_environment(
            ["MAST_UPSTREM_URL", "MAST_PUBLIC_URL", "MAST_TEST_SMTP_URL", "MAST_LOG_FORMAT", "PATH"].map(String::from).into_iter(),
        );
        assert_eq!(warnings, vec!["MAST_UPSTREM_URL is not a setting of Mast and is ignored; did you mean MAST_UPSTREAM_URL?"]);
    }
}
