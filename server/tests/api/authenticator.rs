//! A passkey provider for tests, speaking the same JSON as the browser code of the app.
//!
//! Keys, signatures and counters come from webauthn-authenticator-rs's `SoftPasskey`. That
//! token keeps no resident credentials, so this wrapper plays the part a platform passkey
//! provider plays: it remembers each credential's user handle and answers requests that name no
//! credential (discoverable sign-in) with one of them.

use serde_json::{Value, json};
use webauthn_authenticator_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url, WebauthnAuthenticator};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

pub struct Authenticator {
    token: WebauthnAuthenticator<SoftPasskey>,
    origin: Url,
    /// (credential id, user handle), base64url as on the wire, oldest first.
    pub credentials: Vec<(String, String)>,
    /// Whether the person passes user verification (fingerprint, PIN).
    pub verifies_user: bool,
}

impl Authenticator {
    pub fn new(origin: &str) -> Self {
        // `true`: the soft token reports user verification, as a platform authenticator does.
        Authenticator {
            token: WebauthnAuthenticator::new(SoftPasskey::new(true)),
            origin: Url::parse(origin).expect("origin"),
            credentials: Vec::new(),
            verifies_user: true,
        }
    }

    /// `navigator.credentials.create`: the new credential as JSON.
    pub fn create(&mut self, options: &str) -> String {
        let mut options: Value = serde_json::from_str(options).expect("creation options JSON");
        let user = options["publicKey"]["user"]["id"].as_str().expect("user id").to_string();
        // The soft token refuses to be asked for residence; this wrapper provides it.
        if let Some(selection) = options["publicKey"]["authenticatorSelection"].as_object_mut() {
            selection.insert("requireResidentKey".into(), false.into());
            selection.remove("residentKey");
        }
        let options: CreationChallengeResponse = serde_json::from_value(options).expect("creation options");
        let credential = self.token.do_registration(self.origin.clone(), options).expect("registration");
        let credential = serde_json::to_value(&credential).expect("credential JSON");
        let id = credential["rawId"].as_str().expect("raw id").to_string();
        self.credentials.push((id, user));
        credential.to_string()
    }

    /// `navigator.credentials.get` with the newest credential this authenticator holds.
    pub fn get(&mut self, options: &str) -> String {
        let newest = self.credentials.len().checked_sub(1).expect("the authenticator has a credential");
        self.get_with(options, newest)
    }

    /// `navigator.credentials.get` with the `index`-th credential (a person picking an account).
    pub fn get_with(&mut self, options: &str, index: usize) -> String {
        let (id, user) = self.credentials[index].clone();
        self.answer(options, &id, &user)
    }

    /// Signs with credential `id` but claims it belongs to `user` (a forged user handle).
    pub fn answer(&mut self, options: &str, id: &str, user: &str) -> String {
        let mut options: Value = serde_json::from_str(options).expect("request options JSON");
        let public_key = &mut options["publicKey"];
        // Discoverable sign-in names no credential: the person picks one from this device.
        public_key["allowCredentials"] = json!([{ "type": "public-key", "id": id }]);
        if !self.verifies_user {
            public_key["userVerification"] = "discouraged".into();
        }
        let options: RequestChallengeResponse = serde_json::from_value(options).expect("request options");
        let assertion = self.token.do_authentication(self.origin.clone(), options).expect("assertion");
        let mut assertion = serde_json::to_value(&assertion).expect("assertion JSON");
        assertion["response"]["userHandle"] = user.into();
        assertion.to_string()
    }
}
