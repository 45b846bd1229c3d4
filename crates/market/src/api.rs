//! The HTTP API under `/api/v1` and its OpenAPI document.

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};

#[derive(OpenApi)]
#[openapi(
    info(title = "Fieldcast marketplace API", version = "1", description = "Listings, orders, sync and live selling for rural producers."),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// Every documented route; the OpenAPI document is collected from these handlers.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .nest("/api/v1", OpenApiRouter::new().routes(routes!(index)))
}

/// Builds the router with every route and the OpenAPI document generated from them.
pub fn router(state: AppState) -> Router {
    let (router, document) = documented().split_for_parts();
    let document = Json(document);
    router
        .route("/api/v1/openapi.json", axum::routing::get(move || async move { document }))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this method is not allowed here")
        })
        .with_state(state)
}

/// The OpenAPI document as JSON text, for `cargo xtask codegen` to check in.
pub fn openapi_json() -> String {
    documented().split_for_parts().1.to_pretty_json().expect("the OpenAPI document serializes")
}

#[derive(Serialize, ToSchema)]
struct Health {
    status: &'static str,
}

/// Liveness: answers while the process serves requests.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
struct Index {
    version: &'static str,
    openapi: &'static str,
}

/// Where to find the API description.
#[utoipa::path(get, path = "", responses((status = 200, body = Index)))]
async fn index() -> Json<Index> {
    Json(Index { version: "v1", openapi: "/api/v1/openapi.json" })
}
