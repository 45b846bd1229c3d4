//! Live streams for the farmer (plan, feature a product, end) and their live events for buyers.
//!
//! The video itself goes through the WHIP and WHEP endpoints in [`super::media`]; this module is
//! everything around it. Live events are Server-Sent Events: a `state` event with everything first
//! (so a late viewer starts from the present), then one event per change: `status`, `featured`,
//! `stock`, `viewers`, `orders`; and a `heartbeat` when there has been nothing to say for a while,
//! so that a client can tell a quiet stream from a dead connection.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use domain::ids::{ListingId, MemberId, StreamId};
use domain::live::{LiveEvent, LiveSnapshot, LiveStatus, ProductCard, StockChange, StreamInput};
use domain::listing::ListingStatus;
use domain::time::Timestamp;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::live::RoomState;
use crate::pages::format;
use crate::pages::texts::Lang;
use crate::storage::{ListingRecord, StreamRecord};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create)).routes(routes!(get)).routes(routes!(feature)).routes(routes!(end))
}

/// The routes buyers' pages and other origins reach (CORS applies to them).
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewStreamRequest {
    #[serde(flatten)]
    pub input: StreamInput,
    /// Staff setting up a stream for a farmer of their co-op; a farmer's own otherwise.
    #[serde(default)]
    pub farmer_id: Option<MemberId>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FeatureRequest {
    pub listing_id: ListingId,
}

/// A stream as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamView {
    pub id: StreamId,
    pub farmer_id: MemberId,
    pub title: String,
    pub status: LiveStatus,
    pub listing_ids: Vec<ListingId>,
    pub featured: ListingId,
    pub viewers: usize,
    pub orders: u64,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// The buyers' page.
    pub watch_url: String,
    /// Where a camera publishes (WHIP), with the publish token as `Authorization: Bearer`.
    pub whip_url: String,
    /// Where a player plays (WHEP).
    pub whep_url: String,
    /// The stream's live events (Server-Sent Events), as on the buyers' page.
    pub events_url: String,
}

impl StreamView {
    fn new(state: &AppState, room: &RoomState) -> StreamView {
        let s = &room.stream;
        let api = format!("{}/api/v1/streams/{}", state.public_url(), s.id);
        StreamView {
            id: s.id,
            farmer_id: s.farmer_id,
            title: s.title.clone(),
            status: room.status(),
            listing_ids: s.listing_ids.clone(),
            featured: s.featured,
            viewers: room.viewers,
            orders: room.orders,
            created_at: s.created_at,
            started_at: s.started_at,
            ended_at: s.ended_at,
            watch_url: format!("{}/live/{}", state.public_url(), s.id),
            whip_url: format!("{api}/whip"),
            whep_url: format!("{api}/whep"),
            events_url: format!("{api}/events"),
        }
    }
}

/// A new stream, with the publish token shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewStreamResponse {
    #[serde(flatten)]
    pub stream: StreamView,
    /// The camera's `Authorization: Bearer` token for the WHIP endpoint.
    pub publish_token: String,
}

async fn view(state: &AppState, record: &StreamRecord) -> Result<Json<StreamView>, ApiError> {
    let room = state.live().snapshot(record.id).await?;
    Ok(Json(StreamView::new(state, &room)))
}

/// Plans a stream: a title and the products to show. The answer holds the publish token, once.
#[utoipa::path(post, path = "/streams", tag = "live", request_body = NewStreamRequest, responses(
    (status = 201, body = NewStreamResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
), security(("device_token" = [])))]
async fn create(State(state): State<AppState>, Caller(session): Caller, ApiJson(body): ApiJson<NewStreamRequest>) -> Result<(StatusCode, Json<NewStreamResponse>), ApiError> {
    let created = state.market().create_stream(&session.actor, body.farmer_id, &body.input).await?;
    let Json(stream) = view(&state, &created.record).await?;
    Ok((StatusCode::CREATED, Json(NewStreamResponse { stream, publish_token: created.publish_token })))
}

#[utoipa::path(get, path = "/streams/{id}", tag = "live", params(("id" = StreamId, Path)), responses(
    (status = 200, body = StreamView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
), security(("device_token" = [])))]
async fn get(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<StreamId>) -> Result<Json<StreamView>, ApiError> {
    let record = state.market().stream_for(&session.actor, id).await?;
    view(&state, &record).await
}

/// Puts one of the stream's products on every buyer's card.
#[utoipa::path(post, path = "/streams/{id}/featured", tag = "live", params(("id" = StreamId, Path)), request_body = FeatureRequest, responses(
    (status = 200, body = StreamView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "`not_in_stream`, `stream_ended`", body = ErrorBody),
), security(("device_token" = [])))]
async fn feature(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<StreamId>, ApiJson(body): ApiJson<FeatureRequest>) -> Result<Json<StreamView>, ApiError> {
    let record = state.market().feature(&session.actor, id, body.listing_id).await?;
    state.live().refresh(id).await;
    view(&state, &record).await
}

/// Ends the stream for good: the camera and every viewer are disconnected.
#[utoipa::path(post, path = "/streams/{id}/end", tag = "live", params(("id" = StreamId, Path)), responses(
    (status = 200, body = StreamView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "`stream_ended`", body = ErrorBody),
), security(("device_token" = [])))]
async fn end(State(state): State<AppState>, Caller(session): Caller, ApiPath(id): ApiPath<StreamId>) -> Result<Json<StreamView>, ApiError> {
    let record = state.market().end_stream(&session.actor, id).await?;
    state.live().relay().end_stream(&id.to_string()).await.map_err(ApiError::internal)?;
    state.live().refresh(id).await;
    view(&state, &record).await
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventsQuery {
    /// The language of the texts in the events (`zh-CN`, `en`, `it`); English by default.
    pub lang: Option<String>,
}

/// The card of a featured product, worded in `lang`.
fn product_card(record: &ListingRecord, stream: StreamId, lang: Lang) -> ProductCard {
    let t = lang.texts();
    let details = &record.listing.details;
    let on_sale = record.listing.status == ListingStatus::Active && details.stock.milli() > 0;
    let stock_text = if on_sale {
        t.left.replace("{}", &format::quantity(details.stock, details.unit, lang))
    } else if record.listing.status == ListingStatus::SoldOut || details.stock.milli() == 0 {
        t.sold_out.to_owned()
    } else {
        t.not_for_sale.to_owned()
    };
    ProductCard {
        listing_id: record.listing.id,
        title: details.title.clone(),
        photo_url: record.listing.photos.first().map(|p| format!("/photos/{}.jpg", p.sha256)),
        unit: details.unit,
        price: details.price,
        stock: details.stock.to_decimal_string(),
        on_sale,
        price_text: format!("{} / {}", format::money(details.price, lang), t.unit(details.unit)),
        stock_text,
        // The stream goes with the order, for the farmer's sales per stream.
        order_url: format!("/l/{}?via=live&stream={stream}&embed=1&lang={}", record.code, lang.tag()),
    }
}

/// The stream's live events (`text/event-stream`): `state` first, then `status`, `featured`,
/// `stock`, `viewers` and `orders` as they change, and `heartbeat` after 5 s without any of them
/// (the server's `live_heartbeat`). Open to anyone who may watch.
#[utoipa::path(get, path = "/streams/{id}/events", tag = "live", params(("id" = StreamId, Path), EventsQuery), responses(
    (status = 200, description = "Server-Sent Events", content_type = "text/event-stream", body = LiveEvent), (status = 404, body = ErrorBody),
))]
async fn events(State(state): State<AppState>, ApiPath(id): ApiPath<StreamId>, ApiQuery(query): ApiQuery<EventsQuery>) -> Result<Response, ApiError> {
    let lang = query.lang.as_deref().and_then(Lang::from_tag).unwrap_or(Lang::En);
    let receiver = state.live().watch(id).await?;
    let changes = futures_util::stream::unfold((receiver, None::<RoomState>), move |(mut receiver, last)| async move {
        let (events, now) = match last {
            None => {
                let now = receiver.borrow_and_update().clone();
                (vec![snapshot_event(&now, lang)], now)
            }
            Some(last) => {
                receiver.changed().await.ok()?;
                let now = receiver.borrow_and_update().clone();
                (changes(&last, &now, lang), now)
            }
        };
        Some((events, (receiver, Some(now))))
    });
    let events = changes.flat_map(|events| futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>)));
    // The heartbeat also keeps proxies from closing a quiet stream.
    let heartbeat = KeepAlive::new().interval(state.live_heartbeat()).event(sse(&LiveEvent::Heartbeat));
    Ok(Sse::new(events).keep_alive(heartbeat).into_response())
}

fn card(room: &RoomState, lang: Lang) -> Option<ProductCard> {
    room.featured.as_ref().map(|record| product_card(record, room.stream.id, lang))
}

fn snapshot_event(room: &RoomState, lang: Lang) -> Event {
    sse(&LiveEvent::State(LiveSnapshot {
        stream_id: room.stream.id,
        title: room.stream.title.clone(),
        farmer_name: room.farmer.name.clone(),
        status: room.status(),
        featured: card(room, lang),
        viewers: room.viewers as u64,
        orders: room.orders,
    }))
}

/// The events that take a page from `last` to `now`.
fn changes(last: &RoomState, now: &RoomState, lang: Lang) -> Vec<Event> {
    let mut events = Vec::new();
    if last.status() != now.status() {
        events.push(LiveEvent::Status { status: now.status() });
    }
    let (before, after) = (card(last, lang), card(now, lang));
    if before != after {
        match (&before, after) {
            // Same product, same look: only its stock moved.
            (Some(b), Some(a)) if b.listing_id == a.listing_id && b.title == a.title && b.price == a.price && b.photo_url == a.photo_url => {
                events.push(LiveEvent::Stock(StockChange { listing_id: a.listing_id, stock: a.stock, stock_text: a.stock_text, on_sale: a.on_sale }));
            }
            (_, featured) => events.push(LiveEvent::Featured { featured }),
        }
    }
    if last.viewers != now.viewers {
        events.push(LiveEvent::Viewers { count: now.viewers as u64 });
    }
    if last.orders != now.orders {
        events.push(LiveEvent::Orders { count: now.orders });
    }
    events.iter().map(sse).collect()
}

/// A live event as Server-Sent Events put it: its tag is the event's name, its content the data.
fn sse(event: &LiveEvent) -> Event {
    // Serializing our own plain types cannot fail; an empty payload would only mean a bug.
    let data = serde_json::to_value(event).map(|mut json| json["data"].take()).unwrap_or_default();
    Event::default().event(event.name()).data(data.to_string())
}
