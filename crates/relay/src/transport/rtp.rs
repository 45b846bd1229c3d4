//! The RTP fixed header (RFC 3550 §5.1), read in place: enough to open, route and rewrite a
//! packet without copying it into a structure first.

use str0m::media::MediaKind;

/// The fixed part; CSRCs and a header extension may follow.
pub const FIXED_HEADER: usize = 12;

/// What the relay reads of an RTP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Where the payload starts: the fixed header, the CSRCs and the extension.
    pub len: usize,
    /// Where the header extension's elements are, if it has one: `(profile, start, end)`.
    pub extension: Option<(u16, usize, usize)>,
}

impl Header {
    /// Reads the header of `packet` (plain RTP, or SRTP, whose header is in the clear).
    pub fn parse(packet: &[u8]) -> Option<Header> {
        if packet.len() < FIXED_HEADER || packet[0] >> 6 != 2 {
            return None;
        }
        let csrcs = usize::from(packet[0] & 0x0F);
        let mut len = FIXED_HEADER + 4 * csrcs;
        let mut extension = None;
        if packet[0] & 0x10 != 0 {
            let head = packet.get(len..len + 4)?;
            let profile = u16::from_be_bytes([head[0], head[1]]);
            let words = usize::from(u16::from_be_bytes([head[2], head[3]]));
            extension = Some((profile, len + 4, len + 4 + 4 * words));
            len += 4 + 4 * words;
        }
        if packet.len() < len {
            return None;
        }
        Some(Header {
            marker: packet[1] & 0x80 != 0,
            payload_type: packet[1] & 0x7F,
            seq: u16::from_be_bytes([packet[2], packet[3]]),
            timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
            ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
            len,
            extension,
        })
    }
}

/// Whether a datagram that is RTP or RTCP by its first byte (RFC 7983) is RTCP: RTCP packet
/// types 192–223 put 64–95 where RTP has its payload type (RFC 5761 §4).
pub fn is_rtcp(packet: &[u8]) -> bool {
    packet.len() >= 2 && (64..=95).contains(&(packet[1] & 0x7F))
}

/// The RTP clock rate of the relay's codecs of a kind: 90 kHz for video (H.264, VP8), 48 kHz for
/// Opus.
pub fn clock_rate(kind: MediaKind) -> u32 {
    if kind == MediaKind::Video { 90_000 } else { 48_000 }
}

/// Extends a 16-bit sequence number (RTP's, or a transport-wide one) past its wraps: the number
/// with these low 16 bits nearest `near`, an extended number already seen.
pub fn extend(near: u64, seq: u16) -> u64 {
    let candidate = (near & !0xFFFF) | u64::from(seq);
    let wrap = 1u64 << 16;
    if candidate + wrap / 2 < near {
        candidate + wrap
    } else if candidate > near + wrap / 2 && candidate >= wrap {
        candidate - wrap
    } else {
        candidate
    }
}

/// The value of the one-byte-header extension element `id` (RFC 8285 §4.2), if present.
pub fn one_byte_extension<'a>(packet: &'a [u8], header: &Header, id: u8) -> Option<&'a [u8]> {
    let (profile, start, end) = header.extension?;
    if profile != 0xBEDE {
        return None;
    }
    let mut at = start;
    while at < end {
        let byte = packet[at];
        if byte == 0 {
            at += 1; // Padding.
            continue;
        }
        let (element, len) = (byte >> 4, usize::from(byte & 0x0F) + 1);
        if element == 15 {
            return None;
        }
        let value = packet.get(at + 1..at + 1 + len).filter(|_| at + 1 + len <= end)?;
        if element == id {
            return Some(value);
        }
        at += 1 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_header_csrcs_and_extension() {
        let mut packet = vec![0x91, 0xE0, 0x12, 0x34, 0, 0, 0, 9, 0xCA, 0xFE, 0xBA, 0xBE];
        packet.extend_from_slice(&[0, 0, 0, 1]); // one CSRC
        packet.extend_from_slice(&[0xBE, 0xDE, 0, 2, 0x11, b'a', b'b', 0x22, 1, 2, 3, 0]);
        packet.extend_from_slice(b"payload");
        let header = Header::parse(&packet).unwrap();
        assert_eq!(
            header,
            Header { marker: true, payload_type: 96, seq: 0x1234, timestamp: 9, ssrc: 0xCAFE_BABE, len: 28, extension: Some((0xBEDE, 20, 28)) }
        );
        assert_eq!(&packet[header.len..], b"payload");
        assert_eq!(one_byte_extension(&packet, &header, 1), Some(&b"ab"[..]));
        assert_eq!(one_byte_extension(&packet, &header, 2), Some(&[1, 2, 3][..]));
        assert_eq!(one_byte_extension(&packet, &header, 3), None);
    }

    #[test]
    fn a_sequence_number_extends_to_the_nearest_across_a_wrap() {
        assert_eq!(extend(10, 12), 12);
        assert_eq!(extend(0x1_0002, 0xFFFF), 0xFFFF, "just before the wrap");
        assert_eq!(extend(0xFFFE, 1), 0x1_0001, "just after it");
        assert_eq!(extend(5, 0xFFFF), 0xFFFF, "nothing below zero");
    }

    #[test]
    fn refuses_what_is_not_rtp_or_is_cut_short() {
        assert_eq!(Header::parse(&[0x80; 11]), None);
        assert_eq!(Header::parse(&[0x40; 12]), None, "version 1");
        let mut packet = vec![0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE, 0, 3];
        assert_eq!(Header::parse(&packet), None, "an extension longer than the packet");
        packet.extend_from_slice(&[0; 12]);
        assert!(Header::parse(&packet).is_some());
        assert!(is_rtcp(&[0x81, 206]));
        assert!(is_rtcp(&[0x80, 200]));
        assert!(!is_rtcp(&[0x80, 96]));
        assert!(!is_rtcp(&[0x80, 0xE0]), "payload type 96 with the marker bit");
    }
}
