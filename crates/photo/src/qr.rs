//! Reading QR codes from a picture: the co-op's pairing code, photographed with the phone's
//! camera (a webview's file input with `capture` opens the camera on a phone, the file chooser on
//! a laptop). Any orientation and size works; the picture is scaled down first, because finding
//! the code costs time in proportion to the pixels and a code never needs 12 megapixels.

use crate::{Error, decode_upright};

/// The long edge a picture is scaled to before the search: a code filling a tenth of a phone
/// photo still has several pixels per module at this size.
const SCAN_EDGE: u32 = 1600;

/// The texts of the QR codes found in a JPEG, PNG or WebP picture, in the order found. None
/// found is an empty list, not an error; a file that is not a picture is.
pub fn read(bytes: &[u8]) -> Result<Vec<String>, Error> {
    let image = decode_upright(bytes)?;
    let image = if image.width().max(image.height()) > SCAN_EDGE { image.thumbnail(SCAN_EDGE, SCAN_EDGE) } else { image };
    let luma = image.to_luma8();
    let (width, height) = (luma.width() as usize, luma.height() as usize);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| luma.get_pixel(x as u32, y as u32).0[0]);
    Ok(prepared.detect_grids().into_iter().filter_map(|grid| grid.decode().ok().map(|(_, text)| text)).collect())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{DynamicImage, GrayImage, ImageFormat, Luma, imageops};

    use super::*;

    /// A QR code of `text` drawn `scale` pixels per module on a white page of `page` pixels,
    /// at `(left, top)`.
    fn page_with_code(text: &str, scale: u32, page: (u32, u32), at: (i64, i64)) -> GrayImage {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let symbol = code.render::<Luma<u8>>().module_dimensions(scale, scale).build();
        let mut canvas = GrayImage::from_pixel(page.0, page.1, Luma([255]));
        imageops::overlay(&mut canvas, &symbol, at.0, at.1);
        canvas
    }

    fn encoded(image: GrayImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageLuma8(image).to_rgb8().write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    const LINK: &str = "fieldcast:pair?server=http://192.168.1.20:8080&code=48213377";

    #[test]
    fn reads_a_code_from_a_png_and_a_jpeg() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg] {
            let bytes = encoded(page_with_code(LINK, 6, (800, 600), (200, 100)), format);
            assert_eq!(read(&bytes).unwrap(), [LINK], "{format:?}");
        }
    }

    #[test]
    fn reads_a_small_code_in_a_phone_sized_photo_and_a_turned_one() {
        // 4000 × 3000 is scaled to 1600 × 1200 first: 10 px modules become 4.
        let photo = page_with_code(LINK, 10, (4000, 3000), (1500, 1000));
        assert_eq!(read(&encoded(photo.clone(), ImageFormat::Jpeg)).unwrap(), [LINK]);
        let turned = imageops::rotate90(&photo);
        assert_eq!(read(&encoded(turned, ImageFormat::Png)).unwrap(), [LINK]);
    }

    #[test]
    fn a_picture_without_a_code_reads_nothing_and_a_non_picture_is_refused() {
        let blank = GrayImage::from_pixel(640, 480, Luma([200]));
        assert!(read(&encoded(blank, ImageFormat::Png)).unwrap().is_empty());
        assert!(matches!(read(b"fieldcast:pair?code=1"), Err(Error::Unsupported)));
        assert!(read(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16]).is_err(), "a truncated JPEG");
    }
}
