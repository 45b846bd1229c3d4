//! The listing photo pipeline, the same on the phone and on the server: decode a JPEG, PNG or WebP,
//! turn it upright by its EXIF orientation, drop every piece of metadata (a farm photo's GPS
//! position must not leave the phone), scale it to 1280 px on the long edge plus a 320 px
//! thumbnail, and encode both as JPEG. The content hash of the large JPEG names the photo, so the
//! same photo sent twice is stored once.
//!
//! [`qr`] reads QR codes from a picture (the co-op's pairing code, photographed).
//!
//! Pure computation over bytes: no files, no clock.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use sha2::{Digest, Sha256};

pub mod qr;

/// The long edge of the photo buyers see.
pub const FULL_EDGE: u32 = 1280;
/// The long edge of list thumbnails.
pub const THUMB_EDGE: u32 = 320;
/// JPEG quality for both sizes: small enough for 3G, sharp enough for produce.
pub const QUALITY: u8 = 80;
/// The largest image accepted, in pixels per side: beyond any phone camera.
const MAX_SIDE: u32 = 12_000;
/// Memory the decoder may use.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a JPEG, PNG or WebP image")]
    Unsupported,
    #[error("the image is damaged or too large: {0}")]
    Invalid(String),
}

/// A processed photo.
#[derive(Debug, Clone)]
pub struct Photo {
    /// Hex SHA-256 of `full`.
    pub sha256: String,
    pub full: Vec<u8>,
    pub thumb: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Runs the whole pipeline on an uploaded or captured image.
pub fn process(bytes: &[u8]) -> Result<Photo, Error> {
    let upright = decode_upright(bytes)?;
    let full = fit(&upright, FULL_EDGE);
    let thumb = fit(&full, THUMB_EDGE);
    let full_jpeg = encode(&full)?;
    let sha256 = Sha256::digest(&full_jpeg).iter().map(|b| format!("{b:02x}")).collect();
    Ok(Photo { sha256, width: full.width(), height: full.height(), thumb: encode(&thumb)?, full: full_jpeg })
}

/// Checks a JPEG that a device says it made with [`process`]: a JPEG that decodes, no larger than
/// [`FULL_EDGE`], with no EXIF segment. Returns its size. The marketplace stores such a photo
/// as it is, so that its hash (the device's name for it) stays true.
pub fn verify(jpeg: &[u8]) -> Result<(u32, u32), Error> {
    if image::guess_format(jpeg).ok() != Some(image::ImageFormat::Jpeg) {
        return Err(Error::Unsupported);
    }
    if jpeg.windows(2).any(|w| w == [0xFF, 0xE1]) {
        return Err(Error::Invalid("the photo still carries EXIF data".into()));
    }
    let image = decode_upright(jpeg)?;
    if image.width().max(image.height()) > FULL_EDGE {
        return Err(Error::Invalid(format!("larger than {FULL_EDGE} px")));
    }
    Ok((image.width(), image.height()))
}

/// The list thumbnail of an already processed photo.
pub fn thumbnail(jpeg: &[u8]) -> Result<Vec<u8>, Error> {
    encode(&fit(&decode_upright(jpeg)?, THUMB_EDGE))
}

fn decode_upright(bytes: &[u8]) -> Result<DynamicImage, Error> {
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| Error::Invalid(e.to_string()))?;
    match reader.format() {
        Some(image::ImageFormat::Jpeg | image::ImageFormat::Png | image::ImageFormat::WebP) => {}
        _ => return Err(Error::Unsupported),
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| Error::Invalid(e.to_string()))?;
    let orientation = decoder.orientation().map_err(|e| Error::Invalid(e.to_string()))?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| Error::Invalid(e.to_string()))?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Scales down (never up) so the long edge is at most `edge`, as 8-bit RGB (JPEG has no alpha).
fn fit(image: &DynamicImage, edge: u32) -> DynamicImage {
    let scaled = if image.width().max(image.height()) > edge { image.thumbnail(edge, edge) } else { image.clone() };
    DynamicImage::ImageRgb8(scaled.into_rgb8())
}

/// Baseline JPEG with 4:2:0 chroma and Huffman tables fitted to the image, as libjpeg-based tools
/// write it: the `image` crate's own encoder keeps 4:2:2 chroma and fixed tables, which costs
/// about half again in bytes over a slow link. A fresh encoder writes no EXIF, XMP or ICC data:
/// only the pixels leave.
fn encode(image: &DynamicImage) -> Result<Vec<u8>, Error> {
    let rgb = image.to_rgb8();
    let (width, height) = (u16::try_from(rgb.width()), u16::try_from(rgb.height()));
    let (Ok(width), Ok(height)) = (width, height) else { return Err(Error::Invalid("too large to encode".into())) };
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, QUALITY);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    encoder.set_optimized_huffman_tables(true);
    encoder.encode(rgb.as_raw(), width, height, jpeg_encoder::ColorType::Rgb).map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn scales_to_both_sizes_keeping_the_aspect() {
        let photo = process(&png(4000, 3000)).unwrap();
        assert_eq!((photo.width, photo.height), (1280, 960));
        let thumb = image::load_from_memory(&photo.thumb).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (320, 240));
        assert_eq!(image::guess_format(&photo.full).unwrap(), ImageFormat::Jpeg);
    }

    #[test]
    fn small_images_are_not_enlarged_and_hashes_are_stable() {
        let a = process(&png(200, 100)).unwrap();
        let b = process(&png(200, 100)).unwrap();
        assert_eq!((a.width, a.height), (200, 100));
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(a.sha256.len(), 64);
    }

    /// A JPEG as a phone writes it: EXIF saying "rotate 90° clockwise to show" and a GPS position.
    fn phone_jpeg(width: u16, height: u16) -> Vec<u8> {
        // TIFF, little endian: IFD0 with Orientation = 6 and a pointer to a GPS IFD holding
        // GPSLatitudeRef = "N".
        let mut tiff: Vec<u8> = b"II*\0".to_vec();
        tiff.extend(8u32.to_le_bytes());
        tiff.extend(2u16.to_le_bytes());
        tiff.extend([0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
        tiff.extend([0x25, 0x88, 4, 0, 1, 0, 0, 0, 38, 0, 0, 0]);
        tiff.extend(0u32.to_le_bytes());
        tiff.extend(1u16.to_le_bytes());
        tiff.extend([0x01, 0x00, 2, 0, 2, 0, 0, 0, b'N', 0, 0, 0]);
        tiff.extend(0u32.to_le_bytes());
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend(tiff);
        let pixels: Vec<u8> = (0..u32::from(width) * u32::from(height)).flat_map(|i| [(i % 251) as u8, 120, 60]).collect();
        let mut out = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
        encoder.add_app_segment(1, &exif).unwrap();
        encoder.encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb).unwrap();
        out
    }

    #[test]
    fn turns_the_photo_upright_and_drops_exif_and_gps() {
        let input = phone_jpeg(400, 200);
        assert!(input.windows(6).any(|w| w == b"Exif\0\0"), "the input carries EXIF");
        let photo = process(&input).unwrap();
        assert_eq!((photo.width, photo.height), (200, 400), "orientation 6 turns the landscape pixels upright");
        for out in [&photo.full, &photo.thumb] {
            assert!(!out.windows(4).any(|w| w == b"Exif"), "no EXIF leaves the phone");
            assert!(!out.windows(2).any(|w| w == [0xFF, 0xE1]), "no APP1 segment at all");
        }
    }

    #[test]
    fn verifies_what_process_made_and_nothing_else() {
        let photo = process(&png(1600, 900)).unwrap();
        assert_eq!(verify(&photo.full).unwrap(), (1280, 720));
        assert_eq!(image::load_from_memory(&thumbnail(&photo.full).unwrap()).unwrap().width(), 320);
        assert!(matches!(verify(&png(10, 10)), Err(Error::Unsupported)), "PNG is not what devices send");
        assert!(matches!(verify(&phone_jpeg(64, 32)), Err(Error::Invalid(_))), "EXIF must be gone");
        let big = process(&png(1280, 1280)).unwrap();
        assert!(verify(&big.full).is_ok());
    }

    #[test]
    fn refuses_what_is_not_a_supported_image() {
        assert!(matches!(process(b"GIF89a not really"), Err(Error::Unsupported)));
        assert!(matches!(process(b"hello"), Err(Error::Unsupported)));
        let mut truncated = png(100, 100);
        truncated.truncate(60);
        assert!(matches!(process(&truncated), Err(Error::Invalid(_))));
    }
}
