//! Synthetic live peers for tests and benchmarks: a WHIP camera that sends H.264-shaped RTP at a
//! set bitrate, and WHEP viewers that count the RTP they receive without decoding it.
//!
//! Each peer is a webrtc-rs `rtc` peer connection on its own loopback UDP socket, driven by its
//! own task, and talks to the server over real HTTP: from the relay's side it looks like any other
//! client. It is not the relay's code path (the relay answers, these offer; the relay forwards,
//! these send and count), but it is the same WebRTC stack, which is why the independent-peer test
//! uses aiortc and the browser tests use Chromium.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MediaEngine};
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// What a camera sends: H.264-shaped packets at a bitrate and frame rate, a keyframe every
/// `keyframe_interval`, each frame's packets back to back or `packet_gap` apart.
#[derive(Debug, Clone, Copy)]
pub struct Media {
    pub bitrate_bps: u64,
    pub fps: u32,
    /// RTP payload bytes per packet (a browser fills about 1,100 to 1,200).
    pub payload: usize,
    pub keyframe_interval: Duration,
    /// Time between two packets of a frame. Chromium sends an ordinary frame's packets within a
    /// millisecond or so and spreads only key frames out (measured; see ARCHITECTURE.md), so a
    /// phone's camera has none; a gap makes every frame arrive the way a key frame does.
    pub packet_gap: Duration,
}

impl Media {
    /// 360p at 15 fps in 500 kbit/s, the target of a farmer's phone on a rural uplink.
    pub fn phone() -> Media {
        Media { bitrate_bps: 500_000, fps: 15, payload: 1_100, keyframe_interval: Duration::from_secs(2), packet_gap: Duration::ZERO }
    }

    /// RTP packets per frame: a frame's bytes in payloads of [`Media::payload`].
    pub fn packets_per_frame(&self) -> usize {
        let bytes_per_frame = self.bitrate_bps / 8 / u64::from(self.fps.max(1));
        (bytes_per_frame as usize).div_ceil(self.payload).max(1)
    }
}

/// Counters a peer keeps as it runs; read them while it runs.
#[derive(Debug, Default)]
pub struct PeerStats {
    pub connected: AtomicBool,
    /// RTP packets sent (a camera) or received (a viewer).
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// Keyframe requests (PLI/FIR) that reached a camera.
    pub keyframe_requests: AtomicU64,
}

impl PeerStats {
    pub fn packets(&self) -> u64 {
        self.packets.load(Ordering::Relaxed)
    }
}

/// One running peer.
pub struct Peer {
    pub stats: Arc<PeerStats>,
    /// The session's URL (the `Location` of the WHIP/WHEP answer), absolute.
    pub session_url: String,
    token: Option<String>,
    http: reqwest::Client,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Peer {
    /// Waits until ICE and DTLS are up.
    pub async fn connected(&self, timeout: Duration) -> anyhow::Result<()> {
        self.until(timeout, "connecting", |s| s.connected.load(Ordering::Relaxed)).await
    }

    /// Waits until at least `packets` RTP packets went through this peer.
    pub async fn packets_at_least(&self, packets: u64, timeout: Duration) -> anyhow::Result<()> {
        self.until(timeout, "RTP packets", |s| s.packets() >= packets).await
    }

    async fn until(&self, timeout: Duration, what: &str, done: impl Fn(&PeerStats) -> bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        while !done(&self.stats) {
            if Instant::now() > deadline || self.task.is_finished() {
                bail!("no {what} within {timeout:?} (the peer {})", if self.task.is_finished() { "stopped" } else { "is still trying" });
            }
            tick.tick().await;
        }
        Ok(())
    }

    /// Ends the session (`DELETE`, as a WHIP/WHEP client does) and stops the peer.
    pub async fn close(self) -> anyhow::Result<()> {
        let mut request = self.http.delete(&self.session_url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.context("DELETE")?;
        let _ = self.stop.send(true);
        let _ = self.task.await;
        if !response.status().is_success() {
            bail!("DELETE answered {}", response.status());
        }
        Ok(())
    }

    /// Stops the peer without telling the server, as a phone that lost its network would.
    pub async fn vanish(self) {
        // No stop signal, and the sender is dropped only after the task is gone: the loop answers
        // either by closing the connection, and its goodbye (DTLS close_notify) would tell the
        // server what a phone that lost its network cannot.
        self.task.abort();
        let _ = self.task.await;
        drop(self.stop);
    }
}

/// Starts a camera publishing `media` to a WHIP endpoint with its publish token.
pub async fn publish(http: &reqwest::Client, whip_url: &str, token: &str, media: Media) -> anyhow::Result<Peer> {
    let (mut pc, socket) = new_peer().await?;
    let track = MediaStreamTrack::new(
        "probe".into(),
        "camera".into(),
        "camera".into(),
        RtpCodecKind::Video,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(0x5EED_0001), ..Default::default() },
            codec: h264(),
            ..Default::default()
        }],
    );
    let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Sendonly, ..Default::default() };
    pc.add_transceiver_from_track(track, Some(init))?;
    negotiate(http, whip_url, Some(token), pc, socket, Some(media)).await
}

/// Starts a viewer playing a WHEP endpoint.
pub async fn play(http: &reqwest::Client, whep_url: &str) -> anyhow::Result<Peer> {
    let (mut pc, socket) = new_peer().await?;
    for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
        let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, ..Default::default() };
        pc.add_transceiver_from_kind(kind, Some(init))?;
    }
    negotiate(http, whep_url, None, pc, socket, None).await
}

fn h264() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_H264.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f".to_owned(),
        rtcp_feedback: Vec::new(),
    }
}

async fn new_peer() -> anyhow::Result<(RTCPeerConnection, UdpSocket)> {
    let mut media = MediaEngine::default();
    media.register_default_codecs()?;
    let registry = register_default_interceptors(rtc::interceptor::Registry::new(), &mut media)?;
    let pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .build(Instant::now())?;
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    Ok((pc, socket))
}

async fn negotiate(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    mut pc: RTCPeerConnection,
    socket: UdpSocket,
    media: Option<Media>,
) -> anyhow::Result<Peer> {
    let local = socket.local_addr()?;
    let offer = pc.create_offer(None)?;
    pc.set_local_description(Instant::now(), offer)?;
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".into(),
            address: local.ip().to_string(),
            port: local.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()?;
    pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json()?)?;
    let offer = pc.local_description().context("no offer")?.sdp;
    let mut request = http.post(url).header("content-type", "application/sdp").body(offer);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let answer = response.text().await?;
    if status != 201 {
        bail!("{url} answered {status}: {answer}");
    }
    pc.set_remote_description(Instant::now(), RTCSessionDescription::answer(answer)?)?;
    let origin = url.split('/').take(3).collect::<Vec<_>>().join("/");
    let session_url = format!("{origin}{}", location.context("no Location")?);
    let stats = Arc::new(PeerStats::default());
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(drive(pc, socket, local, media, stats.clone(), stopped));
    Ok(Peer { stats, session_url, token: token.map(str::to_owned), http: http.clone(), stop, task })
}

/// The peer's loop: datagrams in and out, timers, and a camera's frames.
async fn drive(mut pc: RTCPeerConnection, socket: UdpSocket, local: SocketAddr, media: Option<Media>, stats: Arc<PeerStats>, mut stop: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 2048];
    let mut camera = media.map(Camera::new);
    let period = media.map_or(Duration::from_secs(3600), |m| Duration::from_secs(1) / m.fps.max(1));
    let mut frames = tokio::time::interval(period);
    frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // When the camera's next queued packet is due, with a packet gap.
    let mut next_packet = tokio::time::Instant::now();
    loop {
        while let Some(out) = pc.poll_write() {
            let _ = socket.send_to(&out.message, out.transport.peer_addr).await;
        }
        while let Some(event) = pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                stats.connected.store(state == RTCPeerConnectionState::Connected, Ordering::Relaxed);
            }
        }
        while let Some(TaggedRTCMessage { message, .. }) = pc.poll_read() {
            match message {
                RTCMessage::RtpPacket(_, packet) => {
                    stats.packets.fetch_add(1, Ordering::Relaxed);
                    stats.bytes.fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
                }
                RTCMessage::RtcpPacket(_, _) => {
                    stats.keyframe_requests.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
        let deadline = pc.poll_timeout().unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = stop.changed() => break,
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, from)) = received {
                    let message = TaggedBytesMut {
                        now: Instant::now(),
                        transport: TransportContext { local_addr: local, peer_addr: from, ecn: None, transport_protocol: TransportProtocol::UDP },
                        message: BytesMut::from(&buf[..n]),
                    };
                    let _ = pc.handle_read(message);
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                let _ = pc.handle_timeout(Instant::now());
            }
            _ = frames.tick(), if camera.is_some() && stats.connected.load(Ordering::Relaxed) => {
                if let Some(camera) = &mut camera {
                    camera.queue_frame();
                    camera.send(&mut pc, &stats);
                    next_packet = tokio::time::Instant::now() + camera.media.packet_gap;
                }
            }
            () = tokio::time::sleep_until(next_packet), if camera.as_ref().is_some_and(|c| !c.queued.is_empty()) => {
                if let Some(camera) = &mut camera {
                    camera.send(&mut pc, &stats);
                    next_packet += camera.media.packet_gap;
                }
            }
        }
    }
    let _ = pc.close();
    while let Some(out) = pc.poll_write() {
        let _ = socket.send_to(&out.message, out.transport.peer_addr).await;
    }
}

/// Makes H.264-shaped frames: the first packet's NAL header says IDR on keyframes, the last
/// packet carries the marker bit, the timestamp moves at 90 kHz.
struct Camera {
    media: Media,
    sequence: u16,
    frame: u64,
    filler: Bytes,
    /// Packets made and not sent yet (with a packet gap, the rest of the current frame).
    queued: VecDeque<rtp::Packet>,
}

impl Camera {
    fn new(media: Media) -> Camera {
        Camera { media, sequence: 1, frame: 0, filler: Bytes::from(vec![0xA5; media.payload]), queued: VecDeque::new() }
    }

    /// Makes the next frame's packets. What is left of the last frame goes first: a camera
    /// whose gaps do not fit in a frame's time sends late rather than drops.
    fn queue_frame(&mut self) {
        let frames_per_key = (self.media.keyframe_interval.as_secs_f64() * f64::from(self.media.fps)).max(1.0) as u64;
        let keyframe = self.frame.is_multiple_of(frames_per_key);
        let timestamp = (self.frame * 90_000 / u64::from(self.media.fps.max(1))) as u32;
        let count = self.media.packets_per_frame();
        for i in 0..count {
            let mut payload = BytesMut::from(&self.filler[..]);
            // A NAL header: 5 is an IDR slice, 1 a non-IDR slice.
            payload[0] = if keyframe && i == 0 { 0x65 } else { 0x41 };
            self.queued.push_back(rtp::Packet {
                header: rtp::header::Header {
                    version: 2,
                    marker: i + 1 == count,
                    sequence_number: self.sequence,
                    timestamp,
                    ssrc: 0x5EED_0001,
                    ..Default::default()
                },
                payload: payload.freeze(),
            });
            self.sequence = self.sequence.wrapping_add(1);
        }
        self.frame += 1;
    }

    /// Sends the next queued packet, or all of them when the camera has no packet gap.
    fn send(&mut self, pc: &mut RTCPeerConnection, stats: &PeerStats) {
        let Some(sender_id) = pc.get_senders().next() else { return };
        let Some(mut sender) = pc.rtp_sender(sender_id) else { return };
        let Some(payload_type) = sender.get_parameters().rtp_parameters.codecs.first().map(|c| c.payload_type) else { return };
        let count = if self.media.packet_gap.is_zero() { self.queued.len() } else { 1 };
        for mut packet in self.queued.drain(..count.min(self.queued.len())) {
            packet.header.payload_type = payload_type;
            if sender.write_rtp(Instant::now(), packet).is_ok() {
                stats.packets.fetch_add(1, Ordering::Relaxed);
                stats.bytes.fetch_add(self.media.payload as u64, Ordering::Relaxed);
            }
        }
    }
}
