//! What a key may do: which products it may call (all, also those added later, or a chosen
//! set), whether it may only read (GET, HEAD, OPTIONS), and from which client networks (up to
//! [`MAX_NETWORKS`] CIDR ranges, judged on the address the trusted-proxy rules give). The gateway
//! checks it after the account and before the rate limit; a fact the scope needs and the call
//! does not give (no product, no method, no address) is a refusal, never a pass.

use std::net::IpAddr;

use ipnet::IpNet;

use super::ScopeInfo;
use crate::error::AppError;

pub const MAX_NETWORKS: usize = 20;
/// Longer network lists are refused before they are read.
const NETWORKS_TEXT_MAX: usize = 4096;

/// A key's scope as the gateway judges it (parsed once, when the key is looked up).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyScope {
    /// `None`: every product.
    pub products: Option<Vec<String>>,
    pub read_only: bool,
    /// Empty: any address.
    pub networks: Vec<IpNet>,
}

/// The scope as stored in `api_key` (see migration 0007).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ScopeColumns {
    /// Slugs separated by spaces; null: every product.
    pub scope_products: Option<String>,
    /// `read` or `read_write`.
    pub scope_access: String,
    /// CIDR ranges separated by spaces; null: any address.
    pub scope_networks: Option<String>,
}

impl Default for ScopeColumns {
    fn default() -> ScopeColumns {
        KeyScope::default().to_columns()
    }
}

fn is_read(method: &http::Method) -> bool {
    matches!(*method, http::Method::GET | http::Method::HEAD | http::Method::OPTIONS)
}

impl KeyScope {
    pub fn from_columns(c: &ScopeColumns) -> KeyScope {
        KeyScope {
            products: c.scope_products.as_deref().map(|s| s.split_whitespace().map(str::to_string).collect()),
            read_only: c.scope_access == "read",
            // Only this module writes the column, from parsed ranges.
            networks: c.scope_networks.as_deref().unwrap_or("").split_whitespace().filter_map(|n| n.parse().ok()).collect(),
        }
    }

    pub fn to_columns(&self) -> ScopeColumns {
        let networks: Vec<String> = self.networks.iter().map(IpNet::to_string).collect();
        ScopeColumns {
            scope_products: self.products.as_ref().map(|p| p.join(" ")),
            scope_access: if self.read_only { "read" } else { "read_write" }.to_string(),
            scope_networks: (!networks.is_empty()).then(|| networks.join(" ")),
        }
    }

    /// `product`: the slug called, `None` when the call names none.
    pub fn allows_product(&self, product: Option<&str>) -> bool {
        match (&self.products, product) {
            (None, _) => true,
            (Some(allowed), Some(slug)) => allowed.iter().any(|p| p == slug),
            (Some(_), None) => false,
        }
    }

    /// `method`: `None` when the call names none.
    pub fn allows_method(&self, method: Option<&http::Method>) -> bool {
        !self.read_only || method.is_some_and(is_read)
    }

    /// `client`: the caller's address as text (`ClientInfo::ip`), read only when it matters.
    pub fn allows_client(&self, client: Option<&str>) -> bool {
        if self.networks.is_empty() {
            return true;
        }
        let Some(ip) = client.and_then(|c| c.parse::<IpAddr>().ok()) else { return false };
        self.networks.iter().any(|n| n.contains(&ip))
    }

    /// What the owner's pages show; `name_of` gives a product's name from its slug.
    pub fn info(&self, name_of: impl Fn(&str) -> Option<String>) -> ScopeInfo {
        ScopeInfo {
            products: self.products.as_ref().map(|slugs| {
                slugs.iter().map(|slug| (slug.clone(), name_of(slug).unwrap_or_else(|| format!("{slug} (no longer published)")))).collect()
            }),
            read_only: self.read_only,
            networks: self.networks.iter().map(IpNet::to_string).collect(),
        }
    }

    /// For events and the verify answer.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "products": self.products,
            "access": if self.read_only { "read" } else { "read_write" },
            "networks": self.networks.iter().map(IpNet::to_string).collect::<Vec<_>>(),
        })
    }
}

/// A scope as the create and change forms send it.
#[derive(Debug, Clone, Default)]
pub struct ScopeInput {
    /// `all` (or empty) or `selected`.
    pub apis: String,
    /// The ticked products' slugs, when `selected`.
    pub products: Vec<String>,
    /// `read_write` (or empty) or `read`.
    pub access: String,
    /// Addresses and CIDR ranges, one per line; empty: any address.
    pub networks: String,
}

/// The scope a form asks for. `products`: the installation's slugs, in catalogue order.
pub fn parse(input: &ScopeInput, products: &[&str]) -> Result<KeyScope, AppError> {
    let chosen = match input.apis.as_str() {
        "" | "all" => None,
        "selected" if products.is_empty() => return Err(AppError::invalid("apis", "This portal publishes no APIs to choose from.")),
        "selected" => {
            if let Some(unknown) = input.products.iter().find(|p| !products.contains(&p.as_str())) {
                return Err(AppError::invalid("products", format!("\u{201c}{unknown}\u{201d} is not an API of this portal.")));
            }
            let picked: Vec<String> = products.iter().filter(|p| input.products.iter().any(|i| i == *p)).map(|p| p.to_string()).collect();
            if picked.is_empty() {
                return Err(AppError::invalid("products", "Tick at least one API, or choose all APIs."));
            }
            Some(picked)
        }
        _ => return Err(AppError::invalid("apis", "Choose all APIs or the ones you tick.")),
    };
    let read_only = match input.access.as_str() {
        "" | "read_write" => false,
        "read" => true,
        _ => return Err(AppError::invalid("access", "Choose read only, or read and write.")),
    };
    Ok(KeyScope { products: chosen, read_only, networks: parse_networks(&input.networks)? })
}

/// One address or CIDR range per line (commas and spaces also separate). An address alone is
/// its own /32 or /128; host bits are cleared (10.1.2.3/8 is 10.0.0.0/8).
pub fn parse_networks(text: &str) -> Result<Vec<IpNet>, AppError> {
    let invalid = |message: String| AppError::invalid("networks", message);
    if text.len() > NETWORKS_TEXT_MAX {
        return Err(invalid(format!("List at most {MAX_NETWORKS} addresses or ranges.")));
    }
    let mut networks: Vec<IpNet> = Vec::new();
    for entry in text.split(|c: char| c.is_whitespace() || c == ',').filter(|e| !e.is_empty()) {
        let network = match entry.parse::<IpNet>() {
            Ok(net) => net.trunc(),
            Err(_) => match entry.parse::<IpAddr>() {
                // Clients are judged with mapped IPv4 folded (client.rs); so are addresses here.
                Ok(ip) => IpNet::from(crate::client::folded(ip)),
                Err(_) => {
                    let shown: String = entry.chars().filter(|c| !c.is_control()).take(60).collect();
                    return Err(invalid(format!(
                        "\u{201c}{shown}\u{201d} is not an IPv4 or IPv6 address or CIDR range (such as 203.0.113.0/24 or 2001:db8::/48)."
                    )));
                }
            },
        };
        if !networks.contains(&network) {
            networks.push(network);
        }
    }
    if networks.len() > MAX_NETWORKS {
        return Err(invalid(format!("List at most {MAX_NETWORKS} addresses or ranges.")));
    }
    Ok(networks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(apis: &str, products: &[&str], access: &str, networks: &str) -> ScopeInput {
        ScopeInput {
            apis: apis.into(),
            products: products.iter().map(|p| p.to_string()).collect(),
            access: access.into(),
            networks: networks.into(),
        }
    }

    #[test]
    fn forms_read_into_scopes_and_back_into_columns() {
        let all = parse(&input("", &[], "", ""), &["pets"]).unwrap();
        assert_eq!(all, KeyScope::default());
        assert_eq!(all.to_columns(), ScopeColumns { scope_products: None, scope_access: "read_write".into(), scope_networks: None });

        let scoped =
            parse(&input("selected", &["orders", "pets", "pets"], "read", "10.1.2.3/8\n2001:db8::1, 192.0.2.7"), &["pets", "orders"])
                .unwrap();
        assert_eq!(scoped.products, Some(vec!["pets".to_string(), "orders".to_string()]), "catalogue order, once each");
        assert!(scoped.read_only);
        let shown: Vec<String> = scoped.networks.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "2001:db8::1/128", "192.0.2.7/32"]);
        assert_eq!(KeyScope::from_columns(&scoped.to_columns()), scoped, "what is stored reads back the same");
        assert_eq!(parse_networks("::ffff:192.0.2.9").unwrap()[0].to_string(), "192.0.2.9/32", "mapped IPv4 folded");
    }

    #[test]
    fn bad_scopes_are_refused_with_the_field_and_reason() {
        let field = |r: Result<KeyScope, AppError>| r.err().and_then(|e| e.field().map(str::to_string));
        assert_eq!(field(parse(&input("selected", &[], "", ""), &["pets"])).as_deref(), Some("products"));
        assert_eq!(field(parse(&input("selected", &["nope"], "", ""), &["pets"])).as_deref(), Some("products"));
        assert_eq!(field(parse(&input("selected", &["pets"], "", ""), &[])).as_deref(), Some("apis"));
        assert_eq!(field(parse(&input("some", &[], "", ""), &["pets"])).as_deref(), Some("apis"));
        assert_eq!(field(parse(&input("", &[], "write", ""), &[])).as_deref(), Some("access"));
        for bad in ["10.0.0.300", "10.0.0.0/33", "example.com", "::1/129", "10.0.0.0/8/8", "1.2.3.4\u{0}"] {
            let err = parse_networks(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("not an IPv4 or IPv6 address"), "{bad}: {err}");
        }
        let many: Vec<String> = (0..21).map(|i| format!("10.0.{i}.0/24")).collect();
        assert!(parse_networks(&many.join("\n")).is_err());
        assert_eq!(parse_networks(&many[..20].join("\n")).unwrap().len(), 20);
        assert!(parse_networks(&"1".repeat(5000)).is_err(), "long text refused before it is read");
    }

    #[test]
    fn the_gateway_judges_products_methods_and_addresses() {
        let scope = KeyScope {
            products: Some(vec!["pets".into()]),
            read_only: true,
            networks: parse_networks("203.0.113.0/24 2001:db8::/48").unwrap(),
        };
        assert!(scope.allows_product(Some("pets")));
        assert!(!scope.allows_product(Some("orders")));
        assert!(!scope.allows_product(None), "a call that names no product is not one of the chosen");
        for read in [http::Method::GET, http::Method::HEAD, http::Method::OPTIONS] {
            assert!(scope.allows_method(Some(&read)));
        }
        for write in [http::Method::POST, http::Method::PUT, http::Method::PATCH, http::Method::DELETE] {
            assert!(!scope.allows_method(Some(&write)));
        }
        assert!(!scope.allows_method(None));
        assert!(scope.allows_client(Some("203.0.113.77")));
        assert!(scope.allows_client(Some("2001:db8:0:ffff::1")));
        assert!(!scope.allows_client(Some("203.0.114.1")));
        assert!(!scope.allows_client(Some("2001:db9::1")));
        assert!(!scope.allows_client(Some("")), "an unknown address is not inside any range");
        assert!(!scope.allows_client(None));
        let open = KeyScope::default();
        assert!(open.allows_product(None) && open.allows_method(None) && open.allows_client(None));
    }
}
