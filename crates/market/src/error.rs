//! The one error type every handler returns, and its JSON form.
//!
//! Clients get `{"error":{"code","message"}}` with a fitting status, plus `fields` when input was
//! refused field by field. Codes are stable and documented; messages are English hints. Internal
//! failures are logged with their cause and reach the client only as `internal`, so no SQL, path
//! or stack trace ever leaves the server.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::error::{Field, FieldError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::marketplace::MarketError;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    fields: Vec<FieldError>,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), fields: Vec::new(), retry_after_secs: None }
    }

    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn rate_limited(retry_after_secs: u64) -> ApiError {
        ApiError { retry_after_secs: Some(retry_after_secs), ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests; try again later") }
    }

    /// Asks the client to wait this long before trying again.
    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after_secs = Some(seconds);
        self
    }

    /// Logs `cause` and answers a bare 500.
    pub fn internal(cause: impl std::fmt::Debug) -> ApiError {
        tracing::error!(?cause, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on the server")
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn fields(&self) -> &[FieldError] {
        &self.fields
    }
}

impl From<MarketError> for ApiError {
    fn from(error: MarketError) -> Self {
        let code = error.code();
        let (status, message, fields) = match error {
            MarketError::Unauthorized => (StatusCode::UNAUTHORIZED, "a valid device token is required".into(), vec![]),
            MarketError::Forbidden => (StatusCode::FORBIDDEN, "this account may not do that".into(), vec![]),
            MarketError::NotFound => (StatusCode::NOT_FOUND, "no such resource".into(), vec![]),
            MarketError::Invalid(fields) => (StatusCode::UNPROCESSABLE_ENTITY, "some fields are not valid".into(), fields),
            MarketError::Refused(fields) => (StatusCode::CONFLICT, "refused in the current state".into(), fields),
            MarketError::IdempotencyKeyReused => {
                (StatusCode::UNPROCESSABLE_ENTITY, "this Idempotency-Key was used for a different request".into(), vec![])
            }
            MarketError::PairingRefused => (StatusCode::BAD_REQUEST, "the pairing code is unknown, used or expired".into(), vec![]),
            MarketError::Taken(what) => (StatusCode::CONFLICT, format!("{what} is already taken"), vec![]),
            MarketError::SeqGap { last_applied_seq } => {
                (StatusCode::CONFLICT, format!("entries are missing: the server has applied up to seq {last_applied_seq}"), vec![])
            }
            MarketError::ClientMismatch => (StatusCode::FORBIDDEN, "this client id belongs to another device".into(), vec![]),
            MarketError::InvalidBatch(why) => (StatusCode::UNPROCESSABLE_ENTITY, format!("the batch is {why}"), vec![]),
            MarketError::Internal(cause) => return ApiError::internal(cause),
        };
        ApiError { fields, ..ApiError::new(status, code, message) }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `not_found`, `invalid`, `sold_out`.
    pub code: String,
    /// A human-readable hint in English; do not match on it.
    pub message: String,
    /// For `invalid` and refusals: which fields, with the domain's code for each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    pub field: Field,
    pub code: String,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let fields = self
            .fields
            .iter()
            .map(|f| FieldProblem { field: f.field, code: f.error.code().to_owned(), message: f.error.to_string() })
            .collect();
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message, fields } };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after_secs {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        // Handlers record the code so that metrics can count refusals by reason.
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

/// The error code of a response, for the metrics layer.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);
