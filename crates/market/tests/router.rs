//! The router answered in-process: health, the OpenAPI document, and JSON errors for the rest.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

async fn get(uri: &str, method: &str) -> (StatusCode, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let app = market::app(market::AppState::new(dir.path().to_owned()));
    let response = app.oneshot(Request::builder().method(method).uri(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).expect("every answer is JSON"))
}

#[tokio::test]
async fn health_is_ok() {
    assert_eq!(get("/healthz", "GET").await, (StatusCode::OK, serde_json::json!({ "status": "ok" })));
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let (status, document) = get("/api/v1/openapi.json", "GET").await;
    assert_eq!(status, StatusCode::OK);
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(document["info"]["title"], "Fieldcast marketplace API");
    assert!(document["paths"]["/healthz"]["get"].is_object());
    assert!(document["paths"]["/api/v1"]["get"].is_object());
    assert_eq!(document, serde_json::from_str::<serde_json::Value>(&market::api::openapi_json()).unwrap());
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let (status, body) = get("/api/v1/nothing-here", "GET").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = get("/healthz", "DELETE").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}
