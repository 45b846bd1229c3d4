//! The HTTP surface: the JSON API under `/api/v1` (documented by the generated OpenAPI document),
//! the buyer pages, photos, health and metrics, and the layers every response passes through.

pub mod accounts;
pub mod extract;
pub mod listings;
pub mod media;
pub mod orders;
pub mod pickup;
pub mod streams;
pub mod sync;
pub mod views;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower_http::compression::CompressionLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};

/// JSON bodies are small; the photo upload route sets its own, larger limit.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "Fieldcast marketplace API", version = "1", description = "Listings, orders, sync and live selling for rural producers.\n\nErrors are `{\"error\":{\"code\",\"message\",\"fields\"?}}`; branch on `code`."),
    components(schemas(ErrorBody)),
    modifiers(&DeviceToken)
)]
struct ApiDoc;

/// Declares the `Authorization: Bearer <device token>` scheme the operations refer to.
struct DeviceToken;

impl Modify for DeviceToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("device_token", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme("publish_token", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// Every documented route; the OpenAPI document is collected from these handlers.
fn documented() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .routes(routes!(index))
        .merge(accounts::routes())
        .merge(pickup::routes())
        .merge(listings::routes())
        .merge(orders::routes())
        .merge(sync::routes())
        .merge(streams::routes())
        // What players, cameras and buyer pages on other origins call: WHIP/WHEP clients are
        // browsers and webviews too, and they must read Location, ETag and Link.
        .merge(media::routes().merge(streams::public_routes()).layer(media_cors()));
    OpenApiRouter::with_openapi(ApiDoc::openapi()).routes(routes!(healthz)).nest("/api/v1", v1)
}

/// CORS for the live endpoints: any origin, no credentials (tokens travel in `Authorization`).
fn media_cors() -> tower_http::cors::CorsLayer {
    use axum::http::Method;
    use tower_http::cors::{Any, CorsLayer};
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::IF_MATCH])
        .expose_headers([header::LOCATION, header::ETAG, header::LINK, header::HeaderName::from_static("accept-patch")])
}

/// Builds the service: routes, then the layers every request passes through.
pub fn router(state: AppState) -> Router {
    let (api, document) = documented().split_for_parts();
    let document = Json(document);
    api.route("/api/v1/openapi.json", get(move || async move { document }))
        .route("/metrics", get(metrics))
        .route("/photos/{name}", get(crate::photos::serve))
        .merge(crate::pages::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this method is not allowed here")
        })
        .layer(middleware::from_fn_with_state(state.clone(), media::options_headers))
        .layer(middleware::from_fn(payload_limit_as_json))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// The OpenAPI document as JSON text, for `cargo xtask codegen` to check in.
pub fn openapi_json() -> String {
    documented().split_for_parts().1.to_pretty_json().expect("the OpenAPI document serializes")
}

async fn not_found(request: Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        return ApiError::not_found().into_response();
    }
    let lang = crate::pages::PageLang::from_request_parts_infallible(request).await;
    crate::pages::error_page(lang, &crate::marketplace::MarketError::NotFound).into_response()
}

/// Counts requests by matched route (never by raw path, which buyers control) and times them.
async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state.metrics().request(&method, &route, response.status().as_u16(), started.elapsed());
    response
}

/// Turns the body-limit rejection (plain text from axum) into our JSON error.
async fn payload_limit_as_json(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let is_plain = response.headers().get(header::CONTENT_TYPE).is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && is_plain {
        return extract::payload_too_large().into_response();
    }
    response
}

/// Headers every response carries. The CSP allows scripts and styles from this origin only (no
/// inline code), images from here and inline data (QR codes); pages may not be framed. Status
/// links carry capabilities, so no Referer ever leaves.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: header::HeaderName, value: &'static str| {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         media-src 'self' blob:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    response
}

async fn metrics(State(state): State<AppState>) -> Response {
    let stats = state.market().write_stats();
    let mut text = state.metrics().render();
    text.push_str("# HELP fieldcast_storage_commits_total Durable commits (fsyncs) of the storage writer.\n");
    text.push_str("# TYPE fieldcast_storage_commits_total counter\n");
    text.push_str(&format!("fieldcast_storage_commits_total {}\n", stats.commits));
    text.push_str("# HELP fieldcast_storage_writes_total Writes committed; writes per commit is the group size.\n");
    text.push_str("# TYPE fieldcast_storage_writes_total counter\n");
    text.push_str(&format!("fieldcast_storage_writes_total {}\n", stats.writes));
    if let Ok(relay) = state.live().relay().stats().await {
        let gauges = [
            ("relay_sessions", "Live sessions (cameras and viewers) the relay holds.", relay.sessions as u64),
            ("relay_streams", "Streams with a camera or a viewer.", relay.streams as u64),
            ("relay_routes", "Client addresses the relay routes datagrams from.", relay.routes as u64),
            ("relay_timers", "Deadlines queued in the relay (includes stale ones not yet reclaimed).", relay.timers as u64),
        ];
        let counters = [
            ("relay_forwarded_packets_total", "RTP packets written to viewers.", relay.forwarded),
            ("relay_viewer_flushes_total", "Times a viewer was sent held media (about one per frame).", relay.flushes),
            ("relay_retransmitted_packets_total", "Packets sent to viewers again because they asked (NACK).", relay.retransmitted),
            ("relay_sender_reports_total", "RTCP sender reports sent to viewers.", relay.sender_reports),
            ("relay_bytes_out_total", "Bytes of forwarded media.", relay.bytes_out),
            ("relay_rtp_in_total", "RTP packets received from cameras.", relay.rtp_in),
            ("relay_repaired_packets_total", "Packets cameras lost and sent again because the relay asked (NACK).", relay.repaired),
            ("relay_datagrams_in_total", "Datagrams received (media, RTCP, STUN, DTLS).", relay.datagrams_in),
            ("relay_keyframe_requests_total", "Keyframe requests sent to cameras.", relay.keyframe_requests),
            ("relay_send_errors_total", "Datagrams the socket refused to send.", relay.send_errors),
            ("relay_unroutable_total", "Datagrams from unknown addresses, dropped.", relay.unroutable),
        ];
        for (name, help, value) in gauges {
            text.push_str(&format!("# HELP fieldcast_{name} {help}\n# TYPE fieldcast_{name} gauge\nfieldcast_{name} {value}\n"));
        }
        for (name, help, value) in counters {
            text.push_str(&format!("# HELP fieldcast_{name} {help}\n# TYPE fieldcast_{name} counter\nfieldcast_{name} {value}\n"));
        }
    }
    let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    text.push_str(&format!("# HELP fieldcast_tasks Tasks alive on the server's runtime.\n# TYPE fieldcast_tasks gauge\nfieldcast_tasks {tasks}\n"));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

#[derive(Serialize, ToSchema)]
struct Health {
    status: &'static str,
}

/// Liveness: answers while the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
struct Index {
    version: &'static str,
    openapi: &'static str,
}

/// Where to find the API description.
#[utoipa::path(get, path = "", tag = "operations", responses((status = 200, body = Index)))]
async fn index() -> Json<Index> {
    Json(Index { version: "v1", openapi: "/api/v1/openapi.json" })
}
