//! Listing photos on disk: processed by the `photo` pipeline, named by content hash, served as
//! immutable files.

use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use domain::listing::PhotoRef;
use sha2::{Digest, Sha256};

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
            let processed = photo::process(&upload).map_err(invalid_image)?;
            write_once(&dir, &processed.sha256, &processed.full, &processed.thumb)?;
            Ok(processed.sha256)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Stores a photo a device processed itself (with the same `photo` pipeline), under the hash
    /// the device named it by: it must hash to that name and pass [`photo::verify`]. Stored as
    /// sent, so the name stays true; the thumbnail is made here. Storing it again is a no-op.
    pub async fn store_processed(&self, sha256: String, jpeg: Bytes) -> Result<(), ApiError> {
        let name = PhotoRef { sha256: sha256.clone() };
        if name.check().is_err() {
            return Err(ApiError::not_found());
        }
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            let actual: String = Sha256::digest(&jpeg).iter().map(|b| format!("{b:02x}")).collect();
            if actual != sha256 {
                return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "hash_mismatch", "the photo does not hash to its name"));
            }
            if dir.join(format!("{sha256}.jpg")).exists() {
                return Ok(());
            }
            photo::verify(&jpeg).map_err(invalid_image)?;
            let thumb = photo::thumbnail(&jpeg).map_err(invalid_image)?;
            write_once(&dir, &sha256, &jpeg, &thumb)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Whether the photo named `sha256` is stored (a malformed name never is).
    pub fn has(&self, photo: &PhotoRef) -> bool {
        photo.check().is_ok() && self.dir.join(format!("{}.jpg", photo.sha256)).exists()
    }
}

fn invalid_image(error: photo::Error) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_image", error.to_string())
}

fn write_once(dir: &std::path::Path, sha256: &str, full: &[u8], thumb: &[u8]) -> Result<(), ApiError> {
    for (suffix, bytes) in [("", full), ("-thumb", thumb)] {
        let path = dir.join(format!("{sha256}{suffix}.jpg"));
        if !path.exists() {
            // Write then rename, so a reader never sees half a file.
            let partial = path.with_extension("partial");
            std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, &path)).map_err(ApiError::internal)?;
        }
    }
    Ok(())
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
