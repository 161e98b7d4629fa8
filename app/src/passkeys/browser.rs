//! The app's side of the browser's WebAuthn API (browser.js does the binary conversions). On the
//! server these report "not supported": passkey controls appear only after hydration, in
//! browsers that have WebAuthn.

use crate::error::AppError;

/// How a browser call ended, when it did not give a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserRefusal {
    /// The person cancelled, the request timed out, or the device could not verify them.
    Cancelled,
    /// Registration: this device already holds a passkey of the account.
    AlreadyOnDevice,
    /// The page's address does not fit the relying party (wrong host, plain http).
    Insecure,
    /// A waiting autofill request was replaced by a new one; nothing to tell the person.
    Aborted,
    Failed,
}

impl BrowserRefusal {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn from_code(code: &str) -> Self {
        match code {
            "cancelled" => BrowserRefusal::Cancelled,
            "exists" => BrowserRefusal::AlreadyOnDevice,
            "insecure" => BrowserRefusal::Insecure,
            "aborted" => BrowserRefusal::Aborted,
            _ => BrowserRefusal::Failed,
        }
    }

    pub fn into_error(self) -> AppError {
        AppError::message(match self {
            BrowserRefusal::Cancelled => {
                "No passkey was used: the request was cancelled or timed out, or your device could not confirm it is you. Please try again."
            }
            BrowserRefusal::Aborted => "The passkey request was replaced by a newer one.",
            BrowserRefusal::AlreadyOnDevice => "This device already has a passkey for your account.",
            BrowserRefusal::Insecure => "Passkeys do not work at this address. Open the portal at its usual address and try again.",
            BrowserRefusal::Failed => "Your browser could not use a passkey. Please try again or use another way to sign in.",
        })
    }
}

#[cfg(feature = "hydrate")]
mod js {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/src/passkeys/browser.js")]
    extern "C" {
        #[wasm_bindgen(js_name = webauthnAvailable)]
        pub fn webauthn_available() -> bool;
        #[wasm_bindgen(js_name = autofillAvailable)]
        pub async fn autofill_available() -> JsValue;
        #[wasm_bindgen(js_name = cancelAutofill)]
        pub fn cancel_autofill();
        #[wasm_bindgen(js_name = createPasskey, catch)]
        pub async fn create_passkey(options: &str) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(js_name = usePasskey, catch)]
        pub async fn use_passkey(options: &str, via_autofill: bool) -> Result<JsValue, JsValue>;
    }
}

/// Whether this browser can create and use passkeys.
pub fn supported() -> bool {
    #[cfg(feature = "hydrate")]
    {
        js::webauthn_available()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

/// Whether the browser offers passkeys in the email field's autofill (conditional mediation).
pub async fn autofill_supported() -> bool {
    #[cfg(feature = "hydrate")]
    {
        js::autofill_available().await.as_bool().unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

/// Stops a waiting autofill request, e.g. when leaving the sign-in page.
pub fn cancel_autofill() {
    #[cfg(feature = "hydrate")]
    js::cancel_autofill();
}

/// Asks the browser to create a passkey with the server's options; the credential as JSON.
pub async fn create(options: &str) -> Result<String, BrowserRefusal> {
    #[cfg(feature = "hydrate")]
    {
        finish(js::create_passkey(options).await)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = options;
        Err(BrowserRefusal::Failed)
    }
}

/// Asks the browser for an assertion with the server's options; the assertion as JSON.
pub async fn get(options: &str, via_autofill: bool) -> Result<String, BrowserRefusal> {
    #[cfg(feature = "hydrate")]
    {
        finish(js::use_passkey(options, via_autofill).await)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (options, via_autofill);
        Err(BrowserRefusal::Failed)
    }
}

#[cfg(feature = "hydrate")]
fn finish(result: Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>) -> Result<String, BrowserRefusal> {
    match result {
        Ok(json) => json.as_string().ok_or(BrowserRefusal::Failed),
        Err(code) => Err(BrowserRefusal::from_code(&code.as_string().unwrap_or_default())),
    }
}
