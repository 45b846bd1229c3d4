//! The RTCP the relay reads and writes (RFC 3550, RFC 4585, RFC 5104): feedback from a peer
//! (retransmission and keyframe requests, goodbye) and its sender reports; sender reports to
//! viewers; receiver reports, NACKs and PLIs to a camera. Transport-wide congestion feedback to a
//! camera is [`super::twcc`]'s.
//!
//! Everything else in a compound packet (receiver reports, SDES, transport-wide congestion
//! feedback, REMB) is skipped: the relay runs no congestion control towards viewers.

use std::time::Duration;

/// How often the relay reports on a stream, sender reports to viewers and receiver reports to a
/// camera alike (RFC 3550 §6.2: about every 5 s at least; Chrome sends its own each second). A
/// viewer lines audio up with video from the first sender report.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Packet types.
const SR: u8 = 200;
const RR: u8 = 201;
const BYE: u8 = 203;
const RTPFB: u8 = 205;
const PSFB: u8 = 206;
/// Feedback message types: generic NACK (RTPFB), PLI and FIR (PSFB).
const FMT_NACK: u8 = 1;
const FMT_PLI: u8 = 1;
const FMT_FIR: u8 = 4;

/// What a peer asked of the media it receives from the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// Resend these packets of `ssrc` (sequence numbers).
    Nack { ssrc: u32, seqs: Vec<u16> },
    /// Send a key frame on `ssrc` (PLI or FIR).
    Keyframe { ssrc: u32 },
    /// The peer is leaving.
    Bye,
    /// The peer's sender report on `ssrc`: its NTP time, which receiver reports echo so that the
    /// sender can measure the round trip.
    SenderReport { ssrc: u32, ntp: u64 },
}

/// The feedback in a compound RTCP packet, in order. A malformed packet ends the reading: what
/// came before it is kept.
pub fn feedback(compound: &[u8]) -> Vec<Feedback> {
    let mut out = Vec::new();
    let mut rest = compound;
    while rest.len() >= 4 {
        let (count, kind) = (rest[0] & 0x1F, rest[1]);
        let len = 4 * (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1);
        let Some(packet) = rest.get(..len).filter(|_| rest[0] >> 6 == 2) else { break };
        rest = &rest[len..];
        let word = |at: usize| packet.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        match (kind, count) {
            (RTPFB, FMT_NACK) => {
                let Some(ssrc) = word(8) else { continue };
                let mut seqs = Vec::new();
                for fci in packet[12..].chunks_exact(4) {
                    let pid = u16::from_be_bytes([fci[0], fci[1]]);
                    let blp = u16::from_be_bytes([fci[2], fci[3]]);
                    seqs.push(pid);
                    seqs.extend((0..16).filter(|bit| blp & (1 << bit) != 0).map(|bit| pid.wrapping_add(bit + 1)));
                }
                out.push(Feedback::Nack { ssrc, seqs });
            }
            (PSFB, FMT_PLI) => {
                if let Some(ssrc) = word(8) {
                    out.push(Feedback::Keyframe { ssrc });
                }
            }
            (PSFB, FMT_FIR) => {
                // FIR names its media in each entry (the header's media SSRC is unused).
                for entry in packet.get(12..).unwrap_or_default().chunks_exact(8) {
                    out.push(Feedback::Keyframe { ssrc: u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]) });
                }
            }
            (BYE, _) => out.push(Feedback::Bye),
            (SR, _) => {
                if let (Some(ssrc), Some(high), Some(low)) = (word(4), word(8), word(12)) {
                    out.push(Feedback::SenderReport { ssrc, ntp: u64::from(high) << 32 | u64::from(low) });
                }
            }
            _ => {}
        }
    }
    out
}

/// A sender report with no report blocks: the mapping of `rtp_time` to `ntp_time` (64-bit NTP
/// format) that lets a viewer line audio up with video, and what was sent so far.
pub fn sender_report(ssrc: u32, ntp_time: u64, rtp_time: u32, packets: u32, octets: u32) -> [u8; 28] {
    let mut out = [0u8; 28];
    out[..4].copy_from_slice(&[0x80, SR, 0, 6]);
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    out[8..16].copy_from_slice(&ntp_time.to_be_bytes());
    out[16..20].copy_from_slice(&rtp_time.to_be_bytes());
    out[20..24].copy_from_slice(&packets.to_be_bytes());
    out[24..28].copy_from_slice(&octets.to_be_bytes());
    out
}

/// What a receiver report says about one incoming stream (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// The fraction of packets lost since the last report, in 256ths.
    pub fraction_lost: u8,
    /// Packets lost since the stream began (24 bits, signed: duplicates can make it negative).
    pub cumulative_lost: i32,
    /// The highest sequence number received, extended by its rollover count.
    pub highest: u32,
    /// Interarrival jitter, in the stream's RTP clock.
    pub jitter: u32,
    /// The middle 32 bits of the last sender report's NTP time, and how long ago it came, in
    /// 1/65536 s; both 0 before the first.
    pub last_sr: u32,
    pub delay_since_last_sr: u32,
}

/// A receiver report from `sender` with one block per stream (31 at most, RFC 3550's limit).
pub fn receiver_report(sender: u32, blocks: &[ReportBlock]) -> Vec<u8> {
    let blocks = &blocks[..blocks.len().min(31)];
    let mut out = Vec::with_capacity(8 + 24 * blocks.len());
    out.extend_from_slice(&[0x80 | blocks.len() as u8, RR]);
    out.extend_from_slice(&(1 + 6 * blocks.len() as u16).to_be_bytes());
    out.extend_from_slice(&sender.to_be_bytes());
    for block in blocks {
        out.extend_from_slice(&block.ssrc.to_be_bytes());
        let lost = block.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0xFF_FFFF;
        out.extend_from_slice(&(u32::from(block.fraction_lost) << 24 | lost).to_be_bytes());
        for word in [block.highest, block.jitter, block.last_sr, block.delay_since_last_sr] {
            out.extend_from_slice(&word.to_be_bytes());
        }
    }
    out
}

/// A picture loss indication: `sender` asks `media`'s sender for a key frame.
pub fn pli(sender: u32, media: u32) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..4].copy_from_slice(&[0x80 | FMT_PLI, PSFB, 0, 2]);
    out[4..8].copy_from_slice(&sender.to_be_bytes());
    out[8..12].copy_from_slice(&media.to_be_bytes());
    out
}

/// A generic NACK for `seqs` of `media`, packed into as few (PID, BLP) pairs as fit.
pub fn nack(sender: u32, media: u32, seqs: &[u16]) -> Vec<u8> {
    let mut pairs: Vec<(u16, u16)> = Vec::new();
    for &seq in seqs {
        match pairs.last_mut() {
            Some((pid, blp)) if seq.wrapping_sub(*pid).wrapping_sub(1) < 16 && seq != *pid => {
                *blp |= 1 << seq.wrapping_sub(*pid).wrapping_sub(1);
            }
            _ => pairs.push((seq, 0)),
        }
    }
    let mut out = Vec::with_capacity(12 + 4 * pairs.len());
    out.extend_from_slice(&[0x80 | FMT_NACK, RTPFB]);
    out.extend_from_slice(&(2 + pairs.len() as u16).to_be_bytes());
    out.extend_from_slice(&sender.to_be_bytes());
    out.extend_from_slice(&media.to_be_bytes());
    for (pid, blp) in pairs {
        out.extend_from_slice(&pid.to_be_bytes());
        out.extend_from_slice(&blp.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nack_pli_fir_and_bye_from_a_compound_packet_skipping_the_rest() {
        // A receiver report with one block, as browsers lead every compound packet with.
        let mut compound = vec![0x81, 201, 0, 7];
        compound.extend_from_slice(&[0; 28]);
        compound.extend_from_slice(&nack(1, 0xAA, &[100, 101, 116, 117, 300]));
        compound.extend_from_slice(&pli(1, 0xBB));
        // A FIR with two entries.
        compound.extend_from_slice(&[0x84, 206, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0]);
        compound.extend_from_slice(&[0, 0, 0, 0xCC, 5, 0, 0, 0, 0, 0, 0, 0xDD, 6, 0, 0, 0]);
        // A REMB (application-layer PSFB), which is skipped.
        compound.extend_from_slice(&[0x8F, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M', b'B', 1, 0, 0, 0]);
        compound.extend_from_slice(&[0x81, 203, 0, 1, 0, 0, 0, 1]);
        assert_eq!(
            feedback(&compound),
            vec![
                Feedback::Nack { ssrc: 0xAA, seqs: vec![100, 101, 116, 117, 300] },
                Feedback::Keyframe { ssrc: 0xBB },
                Feedback::Keyframe { ssrc: 0xCC },
                Feedback::Keyframe { ssrc: 0xDD },
                Feedback::Bye,
            ]
        );
    }

    #[test]
    fn a_nack_packs_nearby_sequence_numbers_and_wraps() {
        let packet = nack(1, 2, &[65534, 65535, 0, 14, 15]);
        assert_eq!(&packet[12..], &[0xFF, 0xFE, 0b1000_0000, 0b0000_0011, 0, 15, 0, 0]);
        assert_eq!(feedback(&packet), vec![Feedback::Nack { ssrc: 2, seqs: vec![65534, 65535, 0, 14, 15] }]);
    }

    #[test]
    fn a_malformed_packet_ends_the_reading_and_keeps_what_came_before() {
        let mut compound = pli(1, 7).to_vec();
        compound.extend_from_slice(&[0x81, 206, 0, 9, 0, 0]); // says 40 bytes, has 6
        assert_eq!(feedback(&compound), vec![Feedback::Keyframe { ssrc: 7 }]);
        assert_eq!(feedback(&[0x41, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 7]), vec![], "RTP version 1");
        assert_eq!(feedback(&[]), vec![]);
    }

    #[test]
    fn a_receiver_report_reads_back_in_webrtc_rs_and_a_sender_report_is_read() {
        use rtc_rtcp::receiver_report::ReceiverReport;
        use shared::marshal::Unmarshal;
        let block = ReportBlock { ssrc: 7, fraction_lost: 64, cumulative_lost: -3, highest: 0x1_0005, jitter: 90, last_sr: 0xABCD, delay_since_last_sr: 0x8000 };
        let packet = receiver_report(0x1234, &[block, ReportBlock { ssrc: 8, cumulative_lost: 1 << 30, ..block }]);
        let report = ReceiverReport::unmarshal(&mut &packet[..]).expect("webrtc-rs reads it");
        assert_eq!((report.ssrc, report.reports.len()), (0x1234, 2));
        let first = &report.reports[0];
        assert_eq!((first.ssrc, first.fraction_lost, first.total_lost, first.last_sequence_number), (7, 64, 0xFF_FFFD, 0x1_0005));
        assert_eq!((first.jitter, first.last_sender_report, first.delay), (90, 0xABCD, 0x8000));
        assert_eq!(report.reports[1].total_lost, 0x7F_FFFF, "clamped to 24 bits");

        let sr = sender_report(0x55, 0x0102_0304_0506_0708, 1, 2, 3);
        assert_eq!(feedback(&sr), vec![Feedback::SenderReport { ssrc: 0x55, ntp: 0x0102_0304_0506_0708 }]);
    }

    #[test]
    fn a_sender_report_says_what_it_was_given() {
        let report = sender_report(0x1234, 0x0102_0304_0506_0708, 90_000, 10, 12_000);
        assert_eq!(&report[..8], &[0x80, 200, 0, 6, 0, 0, 0x12, 0x34]);
        assert_eq!(&report[8..16], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(u32::from_be_bytes(report[16..20].try_into().unwrap()), 90_000);
        assert_eq!(u32::from_be_bytes(report[24..28].try_into().unwrap()), 12_000);
    }
}
