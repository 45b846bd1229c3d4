//! Errors of the client library, and the form in which they cross into the app.
//!
//! [`ClientError`] is the typed error Rust callers match on. [`ApiError`] is what the front end
//! receives: a stable `code`, an English `message` for logs, and for validation the per-field codes
//! so that the form shows each message, translated, next to its field. Storage details stay in the
//! log; the person sees "storage".

use domain::error::{Field, FieldError};
use serde::Serialize;
use ts_rs::TS;

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("some fields are not valid")]
    Invalid(Vec<FieldError>),
    #[error("no such item")]
    NotFound,
    #[error("could not create the data directory {path}")]
    DataDir { path: std::path::PathBuf, source: std::io::Error },
    #[error(transparent)]
    Storage(#[from] store::Error),
    #[error("this device is not paired with a marketplace")]
    NotPaired,
    #[error("the pairing code is unknown, used or expired")]
    PairingRefused,
    /// The marketplace could not be reached.
    #[error("marketplace: {0}")]
    Remote(String),
    /// The marketplace answered and refused, with its own error code (e.g. `stream_ended`).
    #[error("the marketplace refused: {message}")]
    Refused { code: String, message: String },
}

impl From<crate::remote::RemoteError> for ClientError {
    fn from(error: crate::remote::RemoteError) -> Self {
        use crate::remote::RemoteError;
        match error {
            RemoteError::Network(message) => ClientError::Remote(message),
            RemoteError::Unauthorized => ClientError::Refused { code: "unauthorized".into(), message: "the device token was refused".into() },
            RemoteError::Server { code, message, .. } => ClientError::Refused { code, message },
        }
    }
}

impl From<Vec<FieldError>> for ClientError {
    fn from(errors: Vec<FieldError>) -> Self {
        ClientError::Invalid(errors)
    }
}

impl ClientError {
    pub fn code(&self) -> &str {
        match self {
            ClientError::Refused { code, .. } => code,
            ClientError::Invalid(_) => "invalid",
            ClientError::NotFound => "not_found",
            ClientError::DataDir { .. } | ClientError::Storage(_) => "storage",
            ClientError::NotPaired => "not_paired",
            ClientError::PairingRefused => "pairing_code_invalid",
            ClientError::Remote(_) => "offline",
        }
    }
}

/// One field's problem, as the front end sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FieldProblem {
    pub field: Field,
    /// A domain error code such as `too_long` or `not_step_multiple`.
    pub code: String,
    pub message: String,
    /// The limit the code refers to, e.g. 120 for "at most 120 characters".
    #[ts(type = "number | null")]
    pub limit: Option<u64>,
}

/// An error as the front end receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ApiError {
    /// `invalid`, `not_found`, `storage`, `not_paired`, `pairing_code_invalid`, `offline`, or the
    /// marketplace's own code when it refused an online operation (e.g. `stream_ended`).
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldProblem>,
}

impl From<ClientError> for ApiError {
    fn from(error: ClientError) -> Self {
        ApiError::from(&error)
    }
}

impl From<&ClientError> for ApiError {
    fn from(error: &ClientError) -> Self {
        if matches!(error, ClientError::DataDir { .. } | ClientError::Storage(_)) {
            tracing::error!(error = ?error, "local storage failed");
        }
        let fields = match error {
            ClientError::Invalid(errors) => errors
                .iter()
                .map(|e| FieldProblem {
                    field: e.field,
                    code: e.error.code().to_owned(),
                    message: e.error.to_string(),
                    limit: e.error.limit(),
                })
                .collect(),
            _ => Vec::new(),
        };
        let message = match error {
            ClientError::DataDir { .. } | ClientError::Storage(_) => "the local data could not be read or written".to_owned(),
            other => other.to_string(),
        };
        ApiError { code: error.code().to_owned(), message, fields }
    }
}
