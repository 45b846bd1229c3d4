//! The co-op's pickup points.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::ids::PickupPointId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, Caller};
use super::views::{NewPickupPoint, PickupPointPatch, PickupPointView};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(update))
}

/// The co-op's pickup points, active or not.
#[utoipa::path(get, path = "/pickup-points", tag = "pickup points", responses((status = 200, body = Vec<PickupPointView>), (status = 401, body = ErrorBody)), security(("device_token" = [])))]
async fn list(State(state): State<AppState>, Caller(session): Caller) -> Result<Json<Vec<PickupPointView>>, ApiError> {
    let points = state.market().pickup_points(session.actor.coop_id).await?;
    Ok(Json(points.into_iter().map(PickupPointView::from).collect()))
}

/// Adds a pickup point (co-op staff and admins).
#[utoipa::path(post, path = "/pickup-points", tag = "pickup points", request_body = NewPickupPoint, responses(
    (status = 201, body = PickupPointView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
), security(("device_token" = [])))]
async fn create(State(state): State<AppState>, Caller(session): Caller, ApiJson(body): ApiJson<NewPickupPoint>) -> Result<(StatusCode, Json<PickupPointView>), ApiError> {
    let actor = session.actor;
    let point = state.market().add_pickup_point(Some(&actor), actor.coop_id, &body.name, &body.address).await?;
    Ok((StatusCode::CREATED, Json(point.into())))
}

/// Opens or closes a pickup point for new orders.
#[utoipa::path(patch, path = "/pickup-points/{id}", tag = "pickup points", params(("id" = PickupPointId, Path)), request_body = PickupPointPatch, responses(
    (status = 200, body = PickupPointView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
), security(("device_token" = [])))]
async fn update(
    State(state): State<AppState>,
    Caller(session): Caller,
    ApiPath(id): ApiPath<PickupPointId>,
    ApiJson(body): ApiJson<PickupPointPatch>,
) -> Result<Json<PickupPointView>, ApiError> {
    let point = state.market().set_pickup_point_active(&session.actor, id, body.active).await?;
    Ok(Json(point.into()))
}
