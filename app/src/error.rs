//! The one error type of server functions: what the user may see, nothing more.
//!
//! Internal detail (database text, I/O errors) is logged on the server and replaced by
//! [`AppError::Internal`], whose message is generic.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Bad input; `field` names the form field it concerns, when there is one.
    #[error("{message}")]
    Invalid { field: Option<String>, message: String },
    #[error("Please sign in to continue.")]
    Unauthorized,
    #[error("You are not allowed to do that.")]
    Forbidden,
    /// Changing credentials needs a sign-in or "confirm it's you" from the last few minutes.
    #[error("For your security, confirm it's you first.")]
    ReauthenticationRequired,
    /// A new version of the Terms of Use or the Privacy Policy awaits this account's acceptance.
    #[error("Please review and accept the updated Terms of Use and Privacy Policy to continue.")]
    ConsentRequired,
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    TooManyRequests(String),
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid { field: Some(field.to_string()), message: message.into() }
    }

    pub fn message(message: impl Into<String>) -> Self {
        AppError::Invalid { field: None, message: message.into() }
    }

    /// The field this error concerns, if any (for inline errors next to inputs).
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Invalid { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status a server function answers with when it fails with this error.
    #[cfg(feature = "ssr")]
    pub fn status(&self) -> http::StatusCode {
        match self {
            AppError::Invalid { .. } => http::StatusCode::BAD_REQUEST,
            AppError::Unauthorized => http::StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::ReauthenticationRequired | AppError::ConsentRequired => http::StatusCode::FORBIDDEN,
            AppError::NotFound => http::StatusCode::NOT_FOUND,
            AppError::TooManyRequests(_) => http::StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // A form that could not be decoded is the user's input, not our fault.
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) | ServerFnErrorErr::Deserialization(_) => {
                AppError::message("The form could not be read. Please check every field and try again.")
            }
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => {
                AppError::message("The server could not be reached. Check your connection and try again.")
            }
            _ => AppError::Internal,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "database error");
        AppError::Internal
    }
}

#[cfg(feature = "ssr")]
impl From<crate::mail::MailError> for AppError {
    fn from(err: crate::mail::MailError) -> Self {
        tracing::error!(error = %err, "mail error");
        AppError::Internal
    }
}

pub type AppResult<T> = Result<T, AppError>;
