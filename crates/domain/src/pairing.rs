//! The link a co-op's pairing QR code carries: which marketplace to talk to and the one-time code.
//! The marketplace writes it under the digits it shows; the app reads it back from a photo of the
//! code, so the farmer types neither the address nor the code.
//!
//! The form is `fieldcast:pair?server=<url>&code=<digits>`, the values percent-encoded.

use serde::Serialize;
use ts_rs::TS;

use crate::error::Error;

const PREFIX: &str = "fieldcast:pair?";
/// A server address longer than this is not one a co-op would print.
const MAX_SERVER_CHARS: usize = 512;
/// Pairing codes are 8 digits; a few more or less still reads as a code and the server decides.
const CODE_DIGITS: std::ops::RangeInclusive<usize> = 6..=12;

/// What a pairing QR code says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PairingLink {
    /// The marketplace's address, `http://` or `https://`.
    pub server_url: String,
    /// The one-time code, digits only.
    pub code: String,
}

impl PairingLink {
    /// The text to put in the QR code.
    pub fn to_uri(&self) -> String {
        format!("{PREFIX}server={}&code={}", encode(&self.server_url), encode(&self.code))
    }

    /// Reads a QR code's text. Anything else than a Fieldcast pairing link (a shop's web address,
    /// a payment code) is [`Error::NotAPairingCode`].
    pub fn parse(text: &str) -> Result<PairingLink, Error> {
        let query = text.trim().strip_prefix(PREFIX).ok_or(Error::NotAPairingCode)?;
        let (mut server_url, mut code) = (None, None);
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').ok_or(Error::NotAPairingCode)?;
            let value = decode(value).ok_or(Error::NotAPairingCode)?;
            match key {
                "server" => server_url = Some(value),
                "code" => code = Some(value),
                _ => {} // Later versions may add fields; what this one needs is enough.
            }
        }
        let (Some(server_url), Some(code)) = (server_url, code) else { return Err(Error::NotAPairingCode) };
        let code: String = code.chars().filter(|c| *c != ' ').collect();
        let server_ok = (server_url.starts_with("http://") || server_url.starts_with("https://"))
            && server_url.chars().count() <= MAX_SERVER_CHARS
            && !server_url.chars().any(|c| c.is_control() || c.is_whitespace());
        let code_ok = CODE_DIGITS.contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit());
        if !server_ok || !code_ok {
            return Err(Error::NotAPairingCode);
        }
        Ok(PairingLink { server_url, code })
    }
}

/// Percent-encodes all but the characters a URL may carry in a query value as they are.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:/[]@!$'()*,;".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The inverse of [`encode`]; `None` for a broken escape or bytes that are not UTF-8.
fn decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(server: &str, code: &str) -> PairingLink {
        PairingLink { server_url: server.into(), code: code.into() }
    }

    #[test]
    fn a_link_reads_back_as_written() {
        for server in ["http://192.168.1.20:8080", "https://market.example.cn/coop?x=1&y=2", "https://例子.中国"] {
            let original = link(server, "48213377");
            assert_eq!(PairingLink::parse(&original.to_uri()), Ok(original.clone()), "{}", original.to_uri());
        }
        assert_eq!(link("http://a:1", "12345678").to_uri(), "fieldcast:pair?server=http://a:1&code=12345678");
    }

    #[test]
    fn spaces_in_the_code_and_unknown_fields_are_fine() {
        let parsed = PairingLink::parse(" fieldcast:pair?v=2&server=http://a:1&code=4821%203377 \n").unwrap();
        assert_eq!(parsed, link("http://a:1", "48213377"));
    }

    #[test]
    fn anything_else_is_not_a_pairing_code() {
        for text in [
            "",
            "https://shop.example/corn",
            "fieldcast:pair?server=http://a:1",
            "fieldcast:pair?code=48213377",
            "fieldcast:pair?server=ftp://a&code=48213377",
            "fieldcast:pair?server=javascript:alert(1)&code=48213377",
            "fieldcast:pair?server=http://a:1&code=4821abcd",
            "fieldcast:pair?server=http://a:1&code=123",
            "fieldcast:pair?server=http://a%0A:1&code=48213377",
            "fieldcast:pair?server=http://a:1&code=%ZZ",
            "fieldcast:pair?server=http://a:1&code=%FF%FE",
            "fieldcast:pair?server&code=48213377",
        ] {
            assert_eq!(PairingLink::parse(text), Err(Error::NotAPairingCode), "{text:?}");
        }
        let long = format!("fieldcast:pair?server=https://{}&code=48213377", "a".repeat(MAX_SERVER_CHARS));
        assert_eq!(PairingLink::parse(&long), Err(Error::NotAPairingCode));
    }
}
