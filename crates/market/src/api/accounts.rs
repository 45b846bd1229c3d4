//! Pairing devices, members, and the co-op's device list.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::ids::{DeviceId, MemberId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, Caller, ClientIp};
use super::views::{
    CoopView, DeviceView, MeResponse, MemberView, NewMemberRequest, NewMemberResponse, PairRequest, PairResponse, PairingView,
    RenameDeviceRequest,
};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::marketplace::IssuedCode;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pair))
        .routes(routes!(me))
        .routes(routes!(members, add_member))
        .routes(routes!(new_pairing_code))
        .routes(routes!(devices))
        .routes(routes!(rename_device, revoke_device))
}

pub fn pairing_view(state: &AppState, issued: IssuedCode) -> PairingView {
    let link = domain::pairing::PairingLink { server_url: state.public_url().to_owned(), code: issued.code.clone() };
    PairingView {
        qr_svg: crate::qr::svg(&link.to_uri()),
        code: issued.code,
        member: MemberView::new(issued.member, state.public_url()),
        expires_at: issued.expires_at,
    }
}

/// Exchanges a one-time pairing code for this device's token.
#[utoipa::path(post, path = "/pair", tag = "accounts", request_body = PairRequest, responses(
    (status = 201, body = PairResponse),
    (status = 400, description = "`pairing_code_invalid`: unknown, used or expired", body = ErrorBody),
    (status = 429, description = "`rate_limited`: too many attempts from this address", body = ErrorBody),
))]
async fn pair(State(state): State<AppState>, ClientIp(ip): ClientIp, ApiJson(body): ApiJson<PairRequest>) -> Result<(StatusCode, Json<PairResponse>), ApiError> {
    state.pairing_limiter().check(ip, Instant::now()).map_err(|wait| ApiError::rate_limited(wait.as_secs().max(1)))?;
    let paired = state.market().pair(&body.code, &body.device_name).await?;
    Ok((
        StatusCode::CREATED,
        Json(PairResponse {
            token: paired.token,
            device_id: paired.device.id,
            device_name: paired.device.name,
            member: MemberView::new(paired.member, state.public_url()),
            coop: paired.coop.into(),
        }),
    ))
}

/// Who this device belongs to.
#[utoipa::path(get, path = "/me", tag = "accounts", responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)), security(("device_token" = [])))]
async fn me(State(state): State<AppState>, Caller(session): Caller) -> Result<Json<MeResponse>, ApiError> {
    let member = state.market().member(session.actor.member_id).await?;
    let coop = state.market().coop(&session.actor).await?;
    Ok(Json(MeResponse { device_id: session.device_id, member: MemberView::new(member, state.public_url()), coop: CoopView::from(coop) }))
}

/// The co-op's members.
#[utoipa::path(get, path = "/members", tag = "accounts", responses((status = 200, body = Vec<MemberView>), (status = 401, body = ErrorBody)), security(("device_token" = [])))]
async fn members(State(state): State<AppState>, Caller(session): Caller) -> Result<Json<Vec<MemberView>>, ApiError> {
    let members = state.market().members(&session.actor).await?;
    Ok(Json(members.into_iter().map(|m| MemberView::new(m, state.public_url())).collect()))
}

/// Adds a farmer (staff and admins) or a staff member or admin (admins only), with a pairing code.
#[utoipa::path(post, path = "/members", tag = "accounts", request_body = NewMemberRequest, responses(
    (status = 201, body = NewMemberResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
), security(("device_token" = [])))]
async fn add_member(State(state): State<AppState>, Caller(session): Caller, ApiJson(body): ApiJson<NewMemberRequest>) -> Result<(StatusCode, Json<NewMemberResponse>), ApiError> {
    let actor = session.actor;
    let (member, issued) = state.market().add_member(Some(&actor), actor.coop_id, body.role, &body.name).await?;
    Ok((StatusCode::CREATED, Json(NewMemberResponse { member: MemberView::new(member, state.public_url()), pairing: pairing_view(&state, issued) })))
}

/// A new pairing code for a member's next device (their own, or one they manage).
#[utoipa::path(post, path = "/members/{id}/pairing-codes", tag = "accounts", params(("id" = MemberId, Path)), responses(
    (status = 201, body = PairingView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
), security(("device_token" = [])))]
async fn new_pairing_code(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<MemberId>) -> Result<(StatusCode, Json<PairingView>), ApiError> {
    let issued = state.market().pairing_code_for(Some(&session.actor), id).await?;
    Ok((StatusCode::CREATED, Json(pairing_view(&state, issued))))
}

/// Paired devices: the whole co-op's for staff, one's own for a farmer.
#[utoipa::path(get, path = "/devices", tag = "accounts", responses((status = 200, body = Vec<DeviceView>), (status = 401, body = ErrorBody)), security(("device_token" = [])))]
async fn devices(State(state): State<AppState>, Caller(session): Caller) -> Result<Json<Vec<DeviceView>>, ApiError> {
    let devices = state.market().devices(&session.actor).await?;
    Ok(Json(devices.into_iter().map(|(device, member)| DeviceView::new(device, member)).collect()))
}

/// Renames a device: one's own, or (staff) one of a member one manages.
#[utoipa::path(patch, path = "/devices/{id}", tag = "accounts", params(("id" = DeviceId, Path)), request_body = RenameDeviceRequest, responses(
    (status = 200, body = DeviceView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
), security(("device_token" = [])))]
async fn rename_device(
    State(state): State<AppState>,
    Caller(session): Caller,
    ApiPath(id): ApiPath<DeviceId>,
    ApiJson(body): ApiJson<RenameDeviceRequest>,
) -> Result<Json<DeviceView>, ApiError> {
    let (device, member) = state.market().rename_device(&session.actor, id, &body.name).await?;
    Ok(Json(DeviceView::new(device, member)))
}

/// Revokes a device; its token stops working immediately.
#[utoipa::path(delete, path = "/devices/{id}", tag = "accounts", params(("id" = DeviceId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
), security(("device_token" = [])))]
async fn revoke_device(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<DeviceId>) -> Result<StatusCode, ApiError> {
    state.market().revoke_device(Some(&session.actor), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
