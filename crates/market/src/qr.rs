//! QR codes for order links and pairing codes, as SVG (for pages and print) and PNG (for chats).

use qrcode::QrCode;
use qrcode::render::svg;

/// An SVG QR code of `text`, black on white with a quiet zone.
pub fn svg(text: &str) -> String {
    code(text).render::<svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build()
}

/// A PNG QR code of `text`, 8 pixels per module.
pub fn png(text: &str) -> Vec<u8> {
    let image = code(text).render::<image::Luma<u8>>().module_dimensions(8, 8).quiet_zone(true).build();
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).expect("encoding a PNG in memory cannot fail");
    out.into_inner()
}

/// The same code drawn with block characters, for the admin CLI's terminal.
pub fn terminal(text: &str) -> String {
    code(text).render::<qrcode::render::unicode::Dense1x2>().quiet_zone(true).build()
}

fn code(text: &str) -> QrCode {
    // Order links and pairing links are short, far below the largest QR code's capacity.
    QrCode::new(text.as_bytes()).expect("links fit in a QR code")
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_both_formats() {
        let svg = super::svg("https://example.org/l/abc2345");
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"));
        let png = super::png("https://example.org/l/abc2345");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(!super::terminal("x").is_empty());
    }
}
