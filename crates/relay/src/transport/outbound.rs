//! One send stream towards a viewer: the forwarded packets rewritten to the viewer's SSRC,
//! payload type and sequence numbers, kept a little while so that a lost one can be resent
//! (as RTX where the viewer negotiated it), and counted for the sender reports.
//!
//! Building a packet's header is plain byte work on a buffer the caller reuses; sealing it with
//! the shared payload is the connection's ([`super::conn::Conn::seal_rtp`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::rtcp;
use super::rtp::FIXED_HEADER;

/// Packets kept for retransmission: about two seconds of a phone's video (a NACK comes within a
/// round trip or two; older ones would arrive too late to be shown).
const HISTORY: usize = 128;

/// A packet from the publisher, shared by every viewer it is forwarded to.
#[derive(Debug)]
pub struct Forwarded {
    /// The publisher's extended sequence number: viewers' sequence numbers follow it.
    pub seq: u64,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: Arc<[u8]>,
    /// When the relay received it; sender reports extrapolate the RTP clock from it.
    pub received: Instant,
}

/// What a stream needs from the negotiation.
#[derive(Debug, Clone)]
pub struct StreamParams {
    pub ssrc: u32,
    pub payload_type: u8,
    /// The retransmission stream, if the viewer negotiated RTX: payload type and SSRC.
    pub rtx: Option<(u8, u32)>,
    /// The MID header extension: its id and the section's MID, which the viewer demultiplexes by.
    pub mid: Option<(u8, String)>,
    /// The codec's RTP clock rate (90 kHz video, 48 kHz Opus).
    pub clock_rate: u32,
}

/// One send stream. See the module documentation.
#[derive(Debug)]
pub struct Outbound {
    params: StreamParams,
    /// The header extension block, ready to copy: profile, length and the MID element, padded.
    extension: Vec<u8>,
    /// The viewer's first sequence number.
    start: u16,
    /// The publisher's sequence number of the first packet sent: it became `start`. Each
    /// viewer's stream starts below 2^15 however long the publisher has been live, as SRTP
    /// without a signalled rollover counter requires.
    first: Option<u64>,
    history: VecDeque<(u64, Arc<Forwarded>)>,
    /// The retransmission stream's next SRTP index (its sequence number is the low 16 bits).
    rtx_index: u64,
    packets: u32,
    octets: u32,
    /// The newest packet sent and when it was received: the sender report's RTP time.
    newest: Option<(u32, Instant)>,
}

impl Outbound {
    /// `start` is where the stream's sequence numbers begin (random, below 2^15), or the
    /// publisher's own number if that is lower.
    pub fn new(params: StreamParams, start: u16) -> Outbound {
        let extension = match &params.mid {
            Some((id, mid)) => {
                let mid = &mid.as_bytes()[..mid.len().clamp(1, 16)];
                let mut element = vec![(id << 4) | (mid.len() as u8 - 1)];
                element.extend_from_slice(mid);
                element.resize(element.len().div_ceil(4) * 4, 0);
                let mut block = vec![0xBE, 0xDE];
                block.extend_from_slice(&((element.len() / 4) as u16).to_be_bytes());
                block.extend_from_slice(&element);
                block
            }
            None => Vec::new(),
        };
        // The retransmission stream numbers its packets on its own, from elsewhere in the space.
        let rtx_index = u64::from(start) + 0x4000;
        Outbound { params, extension, start, first: None, history: VecDeque::with_capacity(HISTORY), rtx_index, packets: 0, octets: 0, newest: None }
    }

    pub fn ssrc(&self) -> u32 {
        self.params.ssrc
    }

    /// Writes the header of `packet` as this stream's next packet into `out` (cleared first)
    /// and returns the packet's SRTP index, or `None` for a packet from before this viewer's
    /// first one (reordered on the way in: late for this viewer anyway). The payload follows
    /// the header unchanged, so the caller seals it from where it is.
    pub fn write(&mut self, packet: &Arc<Forwarded>, out: &mut Vec<u8>) -> Option<u64> {
        let first = match self.first {
            Some(first) => first,
            None => {
                // A publisher still low in its numbers keeps them: any start below 2^15 will do.
                self.start = self.start.min(u16::try_from(packet.seq).unwrap_or(u16::MAX));
                *self.first.insert(packet.seq)
            }
        };
        let index = u64::from(self.start) + packet.seq.checked_sub(first)?;
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back((index, packet.clone()));
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(packet.payload.len() as u32);
        if self.newest.is_none_or(|(ts, _)| (packet.timestamp.wrapping_sub(ts) as i32) >= 0) {
            self.newest = Some((packet.timestamp, packet.received));
        }
        self.header(out, self.params.payload_type, self.params.ssrc, index as u16, packet);
        Some(index)
    }

    /// The packets a NACK for `seqs` asks again, handed one by one to `send` as a header (written
    /// into `out`), a payload and an index: as RTX packets on the retransmission stream if there
    /// is one, else as they were. Sequence numbers no longer kept are skipped.
    pub fn resend(&mut self, seqs: &[u16], out: &mut Vec<u8>, mut send: impl FnMut(&[u8], &[u8], u64)) {
        for &seq in seqs {
            let Some((index, packet)) = self.history.iter().rev().find(|(index, _)| *index as u16 == seq).map(|(i, p)| (*i, p.clone())) else { continue };
            match self.params.rtx {
                Some((payload_type, ssrc)) => {
                    let rtx_index = self.rtx_index;
                    self.rtx_index += 1;
                    let header_len = self.header(out, payload_type, ssrc, rtx_index as u16, &packet);
                    // RFC 4588 §4: the original sequence number, then the original payload.
                    out.extend_from_slice(&(index as u16).to_be_bytes());
                    out.extend_from_slice(&packet.payload);
                    let (header, payload) = out.split_at(header_len);
                    send(header, payload, rtx_index);
                }
                None => {
                    self.header(out, self.params.payload_type, self.params.ssrc, index as u16, &packet);
                    send(out, &packet.payload, index);
                }
            }
        }
    }

    /// A sender report for `now`, if the stream has sent anything: the RTP time extrapolated from
    /// the newest packet's, on an NTP clock that counts from `epoch` (any instant, the same for
    /// every stream of a viewer, which is all lining up audio with video needs).
    pub fn report(&self, now: Instant, epoch: Instant) -> Option<[u8; 28]> {
        let (timestamp, received) = self.newest?;
        let since = now.saturating_duration_since(received);
        let rtp_time = timestamp.wrapping_add((since.as_micros() as u64 * u64::from(self.params.clock_rate) / 1_000_000) as u32);
        let elapsed = now.saturating_duration_since(epoch);
        let ntp = (elapsed.as_secs() << 32) | ((u64::from(elapsed.subsec_nanos()) << 32) / 1_000_000_000);
        Some(rtcp::sender_report(self.params.ssrc, ntp, rtp_time, self.packets, self.octets))
    }

    fn header(&self, out: &mut Vec<u8>, payload_type: u8, ssrc: u32, seq: u16, packet: &Forwarded) -> usize {
        out.clear();
        let extension_bit = if self.extension.is_empty() { 0 } else { 0x10 };
        out.push(0x80 | extension_bit);
        out.push(payload_type | if packet.marker { 0x80 } else { 0 });
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&packet.timestamp.to_be_bytes());
        out.extend_from_slice(&ssrc.to_be_bytes());
        out.extend_from_slice(&self.extension);
        FIXED_HEADER + self.extension.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::transport::rtp::{Header, one_byte_extension};

    fn params(rtx: bool) -> StreamParams {
        StreamParams { ssrc: 0x1111, payload_type: 102, rtx: rtx.then_some((103, 0x2222)), mid: Some((4, "1".into())), clock_rate: 90_000 }
    }

    fn forwarded(seq: u64, marker: bool, at: Instant) -> Arc<Forwarded> {
        Arc::new(Forwarded { seq, timestamp: 3000 * (seq as u32), marker, payload: Arc::from(&[seq as u8; 10][..]), received: at })
    }

    #[test]
    fn rewrites_ssrc_payload_type_and_sequence_numbers_and_keeps_the_mid() {
        let now = Instant::now();
        let mut stream = Outbound::new(params(false), 1000);
        let mut out = Vec::new();
        let index = stream.write(&forwarded(7, false, now), &mut out).unwrap();
        assert_eq!(index, 7, "a publisher's number below the viewer's start is kept");
        let mut stream = Outbound::new(params(false), 1000);
        let index = stream.write(&forwarded(70_000, false, now), &mut out).unwrap();
        assert_eq!(index, 1000);
        let header = Header::parse(&out).unwrap();
        assert_eq!((header.ssrc, header.payload_type, header.seq, header.marker, header.len), (0x1111, 102, 1000, false, out.len()), "the header alone");
        assert_eq!(one_byte_extension(&out, &header, 4), Some(&b"1"[..]));
        let index = stream.write(&forwarded(70_003, true, now), &mut out).unwrap();
        assert_eq!(index, 1003, "a gap in the publisher's numbers stays a gap");
        assert!(Header::parse(&out).unwrap().marker);
        assert_eq!(stream.write(&forwarded(60_000, false, now), &mut out), None, "from before this viewer joined");
    }

    #[test]
    fn resends_from_history_as_rtx_or_as_sent() {
        let now = Instant::now();
        for rtx in [true, false] {
            let mut stream = Outbound::new(params(rtx), 10);
            let mut out = Vec::new();
            for seq in 500..700 {
                stream.write(&forwarded(seq, false, now), &mut out).unwrap();
            }
            let mut sent = Vec::new();
            // 10 is the first packet, gone from the history; 205 is seq 695; 9999 never was.
            stream.resend(&[10, 205, 9999], &mut out, |header, payload, index| sent.push((header.to_vec(), payload.to_vec(), index)));
            assert_eq!(sent.len(), 1, "rtx {rtx}");
            let (head, payload, index) = &sent[0];
            let header = Header::parse(head).unwrap();
            assert_eq!(header.len, head.len(), "rtx {rtx}: the header alone");
            if rtx {
                assert_eq!((header.ssrc, header.payload_type, *index), (0x2222, 103, u64::from(header.seq)));
                assert_eq!(&payload[..2], &205u16.to_be_bytes(), "the original sequence number");
                assert_eq!(&payload[2..], &[695u64 as u8; 10]);
            } else {
                assert_eq!((header.ssrc, header.payload_type, header.seq, *index), (0x1111, 102, 205, 205));
                assert_eq!(&payload[..], &[695u64 as u8; 10]);
            }
        }
    }

    #[test]
    fn a_report_extrapolates_the_rtp_clock_from_the_newest_packet() {
        let epoch = Instant::now();
        let mut stream = Outbound::new(params(false), 0);
        assert!(stream.report(epoch, epoch).is_none(), "nothing sent yet");
        let mut out = Vec::new();
        stream.write(&forwarded(1, false, epoch + Duration::from_secs(2)), &mut out).unwrap();
        let report = stream.report(epoch + Duration::from_millis(2500), epoch).unwrap();
        assert_eq!(u32::from_be_bytes(report[8..12].try_into().unwrap()), 2, "NTP seconds since the epoch");
        assert_eq!(u32::from_be_bytes(report[12..16].try_into().unwrap()), 1 << 31, "and a half");
        assert_eq!(u32::from_be_bytes(report[16..20].try_into().unwrap()), 3000 + 45_000, "half a second at 90 kHz later");
        assert_eq!(u32::from_be_bytes(report[20..24].try_into().unwrap()), 1);
        assert_eq!(u32::from_be_bytes(report[24..28].try_into().unwrap()), 10);
    }
}
