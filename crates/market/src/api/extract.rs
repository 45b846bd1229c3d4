//! Extractors that turn a request into trusted values or into our error shape.
//!
//! axum's own extractors answer bad input with plain-text errors; these wrap them so that malformed
//! JSON, wrong types, oversized bodies, bad path ids and missing tokens all come back as
//! `{"error":{"code","message"}}` with the right status.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;
use crate::marketplace::Session;

/// A JSON body of type `T`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send Content-Type: application/json")
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", "the body is not valid JSON"),
        // serde's message names the field and the expected type, which is what a client needs.
        JsonRejection::JsonDataError(error) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", error.body_text()),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
        other => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", other.body_text()),
    }
}

pub fn payload_too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
}

/// Query parameters of type `T`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(error)) => {
                Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", error.body_text()))
            }
            Err(other) => Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", other.body_text())),
        }
    }
}

/// A path parameter of type `T`. Anything that does not parse (a malformed id) is simply not found.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|_| ApiError::not_found())
    }
}

/// The device making the request, from `Authorization: Bearer <token>`.
pub struct Caller(pub Session);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty() && token.len() <= 128)
            .ok_or_else(|| ApiError::from(crate::marketplace::MarketError::Unauthorized))?;
        Ok(Caller(state.market().authenticate(token).await?))
    }
}

/// The client's IP address, for rate limits. Behind a reverse proxy this is the proxy's address;
/// the proxy must do per-client limiting then (documented in the README).
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip());
        Ok(ClientIp(ip))
    }
}
