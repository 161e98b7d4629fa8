//! Passkeys (WebAuthn): the relying party built from configuration and the stored credentials.
//! Ceremonies and pages build on these.

#[cfg(feature = "ssr")]
pub mod relying_party;
#[cfg(feature = "ssr")]
pub mod store;
