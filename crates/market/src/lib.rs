//! The Fieldcast marketplace server as a library: [`app`] builds the whole HTTP service from its
//! state, so tests drive the real router without opening a port, and `main.rs` only parses flags,
//! binds and waits for a signal.
//!
//! Routes:
//! - `/healthz`: liveness for load balancers and scripts.
//! - `/api/v1/...`: the versioned JSON API, described by `/api/v1/openapi.json`, which is generated
//!   from the handlers themselves (utoipa), so the document cannot drift from the code.

pub mod api;
pub mod error;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
}

impl AppState {
    pub fn new(data_dir: PathBuf) -> AppState {
        AppState { inner: Arc::new(Inner { data_dir }) }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.inner.data_dir
    }
}

/// The whole HTTP service.
pub fn app(state: AppState) -> Router {
    api::router(state)
}
