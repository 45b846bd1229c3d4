//! The buyer's order status page, behind the capability link `/o/{token}`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use domain::order::{Fulfilment, OrderStatus};
use maud::html;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;

use super::{EmbedQuery, Page, PageLang, PagePath, error_page, format};
use crate::AppState;

/// The steps a buyer sees, in order, for each way of receiving the goods.
const PICKUP_STEPS: [OrderStatus; 5] =
    [OrderStatus::Placed, OrderStatus::Confirmed, OrderStatus::Packed, OrderStatus::ReadyForPickup, OrderStatus::Delivered];
const DELIVERY_STEPS: [OrderStatus; 5] =
    [OrderStatus::Placed, OrderStatus::Confirmed, OrderStatus::Packed, OrderStatus::Shipped, OrderStatus::Delivered];

pub async fn page(State(state): State<AppState>, lang: PageLang, PagePath(token): PagePath, embed: Result<Query<EmbedQuery>, QueryRejection>) -> Response {
    let embedded = embed.is_ok_and(|q| q.embedded());
    let record = match state.market().order_for_buyer(&token).await {
        Ok(record) => record,
        Err(error) => return error_page(lang, &error).into_response(),
    };
    let pickup = match &record.order.fulfilment {
        Fulfilment::Pickup { point_id } => state.market().pickup_point(*point_id).await.ok(),
        Fulfilment::Delivery { .. } => None,
    };
    let l = lang.lang;
    let t = l.texts();
    let order = &record.order;
    let steps = match order.fulfilment {
        Fulfilment::Pickup { .. } => PICKUP_STEPS,
        Fulfilment::Delivery { .. } => DELIVERY_STEPS,
    };
    let reached = steps.iter().position(|s| *s == order.status);
    // UUIDv7 ids start with the time, so the random tail tells two orders of the same minute apart.
    let id = order.id.to_string();
    let short_id = id[id.len() - 8..].to_uppercase();
    let body = html! {
        section.card.status {
            h1 { (t.order_received) }
            p { (t.order_number) " " strong.mono { (short_id) } }
            p.hint { (t.keep_this_link) }
            h2 { (t.status) ": " span id="status" data-status=(sqlite_rows::code(&order.status)) { (t.status(order.status)) } }
            @if let Some(reached) = reached {
                ol.steps {
                    @for (i, step) in steps.iter().enumerate() {
                        li.done[i <= reached] { (t.status(*step)) }
                    }
                }
            } @else if !order.note.is_empty() {
                p { (t.reason) ": " (order.note) }
            }
        }
        section.card {
            ul.lines {
                @for line in &order.lines {
                    li {
                        span { (line.title) " × " (format::quantity(line.quantity, line.unit, l)) }
                        span.amount { (format::money(line.total, l)) }
                    }
                }
            }
            p.total { (t.total) " " strong id="total" { (format::money(order.total, l)) } }
            p { (t.payment(order.payment_method)) " · " (if order.is_paid() { t.paid } else { t.unpaid }) }
            @match &order.fulfilment {
                Fulfilment::Pickup { .. } => {
                    @if let Some(point) = &pickup { p { (t.pickup_at) " " strong { (point.name) } br; (point.address) } }
                }
                Fulfilment::Delivery { address } => { p { (t.delivery) ": " (address) } }
            }
            p { a href="" { (t.refresh) } }
        }
    };
    Page::build(lang, t.order_received, body, embedded).private().into_response()
}
