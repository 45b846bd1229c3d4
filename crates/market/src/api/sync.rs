//! Device sync: push the outbox, pull what changed.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use domain::ids::ClientId;
use domain::sync::{PullResponse, PushRequest, PushResponse};
use serde::Deserialize;
use tower_http::decompression::RequestDecompressionLayer;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};

/// A full push batch (500 entries) is well under this, even before compression.
pub const MAX_PUSH_BYTES: usize = 4 * 1024 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pull))
        // Devices on slow links gzip their pushes; the limit applies to the decompressed body.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(push))
                .layer(RequestDecompressionLayer::new())
                .layer(DefaultBodyLimit::max(MAX_PUSH_BYTES)),
        )
}

/// Applies outbox entries in `seq` order, each exactly once. Entries the server has seen get their
/// stored verdict again, so a retried push is harmless; a refused entry does not stop the ones
/// after it. A batch whose first new entry is not the next `seq` is refused whole (`seq_gap`).
#[utoipa::path(post, path = "/sync/push", tag = "sync", request_body = PushRequest, responses(
    (status = 200, body = PushResponse),
    (status = 401, body = ErrorBody),
    (status = 403, description = "`client_id_mismatch`: the client id belongs to another device", body = ErrorBody),
    (status = 409, description = "`seq_gap`: earlier entries are missing; `photo_missing`: a photo was not uploaded first", body = ErrorBody),
    (status = 413, body = ErrorBody),
    (status = 422, description = "`invalid_batch` or `invalid_body` (e.g. an unknown mutation name)", body = ErrorBody),
), security(("device_token" = [])))]
async fn push(State(state): State<AppState>, Caller(session): Caller, ApiJson(request): ApiJson<PushRequest>) -> Result<axum::response::Response, ApiError> {
    // A listing must never point at a photo buyers cannot load. Devices upload first; if one did
    // not, the whole batch waits (409, retried) rather than a change being refused for good.
    let missing = request.entries.iter().any(|e| match &e.mutation {
        domain::mutation::Mutation::ListingPhoto { photo, .. } => photo.check().is_ok() && !state.photos().has(photo),
        _ => false,
    });
    if missing {
        return Err(ApiError::new(axum::http::StatusCode::CONFLICT, "photo_missing", "upload the photos (PUT /api/v1/photos/{sha256}) before the changes that use them"));
    }
    let response = state.market().push(&session, request).await?;
    if state.failpoints().lose_push_response() {
        tracing::warn!("failpoint: dropping the answer to a committed push");
        return Ok(lost_answer());
    }
    Ok(axum::response::IntoResponse::into_response(Json(response)))
}

/// A response whose body fails at once: the connection closes without an answer, after the
/// push has committed.
fn lost_answer() -> axum::response::Response {
    let failing = futures_util::stream::once(async { Err::<axum::body::Bytes, std::io::Error>(std::io::Error::other("failpoint")) });
    axum::response::Response::new(axum::body::Body::from_stream(failing))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PullQuery {
    /// The device's sync identity (the one it pushes under).
    pub client_id: ClientId,
    /// The `cursor` of the previous page; 0 the first time.
    #[serde(default)]
    pub cursor: i64,
    /// Entities per page, 1 to 1000 (default 500).
    pub limit: Option<usize>,
}

/// Listings, orders and this device's quotas changed after `cursor`, in the device's scope (a
/// farmer's own, or the co-op's for staff), with the device's last applied `seq` and a new cursor.
#[utoipa::path(get, path = "/sync/pull", tag = "sync", params(PullQuery), responses(
    (status = 200, body = PullResponse),
    (status = 400, body = ErrorBody),
    (status = 401, body = ErrorBody),
    (status = 403, description = "`client_id_mismatch`", body = ErrorBody),
), security(("device_token" = [])))]
async fn pull(State(state): State<AppState>, Caller(session): Caller, ApiQuery(query): ApiQuery<PullQuery>) -> Result<Json<PullResponse>, ApiError> {
    let limit = query.limit.unwrap_or(500);
    Ok(Json(state.market().pull(&session, query.client_id, query.cursor, limit).await?))
}
