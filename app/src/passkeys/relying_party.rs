//! The one `Webauthn` of the process, built and checked at start (ASVS 6.5): a relying-party id
//! that does not fit the origins people use would make every passkey ceremony fail later, so a
//! mismatch stops the server with a message that says what to change.

use std::net::IpAddr;
use std::sync::Arc;

use webauthn_rs::prelude::Url;
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::config::Config;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RelyingPartyError {
    #[error("passkey origin {0:?} is not a URL like https://portal.example.com")]
    BadOrigin(String),
    #[error("passkey relying-party id {0:?} is an IP address; passkeys need a domain name (use http://localhost:3000 locally)")]
    IpAddress(String),
    #[error(
        "passkey origin {origin} is not on the relying-party id {rp_id:?}: its host must be {rp_id} or end in .{rp_id} (set MAST_PASSKEY_RP_ID or MAST_PUBLIC_URL)"
    )]
    NotOnRpId { origin: String, rp_id: String },
    #[error("passkey origin {0} must use https (only localhost may use http)")]
    NotHttps(String),
    #[error("webauthn refused the relying-party settings")]
    Refused,
}

/// What start-up decided about passkeys.
pub enum Passkeys {
    On(Arc<Webauthn>),
    /// The public URL is an IP address and no RP id is set: everything but passkeys works.
    Off {
        reason: String,
    },
}

pub fn from_config(config: &Config) -> Result<Passkeys, RelyingPartyError> {
    let public = Url::parse(&config.public_origin()).map_err(|_| RelyingPartyError::BadOrigin(config.public_url.clone()))?;
    let public_host = public.host_str().unwrap_or_default().trim_matches(['[', ']']).to_string();
    let rp_id = match &config.passkey_rp_id {
        Some(id) => id.trim().to_ascii_lowercase(),
        None if public_host.parse::<IpAddr>().is_ok() => {
            return Ok(Passkeys::Off {
                reason: format!(
                    "the public URL's host {public_host} is an IP address; set MAST_PUBLIC_URL to a domain name (e.g. http://localhost:3000) to use passkeys"
                ),
            });
        }
        None => public_host.to_ascii_lowercase(),
    };
    if rp_id.parse::<IpAddr>().is_ok() {
        return Err(RelyingPartyError::IpAddress(rp_id));
    }
    let mut origins = vec![public];
    for extra in &config.passkey_extra_origins {
        origins.push(Url::parse(extra).map_err(|_| RelyingPartyError::BadOrigin(extra.clone()))?);
    }
    for origin in &origins {
        let host = origin.host_str().unwrap_or_default().to_ascii_lowercase();
        if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
            return Err(RelyingPartyError::NotOnRpId { origin: origin.origin().ascii_serialization(), rp_id });
        }
        if origin.scheme() != "https" && !(origin.scheme() == "http" && (host == "localhost" || host.ends_with(".localhost"))) {
            return Err(RelyingPartyError::NotHttps(origin.origin().ascii_serialization()));
        }
    }
    // The browser gets as long as the server keeps the ceremony's state.
    let timeout = std::time::Duration::from_secs(super::ceremony::CEREMONY_SECONDS as u64);
    let mut builder =
        WebauthnBuilder::new(&rp_id, &origins[0]).map_err(|_| RelyingPartyError::Refused)?.rp_name(&config.site_name).timeout(timeout);
    for origin in &origins[1..] {
        builder = builder.append_allowed_origin(origin);
    }
    Ok(Passkeys::On(Arc::new(builder.build().map_err(|_| RelyingPartyError::Refused)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(public_url: &str, rp_id: Option<&str>, extra: &[&str]) -> Config {
        Config {
            public_url: public_url.into(),
            passkey_rp_id: rp_id.map(str::to_string),
            passkey_extra_origins: extra.iter().map(|s| s.to_string()).collect(),
            ..Config::default()
        }
    }

    #[test]
    fn the_default_localhost_setup_has_passkeys() {
        assert!(matches!(from_config(&Config::default()), Ok(Passkeys::On(_))));
    }

    #[test]
    fn a_parent_domain_covers_subdomain_origins() {
        let c = config("https://developers.example.com", Some("example.com"), &["https://portal.example.com"]);
        assert!(matches!(from_config(&c), Ok(Passkeys::On(_))));
    }

    #[test]
    fn an_ip_public_url_without_rp_id_starts_without_passkeys() {
        assert!(matches!(from_config(&config("http://127.0.0.1:3000", None, &[])), Ok(Passkeys::Off { .. })));
    }

    #[test]
    fn mismatches_stop_the_start_with_a_message_naming_the_fix() {
        let err = from_config(&config("https://example.com", Some("other.org"), &[])).err().unwrap();
        assert!(err.to_string().contains("MAST_PASSKEY_RP_ID"), "{err}");
        let err = from_config(&config("https://example.com", None, &["https://evil-example.com"])).err().unwrap();
        assert!(matches!(err, RelyingPartyError::NotOnRpId { .. }));
        assert_eq!(
            from_config(&config("http://127.0.0.1:3000", Some("127.0.0.1"), &[])).err(),
            Some(RelyingPartyError::IpAddress("127.0.0.1".into()))
        );
        assert!(matches!(from_config(&config("http://example.com", None, &[])).err(), Some(RelyingPartyError::NotHttps(_))));
        assert!(matches!(from_config(&config("https://example.com", None, &["not a url"])).err(), Some(RelyingPartyError::BadOrigin(_))));
    }
}
