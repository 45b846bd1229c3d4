//! A camera's media as the relay receives it: what each packet is, and the feedback its sender
//! needs.
//!
//! - Each packet is told apart by its payload type (the answer gave audio, video and RTX theirs).
//!   An RTX packet (RFC 4588) is unwrapped to the packet it repeats; one that repeats a packet
//!   already here, and padding the sender sends to probe its uplink, go no further.
//! - A gap in a video stream's sequence numbers is asked for again at once (generic NACK), then
//!   every [`NACK_RETRY`] a few times, so that one lost packet does not freeze every viewer's
//!   picture.
//! - Receiver reports once a second say what was lost and echo the sender's reports, for the
//!   sender's statistics and its loss-based rate control.
//! - Transport-wide congestion feedback ([`super::twcc`]) every 100 ms drives the sender's
//!   delay-based rate control: how a phone on a weak uplink finds the rate it can send at.
//! - A picture loss indication asks for a key frame when the relay says so.
//!
//! Sans-IO: packets in with the time they came, RTCP to send out, a deadline for the next.

use std::ops::Range;
use std::time::{Duration, Instant};

use str0m::media::MediaKind;

use super::rtcp::{self, Feedback, REPORT_INTERVAL, ReportBlock};
use super::rtp::{self, Header};
use super::twcc;

/// How long a NACKed packet is waited for before it is asked again: a round trip on a phone's
/// uplink, roughly.
pub const NACK_RETRY: Duration = Duration::from_millis(100);
/// How many times a lost packet is asked for: past that it is too late to show.
const NACK_TRIES: u8 = 5;
/// Lost packets waited for at most; a longer gap is a broken link, and the viewers' keyframe
/// requests will mend the picture sooner than a thousand retransmissions.
const MAX_MISSING: usize = 256;
/// Sequence numbers whose arrival is remembered, to drop a retransmission of a packet that
/// came after all.
const WINDOW: u64 = 1024;
/// Incoming streams one camera may have (its audio and its video, and an encoder restart or
/// two); packets on more are dropped.
const MAX_SOURCES: usize = 4;

/// What a payload type the answer accepted carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    Media(MediaKind),
    /// Retransmissions of the payload type `apt`.
    Rtx { apt: u8 },
}

/// What the negotiation settled for a camera's connection.
#[derive(Debug, Clone, Default)]
pub struct InboundParams {
    pub payload_types: Vec<(u8, Payload)>,
    /// The transport-wide sequence number extension's id, if the camera sends it.
    pub twcc: Option<u8>,
}

/// A media packet to forward, read out of the packet it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub kind: MediaKind,
    /// The packet's sequence number, extended: for an RTX packet, the one it repeats.
    pub seq: u64,
    pub timestamp: u32,
    pub marker: bool,
    /// Where its payload is in the packet (after the original sequence number in an RTX packet,
    /// before any padding).
    pub payload: Range<usize>,
    /// Whether it came as a retransmission.
    pub repaired: bool,
}

/// One incoming stream (an SSRC of the camera's audio or video).
#[derive(Debug)]
struct Source {
    ssrc: u32,
    kind: MediaKind,
    /// The first and the highest sequence number received, extended.
    first: u64,
    highest: u64,
    /// Which of the last [`WINDOW`] sequence numbers up to `highest` arrived.
    arrived: [u64; (WINDOW / 64) as usize],
    /// Packets that came on this SSRC (retransmissions come on the RTX SSRC and are not counted:
    /// the reports say what the network lost).
    received: u64,
    /// `expected` and `received` at the last report, for the fraction lost since.
    prior: (u64, u64),
    /// Interarrival jitter times 16 (RFC 3550 A.8), and the previous packet's transit time.
    jitter_q4: u32,
    transit: Option<u32>,
    /// The middle 32 bits of the last sender report's NTP time, and when it came.
    last_sr: Option<(u32, Instant)>,
    /// Lost packets still asked for, oldest first: sequence number, next request, requests left.
    missing: Vec<(u64, Instant, u8)>,
}

impl Source {
    fn new(ssrc: u32, kind: MediaKind, seq: u64) -> Source {
        Source {
            ssrc,
            kind,
            first: seq,
            highest: seq,
            arrived: [0; (WINDOW / 64) as usize],
            received: 0,
            prior: (0, 0),
            jitter_q4: 0,
            transit: None,
            last_sr: None,
            missing: Vec::new(),
        }
    }

    fn bit(&mut self, seq: u64) -> (&mut u64, u64) {
        let slot = seq % WINDOW;
        (&mut self.arrived[(slot / 64) as usize], 1 << (slot % 64))
    }

    /// Notes `seq` as arrived; false if it had already, or is too old to tell.
    fn arrive(&mut self, now: Instant, seq: u64) -> bool {
        if seq + WINDOW <= self.highest || seq < self.first {
            return false;
        }
        if seq > self.highest {
            // Clear the bits of the numbers skipped over (they held packets WINDOW ago), and
            // note the skipped ones as lost.
            for skipped in (self.highest + 1..seq).rev().take(WINDOW as usize) {
                let (word, bit) = self.bit(skipped);
                *word &= !bit;
            }
            if self.kind == MediaKind::Video {
                let gap = self.highest + 1..seq;
                let skip = (gap.end - gap.start).saturating_sub(MAX_MISSING as u64);
                self.missing.extend((gap.start + skip..gap.end).map(|lost| (lost, now, NACK_TRIES)));
                let excess = self.missing.len().saturating_sub(MAX_MISSING);
                self.missing.drain(..excess);
            }
            self.highest = seq;
        } else {
            let (word, bit) = self.bit(seq);
            if *word & bit != 0 {
                return false;
            }
            self.missing.retain(|(lost, ..)| *lost != seq);
        }
        let (word, bit) = self.bit(seq);
        *word |= bit;
        true
    }

    /// RFC 3550 A.8, with arrival times on the stream's RTP clock counted from `epoch`.
    fn update_jitter(&mut self, arrival: Duration, timestamp: u32) {
        let arrival = (arrival.as_micros() as u64 * u64::from(rtp::clock_rate(self.kind)) / 1_000_000) as u32;
        let transit = arrival.wrapping_sub(timestamp);
        if let Some(previous) = self.transit.replace(transit) {
            let d = (transit.wrapping_sub(previous) as i32).unsigned_abs();
            self.jitter_q4 = self.jitter_q4.wrapping_add(d).wrapping_sub((self.jitter_q4 + 8) >> 4);
        }
    }

    fn report(&mut self, now: Instant) -> ReportBlock {
        let expected = self.highest - self.first + 1;
        let lost = expected as i64 - self.received as i64;
        let (expected_prior, received_prior) = std::mem::replace(&mut self.prior, (expected, self.received));
        let expected_interval = expected - expected_prior;
        let lost_interval = expected_interval as i64 - (self.received - received_prior) as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 { 0 } else { ((lost_interval << 8) / expected_interval as i64).min(255) as u8 };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((ntp, at)) => (ntp, (now.saturating_duration_since(at).as_micros() as u64 * 65_536 / 1_000_000) as u32),
            None => (0, 0),
        };
        ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: lost.clamp(i32::MIN.into(), i32::MAX.into()) as i32,
            highest: self.highest as u32,
            jitter: self.jitter_q4 >> 4,
            last_sr,
            delay_since_last_sr,
        }
    }
}

/// A camera's receive side. See the module documentation.
#[derive(Debug)]
pub struct Inbound {
    params: InboundParams,
    /// The SSRC the relay's RTCP to the camera comes from.
    ssrc: u32,
    sources: Vec<Source>,
    twcc: twcc::Recorder,
    epoch: Instant,
    next_report: Option<Instant>,
}

impl Inbound {
    pub fn new(now: Instant, params: InboundParams, ssrc: u32) -> Inbound {
        Inbound { params, ssrc, sources: Vec::new(), twcc: twcc::Recorder::new(now), epoch: now, next_report: None }
    }

    /// An opened RTP packet (`header` read from it, `index` its SRTP index on its SSRC): the
    /// media in it to forward, if any.
    pub fn receive(&mut self, now: Instant, packet: &[u8], header: &Header, index: u64) -> Option<Received> {
        if let Some(id) = self.params.twcc
            && let Some(&[high, low]) = rtp::one_byte_extension(packet, header, id)
        {
            self.twcc.record(now, u16::from_be_bytes([high, low]));
        }
        let end = payload_end(packet, header)?;
        let payload = *self.params.payload_types.iter().find(|(pt, _)| *pt == header.payload_type).map(|(_, p)| p)?;
        match payload {
            Payload::Media(kind) => {
                let source = match self.sources.iter().position(|s| s.ssrc == header.ssrc) {
                    Some(at) => &mut self.sources[at],
                    None if self.sources.len() < MAX_SOURCES => {
                        self.sources.push(Source::new(header.ssrc, kind, index));
                        self.sources.last_mut().expect("just pushed")
                    }
                    None => return None,
                };
                let in_order = index > source.highest || source.received == 0;
                if !source.arrive(now, index) {
                    return None;
                }
                source.received += 1;
                if in_order {
                    source.update_jitter(now.saturating_duration_since(self.epoch), header.timestamp);
                }
                // Padding alone (the sender probing its uplink) has nothing to forward.
                (end > header.len).then_some(Received { kind, seq: index, timestamp: header.timestamp, marker: header.marker, payload: header.len..end, repaired: false })
            }
            Payload::Rtx { apt } => {
                let Some((_, Payload::Media(kind))) = self.params.payload_types.iter().find(|(pt, _)| *pt == apt) else { return None };
                let osn = packet.get(header.len..header.len + 2).filter(|_| end >= header.len + 2)?;
                let osn = u16::from_be_bytes([osn[0], osn[1]]);
                // The stream it repairs: the newest of its kind (a camera sends one of each).
                let source = self.sources.iter_mut().rev().find(|s| s.kind == *kind)?;
                let seq = rtp::extend(source.highest, osn);
                if !source.arrive(now, seq) {
                    return None;
                }
                Some(Received { kind: *kind, seq, timestamp: header.timestamp, marker: header.marker, payload: header.len + 2..end, repaired: true })
            }
        }
    }

    /// A (compound) RTCP packet from the camera: its sender reports are noted for ours.
    pub fn handle_rtcp(&mut self, now: Instant, compound: &[u8]) {
        for message in rtcp::feedback(compound) {
            if let Feedback::SenderReport { ssrc, ntp } = message
                && let Some(source) = self.sources.iter_mut().find(|s| s.ssrc == ssrc)
            {
                source.last_sr = Some(((ntp >> 16) as u32, now));
            }
        }
    }

    /// A picture loss indication for the camera's video, once its SSRC is known.
    pub fn keyframe_request(&self) -> Option<[u8; 12]> {
        let video = self.sources.iter().rev().find(|s| s.kind == MediaKind::Video)?;
        Some(rtcp::pli(self.ssrc, video.ssrc))
    }

    /// The RTCP that is due `now`, as one compound packet: NACKs, transport-wide feedback, and
    /// receiver reports once a second.
    pub fn poll_rtcp(&mut self, now: Instant) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        if self.next_report.is_some_and(|at| at <= now) && !self.sources.is_empty() {
            let blocks: Vec<ReportBlock> = self.sources.iter_mut().map(|s| s.report(now)).collect();
            out.extend_from_slice(&rtcp::receiver_report(self.ssrc, &blocks));
        }
        if self.next_report.is_none_or(|at| at <= now) && !self.sources.is_empty() {
            self.next_report = Some(now + REPORT_INTERVAL);
        }
        for source in &mut self.sources {
            let mut seqs = Vec::new();
            for (seq, next, tries) in &mut source.missing {
                if *next <= now {
                    seqs.push(*seq as u16);
                    *next = now + NACK_RETRY;
                    *tries -= 1;
                }
            }
            source.missing.retain(|(.., tries)| *tries > 0);
            if !seqs.is_empty() {
                out.extend_from_slice(&rtcp::nack(self.ssrc, source.ssrc, &seqs));
            }
        }
        let media = self.sources.first().map_or(0, |s| s.ssrc);
        if let Some(feedback) = self.twcc.feedback(now, self.ssrc, media) {
            out.extend_from_slice(&feedback);
        }
        (!out.is_empty()).then_some(out)
    }

    /// When [`Inbound::poll_rtcp`] has something to send next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let nacks = self.sources.iter().flat_map(|s| s.missing.iter().map(|(_, next, _)| *next));
        nacks.chain(self.next_report).chain(self.twcc.due()).min()
    }
}

/// Where the payload ends: before the padding, if the packet has any (RFC 3550 §5.1).
fn payload_end(packet: &[u8], header: &Header) -> Option<usize> {
    if packet[0] & 0x20 == 0 {
        return Some(packet.len());
    }
    let padding = usize::from(*packet.last()?);
    packet.len().checked_sub(padding).filter(|end| *end >= header.len && padding > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIDEO: u8 = 102;
    const RTX: u8 = 103;
    const AUDIO: u8 = 111;

    fn camera(now: Instant) -> Inbound {
        let payload_types = vec![(VIDEO, Payload::Media(MediaKind::Video)), (RTX, Payload::Rtx { apt: VIDEO }), (AUDIO, Payload::Media(MediaKind::Audio))];
        Inbound::new(now, InboundParams { payload_types, twcc: Some(3) }, 0xEEEE)
    }

    /// A packet with the transport-wide sequence number `twcc` and `payload`.
    fn packet(pt: u8, ssrc: u32, seq: u16, twcc: u16, payload: &[u8]) -> (Vec<u8>, Header) {
        let mut packet = vec![0x90, pt, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0];
        packet[2..4].copy_from_slice(&seq.to_be_bytes());
        packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
        packet.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x31]);
        packet.extend_from_slice(&twcc.to_be_bytes());
        packet.push(0);
        packet.extend_from_slice(payload);
        let header = Header::parse(&packet).unwrap();
        (packet, header)
    }

    fn receive(inbound: &mut Inbound, now: Instant, pt: u8, ssrc: u32, seq: u16, twcc: u16, payload: &[u8]) -> Option<Received> {
        let (packet, header) = packet(pt, ssrc, seq, twcc, payload);
        let received = inbound.receive(now, &packet, &header, u64::from(seq))?;
        assert_eq!(&packet[received.payload.clone()], &payload[payload.len() - received.payload.len()..]);
        Some(received)
    }

    /// The (SSRC, sequence numbers) of each NACK in a compound packet.
    fn nacks(compound: &[u8]) -> Vec<(u32, Vec<u16>)> {
        rtcp::feedback(compound).into_iter().filter_map(|f| if let Feedback::Nack { ssrc, seqs } = f { Some((ssrc, seqs)) } else { None }).collect()
    }

    #[test]
    fn a_lost_packet_is_asked_for_again_until_it_comes_as_rtx_and_a_second_copy_is_dropped() {
        let t0 = Instant::now();
        let mut inbound = camera(t0);
        for seq in 10..13 {
            assert_eq!(receive(&mut inbound, t0, VIDEO, 0xA, seq, seq, b"frame").unwrap().seq, u64::from(seq));
        }
        assert!(receive(&mut inbound, t0, VIDEO, 0xA, 15, 15, b"frame").is_some());
        let first = inbound.poll_rtcp(t0).expect("NACK at once");
        assert_eq!(nacks(&first), vec![(0xA, vec![13, 14])]);
        assert!(inbound.poll_rtcp(t0).is_none_or(|p| nacks(&p).is_empty()), "not again before the retry");
        assert_eq!(inbound.poll_timeout(), Some(t0 + NACK_RETRY));

        // 13 comes late on its own SSRC; 14 comes as RTX: original sequence number, then payload.
        assert!(receive(&mut inbound, t0, VIDEO, 0xA, 13, 13, b"late").is_some());
        let mut rtx = 14u16.to_be_bytes().to_vec();
        rtx.extend_from_slice(b"again");
        let repaired = receive(&mut inbound, t0, RTX, 0xB, 500, 16, &rtx).unwrap();
        assert_eq!((repaired.kind, repaired.seq, repaired.repaired), (MediaKind::Video, 14, true));
        assert!(receive(&mut inbound, t0, RTX, 0xB, 501, 17, &rtx).is_none(), "a second copy");
        assert!(receive(&mut inbound, t0, VIDEO, 0xA, 12, 18, b"dup").is_none(), "already here");
        let later = inbound.poll_rtcp(t0 + NACK_RETRY).unwrap_or_default();
        assert!(nacks(&later).is_empty(), "nothing is missing any more");
    }

    #[test]
    fn a_packet_that_never_comes_is_asked_for_a_few_times_only_and_audio_never() {
        let t0 = Instant::now();
        let mut inbound = camera(t0);
        receive(&mut inbound, t0, VIDEO, 0xA, 1, 1, b"v");
        receive(&mut inbound, t0, VIDEO, 0xA, 3, 2, b"v");
        receive(&mut inbound, t0, AUDIO, 0xC, 1, 3, b"a");
        receive(&mut inbound, t0, AUDIO, 0xC, 3, 4, b"a");
        let mut asked = 0;
        for step in 0..10 {
            if let Some(compound) = inbound.poll_rtcp(t0 + NACK_RETRY * step) {
                for (ssrc, seqs) in nacks(&compound) {
                    assert_eq!((ssrc, seqs), (0xA, vec![2]));
                    asked += 1;
                }
            }
        }
        assert_eq!(asked, usize::from(NACK_TRIES));
    }

    #[test]
    fn a_huge_gap_asks_for_the_newest_few_and_a_wrap_is_followed() {
        let t0 = Instant::now();
        let mut inbound = camera(t0);
        receive(&mut inbound, t0, VIDEO, 0xA, 1, 1, b"v");
        receive(&mut inbound, t0, VIDEO, 0xA, 5001, 2, b"v");
        let asked: Vec<u16> = nacks(&inbound.poll_rtcp(t0).unwrap()).into_iter().flat_map(|(_, seqs)| seqs).collect();
        assert_eq!(asked.len(), MAX_MISSING);
        assert_eq!((asked[0], asked[MAX_MISSING - 1]), (5001 - MAX_MISSING as u16, 5000));

        // Across a wrap: what is lost is asked for by its 16-bit number, and RTX's original
        // number extends to the right rollover.
        let mut inbound = camera(t0);
        for index in [0xFFFE, 0x1_0001] {
            let (packet, header) = packet(VIDEO, 0xA, index as u16, 1, b"v");
            assert_eq!(inbound.receive(t0, &packet, &header, index).unwrap().seq, index);
        }
        assert_eq!(nacks(&inbound.poll_rtcp(t0).unwrap()), vec![(0xA, vec![65535, 0])]);
        let mut rtx = 65535u16.to_be_bytes().to_vec();
        rtx.push(7);
        assert_eq!(receive(&mut inbound, t0, RTX, 0xB, 9, 2, &rtx).unwrap().seq, 0xFFFF);
    }

    #[test]
    fn padding_and_unknown_payload_types_are_not_forwarded_but_count_for_congestion_feedback() {
        let t0 = Instant::now();
        let mut inbound = camera(t0);
        // A probe: RTX padding only (P bit, the last byte says how much).
        let (mut probe, _) = packet(RTX, 0xB, 1, 40, &[0, 0, 0, 4]);
        probe[0] |= 0x20;
        let header = Header::parse(&probe).unwrap();
        assert_eq!(inbound.receive(t0, &probe, &header, 1), None);
        assert_eq!(receive(&mut inbound, t0, 99, 0xD, 1, 41, b"x"), None);
        // Padding that claims more than the packet has is refused.
        let (mut bad, _) = packet(VIDEO, 0xA, 1, 42, &[1, 2, 200]);
        bad[0] |= 0x20;
        let header = Header::parse(&bad).unwrap();
        assert_eq!(inbound.receive(t0, &bad, &header, 1), None);
        let feedback = inbound.poll_rtcp(t0).expect("TWCC feedback");
        assert_eq!(&feedback[..2], &[0x80 | 0x20 | 15, 205], "transport-wide feedback, padded");
        assert_eq!(u16::from_be_bytes([feedback[12], feedback[13]]), 40);
        assert_eq!(u16::from_be_bytes([feedback[14], feedback[15]]), 3, "40, 41 and 42 arrived");
    }

    #[test]
    fn receiver_reports_say_what_was_lost_and_echo_the_sender_report() {
        let t0 = Instant::now();
        let mut inbound = camera(t0);
        for seq in (100..200).filter(|seq| seq % 10 != 0) {
            receive(&mut inbound, t0, VIDEO, 0xA, seq, seq, b"v");
        }
        let mut sr = rtcp::sender_report(0xA, 0x0000_1234_5678_0000, 0, 0, 0).to_vec();
        sr.extend_from_slice(&rtcp::sender_report(0xFFFF, 1, 0, 0, 0)); // an SSRC it does not send
        inbound.handle_rtcp(t0, &sr);
        inbound.poll_rtcp(t0);
        let compound = inbound.poll_rtcp(t0 + Duration::from_secs(1) + Duration::from_millis(500)).unwrap();
        assert_eq!(compound[1], 201, "a receiver report leads");
        let block = &compound[8..32];
        assert_eq!(u32::from_be_bytes(block[..4].try_into().unwrap()), 0xA);
        // The first to come was 101: 99 expected up to 199, and 110, 120 … 190 lost.
        let (fraction, lost) = (block[4], u32::from_be_bytes([0, block[5], block[6], block[7]]));
        assert_eq!(lost, 9);
        assert_eq!(fraction, (9 * 256 / 99) as u8);
        assert_eq!(u32::from_be_bytes(block[8..12].try_into().unwrap()), 199);
        assert_eq!(u32::from_be_bytes(block[16..20].try_into().unwrap()), 0x1234_5678, "the middle of the NTP time");
        assert_eq!(u32::from_be_bytes(block[20..24].try_into().unwrap()), 98_304, "1.5 s in 1/65536 s");
        assert_eq!(inbound.keyframe_request().unwrap()[8..12], 0xAu32.to_be_bytes());
    }
}
