//! Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01):
//! when each packet of the camera's arrived, reported back to the camera.
//!
//! The phone's congestion control (Google congestion control in every browser) estimates its
//! uplink from these reports: a queue building up shows as growing gaps between arrivals, a lost
//! packet as one never reported. Without them the phone would keep sending at a rate a weak
//! uplink cannot carry, and the picture would freeze instead of stepping down.
//!
//! Every packet the camera sends carries a transport-wide sequence number in a header extension.
//! [`Recorder::record`] notes when each arrived; [`Recorder::feedback`] writes the report for
//! everything not reported yet and forgets it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::rtp;

/// How often feedback goes out while packets arrive (libwebrtc's receivers send it every 50 to
/// 250 ms, depending on the rate; 100 ms is its default).
pub const INTERVAL: Duration = Duration::from_millis(100);
/// Arrivals kept unreported at most: a second and a half of a phone's camera at its highest
/// rate. Older ones are dropped unreported, which the sender takes as lost.
const MAX_PENDING: usize = 2048;
/// Statuses one feedback packet carries at most; the rest go in the next.
const MAX_STATUSES: usize = 1024;
/// The RTCP packet type and feedback message type (RTPFB, FMT 15).
const RTPFB: u8 = 205;
const FMT_TWCC: u8 = 15;
/// Receive deltas count in 250 µs; the reference time in 64 ms (256 deltas).
const DELTA_US: u64 = 250;
const REFERENCE_TICKS: i64 = 256;

/// One packet's status in a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Symbol {
    NotReceived = 0,
    /// Received, its delta fits one byte (0 to 63.75 ms after the previous).
    Small = 1,
    /// Received, its delta needs two bytes (negative, or longer).
    Large = 2,
}

/// The arrivals of one connection, waiting to be reported. See the module documentation.
#[derive(Debug)]
pub struct Recorder {
    /// Arrival times, in µs since `epoch`, of the sequence numbers from `base` on.
    pending: VecDeque<Option<u64>>,
    /// The first sequence number not reported yet (extended past 16 bits).
    base: Option<u64>,
    epoch: Instant,
    /// Feedback packets written, modulo 256: the sender tells duplicates and losses apart by it.
    count: u8,
    /// When the last feedback went out.
    sent_at: Option<Instant>,
}

impl Recorder {
    pub fn new(epoch: Instant) -> Recorder {
        Recorder { pending: VecDeque::new(), base: None, epoch, count: 0, sent_at: None }
    }

    /// Notes that the packet with transport-wide sequence number `seq` arrived `now`. One that
    /// was already reported (as lost, or a duplicate) is ignored.
    pub fn record(&mut self, now: Instant, seq: u16) {
        let at = now.saturating_duration_since(self.epoch).as_micros() as u64;
        let base = *self.base.get_or_insert(u64::from(seq));
        let newest = base + self.pending.len() as u64;
        let seq = rtp::extend(newest, seq);
        let Some(mut offset) = seq.checked_sub(base).map(|o| o as usize) else { return };
        // A sender that skipped far ahead must not grow the queue: the oldest arrivals go
        // unreported.
        if offset >= MAX_PENDING {
            let dropped = offset + 1 - MAX_PENDING;
            self.pending.drain(..dropped.min(self.pending.len()));
            self.base = Some(base + dropped as u64);
            offset -= dropped;
        }
        if offset >= self.pending.len() {
            self.pending.resize(offset + 1, None);
        }
        if self.pending[offset].is_none() {
            self.pending[offset] = Some(at);
        }
    }

    /// When feedback is next due, if anything waits to be reported.
    pub fn due(&self) -> Option<Instant> {
        if self.pending.is_empty() {
            return None;
        }
        Some(self.sent_at.map_or(self.epoch, |at| at + INTERVAL))
    }

    /// The feedback for what arrived since the last, if it is due: one RTCP packet from `sender`
    /// about `media` (any of the camera's SSRCs; receivers ignore it).
    pub fn feedback(&mut self, now: Instant, sender: u32, media: u32) -> Option<Vec<u8>> {
        if self.due().is_none_or(|at| at > now) {
            return None;
        }
        self.sent_at = Some(now);
        // A report that would hold only losses says nothing the sender can use: skip them.
        while self.pending.iter().take(MAX_STATUSES).all(Option::is_none) {
            let skipped = MAX_STATUSES.min(self.pending.len());
            self.pending.drain(..skipped);
            self.base = self.base.map(|base| base + skipped as u64);
            if self.pending.is_empty() {
                return None;
            }
        }
        let base = self.base?;
        // The report covers the pending statuses up to the last packet that arrived, and stops
        // early where a delta would not fit two bytes (a gap of over 8 s).
        let first_at = self.pending.iter().flatten().next().copied()?;
        let reference = (first_at / (DELTA_US * REFERENCE_TICKS as u64)) as i64;
        let mut previous = reference * REFERENCE_TICKS;
        let mut symbols = Vec::new();
        let mut deltas = Vec::new();
        let mut covered = 0;
        for (offset, arrival) in self.pending.iter().enumerate().take(MAX_STATUSES) {
            let Some(at) = arrival else {
                symbols.push(Symbol::NotReceived);
                continue;
            };
            let ticks = (*at / DELTA_US) as i64;
            let delta = ticks - previous;
            let Ok(delta) = i16::try_from(delta) else { break };
            previous = ticks;
            match u8::try_from(delta) {
                Ok(small) => {
                    symbols.push(Symbol::Small);
                    deltas.push(small);
                }
                Err(_) => {
                    symbols.push(Symbol::Large);
                    deltas.extend_from_slice(&delta.to_be_bytes());
                }
            }
            covered = offset + 1;
        }
        symbols.truncate(covered);
        self.pending.drain(..covered);
        self.base = Some(base + covered as u64);

        let mut out = Vec::with_capacity(20 + symbols.len() + deltas.len());
        out.extend_from_slice(&[0x80 | FMT_TWCC, RTPFB, 0, 0]);
        out.extend_from_slice(&sender.to_be_bytes());
        out.extend_from_slice(&media.to_be_bytes());
        out.extend_from_slice(&(base as u16).to_be_bytes());
        out.extend_from_slice(&(covered as u16).to_be_bytes());
        out.extend_from_slice(&((reference as u32 & 0x00FF_FFFF) << 8 | u32::from(self.count)).to_be_bytes());
        self.count = self.count.wrapping_add(1);
        write_chunks(&symbols, &mut out);
        out.extend_from_slice(&deltas);
        // RFC 3550 §6.4.1 padding: zeros, the last byte their count, and the P bit set.
        let padding = (4 - out.len() % 4) % 4;
        if padding > 0 {
            out.resize(out.len() + padding - 1, 0);
            out.push(padding as u8);
            out[0] |= 0x20;
        }
        let words = (out.len() / 4 - 1) as u16;
        out[2..4].copy_from_slice(&words.to_be_bytes());
        Some(out)
    }
}

/// The packet status chunks: a run-length chunk for a run of one symbol, a one-bit vector of 14
/// where no delta is large, a two-bit vector of 7 otherwise. The last vector is padded with
/// "not received", which readers ignore past the status count.
fn write_chunks(symbols: &[Symbol], out: &mut Vec<u8>) {
    let mut at = 0;
    while at < symbols.len() {
        let symbol = symbols[at];
        let run = symbols[at..].iter().take(0x1FFF).take_while(|s| **s == symbol).count();
        let chunk: u16 = if run >= 14 || (run >= 7 && symbol == Symbol::Large) || at + run == symbols.len() && run > 1 {
            at += run;
            (symbol as u16) << 13 | run as u16
        } else {
            let next = &symbols[at..symbols.len().min(at + 14)];
            if next.iter().all(|s| *s != Symbol::Large) {
                at += next.len();
                next.iter().enumerate().fold(0x8000, |chunk, (i, s)| chunk | (*s as u16) << (13 - i))
            } else {
                let next = &symbols[at..symbols.len().min(at + 7)];
                at += next.len();
                next.iter().enumerate().fold(0xC000, |chunk, (i, s)| chunk | (*s as u16) << (12 - 2 * i))
            }
        };
        out.extend_from_slice(&chunk.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc_rtcp::transport_feedbacks::transport_layer_cc::{SymbolTypeTcc, TransportLayerCc};
    use shared::marshal::Unmarshal;

    /// A feedback packet as webrtc-rs's reader sees it.
    fn read(packet: &[u8]) -> TransportLayerCc {
        assert_eq!(packet.len() % 4, 0);
        TransportLayerCc::unmarshal(&mut &packet[..]).expect("webrtc-rs reads the feedback")
    }

    #[test]
    fn webrtc_rs_reads_what_arrived_and_what_was_lost() {
        let epoch = Instant::now();
        let mut recorder = Recorder::new(epoch);
        let ms = |n: u64| epoch + Duration::from_micros(n * 1000);
        // 65534 and 65535, then across the wrap: 1 and 2 lost, 3 late (a large delta), 5 before
        // 4 (a negative delta), then a long run of small deltas.
        let mut arrivals = vec![(65534u16, ms(100)), (65535, ms(101)), (0, ms(102)), (3, ms(190)), (5, ms(191)), (4, ms(192))];
        for (i, seq) in (6u16..40).enumerate() {
            arrivals.push((seq, ms(193 + i as u64)));
        }
        for (seq, at) in &arrivals {
            recorder.record(*at, *seq);
        }
        let packet = recorder.feedback(ms(300), 0xAAAA, 0xBBBB).expect("due");
        let feedback = read(&packet);
        assert_eq!((feedback.sender_ssrc, feedback.media_ssrc, feedback.base_sequence_number), (0xAAAA, 0xBBBB, 65534));
        assert_eq!(feedback.packet_status_count, 42, "65534 to 39 across the wrap");
        assert_eq!(feedback.reference_time, 1, "100 ms is in the second 64 ms unit");
        assert_eq!(feedback.fb_pkt_count, 0);

        // Rebuild each received packet's arrival from the reference time and the deltas.
        let mut time = i64::from(feedback.reference_time) * 64_000;
        let times: Vec<i64> = feedback.recv_deltas.iter().map(|d| {
            time += d.delta;
            time
        }).collect();
        let mut in_seq_order: Vec<(u64, i64)> = arrivals.iter().map(|(seq, at)| (rtp::extend(65534, *seq), at.duration_since(epoch).as_micros() as i64)).collect();
        in_seq_order.sort();
        assert_eq!(times, in_seq_order.iter().map(|(_, at)| *at).collect::<Vec<_>>());
        let large = feedback.recv_deltas.iter().filter(|d| d.type_tcc_packet == SymbolTypeTcc::PacketReceivedLargeDelta).count();
        assert_eq!(large, 2, "the late one and the one out of order");

        // Nothing new: nothing to say. The next report starts after the last one, and counts.
        assert!(recorder.feedback(ms(500), 1, 2).is_none());
        recorder.record(ms(600), 40);
        assert!(recorder.feedback(ms(600), 1, 2).is_some_and(|p| read(&p).base_sequence_number == 40 && read(&p).fb_pkt_count == 1));
    }

    #[test]
    fn feedback_waits_for_its_interval_and_a_late_packet_is_not_reported_twice() {
        let epoch = Instant::now();
        let mut recorder = Recorder::new(epoch);
        assert_eq!(recorder.due(), None);
        recorder.record(epoch, 10);
        recorder.record(epoch, 12);
        assert!(recorder.feedback(epoch, 1, 2).is_some());
        recorder.record(epoch + Duration::from_millis(5), 11); // reported lost already
        recorder.record(epoch + Duration::from_millis(5), 13);
        assert_eq!(recorder.due(), Some(epoch + INTERVAL));
        assert!(recorder.feedback(epoch + Duration::from_millis(50), 1, 2).is_none());
        let feedback = read(&recorder.feedback(epoch + INTERVAL, 1, 2).unwrap());
        assert_eq!((feedback.base_sequence_number, feedback.packet_status_count), (13, 1));
    }

    #[test]
    fn a_gap_of_more_than_eight_seconds_splits_the_report_and_the_queue_is_bounded() {
        let epoch = Instant::now();
        let mut recorder = Recorder::new(epoch);
        recorder.record(epoch, 1);
        recorder.record(epoch + Duration::from_secs(10), 2);
        let first = read(&recorder.feedback(epoch + Duration::from_secs(10), 1, 2).unwrap());
        assert_eq!(first.packet_status_count, 1);
        let second = read(&recorder.feedback(epoch + Duration::from_secs(11), 1, 2).unwrap());
        assert_eq!((second.base_sequence_number, second.packet_status_count), (2, 1));

        let mut recorder = Recorder::new(epoch);
        recorder.record(epoch, 0);
        recorder.record(epoch, 30_000);
        assert!(recorder.pending.len() <= MAX_PENDING);
        let feedback = read(&recorder.feedback(epoch, 1, 2).unwrap());
        assert_eq!(feedback.recv_deltas.len(), 1, "the old arrival was dropped, the new one kept");
    }

    #[test]
    fn chunks_encode_runs_and_vectors() {
        use Symbol::*;
        let mut out = Vec::new();
        write_chunks(&[Small; 20], &mut out);
        assert_eq!(out, (0x2000u16 | 20).to_be_bytes());
        out.clear();
        write_chunks(&[Small, NotReceived, Small], &mut out);
        assert_eq!(out, (0x8000u16 | 1 << 13 | 1 << 11).to_be_bytes());
        out.clear();
        write_chunks(&[Large, Small], &mut out);
        assert_eq!(out, (0xC000u16 | 2 << 12 | 1 << 10).to_be_bytes());
    }
}
