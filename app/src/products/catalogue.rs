//! The products of the installation, loaded and checked once at start: each one's settings, its
//! OpenAPI reference, guides and code samples. The gateway routes by it; the docs render it.

use std::path::Path;

use super::openapi::{self, Documents, Reference};
use super::samples::{self, Sample};
use crate::config::{Config, ConfigProblem, ProductConfig};
use crate::markdown;

pub struct Catalogue {
    pub products: Vec<Product>,
}

pub struct Product {
    pub config: ProductConfig,
    pub reference: Reference,
    /// The document as given, and as the other format, for SDK generators.
    pub document_json: String,
    pub document_yaml: String,
    pub guides: Vec<Guide>,
    /// Code samples of each operation, in [`Reference::operations`]' order.
    pub samples: Vec<Vec<Sample>>,
}

pub struct Guide {
    pub slug: String,
    pub title: String,
    pub html: String,
    /// Lower-case text searched by `?q=`.
    pub search_text: String,
}

/// Names under `/docs/<product>/` that are not guides.
pub const RESERVED_PAGES: &[&str] = &["openapi.json", "openapi.yaml", "tags", "models", "try"];

impl Catalogue {
    pub fn empty() -> Catalogue {
        Catalogue { products: Vec::new() }
    }

    pub fn find(&self, slug: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.config.slug == slug)
    }

    /// Reads and checks every product; the first problem stops the start (and `check-config`).
    pub fn load(config: &Config) -> Result<Catalogue, ConfigProblem> {
        if config.products.is_empty() {
            return Ok(Catalogue::empty());
        }
        if config.upstream_url.is_some() {
            return Err(ConfigProblem::setting(
                config,
                "upstream_url",
                "upstream_url (MAST_UPSTREAM_URL) is set, and so are [[products]]: with products, each has its own upstream. \
                 Move the URL into its product (upstream_url = \"…\" under its [[products]]) and remove upstream_url",
            ));
        }
        let mut products = Vec::new();
        for (i, product) in config.products.iter().enumerate() {
            let at = |key: &str| format!("products.{i}.{key}");
            let bad = |key: &str, reason: String| Err(ConfigProblem::setting(config, at(key), reason));
            if !is_slug(&product.slug) {
                return bad("slug", format!("slug {:?} must be 1 to 32 of a-z, 0-9 and '-'", product.slug));
            }
            if config.products[..i].iter().any(|p| p.slug == product.slug) {
                return bad("slug", format!("two products have the slug {:?}", product.slug));
            }
            if product.name.trim().is_empty() {
                return bad("name", "name must not be empty".into());
            }
            if !is_http_url(&product.upstream_url) {
                return bad("upstream_url", format!("upstream_url must be an http:// or https:// URL (got {:?})", product.upstream_url));
            }
            for plan in product.plans.iter().flatten() {
                if !config.plans.iter().any(|p| &p.name == plan) {
                    return bad("plans", format!("plans names {plan:?}, which is not one of the [[plans]]"));
                }
            }
            let on_disk = config.relative_path(&product.openapi);
            if !on_disk.is_file() {
                return bad("openapi", format!("openapi: there is no file {}", on_disk.display()));
            }
            let docs = Documents::load(&on_disk, &on_disk)?;
            let mut reference = openapi::build(&docs)?;
            for (j, sunset) in product.sunsets.iter().enumerate() {
                let key = format!("sunsets.{j}");
                if !is_date(&sunset.date) {
                    return bad(&format!("{key}.date"), format!("date {:?} must be YYYY-MM-DD", sunset.date));
                }
                let method = sunset.method.to_ascii_uppercase();
                match reference.operations.iter_mut().find(|op| op.method == method && op.path == sunset.path) {
                    Some(op) => op.sunset = Some(sunset.date.clone()),
                    None => {
                        return bad(&key, format!("{} {} is not an operation of {}", method, sunset.path, product.openapi.display()));
                    }
                }
            }
            let guides = match &product.guides {
                Some(folder) => {
                    read_guides(&config.relative_path(folder)).map_err(|reason| ConfigProblem::setting(config, at("guides"), reason))?
                }
                None => Vec::new(),
            };
            let base_url = config.link(&format!("/api/{}", product.slug));
            let samples = reference.operations.iter().map(|op| samples::samples(&reference, op, &base_url)).collect();
            let main = docs.main();
            let (document_json, document_yaml) = if main.is_json {
                (main.text.clone(), to_yaml(&main.value))
            } else {
                (serde_json::to_string_pretty(&main.value).unwrap_or_default(), main.text.clone())
            };
            products.push(Product { config: product.clone(), reference, document_json, document_yaml, guides, samples });
        }
        Ok(Catalogue { products })
    }
}

pub fn is_slug(text: &str) -> bool {
    (1..=32).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_http_url(text: &str) -> bool {
    let Ok(uri) = text.parse::<http::Uri>() else { return false };
    matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some_and(|h| !h.is_empty())
}

fn is_date(text: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).is_ok()
}

/// Every `.md` file of the folder, in file-name order; `01-quick-start.md` is the guide
/// `quick-start`, titled by its first `# ` heading.
fn read_guides(folder: &Path) -> Result<Vec<Guide>, String> {
    let entries = std::fs::read_dir(folder).map_err(|e| format!("guides: cannot read the folder {}: {e}", folder.display()))?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("md")) && p.is_file())
        .collect();
    files.sort();
    let mut guides: Vec<Guide> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("guides: cannot read {}: {e}", file.display()))?;
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("guide");
        let slug = openapi::slugify(stem.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '_'));
        if RESERVED_PAGES.contains(&slug.as_str()) || guides.iter().any(|g| g.slug == slug) {
            return Err(format!("guides: {} would be at /docs/<product>/{slug}, which is taken; rename it", file.display()));
        }
        let title = text
            .lines()
            .find_map(|l| l.strip_prefix("# ").map(|t| markdown::plain_text(t.trim())))
            .unwrap_or_else(|| stem.replace(['-', '_'], " "));
        guides.push(Guide { search_text: markdown::plain_text(&text).to_lowercase(), html: markdown::to_html(&text), slug, title });
    }
    Ok(guides)
}

/// A JSON value as YAML text.
fn to_yaml(value: &serde_json::Value) -> String {
    fn convert(value: &serde_json::Value) -> yaml_rust2::Yaml {
        use yaml_rust2::Yaml;
        match value {
            serde_json::Value::Null => Yaml::Null,
            serde_json::Value::Bool(b) => Yaml::Boolean(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Yaml::Integer(i),
                None => Yaml::Real(n.to_string()),
            },
            serde_json::Value::String(s) => Yaml::String(s.clone()),
            serde_json::Value::Array(items) => Yaml::Array(items.iter().map(convert).collect()),
            serde_json::Value::Object(map) => Yaml::Hash(map.iter().map(|(k, v)| (Yaml::String(k.clone()), convert(v))).collect()),
        }
    }
    let mut out = String::new();
    let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
    if emitter.dump(&convert(value)).is_err() {
        return String::new();
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_upstreams_are_checked() {
        assert!(is_slug("pets") && is_slug("pet-store-2"));
        for bad in ["", "Pets", "pets_v1", "a/b", &"x".repeat(33)] {
            assert!(!is_slug(bad), "{bad}");
        }
        assert!(is_http_url("http://127.0.0.1:9000/v1") && is_http_url("https://api.example.com"));
        assert!(!is_http_url("ftp://x") && !is_http_url("127.0.0.1:9000") && !is_http_url("http://"));
        assert!(is_date("2027-06-30") && !is_date("2027-02-30") && !is_date("30/06/2027"));
    }
}
