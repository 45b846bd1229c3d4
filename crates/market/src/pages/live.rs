//! The buyer's live page `/live/{stream}`: the video, the featured product's card over it, and the
//! order sheet, which is the listing's own order page in a frame, so an order from the stream takes
//! the same idempotent path as one from an order link (with `channel = live`).
//!
//! The page is rendered with the stream's state of the moment, so without JavaScript it still shows
//! what is on sale and links to the order page. `live.js` adds the player (WHEP), the live events
//! (SSE) and the sheet.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use domain::ids::StreamId;
use domain::live::LiveStatus;
use domain::listing::ListingStatus;
use maud::html;

use super::{Page, PageLang, PagePath, error_page, format, short_hash};
use crate::AppState;
use crate::marketplace::MarketError;

const JS: &str = include_str!("../../static/live.js");
pub static JS_VERSION: LazyLock<String> = LazyLock::new(|| short_hash(JS));

/// The default policy plus frames from this origin (the order sheet).
const LIVE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
     media-src 'self' blob:; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn script() -> Response {
    super::asset("text/javascript; charset=utf-8", JS)
}

pub async fn page(State(state): State<AppState>, lang: PageLang, PagePath(id): PagePath) -> Response {
    let Ok(id) = id.parse::<StreamId>() else { return error_page(lang, &MarketError::NotFound).into_response() };
    let room = match state.live().snapshot(id).await {
        Ok(room) => room,
        Err(error) => return error_page(lang, &error).into_response(),
    };
    let l = lang.lang;
    let t = l.texts();
    let lt = &t.live;
    let status = room.status();
    let status_code = match status {
        LiveStatus::Waiting => "waiting",
        LiveStatus::Live => "live",
        LiveStatus::Interrupted => "interrupted",
        LiveStatus::Ended => "ended",
    };
    let notice = match status {
        LiveStatus::Waiting => lt.waiting.replace("{}", &room.farmer.name),
        LiveStatus::Live => String::new(),
        LiveStatus::Interrupted => lt.interrupted.replace("{}", &room.farmer.name),
        LiveStatus::Ended => lt.ended.to_owned(),
    };
    let featured = room.featured.as_ref();
    let on_sale = featured.is_some_and(|r| r.listing.status == ListingStatus::Active && r.listing.details.stock.milli() > 0);
    let farm_link = room.farmer.farm_slug.as_ref().map(|slug| format!("/f/{slug}"));
    let body = html! {
        section.live #live
            data-stream=(id) data-lang=(l.tag()) data-status=(status_code) data-farmer=(room.farmer.name)
            data-t-waiting=(lt.waiting) data-t-reconnecting=(lt.reconnecting) data-t-stalled=(lt.stalled)
            data-t-interrupted=(lt.interrupted) data-t-ended=(lt.ended)
            data-t-unsupported=(lt.unsupported) data-t-watching=(lt.watching) data-t-orders=(lt.orders)
        {
            div.stage {
                video #live-video playsinline autoplay muted aria-label=(lt.video_label) {}
                p.badge #live-badge hidden[!status.on_air()] { (lt.live) }
                p.viewers #live-viewers { (lt.watching.replace("{}", &room.viewers.to_string())) }
                p.notice #live-notice role="status" hidden[notice.is_empty()] { (notice) }
                button.sound #live-sound type="button" hidden { (lt.tap_for_sound) }
                article.product-card #live-card hidden[featured.is_none()] {
                    @let photo = featured.and_then(|r| r.listing.photos.first());
                    img #card-photo src=[photo.map(|p| format!("/photos/{}-thumb.jpg", p.sha256))] alt="" width="64" height="48" hidden[photo.is_none()];
                    div.card-text {
                        p.on-camera { (lt.on_camera) }
                        h2 #card-title { @if let Some(r) = featured { (r.listing.details.title) } }
                        p #card-price {
                            @if let Some(r) = featured { (format::money(r.listing.details.price, l)) " / " (t.unit(r.listing.details.unit)) }
                        }
                        p #card-stock {
                            @if let Some(r) = featured {
                                @if on_sale { (t.left.replace("{}", &format::quantity(r.listing.details.stock, r.listing.details.unit, l))) }
                                @else { (t.sold_out) }
                            }
                        }
                    }
                    a.buy #card-buy href=[featured.map(|r| format!("/l/{}?via=live", r.code))] aria-disabled=(if on_sale { "false" } else { "true" }) { (lt.buy) }
                }
            }
            h1 { (room.stream.title) }
            p.farm {
                (t.from_farm) " "
                @if let Some(href) = &farm_link { a href=(href) { (room.farmer.name) } } @else { (room.farmer.name) }
                " · " span #live-orders { (lt.orders.replace("{}", &room.orders.to_string())) }
            }
        }
        dialog #order-sheet aria-label=(lt.buy) {
            button.close #sheet-close type="button" { (lt.close) }
            iframe #sheet-frame title=(lt.buy) {}
        }
        section.card.share {
            h2 { (t.share) }
            img.qr src={ "/live/" (id) "/qr.svg" } alt="QR" width="160" height="160";
        }
        script src={ "/static/live.js?v=" (*JS_VERSION) } defer {}
    };
    Page::new(lang, &room.stream.title, body).csp(LIVE_CSP).into_response()
}

pub async fn qr_svg(State(state): State<AppState>, lang: PageLang, PagePath(id): PagePath) -> Response {
    let Ok(id) = id.parse::<StreamId>() else { return error_page(lang, &MarketError::NotFound).into_response() };
    match state.market().stream(id).await {
        Ok(record) => {
            let svg = crate::qr::svg(&format!("{}/live/{}", state.public_url(), record.id));
            ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], svg).into_response()
        }
        Err(error) => error_page(lang, &error).into_response(),
    }
}
