//! Orders: listing and moving them along (farmers and staff), and placing them (buyers).

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use domain::ids::OrderId;
use domain::order::Channel;
use domain::time::Timestamp;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery, Caller, ClientIp};
use super::views::{BuyerOrderRequest, BuyerOrderResponse, OrderPage, OrderQuery, OrderView, PaymentRequest, StatusRequest};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::marketplace::{BuyerOrder, FulfilmentChoice, MarketError, PlacedOrder};
use crate::storage::{OrderCursor, OrderFilter};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, place))
        .routes(routes!(get))
        .routes(routes!(step))
        .routes(routes!(pay))
}

/// Orders a farmer or the co-op sees, newest first, a page at a time.
#[utoipa::path(get, path = "/orders", tag = "orders", params(OrderQuery), responses(
    (status = 200, body = OrderPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
), security(("device_token" = [])))]
async fn list(State(state): State<AppState>, Caller(session): Caller, ApiQuery(query): ApiQuery<OrderQuery>) -> Result<Json<OrderPage>, ApiError> {
    let after = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let filter = OrderFilter {
        coop_id: session.actor.coop_id,
        farmer_id: query.farmer_id,
        status: query.status,
        channel: query.channel,
        pickup_point_id: query.pickup_point_id,
        created_from: query.from.map(Timestamp),
        created_before: query.before.map(Timestamp),
        search: query.q.filter(|q| !q.trim().is_empty()).map(|q| q.trim().chars().take(80).collect()),
        after,
        limit: query.limit.unwrap_or(50),
    };
    let page = state.market().orders_for(&session.actor, filter).await?;
    Ok(Json(OrderPage {
        items: page.items.into_iter().map(OrderView::from).collect(),
        next_cursor: page.next.map(|c| format!("{}.{}", c.created_at.millis(), c.id)),
    }))
}

fn parse_cursor(text: &str) -> Result<OrderCursor, ApiError> {
    let bad = || ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", "cursor is not one this server issued");
    let (millis, id) = text.split_once('.').ok_or_else(bad)?;
    Ok(OrderCursor { created_at: Timestamp(millis.parse().map_err(|_| bad())?), id: OrderId::parse(id).ok_or_else(bad)? })
}

#[utoipa::path(get, path = "/orders/{id}", tag = "orders", params(("id" = OrderId, Path)), responses(
    (status = 200, body = OrderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
), security(("device_token" = [])))]
async fn get(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<OrderId>) -> Result<Json<OrderView>, ApiError> {
    Ok(Json(state.market().order_for(&session.actor, id).await?.into()))
}

/// Moves an order along: confirm, pack, ship, mark_ready, deliver, cancel, decline.
#[utoipa::path(post, path = "/orders/{id}/status", tag = "orders", params(("id" = OrderId, Path)), request_body = StatusRequest, responses(
    (status = 200, body = OrderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "`invalid_transition`: not allowed from the current status", body = ErrorBody),
), security(("device_token" = [])))]
async fn step(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<OrderId>, ApiJson(body): ApiJson<StatusRequest>) -> Result<Json<OrderView>, ApiError> {
    Ok(Json(state.market().step_order(&session.actor, id, body.action, body.reason).await?.into()))
}

/// Records money received for an order.
#[utoipa::path(post, path = "/orders/{id}/payments", tag = "orders", params(("id" = OrderId, Path)), request_body = PaymentRequest, responses(
    (status = 200, body = OrderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "`overpaid` or `not_payable`", body = ErrorBody), (status = 422, body = ErrorBody),
), security(("device_token" = [])))]
async fn pay(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<OrderId>, ApiJson(body): ApiJson<PaymentRequest>) -> Result<Json<OrderView>, ApiError> {
    Ok(Json(state.market().record_payment(&session.actor, id, &body.amount).await?.into()))
}

/// Places a buyer's order. Send a fresh `Idempotency-Key` per order and the same one on retries:
/// a retried or double-tapped order is placed once. Prices come from the listing; the request has
/// no price field, and the server would ignore one.
#[utoipa::path(post, path = "/orders", tag = "buyers", request_body = BuyerOrderRequest,
    params(("Idempotency-Key" = String, Header, description = "8 to 128 letters, digits, '-' or '_'; unique per order")),
    responses(
        (status = 201, description = "placed", body = BuyerOrderResponse),
        (status = 200, description = "already placed with this key (a retry)", body = BuyerOrderResponse),
        (status = 404, description = "no such listing", body = ErrorBody),
        (status = 409, description = "`sold_out`, `insufficient_stock` or `not_for_sale`", body = ErrorBody),
        (status = 422, description = "`invalid` or `idempotency_key_reused`", body = ErrorBody),
        (status = 428, description = "`idempotency_key_required`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ))]
async fn place(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap, ApiJson(body): ApiJson<BuyerOrderRequest>) -> Result<(StatusCode, Json<BuyerOrderResponse>), ApiError> {
    state.order_limiter().check(ip, Instant::now()).map_err(|wait| ApiError::rate_limited(wait.as_secs().max(1)))?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::new(StatusCode::PRECONDITION_REQUIRED, "idempotency_key_required", "send an Idempotency-Key header"))?;
    let listing = state.market().public_listing(&body.listing_code).await?;
    let fulfilment = match (body.pickup_point_id, body.delivery_address) {
        (Some(point), None) => FulfilmentChoice::Pickup(point),
        (None, Some(address)) => FulfilmentChoice::Delivery(address),
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "send exactly one of pickup_point_id and delivery_address",
            ));
        }
    };
    let order = BuyerOrder {
        listing_id: listing.listing.id,
        quantity: body.quantity,
        name: body.name,
        phone: body.phone,
        fulfilment,
        payment_method: body.payment_method,
        channel: body.channel.unwrap_or(Channel::OrderLink),
        note: body.note.unwrap_or_default(),
        stream_id: body.stream_id,
    };
    let placed = place_counted(&state, key, order).await?;
    let status = if placed.replayed { StatusCode::OK } else { StatusCode::CREATED };
    let status_url = format!("{}/o/{}", state.public_url(), placed.status_token);
    Ok((status, Json(BuyerOrderResponse { order: placed.record.order.into(), status_url, replayed: placed.replayed })))
}

/// Places an order and counts the outcome in the metrics; the order page's form uses it too.
pub async fn place_counted(state: &AppState, key: &str, order: BuyerOrder) -> Result<PlacedOrder, MarketError> {
    let channel = sqlite_rows::code(&order.channel);
    match state.market().place_order(key, order).await {
        Ok(placed) => {
            if !placed.replayed {
                state.metrics().order_placed(&channel);
            }
            Ok(placed)
        }
        Err(error) => {
            state.metrics().order_refused(error.code());
            Err(error)
        }
    }
}

