//! Listings for the people who sell: create, edit, pause, stock, photos; and the public view.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use domain::error::{Field, FieldError};
use domain::ids::ListingId;
use domain::listing::{ListingChange, ListingInput, PhotoRef};
use domain::quantity::Quantity;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::views::{ListingQuery, ListingView, NewListingRequest, PickupPointView, PublicListing, StockRequest};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::marketplace::MarketError;

/// The largest photo upload: a 12-megapixel phone JPEG is 3 to 6 MB.
pub const MAX_PHOTO_BYTES: usize = 12 * 1024 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, edit))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(set_stock))
        .routes(routes!(public))
        // Only the photo upload may send a large body.
        .merge(OpenApiRouter::new().routes(routes!(add_photo)).routes(routes!(put_photo)).layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES)))
}

fn view(state: &AppState, record: crate::storage::ListingRecord) -> Json<ListingView> {
    Json(ListingView::new(record, state.public_url()))
}

/// A farmer's own listings, or the whole co-op's for staff (optionally one farmer's).
#[utoipa::path(get, path = "/listings", tag = "listings", params(ListingQuery), responses((status = 200, body = Vec<ListingView>), (status = 401, body = ErrorBody)), security(("device_token" = [])))]
async fn list(State(state): State<AppState>, Caller(session): Caller, ApiQuery(query): ApiQuery<ListingQuery>) -> Result<Json<Vec<ListingView>>, ApiError> {
    let records = state.market().listings_for(&session.actor, query.farmer_id, query.status).await?;
    Ok(Json(records.into_iter().map(|r| ListingView::new(r, state.public_url())).collect()))
}

/// Lists new produce. Numbers are decimals in text, exactly as a person typed them.
#[utoipa::path(post, path = "/listings", tag = "listings", request_body = NewListingRequest, responses(
    (status = 201, body = ListingView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
), security(("device_token" = [])))]
async fn create(State(state): State<AppState>, Caller(session): Caller, ApiJson(body): ApiJson<NewListingRequest>) -> Result<(StatusCode, Json<ListingView>), ApiError> {
    let record = state.market().create_listing(&session.actor, body.farmer_id, &body.input).await?;
    Ok((StatusCode::CREATED, view(&state, record)))
}

#[utoipa::path(get, path = "/listings/{id}", tag = "listings", params(("id" = ListingId, Path)), responses(
    (status = 200, body = ListingView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
), security(("device_token" = [])))]
async fn get(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<ListingId>) -> Result<Json<ListingView>, ApiError> {
    Ok(view(&state, state.market().listing_for(&session.actor, id).await?))
}

/// Replaces the listing's text, price, stock and order rules with the form's values.
#[utoipa::path(patch, path = "/listings/{id}", tag = "listings", params(("id" = ListingId, Path)), request_body = ListingInput, responses(
    (status = 200, body = ListingView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
), security(("device_token" = [])))]
async fn edit(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<ListingId>, ApiJson(input): ApiJson<ListingInput>) -> Result<Json<ListingView>, ApiError> {
    let details = input.parse().map_err(MarketError::Invalid)?;
    Ok(view(&state, state.market().change_listing(&session.actor, id, ListingChange::Edit(details)).await?))
}

/// Hides the listing from buyers, keeping its stock.
#[utoipa::path(post, path = "/listings/{id}/pause", tag = "listings", params(("id" = ListingId, Path)), responses(
    (status = 200, body = ListingView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "`invalid_listing_status`", body = ErrorBody),
), security(("device_token" = [])))]
async fn pause(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<ListingId>) -> Result<Json<ListingView>, ApiError> {
    Ok(view(&state, state.market().change_listing(&session.actor, id, ListingChange::Pause).await?))
}

/// Shows a paused listing to buyers again.
#[utoipa::path(post, path = "/listings/{id}/resume", tag = "listings", params(("id" = ListingId, Path)), responses(
    (status = 200, body = ListingView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "`invalid_listing_status`", body = ErrorBody),
), security(("device_token" = [])))]
async fn resume(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<ListingId>) -> Result<Json<ListingView>, ApiError> {
    Ok(view(&state, state.market().change_listing(&session.actor, id, ListingChange::Resume).await?))
}

/// Sets the stock, e.g. after a harvest.
#[utoipa::path(put, path = "/listings/{id}/stock", tag = "listings", params(("id" = ListingId, Path)), request_body = StockRequest, responses(
    (status = 200, body = ListingView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
), security(("device_token" = [])))]
async fn set_stock(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<ListingId>, ApiJson(body): ApiJson<StockRequest>) -> Result<Json<ListingView>, ApiError> {
    let record = state.market().listing_for(&session.actor, id).await?;
    let stock = Quantity::parse(&body.stock, record.listing.details.unit)
        .map_err(|e| MarketError::Invalid(vec![FieldError::new(Field::Stock, e)]))?;
    let changed = state.market().change_listing(&session.actor, id, ListingChange::SetStock(stock)).await.map_err(refusal_is_invalid)?;
    Ok(view(&state, changed))
}

/// Adds a photo (JPEG, PNG or WebP). The server re-encodes it without metadata, at 1280 px and as a
/// 320 px thumbnail; the same photo uploaded twice is stored once.
#[utoipa::path(post, path = "/listings/{id}/photos", tag = "listings", params(("id" = ListingId, Path)),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses(
        (status = 200, body = ListingView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, description = "`invalid_image`", body = ErrorBody),
    ), security(("device_token" = [])))]
async fn add_photo(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<ListingId>, headers: HeaderMap, body: Bytes) -> Result<Json<ListingView>, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !matches!(content_type, "image/jpeg" | "image/png" | "image/webp") {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send image/jpeg, image/png or image/webp"));
    }
    state.market().listing_for(&session.actor, id).await?;
    let stored = state.photos().store(body).await?;
    let change = ListingChange::AddPhoto(PhotoRef { sha256: stored });
    Ok(view(&state, state.market().change_listing(&session.actor, id, change).await?))
}

/// Stores a photo a device already processed (1280 px JPEG, no metadata), under its SHA-256: how
/// sync carries photos. The device uploads before it pushes the `listing.photo` change naming it;
/// uploading the same photo again changes nothing.
#[utoipa::path(put, path = "/photos/{sha256}", tag = "sync", params(("sha256" = String, Path)),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses(
        (status = 204), (status = 401, body = ErrorBody), (status = 404, description = "not a SHA-256 name", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "`hash_mismatch` or `invalid_image`", body = ErrorBody),
    ), security(("device_token" = [])))]
async fn put_photo(State(state): State<AppState>, Caller(_session): Caller, ApiPath(sha256): ApiPath<String>, headers: HeaderMap, body: Bytes) -> Result<StatusCode, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type != "image/jpeg" {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send image/jpeg"));
    }
    state.photos().store_processed(sha256, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A listing as buyers see it, by its link code, with the pickup points to choose from.
#[utoipa::path(get, path = "/public/listings/{code}", tag = "buyers", params(("code" = String, Path)), responses(
    (status = 200, body = PublicListing), (status = 404, body = ErrorBody),
))]
async fn public(State(state): State<AppState>, ApiPath(code): ApiPath<String>) -> Result<Json<PublicListing>, ApiError> {
    let record = state.market().public_listing(&code).await?;
    let points = state.market().pickup_points(record.coop_id).await?;
    let listing = record.listing;
    let details = listing.details;
    Ok(Json(PublicListing {
        id: listing.id,
        order_link: format!("{}/l/{}", state.public_url(), record.code),
        code: record.code,
        title: details.title,
        description: details.description,
        unit: details.unit,
        price: details.price,
        stock: details.stock,
        rules: details.rules,
        status: listing.status,
        photos: listing.photos.iter().map(|p| format!("{}/photos/{}.jpg", state.public_url(), p.sha256)).collect(),
        pickup_points: points.into_iter().filter(|p| p.active).map(PickupPointView::from).collect(),
    }))
}

/// A stock value the listing's rules refuse is bad input from this caller, not a state conflict.
fn refusal_is_invalid(error: MarketError) -> MarketError {
    match error {
        MarketError::Refused(fields) => MarketError::Invalid(fields),
        other => other,
    }
}

