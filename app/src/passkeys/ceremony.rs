//! Where a passkey ceremony waits between its two requests: only in the server-side session
//! (ASVS 6.5), one slot per purpose. The finishing request takes the state out before anything
//! else, so it is used once whether the ceremony succeeds or fails, and state older than five
//! minutes is refused.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tower_sessions::Session;

use crate::error::AppError;

/// How long a started ceremony can be finished; also the timeout the browser is given.
pub const CEREMONY_SECONDS: i64 = 5 * 60;

/// Ends with the browser's message when the state is gone (used, replaced or never started).
pub const STALE: &str = "This passkey request has expired or was already used. Please try again.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    SignUp,
    SignIn,
    Add,
    Reauthenticate,
}

impl Purpose {
    fn session_key(self) -> &'static str {
        match self {
            Purpose::SignUp => "passkey.sign_up",
            Purpose::SignIn => "passkey.sign_in",
            Purpose::Add => "passkey.add",
            Purpose::Reauthenticate => "passkey.reauthenticate",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Pending<T> {
    started_at: i64,
    state: T,
}

/// Keeps `state` for the finishing request, replacing any earlier ceremony of this purpose.
pub async fn begin<T: Serialize>(session: &Session, purpose: Purpose, state: T) -> Result<(), AppError> {
    let pending = Pending { started_at: crate::db::now().unix_timestamp(), state };
    session.insert(purpose.session_key(), pending).await.map_err(|err| {
        tracing::error!(error = %err, "could not keep passkey ceremony state");
        AppError::Internal
    })
}

/// Takes the state out of the session: a second attempt with the same state finds nothing.
pub async fn take<T: DeserializeOwned>(session: &Session, purpose: Purpose) -> Result<T, AppError> {
    let pending: Option<Pending<T>> = session.remove(purpose.session_key()).await.unwrap_or_default();
    let pending = pending.ok_or_else(|| AppError::message(STALE))?;
    if crate::db::now().unix_timestamp() - pending.started_at > CEREMONY_SECONDS {
        return Err(AppError::message(STALE));
    }
    Ok(pending.state)
}
