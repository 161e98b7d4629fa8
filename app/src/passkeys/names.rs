//! The name a new passkey gets until its owner renames it: the passkey provider when its
//! authenticator model (AAGUID) is one we know, else the browser and system that made it.

use uuid::Uuid;

pub const NAME_MAX: usize = 60;

/// Passkey providers by AAGUID, as the providers publish them. Hardware keys and unknown models
/// fall back to the browser's name.
const KNOWN_PROVIDERS: &[(&str, &str)] = &[
    ("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager"),
    ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
    ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "Apple Passwords"),
    ("dd4ec289-e01d-41c9-bb89-70fa845d4bf2", "Apple Passwords (managed)"),
    ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
    ("9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello"),
    ("6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello"),
    ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
    ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
    ("531126d6-e717-415c-9320-3d9aa6981239", "Dashlane"),
    ("fdb141b2-5d84-443e-8a35-4698c205a502", "KeePassXC"),
    ("50726f74-6f6e-5061-7373-50726f746f6e", "Proton Pass"),
    ("53414d53-554e-4700-0000-000000000000", "Samsung Pass"),
];

/// The authenticator model from a registration's attestation object (CBOR map holding
/// `authData`: rpIdHash(32) flags(1) signCount(4), then AAGUID(16) when credential data follows).
pub fn aaguid_of(attestation_object: &[u8]) -> Option<Uuid> {
    let value: serde_cbor_2::Value = serde_cbor_2::from_slice(attestation_object).ok()?;
    let serde_cbor_2::Value::Map(map) = value else { return None };
    let auth_data = map.iter().find_map(|(k, v)| match (k, v) {
        (serde_cbor_2::Value::Text(k), serde_cbor_2::Value::Bytes(b)) if k == "authData" => Some(b),
        _ => None,
    })?;
    const ATTESTED_CREDENTIAL_DATA: u8 = 0x40;
    if auth_data.len() < 53 || auth_data[32] & ATTESTED_CREDENTIAL_DATA == 0 {
        return None;
    }
    Uuid::from_slice(&auth_data[37..53]).ok().filter(|id| !id.is_nil())
}

pub fn default_name(aaguid: Option<Uuid>, user_agent: &str) -> String {
    if let Some(aaguid) = aaguid {
        let aaguid = aaguid.hyphenated().to_string();
        if let Some((_, name)) = KNOWN_PROVIDERS.iter().find(|(id, _)| *id == aaguid) {
            return (*name).to_string();
        }
    }
    describe_browser(user_agent)
}

/// "Chrome on Linux", "Safari on iPhone"; "Passkey" when the user agent says nothing useful.
pub fn describe_browser(user_agent: &str) -> String {
    describe_user_agent(user_agent, "Passkey")
}

/// "Chrome on Linux", "Firefox", "{unknown} on Windows", or `unknown` when the user agent names
/// neither browser nor system.
pub fn describe_user_agent(user_agent: &str, unknown: &str) -> String {
    let Some(ua) = woothee::parser::Parser::new().parse(user_agent) else { return unknown.into() };
    let known = |s: &str| !s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN;
    match (known(ua.name), known(ua.os)) {
        (true, true) => format!("{} on {}", ua.name, ua.os),
        (true, false) => ua.name.to_string(),
        (false, true) => format!("{unknown} on {}", ua.os),
        (false, false) => unknown.into(),
    }
}

/// A name the owner typed: trimmed, 1 to 60 characters, no control characters.
pub fn check_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Give the passkey a name.");
    }
    if name.chars().count() > NAME_MAX {
        return Err("A passkey name can be at most 60 characters.");
    }
    if name.chars().any(char::is_control) {
        return Err("The name contains characters that are not allowed.");
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_provider_is_named_after_itself() {
        let google = Uuid::parse_str("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4").ok();
        assert_eq!(default_name(google, "Mozilla/5.0"), "Google Password Manager");
    }

    #[test]
    fn otherwise_the_browser_and_system_name_it() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
        assert_eq!(default_name(Some(Uuid::from_u128(7)), chrome), "Chrome on Linux");
        assert_eq!(default_name(None, ""), "Passkey");
    }

    #[test]
    fn the_aaguid_is_read_from_the_authenticator_data() {
        let mut auth_data = vec![0u8; 32];
        auth_data.push(0x45); // user present, verified, attested credential data
        auth_data.extend([0, 0, 0, 0]);
        auth_data.extend(Uuid::parse_str("bada5566-a7aa-401f-bd96-45619a55120d").unwrap().as_bytes());
        auth_data.extend([0, 0]);
        let object = serde_cbor_2::Value::Map(
            [(serde_cbor_2::Value::Text("authData".into()), serde_cbor_2::Value::Bytes(auth_data))].into_iter().collect(),
        );
        let bytes = serde_cbor_2::to_vec(&object).unwrap();
        assert_eq!(default_name(aaguid_of(&bytes), ""), "1Password");
        assert_eq!(aaguid_of(b"not cbor"), None);
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(check_name("  Work laptop "), Ok("Work laptop".into()));
        assert!(check_name(" ").is_err());
        assert!(check_name(&"x".repeat(61)).is_err());
        assert!(check_name("a\u{0}b").is_err());
    }
}
