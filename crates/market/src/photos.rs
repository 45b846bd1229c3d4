//! Listing photos on disk: processed by the `photo` pipeline, named by content hash, served as
//! immutable files.

use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

pub struct Photos {
    dir: PathBuf,
}

impl Photos {
    pub fn open(dir: PathBuf) -> std::io::Result<Photos> {
        std::fs::create_dir_all(&dir)?;
        Ok(Photos { dir })
    }

    /// Processes an upload and stores both sizes, once per distinct photo; returns its hash.
    pub async fn store(&self, upload: Bytes) -> Result<String, ApiError> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            let processed = photo::process(&upload).map_err(|error| {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_image", error.to_string())
            })?;
            for (suffix, bytes) in [("", &processed.full), ("-thumb", &processed.thumb)] {
                let path = dir.join(format!("{}{suffix}.jpg", processed.sha256));
                if !path.exists() {
                    // Write then rename, so a reader never sees half a file.
                    let partial = path.with_extension("partial");
                    std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, &path)).map_err(ApiError::internal)?;
                }
            }
            Ok(processed.sha256)
        })
        .await
        .map_err(ApiError::internal)?
    }
}

/// `GET /photos/{sha256}.jpg` and `/photos/{sha256}-thumb.jpg`.
pub async fn serve(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let valid = name
        .strip_suffix(".jpg")
        .map(|stem| stem.strip_suffix("-thumb").unwrap_or(stem))
        .is_some_and(|hash| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    if !valid {
        return ApiError::not_found().into_response();
    }
    match tokio::fs::read(state.photos().dir.join(&name)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")], bytes).into_response(),
        Err(_) => ApiError::not_found().into_response(),
    }
}
