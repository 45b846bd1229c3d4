//! Listing photos on the device: taken from the camera or the gallery, processed here by the
//! `photo` pipeline (upright, metadata gone, 1280 px and a thumbnail), kept in the data directory
//! under their content hash, and named in a `listing.photo` change. Sync uploads the file before it
//! pushes the change, so the same photo sent twice (a retry) is stored once on the server too.
//!
//! A photo of the co-op's pairing QR code is read here too ([`read_pairing_code_base64`]).

use std::path::PathBuf;

use base64::Engine as _;
use domain::error::{Error as DomainError, Field, FieldError};
use domain::ids::ListingId;
use domain::listing::{Listing, PhotoRef};
use domain::mutation::Mutation;
use domain::pairing::PairingLink;

use crate::{Client, ClientError};

/// The largest picture accepted from the camera or gallery: beyond any phone's JPEG.
pub const MAX_INPUT_BYTES: usize = 40 * 1024 * 1024;

/// A picture decoded, turned upright, stripped and scaled for a listing, not yet kept: the slow
/// part of adding a photo (a few hundred milliseconds of CPU for a 12-megapixel one), apart so it
/// can run away from the async runtime.
pub struct PreparedPhoto(photo::Photo);

/// Processes JPEG, PNG or WebP bytes for a listing.
pub fn prepare_photo(bytes: &[u8]) -> Result<PreparedPhoto, ClientError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(invalid_photo(DomainError::TooLarge));
    }
    photo::process(bytes).map(PreparedPhoto).map_err(|_| invalid_photo(DomainError::InvalidPhoto))
}

/// [`prepare_photo`] for bytes that crossed a JSON boundary as base64 (the front end's file), on
/// one of the runtime's blocking threads, so calls and sync keep going while it works.
pub async fn prepare_photo_base64(data: String) -> Result<PreparedPhoto, ClientError> {
    let work = tokio::task::spawn_blocking(move || {
        let bytes = base64::engine::general_purpose::STANDARD.decode(data.as_bytes()).map_err(|_| invalid_photo(DomainError::InvalidPhoto))?;
        prepare_photo(&bytes)
    });
    work.await.unwrap_or_else(|error| {
        // A decoder that panics on a crafted file: that file is not a photo we can take.
        tracing::error!(%error, "processing a photo failed");
        Err(invalid_photo(DomainError::InvalidPhoto))
    })
}

/// Reads the co-op's pairing link from a photo of its QR code (base64 of the file's bytes), on a
/// blocking thread like [`prepare_photo_base64`]. Of several codes in the picture the first
/// pairing link wins; a picture with codes but none of ours is `not_a_pairing_code`.
pub async fn read_pairing_code_base64(data: String) -> Result<PairingLink, ClientError> {
    let refused = |error| ClientError::Invalid(vec![FieldError::new(Field::Code, error)]);
    let work = tokio::task::spawn_blocking(move || {
        let bytes = base64::engine::general_purpose::STANDARD.decode(data.as_bytes()).map_err(|_| invalid_photo(DomainError::InvalidPhoto))?;
        if bytes.len() > MAX_INPUT_BYTES {
            return Err(invalid_photo(DomainError::TooLarge));
        }
        let texts = photo::qr::read(&bytes).map_err(|_| invalid_photo(DomainError::InvalidPhoto))?;
        if texts.is_empty() {
            return Err(refused(DomainError::NoCodeInPicture));
        }
        texts.iter().find_map(|text| PairingLink::parse(text).ok()).ok_or_else(|| refused(DomainError::NotAPairingCode))
    });
    work.await.unwrap_or_else(|error| {
        tracing::error!(%error, "reading a code from a picture failed");
        Err(invalid_photo(DomainError::InvalidPhoto))
    })
}

impl Client {
    /// Adds a photo (JPEG, PNG or WebP bytes) to a listing; works offline.
    pub fn add_photo(&self, listing: ListingId, bytes: &[u8]) -> Result<Listing, ClientError> {
        self.add_prepared_photo(listing, prepare_photo(bytes)?)
    }

    /// Keeps a processed photo under its hash and names it in a `listing.photo` change.
    pub fn add_prepared_photo(&self, listing: ListingId, prepared: PreparedPhoto) -> Result<Listing, ClientError> {
        if self.store().listing(listing)?.is_none() {
            return Err(ClientError::NotFound);
        }
        let PreparedPhoto(processed) = prepared;
        for (path, data) in [(self.photo_path(&processed.sha256, false), &processed.full), (self.photo_path(&processed.sha256, true), &processed.thumb)] {
            if !path.exists() {
                // Write then rename: sync never uploads half a file.
                let partial = path.with_extension("partial");
                std::fs::write(&partial, data).and_then(|()| std::fs::rename(&partial, &path)).map_err(|source| ClientError::DataDir { path: path.clone(), source })?;
            }
        }
        self.record(&[Mutation::ListingPhoto { listing_id: listing, photo: PhotoRef { sha256: processed.sha256 } }])?;
        self.store().listing(listing)?.ok_or(ClientError::NotFound)
    }

    /// A stored photo as a `data:` URL for the webview, which cannot read the data directory.
    pub fn photo_data_url(&self, photo: &PhotoRef, thumbnail: bool) -> Result<String, ClientError> {
        photo.check().map_err(invalid_photo)?;
        let bytes = std::fs::read(self.photo_path(&photo.sha256, thumbnail)).map_err(|_| ClientError::NotFound)?;
        Ok(format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
    }

    /// The processed 1280 px photo, for upload.
    pub fn photo_bytes(&self, photo: &PhotoRef) -> Result<Vec<u8>, ClientError> {
        photo.check().map_err(invalid_photo)?;
        std::fs::read(self.photo_path(&photo.sha256, false)).map_err(|_| ClientError::NotFound)
    }

    fn photo_path(&self, sha256: &str, thumbnail: bool) -> PathBuf {
        self.photos_dir.join(if thumbnail { format!("{sha256}-thumb.jpg") } else { format!("{sha256}.jpg") })
    }
}

fn invalid_photo(error: DomainError) -> ClientError {
    ClientError::Invalid(vec![FieldError::new(Field::Photos, error)])
}
