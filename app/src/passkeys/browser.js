// The browser half of a passkey ceremony. The server's options arrive as webauthn-rs JSON
// (binary fields in base64url); the answer goes back as the JSON webauthn-rs reads. Failures
// throw a short code the app turns into a message: cancelled, exists, insecure, aborted, failed.

const fromB64url = (text) => {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
};

const toB64url = (buffer) =>
  btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

const withBinaryIds = (list) => (list || []).map((c) => ({ ...c, id: fromB64url(c.id) }));

// A credential in the JSON webauthn-rs reads, with its (already encoded) response.
const asJson = (credential, response) =>
  JSON.stringify({
    id: credential.id,
    rawId: toB64url(credential.rawId),
    type: credential.type,
    response,
    extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
  });

let autofill = null;

const code = (err) => {
  switch (err && err.name) {
    case "NotAllowedError": return "cancelled";
    case "InvalidStateError": return "exists";
    case "SecurityError": return "insecure";
    case "AbortError": return "aborted";
    default: return "failed";
  }
};

export function webauthnAvailable() {
  return typeof window !== "undefined" && !!window.PublicKeyCredential && !!navigator.credentials;
}

export async function autofillAvailable() {
  try {
    return webauthnAvailable() && !!PublicKeyCredential.isConditionalMediationAvailable
      && (await PublicKeyCredential.isConditionalMediationAvailable());
  } catch (_) {
    return false;
  }
}

export function cancelAutofill() {
  if (autofill) {
    autofill.abort();
    autofill = null;
  }
}

export async function createPasskey(optionsJson) {
  cancelAutofill();
  const o = JSON.parse(optionsJson).publicKey;
  const publicKey = {
    ...o,
    challenge: fromB64url(o.challenge),
    user: { ...o.user, id: fromB64url(o.user.id) },
    excludeCredentials: withBinaryIds(o.excludeCredentials),
  };
  let credential;
  try {
    credential = await navigator.credentials.create({ publicKey });
  } catch (err) {
    throw code(err);
  }
  const r = credential.response;
  return asJson(credential, {
    attestationObject: toB64url(r.attestationObject),
    clientDataJSON: toB64url(r.clientDataJSON),
    transports: r.getTransports ? r.getTransports() : undefined,
  });
}

// `viaAutofill`: wait quietly until the person picks a passkey in the email field's suggestions.
export async function usePasskey(optionsJson, viaAutofill) {
  cancelAutofill();
  const o = JSON.parse(optionsJson).publicKey;
  const publicKey = { ...o, challenge: fromB64url(o.challenge), allowCredentials: withBinaryIds(o.allowCredentials) };
  const request = { publicKey };
  const mine = viaAutofill ? new AbortController() : null;
  if (mine) {
    autofill = mine;
    request.mediation = "conditional";
    request.signal = mine.signal;
  }
  let credential;
  try {
    credential = await navigator.credentials.get(request);
  } catch (err) {
    throw code(err);
  } finally {
    if (mine && autofill === mine) autofill = null;
  }
  const r = credential.response;
  return asJson(credential, {
    authenticatorData: toB64url(r.authenticatorData),
    clientDataJSON: toB64url(r.clientDataJSON),
    signature: toB64url(r.signature),
    userHandle: r.userHandle ? toB64url(r.userHandle) : null,
  });
}
