//! Trickle ICE fragments (RFC 8840 `application/trickle-ice-sdpfrag`), as WHIP and WHEP clients
//! send them in `PATCH` requests.
//!
//! The relay is an ICE-lite agent with a single host candidate: it never needs the client's
//! candidates to connect (the client's checks reach the relay and teach it the address), but a
//! fragment is still parsed strictly so that garbage is refused rather than half applied.

use crate::RelayError;

/// The most candidates one fragment may carry.
const MAX_CANDIDATES: usize = 64;

/// A parsed fragment.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fragment {
    pub ufrag: Option<String>,
    pub pwd: Option<String>,
    /// `(mid, "candidate:…")` in the order sent.
    pub candidates: Vec<(Option<String>, String)>,
    pub end_of_candidates: bool,
}

/// Parses a fragment. Lines other than the ones trickle ICE uses are ignored, as RFC 8840 asks.
pub fn parse(text: &str) -> Result<Fragment, RelayError> {
    let bad = |why: &str| RelayError::BadFragment(why.to_owned());
    let mut fragment = Fragment::default();
    let mut mid: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        if line.starts_with("m=") {
            mid = None;
        } else if let Some(value) = line.strip_prefix("a=mid:") {
            mid = Some(token(value).ok_or_else(|| bad("a=mid is not a token"))?);
        } else if let Some(value) = line.strip_prefix("a=ice-ufrag:") {
            fragment.ufrag = Some(token(value).ok_or_else(|| bad("a=ice-ufrag is not a token"))?);
        } else if let Some(value) = line.strip_prefix("a=ice-pwd:") {
            fragment.pwd = Some(token(value).ok_or_else(|| bad("a=ice-pwd is not a token"))?);
        } else if let Some(value) = line.strip_prefix("a=candidate:") {
            if fragment.candidates.len() == MAX_CANDIDATES {
                return Err(bad("too many candidates"));
            }
            check_candidate(value).map_err(|why| bad(&format!("bad candidate: {why}")))?;
            fragment.candidates.push((mid.clone(), format!("candidate:{value}")));
        } else if line == "a=end-of-candidates" {
            fragment.end_of_candidates = true;
        } else if !(line.starts_with("a=") || line.len() > 2 && line.as_bytes()[1] == b'=') {
            return Err(bad("a line is not an SDP line"));
        }
    }
    Ok(fragment)
}

/// An ICE token: 1 to 256 characters of `ALPHA / DIGIT / "+" / "/"` (RFC 8839), plus the `-`, `_`
/// and `.` some stacks put in mids.
fn token(value: &str) -> Option<String> {
    let value = value.trim();
    let ok = !value.is_empty()
        && value.len() <= 256
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'.'));
    ok.then(|| value.to_owned())
}

/// `foundation component transport priority address port typ type …` (RFC 8839 §5.1).
fn check_candidate(value: &str) -> Result<(), &'static str> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    if fields.len() < 8 {
        return Err("too few fields");
    }
    if fields[1].parse::<u8>().is_err() {
        return Err("component is not a number");
    }
    if !fields[2].eq_ignore_ascii_case("udp") && !fields[2].eq_ignore_ascii_case("tcp") {
        return Err("transport is neither udp nor tcp");
    }
    if fields[3].parse::<u32>().is_err() {
        return Err("priority is not a number");
    }
    if fields[5].parse::<u16>().is_err() {
        return Err("port is not a number");
    }
    if fields[6] != "typ" {
        return Err("no typ");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_browser_fragment() {
        let text = "a=ice-options:trickle ice2\r\na=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
                    a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n\
                    a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw\r\n\
                    a=end-of-candidates\r\n";
        let fragment = parse(text).unwrap();
        assert_eq!(fragment.ufrag.as_deref(), Some("EsAw"));
        assert_eq!(fragment.pwd.as_deref(), Some("P2uYro0UCOQ4zxjKXaWCBui1"));
        assert_eq!(fragment.candidates.len(), 1);
        assert_eq!(fragment.candidates[0].0.as_deref(), Some("0"));
        assert!(fragment.candidates[0].1.starts_with("candidate:1387637174 1 udp"));
        assert!(fragment.end_of_candidates);
    }

    #[test]
    fn refuses_garbage() {
        assert!(parse("hello world").is_err());
        assert!(parse("a=candidate:1 1 udp notanumber 192.0.2.1 1 typ host").is_err());
        assert!(parse("a=candidate:1 1 sctp 1 192.0.2.1 1 typ host").is_err());
        assert!(parse("a=ice-ufrag:has space").is_err());
        assert!(parse("a=ice-ufrag:<script>").is_err());
        let many = "a=candidate:1 1 udp 1 192.0.2.1 1 typ host\n".repeat(MAX_CANDIDATES + 1);
        assert!(parse(&many).is_err());
    }
}
