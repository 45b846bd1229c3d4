//! The RTCP the relay reads and writes (RFC 3550, RFC 4585, RFC 5104): feedback from a peer
//! (retransmission and keyframe requests, goodbye) and sender reports to viewers.
//!
//! Everything else in a compound packet (receiver reports, SDES, transport-wide congestion
//! feedback, REMB) is skipped: the relay runs no congestion control towards viewers.

/// Packet types.
const SR: u8 = 200;
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
    fn a_sender_report_says_what_it_was_given() {
        let report = sender_report(0x1234, 0x0102_0304_0506_0708, 90_000, 10, 12_000);
        assert_eq!(&report[..8], &[0x80, 200, 0, 6, 0, 0, 0x12, 0x34]);
        assert_eq!(&report[8..16], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(u32::from_be_bytes(report[16..20].try_into().unwrap()), 90_000);
        assert_eq!(u32::from_be_bytes(report[24..28].try_into().unwrap()), 12_000);
    }
}
