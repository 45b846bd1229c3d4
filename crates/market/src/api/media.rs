//! WHIP (RFC 9725) and WHEP: a camera publishes a stream, players play it, through the relay.
//!
//! - `POST /streams/{id}/whip` with an SDP offer and the stream's publish token as
//!   `Authorization: Bearer`; `POST /streams/{id}/whep` with an offer and no token. Both answer
//!   `201` with the SDP answer, the session's `Location`, an `ETag`, and `Link: rel="ice-server"`
//!   for each configured STUN/TURN server.
//! - `PATCH` on the session with a trickle ICE fragment (`If-Match` required); `DELETE` ends it.
//!   A publisher's session needs the publish token for both.
//!
//! These are the only places the relay is driven from HTTP; what is allowed is decided by the
//! marketplace first (the token, the stream's status), and the relay only ever sees SDP text.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::ids::StreamId;
use domain::live::check_open;
use relay::{RelayError, Role, SessionId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::ApiPath;
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::marketplace::MarketError;

const SDP: &str = "application/sdp";
const SDPFRAG: &str = "application/trickle-ice-sdpfrag";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(whip, whip_options)).routes(routes!(whep, whep_options)).routes(routes!(trickle, delete))
}

/// Says what the endpoint takes and which ICE servers to use (`Accept-Post`, `Link`).
#[utoipa::path(options, path = "/streams/{id}/whip", tag = "live", params(("id" = StreamId, Path)), responses((status = 204)))]
async fn whip_options() -> StatusCode {
    // The headers are added by `options_headers`, which also sees the CORS layer's answers.
    StatusCode::NO_CONTENT
}

/// Says what the endpoint takes and which ICE servers to use (`Accept-Post`, `Link`).
#[utoipa::path(options, path = "/streams/{id}/whep", tag = "live", params(("id" = StreamId, Path)), responses((status = 204)))]
async fn whep_options() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// `OPTIONS` on the WHIP and WHEP endpoints says what they take and which ICE servers to use
/// (RFC 9725 §4.4). The CORS layer answers every `OPTIONS` itself, so this adds to its answer.
pub async fn options_headers(State(state): State<AppState>, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let is_endpoint = request.method() == axum::http::Method::OPTIONS
        && (request.uri().path().ends_with("/whip") || request.uri().path().ends_with("/whep"));
    let mut response = next.run(request).await;
    if is_endpoint {
        let headers = response.headers_mut();
        headers.insert(header::HeaderName::from_static("accept-post"), HeaderValue::from_static(SDP));
        ice_server_links(&state, headers);
    }
    response
}

/// Publishes the stream's camera (WHIP). The body is the SDP offer.
#[utoipa::path(post, path = "/streams/{id}/whip", tag = "live", params(("id" = StreamId, Path)),
    request_body(content = String, content_type = "application/sdp"),
    responses(
        (status = 201, description = "The SDP answer; `Location` is the session, `ETag` its entity tag", content_type = "application/sdp", body = String),
        (status = 400, description = "`bad_sdp`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "`stream_ended`", body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, description = "`no_media`", body = ErrorBody), (status = 503, description = "`relay_full`", body = ErrorBody),
    ), security(("publish_token" = [])))]
async fn whip(State(state): State<AppState>, ApiPath(id): ApiPath<StreamId>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let offer = sdp_body(&headers, &body, SDP)?;
    let token = bearer(&headers).ok_or(MarketError::Unauthorized)?;
    state.market().stream_to_publish(token, id).await?;
    let answer = state.live().relay().publish(&id.to_string(), offer).await.map_err(relay_error)?;
    Ok(created(&state, id, answer))
}

/// Plays the stream (WHEP). The body is the SDP offer; only a live stream can be played.
#[utoipa::path(post, path = "/streams/{id}/whep", tag = "live", params(("id" = StreamId, Path)),
    request_body(content = String, content_type = "application/sdp"),
    responses(
        (status = 201, description = "The SDP answer; `Location` is the session, `ETag` its entity tag", content_type = "application/sdp", body = String),
        (status = 400, description = "`bad_sdp`", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`stream_not_live`, `stream_ended`", body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "`codec_unsupported`", body = ErrorBody), (status = 503, description = "`relay_full`", body = ErrorBody),
    ))]
async fn whep(State(state): State<AppState>, ApiPath(id): ApiPath<StreamId>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let offer = sdp_body(&headers, &body, SDP)?;
    let stream = state.market().stream(id).await?;
    check_open(stream.status).map_err(|e| MarketError::Refused(vec![e]))?;
    let answer = state.live().relay().play(&id.to_string(), offer).await.map_err(relay_error)?;
    Ok(created(&state, id, answer))
}

/// Trickles ICE candidates into a session (RFC 8840 fragment). ICE restarts are not supported:
/// a client starts a new session instead.
#[utoipa::path(patch, path = "/streams/{id}/sessions/{session}", tag = "live", params(("id" = StreamId, Path), ("session" = String, Path)),
    request_body(content = String, content_type = "application/trickle-ice-sdpfrag"),
    responses(
        (status = 204), (status = 400, description = "`bad_fragment`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 412, description = "`etag_mismatch`", body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "`ice_restart_unsupported`", body = ErrorBody), (status = 428, description = "`precondition_required`", body = ErrorBody),
    ))]
async fn trickle(State(state): State<AppState>, ApiPath((id, session)): ApiPath<(StreamId, String)>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let fragment = sdp_body(&headers, &body, SDPFRAG)?;
    let session = authorized_session(&state, id, &session, &headers).await?;
    let if_match = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned);
    state.live().relay().trickle(session, if_match, fragment).await.map_err(relay_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Ends a session: a viewer leaves, or the camera stops (the stream stays open for it to return).
#[utoipa::path(delete, path = "/streams/{id}/sessions/{session}", tag = "live", params(("id" = StreamId, Path), ("session" = String, Path)),
    responses((status = 200), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete(State(state): State<AppState>, ApiPath((id, session)): ApiPath<(StreamId, String)>, headers: HeaderMap) -> Result<Response, ApiError> {
    let session = authorized_session(&state, id, &session, &headers).await?;
    state.live().relay().end_session(session).await.map_err(relay_error)?;
    Ok(StatusCode::OK.into_response())
}

/// The session, if it belongs to this stream and the caller may touch it: anyone holding a
/// viewer's session URL (it is the capability), only the publish token for the camera's.
async fn authorized_session(state: &AppState, id: StreamId, session: &str, headers: &HeaderMap) -> Result<SessionId, ApiError> {
    let session: SessionId = session.parse().map_err(|_| ApiError::not_found())?;
    let info = state.live().relay().session(session).await.map_err(relay_error)?.ok_or_else(ApiError::not_found)?;
    if info.stream != id.to_string() {
        return Err(ApiError::not_found());
    }
    if info.role == Role::Publisher {
        let token = bearer(headers).ok_or(MarketError::Unauthorized)?;
        match state.market().stream_to_publish(token, id).await {
            Ok(_) => {}
            // The stream was ended: its camera may still hang up.
            Err(MarketError::Refused(_)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Ok(session)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
}

/// The body as text of the expected media type.
fn sdp_body(headers: &HeaderMap, body: &Bytes, expected: &str) -> Result<String, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(expected) {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", format!("send Content-Type: {expected}")));
    }
    let text = std::str::from_utf8(body).map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "bad_sdp", "the body is not UTF-8 text"))?;
    Ok(text.to_owned())
}

fn created(state: &AppState, id: StreamId, answer: relay::Answer) -> Response {
    let mut response = (StatusCode::CREATED, [(header::CONTENT_TYPE, SDP)], answer.sdp).into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/streams/{id}/sessions/{}", answer.session)) {
        headers.insert(header::LOCATION, location);
    }
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", answer.etag)) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::HeaderName::from_static("accept-patch"), HeaderValue::from_static(SDPFRAG));
    ice_server_links(state, headers);
    response
}

fn ice_server_links(state: &AppState, headers: &mut HeaderMap) {
    for url in &state.media().ice_servers {
        if let Ok(link) = HeaderValue::from_str(&format!("<{url}>; rel=\"ice-server\"")) {
            headers.append(header::LINK, link);
        }
    }
}

fn relay_error(error: RelayError) -> ApiError {
    let (status, code) = match &error {
        RelayError::BadSdp(_) => (StatusCode::BAD_REQUEST, "bad_sdp"),
        RelayError::NoMedia => (StatusCode::UNPROCESSABLE_ENTITY, "no_media"),
        RelayError::CodecUnsupported => (StatusCode::UNPROCESSABLE_ENTITY, "codec_unsupported"),
        RelayError::NotLive => (StatusCode::CONFLICT, "stream_not_live"),
        RelayError::Full => return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "relay_full", error.to_string()).retry_after(5),
        RelayError::UnknownSession => return ApiError::not_found(),
        RelayError::BadFragment(_) => (StatusCode::BAD_REQUEST, "bad_fragment"),
        RelayError::PreconditionRequired => (StatusCode::PRECONDITION_REQUIRED, "precondition_required"),
        RelayError::EtagMismatch => (StatusCode::PRECONDITION_FAILED, "etag_mismatch"),
        RelayError::IceRestartUnsupported => (StatusCode::UNPROCESSABLE_ENTITY, "ice_restart_unsupported"),
        RelayError::Stopped | RelayError::Internal(_) => return ApiError::internal(error),
    };
    ApiError::new(status, code, error.to_string())
}
