//! The floor of the live fan-out: what forwarding costs on this machine with the relay's I/O and
//! the SRTP every forwarded packet needs, and nothing else, measured in the same run as the relay
//! so that the two can be compared. It is the "physical floor" (one SRTP AES-GCM
//! operation and one UDP send per forwarded packet), measured instead of estimated.
//!
//! The forwarder (`fieldcast-bench udp-forwarder`, started by the `live` benchmark as a child
//! process and pinned as the server is) does what the relay's thread does around its WebRTC
//! stack: it waits in `epoll_wait(2)`, reads up to 64 datagrams with one `recvmmsg(2)` (the
//! relay's own `relay::wire::Receiver`), decrypts each camera packet once
//! (SRTP AEAD_AES_256_GCM, RFC 7714, the profile the relay's connections with the bench's viewers
//! use, through the relay's own SRTP), encrypts it again for every viewer under
//! that viewer's key with that viewer's SSRC and sequence number, and hands the lot to
//! `relay::wire::Sender`, the relay's own sender (one `sendmmsg(2)`, a viewer's packets of a
//! pass as one segmented message). It has no ICE, DTLS, RTCP, retransmission history or timers. The
//! camera and the viewers are plain UDP sockets in the bench process, the camera paced like the
//! WebRTC one and sending SRTP packets of the size the relay sends to viewers.
//!
//! So the forwarder's CPU per forwarded packet is what the kernel (the send, and the loopback
//! delivery into the viewer's socket that is charged to the sender), the thread's wake-ups and
//! the packet's encryption cost here; the relay's figure above it is the rest of its WebRTC work.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use live_probe::Media;
use relay::sfu::Transmit;
use serde::Serialize;
use relay::transport::srtp::Profile;

use crate::live::packets_lost;
use crate::server::{cpu_seconds, pinned, wakeups};

/// What a viewer sends to be forwarded to.
const JOIN: &[u8] = b"join";
/// As the relay's shell: datagrams per `wire::Sender::send`.
const SEND_BATCH: usize = 256;
/// The RTP header the relay sends viewers: the fixed header (12 bytes) and the MID header
/// extension (8). SRTP authenticates it and encrypts what follows; with the AES-GCM tag (16) a
/// datagram is 36 bytes longer than its payload, in and out.
const RTP_HEADER: usize = 20;

#[derive(Debug, Serialize)]
pub struct FloorRun {
    pub viewers: usize,
    pub packets_per_second: f64,
    pub cpu_us_per_packet: f64,
    /// CPU per camera datagram: with no viewers, what waking up and reading one costs.
    pub cpu_us_per_datagram_in: f64,
    pub cpu_cores: f64,
    pub packets_lost: u64,
    /// As the relay's: the forwarder's wake-ups per second and its CPU per wake-up.
    pub wakeups_per_second: f64,
    pub cpu_us_per_wakeup: f64,
}

/// The forwarder's loop; runs until it is killed.
pub fn forward() -> anyhow::Result<()> {
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_nonblocking(true)?;
    println!("listening on {}", socket.local_addr()?);
    std::io::stdout().flush()?;
    let mut viewers: Vec<(SocketAddr, Srtp)> = Vec::new();
    let mut camera = Srtp::new(CAMERA_KEY, false);
    // Decrypted payloads, each after a copy of the camera's RTP header.
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut batch: Vec<Transmit> = Vec::new();
    // As the relay's: the buffers of datagrams sent, sealed into again.
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut receiver = relay::wire::Receiver::new();
    let mut sender = relay::wire::Sender::new();
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    epoll.add(&socket, EpollEvent::new(EpollFlags::EPOLLIN, 0))?;
    let mut events = [EpollEvent::empty(); 1];
    loop {
        epoll.wait(&mut events, EpollTimeout::NONE)?;
        packets.clear();
        receiver.read(&socket, &mut |from, data| {
            if data == JOIN {
                if !viewers.iter().any(|(to, _)| *to == from) {
                    let key = u8::try_from(viewers.len() % 200).unwrap_or(0) + 1;
                    viewers.push((from, Srtp::new(key, true)));
                }
            } else {
                // A packet that does not decrypt is dropped, as the relay drops it, and so shows
                // as lost.
                packets.extend(camera.open(data));
            }
        });
        // Viewer by viewer, as the relay's flush leaves them.
        for (to, srtp) in &mut viewers {
            batch.extend(packets.iter().map(|packet| Transmit { to: *to, data: srtp.seal(packet, spare.pop().unwrap_or_default()) }));
        }
        for chunk in batch.chunks(SEND_BATCH) {
            sender.send(&socket, chunk, &mut || relay::wire::wait_writable(&socket));
        }
        spare.extend(batch.drain(..).map(|transmit| transmit.data));
    }
}

/// The camera's key; a viewer's is its number (1 to 200).
const CAMERA_KEY: u8 = 0;

/// One direction of an SRTP AEAD_AES_256_GCM context (RFC 7714) for one SSRC: the work a relay
/// does per packet to decrypt the camera's or encrypt a viewer's, through the relay's own SRTP
/// (`relay::transport::srtp`), as the relay's flush seals a packet: the header written in a reused
/// buffer, then sealed with the payload where it lies into the buffer of a datagram sent before.
/// The keys are fixed: they protect nothing here, the work is what is measured.
struct Srtp {
    srtp: relay::transport::srtp::Srtp,
    ssrc: u32,
    /// The next sequence number when sending.
    seq: u16,
    /// The rollover counter: how many times `seq` wrapped.
    roc: u32,
    scratch: Vec<u8>,
}

impl Srtp {
    fn new(key: u8, encrypt: bool) -> Srtp {
        let provider = str0m::crypto::from_feature_flags();
        let srtp = relay::transport::srtp::Srtp::new(&provider, Profile::AeadAes256Gcm, &[key; 32], &[key ^ 0x5A; 12], encrypt);
        Srtp { srtp, ssrc: 0x1000 + u32::from(key), seq: 0, roc: 0, scratch: Vec::with_capacity(RTP_HEADER) }
    }

    /// An SRTP packet of `packet`'s payload (what follows its RTP header) under this context's
    /// SSRC and next sequence number, sealed into `buf`.
    fn seal(&mut self, packet: &[u8], mut buf: Vec<u8>) -> Vec<u8> {
        let (seq, roc) = (self.seq, self.roc);
        (self.seq, self.roc) = match seq.checked_add(1) {
            Some(next) => (next, roc),
            None => (0, roc.wrapping_add(1)),
        };
        let (header, payload) = packet.split_at(RTP_HEADER);
        self.scratch.clear();
        self.scratch.extend_from_slice(header);
        self.scratch[2..4].copy_from_slice(&seq.to_be_bytes());
        self.scratch[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let index = (u64::from(roc) << 16) | u64::from(seq);
        self.srtp.seal_rtp_into(&self.scratch, payload, index, &mut buf).expect("the header is whole");
        buf
    }

    /// The camera's packet decrypted (its RTP header, then the payload), or `None` if it does not
    /// authenticate. The camera's sequence numbers do not wrap within a run, so the rollover
    /// counter stays 0.
    fn open(&mut self, packet: &[u8]) -> Option<Vec<u8>> {
        let header = packet.get(..RTP_HEADER)?;
        let seq = u16::from_be_bytes([header[2], header[3]]);
        self.srtp.open_rtp(packet, RTP_HEADER, u64::from(seq)).ok()
    }
}

/// A camera packet before encryption: an RTP header with the MID extension, and the payload.
fn rtp_packet(payload: usize) -> Vec<u8> {
    let mut packet = vec![0xA5; RTP_HEADER + payload];
    // Version 2 with a header extension; payload type 96; the one-byte extension profile, one
    // word long, holding the MID "0".
    packet[..2].copy_from_slice(&[0x90, 96]);
    packet[12..20].copy_from_slice(&[0xBE, 0xDE, 0, 1, 0x40, b'0', 0, 0]);
    packet
}

/// The forwarder process; killed when dropped.
struct Forwarder {
    child: Child,
    addr: SocketAddr,
}

impl Forwarder {
    fn start() -> anyhow::Result<Forwarder> {
        let exe = std::env::current_exe()?;
        let mut child = pinned(&exe).arg("udp-forwarder").stdout(Stdio::piped()).spawn().context("starting the UDP forwarder")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("no stdout")?).read_line(&mut line)?;
        let addr = line.trim().strip_prefix("listening on ").context("the forwarder printed no address")?.parse()?;
        Ok(Forwarder { child, addr })
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain UDP peer's task and its datagram count.
struct Peer {
    count: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn viewer(forwarder: SocketAddr) -> anyhow::Result<Peer> {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    socket.send_to(JOIN, forwarder).await?;
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while socket.recv(&mut buf).await.is_ok() {
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    Ok(Peer { count, task })
}

fn camera(forwarder: SocketAddr, media: Media) -> anyhow::Result<Peer> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    socket.set_nonblocking(true)?;
    let socket = tokio::net::UdpSocket::from_std(socket)?;
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let packet = rtp_packet(media.payload);
    let mut srtp = Srtp::new(CAMERA_KEY, true);
    let task = tokio::spawn(async move {
        let mut frames = tokio::time::interval(Duration::from_secs(1) / media.fps.max(1));
        frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            frames.tick().await;
            for i in 0..media.packets_per_frame() {
                // Paced like the relay's camera: this task has nothing else to do meanwhile.
                if i > 0 && !media.packet_gap.is_zero() {
                    tokio::time::sleep(media.packet_gap).await;
                }
                let datagram = srtp.seal(&packet, Vec::new());
                if socket.send_to(&datagram, forwarder).await.is_ok() {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    Ok(Peer { count, task })
}

/// Waits until every viewer has had a packet: the forwarder has taken its join.
async fn all_joined(viewers: &[Peer]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while viewers.iter().any(|v| v.count.load(Ordering::Relaxed) == 0) {
        anyhow::ensure!(Instant::now() < deadline, "a viewer of the UDP forwarder got nothing within 10 s");
        tick.tick().await;
    }
    Ok(())
}

/// The forwarder's CPU per forwarded packet for each viewer count, measured as the relay's is.
pub async fn fanout(counts: &[usize], window: Duration, media: Media) -> anyhow::Result<Vec<FloorRun>> {
    let forwarder = Forwarder::start()?;
    let camera = camera(forwarder.addr, media)?;
    let mut viewers: Vec<Peer> = Vec::new();
    let mut runs = Vec::new();
    for &count in counts {
        while viewers.len() < count {
            viewers.push(viewer(forwarder.addr).await?);
        }
        all_joined(&viewers).await?;
        let pid = forwarder.child.id();
        let cpu_before = cpu_seconds(pid);
        let wakeups_before = wakeups(pid);
        let sent_before = camera.count.load(Ordering::Relaxed);
        let received_before: Vec<u64> = viewers.iter().map(|v| v.count.load(Ordering::Relaxed)).collect();
        let started = Instant::now();
        // The measurement window: a benchmark samples over a fixed time by design.
        tokio::time::sleep(window).await;
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid) - cpu_before;
        let woke = wakeups(pid) - wakeups_before;
        let sent = camera.count.load(Ordering::Relaxed) - sent_before;
        let received: Vec<u64> = viewers.iter().zip(&received_before).map(|(v, before)| v.count.load(Ordering::Relaxed) - before).collect();
        let forwarded: u64 = received.iter().sum();
        runs.push(FloorRun {
            viewers: count,
            packets_per_second: forwarded as f64 / elapsed,
            cpu_us_per_packet: cpu * 1e6 / forwarded.max(1) as f64,
            cpu_us_per_datagram_in: cpu * 1e6 / sent.max(1) as f64,
            cpu_cores: cpu / elapsed,
            packets_lost: packets_lost(media, sent, received.iter().copied()),
            wakeups_per_second: woke as f64 / elapsed,
            cpu_us_per_wakeup: cpu * 1e6 / woke.max(1) as f64,
        });
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_packet_opens_under_the_same_key_with_its_payload_and_new_numbers() {
        let packet = rtp_packet(1100);
        let (mut sender, mut receiver) = (Srtp::new(7, true), Srtp::new(7, false));
        let first = sender.seal(&packet, Vec::new());
        let second = sender.seal(&packet, vec![0xEE; 1500]);
        assert_eq!(first.len(), 1100 + 36);
        assert_ne!(first[RTP_HEADER..], second[RTP_HEADER..], "each sequence number gets its own keystream");
        let opened = receiver.open(&second).expect("it authenticates");
        assert_eq!(opened[RTP_HEADER..], packet[RTP_HEADER..]);
        assert_eq!(u16::from_be_bytes([opened[2], opened[3]]), 1);
        assert_eq!(opened[8..12], 0x1007u32.to_be_bytes());
    }

    #[test]
    fn a_packet_under_another_key_or_altered_does_not_open() {
        let sealed = Srtp::new(7, true).seal(&rtp_packet(100), Vec::new());
        assert!(Srtp::new(8, false).open(&sealed).is_none());
        let mut altered = sealed.clone();
        altered[RTP_HEADER + 5] ^= 1;
        assert!(Srtp::new(7, false).open(&altered).is_none());
        assert!(Srtp::new(7, false).open(&sealed[..RTP_HEADER - 1]).is_none());
        assert!(Srtp::new(7, false).open(&sealed).is_some());
    }

    #[test]
    fn the_sequence_number_wraps_into_the_rollover_counter() {
        let mut sender = Srtp::new(1, true);
        sender.seq = u16::MAX;
        sender.seal(&rtp_packet(10), Vec::new());
        assert_eq!((sender.seq, sender.roc), (0, 1));
    }
}
