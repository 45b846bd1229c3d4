//! A farm's page: the farmer's produce on sale, each with its order link.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::{Page, PageLang, PagePath, error_page, format};
use crate::AppState;

pub async fn page(State(state): State<AppState>, lang: PageLang, PagePath(slug): PagePath) -> Response {
    let (farmer, listings) = match state.market().farm(&slug).await {
        Ok(found) => found,
        Err(error) => return error_page(lang, &error).into_response(),
    };
    // An open stream the farmer is on camera in right now is the first thing a buyer should see.
    let mut live_now = None;
    for stream in state.market().open_streams(farmer.id).await.unwrap_or_default() {
        if state.live().snapshot(stream.id).await.is_ok_and(|room| room.status().on_air()) {
            live_now = Some(stream);
            break;
        }
    }
    let l = lang.lang;
    let t = l.texts();
    let body = html! {
        @if let Some(stream) = &live_now {
            a.card.live-now href={ "/live/" (stream.id) } {
                span.badge { (t.live.live) }
                span.name { (stream.title) }
                span.cta { (t.live.watch_live) " ›" }
            }
        }
        section.card {
            h1 { (farmer.name) }
            h2 { (t.farm_produce) }
            @if listings.is_empty() { p { (t.nothing_for_sale) } }
            ul.produce {
                @for record in &listings {
                    @let details = &record.listing.details;
                    li {
                        a href={ "/l/" (record.code) } {
                            @if let Some(photo) = record.listing.photos.first() {
                                img src={ "/photos/" (photo.sha256) "-thumb.jpg" } alt="" width="80" height="60" loading="lazy";
                            }
                            span.name { (details.title) }
                            span.price { (format::money(details.price, l)) " / " (t.unit(details.unit)) }
                            span.cta { (t.order_this) " ›" }
                        }
                    }
                }
            }
        }
    };
    Page::new(lang, &farmer.name, body).into_response()
}
