//! The I/O floor of the live fan-out: what forwarding costs on this machine with the relay's I/O
//! and nothing else, measured in the same run as the relay so that the two can be compared.
//!
//! The forwarder (`fieldcast-bench udp-forwarder`, started by the `live` benchmark as a child
//! process and pinned as the server is) does what the relay's thread does around its core: it
//! waits in `poll(2)`, reads up to 64 datagrams, and hands every datagram to every viewer to
//! `relay::wire::send`, the relay's own sender (one `sendmmsg(2)`, a viewer's packets of a pass as
//! one segmented message). It has no ICE, DTLS, SRTP, RTCP or timers. The camera and the viewers
//! are plain UDP sockets in the bench process, the camera paced like the WebRTC one and sending
//! datagrams of the size the relay sends to viewers.
//!
//! So the forwarder's CPU per forwarded packet is what the kernel (the send, and the loopback
//! delivery into the viewer's socket that is charged to the sender) and the thread's wake-ups
//! cost here; the relay's figure above it is its WebRTC work.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use live_probe::Media;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use relay::sfu::Transmit;
use serde::Serialize;

use crate::live::packets_lost;
use crate::server::{cpu_seconds, pinned};

/// What a viewer sends to be forwarded to.
const JOIN: &[u8] = b"join";
/// As the relay's shell: datagrams read per wake-up at most, and datagrams per `wire::send`.
const READ_BATCH: usize = 64;
const SEND_BATCH: usize = 256;
/// What the relay adds to a camera payload on its way to a viewer: the RTP header (12 bytes), the
/// MID header extension (8) and the SRTP AES-GCM tag (16).
const RTP_OVERHEAD: usize = 36;

#[derive(Debug, Serialize)]
pub struct FloorRun {
    pub viewers: usize,
    pub packets_per_second: f64,
    pub cpu_us_per_packet: f64,
    /// CPU per camera datagram: with no viewers, what waking up and reading one costs.
    pub cpu_us_per_datagram_in: f64,
    pub cpu_cores: f64,
    pub packets_lost: u64,
}

/// The forwarder's loop; runs until it is killed.
pub fn forward() -> anyhow::Result<()> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_nonblocking(true)?;
    println!("listening on {}", socket.local_addr()?);
    std::io::stdout().flush()?;
    let mut viewers: Vec<SocketAddr> = Vec::new();
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut batch: Vec<Transmit> = Vec::new();
    let mut buf = [0u8; 2048];
    let mut gso = relay::wire::GSO_AVAILABLE;
    let mut wait_writable = || -> std::io::Result<()> {
        let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
        poll(&mut fds, PollTimeout::from(50u8))?;
        Ok(())
    };
    loop {
        let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::NONE)?;
        packets.clear();
        for _ in 0..READ_BATCH {
            match socket.recv_from(&mut buf) {
                Ok((n, from)) if &buf[..n] == JOIN => {
                    if !viewers.contains(&from) {
                        viewers.push(from);
                    }
                }
                Ok((n, _)) => packets.push(buf[..n].to_vec()),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => continue,
            }
        }
        // Viewer by viewer, as the relay's flush leaves them.
        batch.extend(viewers.iter().flat_map(|to| packets.iter().map(|data| Transmit { to: *to, data: data.clone() })));
        for chunk in batch.chunks(SEND_BATCH) {
            relay::wire::send(&socket, chunk, &mut gso, &mut wait_writable);
        }
        batch.clear();
    }
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
    let datagram = vec![0xA5; media.payload + RTP_OVERHEAD];
    let task = tokio::spawn(async move {
        let mut frames = tokio::time::interval(Duration::from_secs(1) / media.fps.max(1));
        frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            frames.tick().await;
            for _ in 0..media.packets_per_frame() {
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
        let sent_before = camera.count.load(Ordering::Relaxed);
        let received_before: Vec<u64> = viewers.iter().map(|v| v.count.load(Ordering::Relaxed)).collect();
        let started = Instant::now();
        // The measurement window: a benchmark samples over a fixed time by design.
        tokio::time::sleep(window).await;
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid) - cpu_before;
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
        });
    }
    Ok(runs)
}
