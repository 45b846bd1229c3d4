//! Whole sessions through the relay's sans-IO core, in memory and on a simulated clock: client
//! peer connections (the webrtc-rs stack as offerer) exchange datagrams with [`Sfu`] through a
//! little network that delivers everything, so each test is deterministic and takes milliseconds.
//!
//! The clients are webrtc-rs peers while the relay runs on str0m, so every test here is also a
//! check between two implementations.
//!
//! What a browser and a third WebRTC implementation do against the real server is tested in
//! `tests/` at the root; these tests pin the core's own rules.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use relay::sfu::{Limits, Sfu};
use relay::{EndReason, RelayError, RelayEvent, Role};
use rtc::interceptor::{Attribute, Interceptor, Packet, Registry, Slot, StreamInfo, TaggedPacket};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MediaEngine};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

const RELAY: &str = "10.0.0.1:3478";

/// Marks inbound keyframe requests (PLI, FIR) and receiver reports for a test client's
/// application, so that a test can count what reaches a publisher. Everything else passes
/// unmarked.
#[derive(Default)]
pub struct KeyframeRequests {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet
            && packets.iter().any(|p| {
                is_keyframe_request(p.as_ref()) || p.as_any().downcast_ref::<ReceiverReport>().is_some()
            })
        {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }

    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Error> {
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

impl Interceptor for KeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}


/// A client peer connection at a fake address.
struct Client {
    addr: SocketAddr,
    pc: RTCPeerConnection,
    connected: bool,
    received: Vec<rtp::Packet>,
    keyframe_requests: usize,
    /// Receiver reports about what the client sends, with the highest sequence number each
    /// said was received.
    receiver_reports: Vec<u32>,
    sender: Option<RTCRtpSenderId>,
}

fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    packet.as_any().downcast_ref::<PictureLossIndication>().is_some() || packet.as_any().downcast_ref::<FullIntraRequest>().is_some()
}

impl Client {
    fn new(now: Instant, port: u16) -> Client {
        let mut media = MediaEngine::default();
        media.register_default_codecs().unwrap();
        let registry = Registry::new().with(Slot::from(14_000), KeyframeRequests::default());
        let registry = register_default_interceptors(registry, &mut media).unwrap();
        let pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(SettingEngineBuilder::new().build())
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .build(now)
            .unwrap();
        Client { addr: format!("10.0.0.2:{port}").parse().unwrap(), pc, connected: false, received: Vec::new(), keyframe_requests: 0, receiver_reports: Vec::new(), sender: None }
    }

    /// A publisher sending H.264 video only.
    fn publisher(now: Instant, port: u16) -> (Client, String) {
        let mut client = Client::new(now, port);
        let track = MediaStreamTrack::new(
            "camera".into(),
            "video".into(),
            "video".into(),
            RtpCodecKind::Video,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(1111), ..Default::default() },
                codec: h264(),
                ..Default::default()
            }],
        );
        let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Sendonly, ..Default::default() };
        client.pc.add_transceiver_from_track(track, Some(init)).unwrap();
        client.sender = client.pc.get_senders().next();
        let offer = client.offer(now);
        (client, offer)
    }

    /// A viewer receiving audio and video.
    fn viewer(now: Instant, port: u16) -> (Client, String) {
        let mut client = Client::new(now, port);
        for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
            let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, ..Default::default() };
            client.pc.add_transceiver_from_kind(kind, Some(init)).unwrap();
        }
        let offer = client.offer(now);
        (client, offer)
    }

    fn offer(&mut self, now: Instant) -> String {
        let offer = self.pc.create_offer(None).unwrap();
        self.pc.set_local_description(now, offer).unwrap();
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: self.addr.ip().to_string(),
                port: self.addr.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .unwrap();
        self.pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json().unwrap()).unwrap();
        self.pc.local_description().unwrap().sdp
    }

    fn accept(&mut self, now: Instant, answer: &str) {
        self.pc.set_remote_description(now, RTCSessionDescription::answer(answer.to_owned()).unwrap()).unwrap();
    }

    /// Sends one fake H.264 packet with this sequence number, a frame of its own.
    fn send_video(&mut self, now: Instant, seq: u16) {
        self.send_frame_part(now, u32::from(seq), seq, true);
    }

    /// Sends one fake H.264 packet of frame number `frame` (its RTP timestamp); `last` sets the
    /// marker bit that ends the frame.
    fn send_frame_part(&mut self, now: Instant, frame: u32, seq: u16, last: bool) {
        let sender_id = self.sender.unwrap();
        let mut sender = self.pc.rtp_sender(sender_id).unwrap();
        let payload_type = sender.get_parameters().rtp_parameters.codecs[0].payload_type;
        let packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                payload_type,
                sequence_number: seq,
                timestamp: frame * 3000,
                ssrc: 1111,
                marker: last,
                ..Default::default()
            },
            // A tiny IDR-like NAL unit; the relay never looks inside.
            payload: Bytes::from(vec![0x65, seq as u8, 0xAA, 0xBB]),
        };
        sender.write_rtp(now, packet).unwrap();
    }

    fn ask_for_keyframe(&mut self, now: Instant) {
        let receivers: Vec<_> = self.pc.get_receivers().collect();
        for id in receivers {
            let mut receiver = self.pc.rtp_receiver(id).unwrap();
            if receiver.track().kind() != RtpCodecKind::Video {
                continue;
            }
            let media_ssrc = receiver.track().ssrcs().next().unwrap_or(0);
            receiver.write_rtcp(now, vec![Box::new(PictureLossIndication { sender_ssrc: 1, media_ssrc })]).unwrap();
        }
    }

    fn drain(&mut self) {
        while let Some(event) = self.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                self.connected = state == RTCPeerConnectionState::Connected;
            }
        }
        while let Some(TaggedRTCMessage { message, .. }) = self.pc.poll_read() {
            match message {
                RTCMessage::RtpPacket(_, packet) => self.received.push(packet),
                RTCMessage::RtcpPacket(_, packets) => {
                    for packet in packets {
                        if is_keyframe_request(packet.as_ref()) {
                            self.keyframe_requests += 1;
                        } else if let Some(report) = packet.as_any().downcast_ref::<ReceiverReport>() {
                            self.receiver_reports.extend(report.reports.iter().map(|block| block.last_sequence_number));
                        }
                    }
                }
                _ => {}
            }
        }
    }
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

/// The relay and its clients on one simulated network and clock.
struct World {
    now: Instant,
    sfu: Sfu,
    clients: HashMap<String, Client>,
    events: Vec<RelayEvent>,
    /// Clients whose datagrams are dropped (a phone that lost its network).
    silent: Vec<String>,
    /// Single RTP packets to drop on the way, each named by its direction and how many RTP
    /// packets that way pass first.
    losses: Vec<Loss>,
}

/// One RTP packet lost on the way between a client and the relay.
struct Loss {
    client: String,
    to_relay: bool,
    /// RTP packets that still pass before the lost one.
    after: usize,
}

/// Whether a datagram is RTP, rather than RTCP, STUN or DTLS (RFC 7983 demultiplexing; the
/// header of an SRTP packet is in the clear).
fn is_rtp(datagram: &[u8]) -> bool {
    datagram.len() >= 12 && datagram[0] >> 6 == 2 && !(64..96).contains(&(datagram[1] & 0x7F))
}

/// Counts an RTP datagram against the losses planned for its way, and says whether it is lost.
fn lost(losses: &mut Vec<Loss>, client: &str, to_relay: bool, datagram: &[u8]) -> bool {
    if !is_rtp(datagram) {
        return false;
    }
    let Some(index) = losses.iter().position(|l| l.client == client && l.to_relay == to_relay) else { return false };
    if losses[index].after > 0 {
        losses[index].after -= 1;
        return false;
    }
    losses.remove(index);
    true
}

impl World {
    fn new() -> World {
        World::with_limits(Limits::default())
    }

    fn with_limits(limits: Limits) -> World {
        let now = Instant::now();
        World { now, sfu: Sfu::new(RELAY.parse().unwrap(), limits).unwrap(), clients: HashMap::new(), events: Vec::new(), silent: Vec::new(), losses: Vec::new() }
    }

    fn publish(&mut self, name: &str, stream: &str, port: u16) -> relay::Answer {
        let (mut client, offer) = Client::publisher(self.now, port);
        let answer = self.sfu.publish(self.now, stream, &offer).unwrap();
        client.accept(self.now, &answer.sdp);
        self.clients.insert(name.into(), client);
        answer
    }

    fn play(&mut self, name: &str, stream: &str, port: u16) -> Result<relay::Answer, RelayError> {
        let (mut client, offer) = Client::viewer(self.now, port);
        let answer = self.sfu.play(self.now, stream, &offer)?;
        client.accept(self.now, &answer.sdp);
        self.clients.insert(name.into(), client);
        Ok(answer)
    }

    /// Zhang publishing "corn" and one connected viewer, "buyer".
    fn live_with_a_viewer() -> World {
        let mut world = World::new();
        world.publish("zhang", "corn", 5000);
        world.run(2_000);
        world.play("buyer", "corn", 5001).unwrap();
        world.run(2_000);
        assert!(world.client("buyer").connected);
        world
    }

    fn client(&mut self, name: &str) -> &mut Client {
        self.clients.get_mut(name).unwrap()
    }

    /// Moves every queued datagram and runs due timers, `ms` milliseconds of simulated time in
    /// steps of 5 ms. Each step is one pass of the relay's loop, which runs whatever is due.
    fn run(&mut self, ms: u64) {
        let end = self.now + Duration::from_millis(ms);
        while self.now < end {
            self.pump();
            self.now += Duration::from_millis(5);
            self.tick_clients();
            self.sfu.handle_timeout(self.now);
        }
    }

    /// Delivers datagrams back and forth until none is left, without moving the clock.
    fn pump(&mut self) {
        for _ in 0..8 {
            let mut moved = false;
            for (name, client) in &mut self.clients {
                while let Some(out) = client.pc.poll_write() {
                    moved = true;
                    if !self.silent.contains(name) && !lost(&mut self.losses, name, true, &out.message) {
                        self.sfu.handle_datagram(self.now, client.addr, &out.message);
                    }
                }
            }
            while let Some(transmit) = self.sfu.poll_transmit() {
                moved = true;
                if let Some((name, client)) = self.clients.iter_mut().find(|(_, c)| c.addr == transmit.to) {
                    if self.silent.contains(name) || lost(&mut self.losses, name, false, &transmit.data) {
                        self.sfu.recycle(transmit.data);
                        continue;
                    }
                    let message = TaggedBytesMut {
                        now: self.now,
                        transport: TransportContext {
                            local_addr: client.addr,
                            peer_addr: RELAY.parse().unwrap(),
                            ecn: None,
                            transport_protocol: TransportProtocol::UDP,
                        },
                        message: BytesMut::from(&transmit.data[..]),
                    };
                    let _ = client.pc.handle_read(message);
                }
                // As the shell does, so that later packets are sealed into buffers already used.
                self.sfu.recycle(transmit.data);
            }
            while let Some(event) = self.sfu.poll_event() {
                self.events.push(event);
            }
            for client in self.clients.values_mut() {
                client.drain();
            }
            if !moved {
                break;
            }
        }
    }

    /// Whether no deadline of the relay or of a client falls within `span` from now.
    fn quiet_for(&mut self, span: Duration) -> bool {
        let until = self.now + span;
        // The relay's `poll_timeout` is its earliest deadline plus 40 ms of slack.
        let relay = self.sfu.poll_timeout().is_none_or(|at| at >= until + Duration::from_millis(40));
        relay && self.clients.values_mut().all(|c| c.pc.poll_timeout().is_none_or(|at| at >= until))
    }

    /// Runs the clients' due timers.
    fn tick_clients(&mut self) {
        for client in self.clients.values_mut() {
            if client.pc.poll_timeout().is_some_and(|t| t <= self.now) {
                let _ = client.pc.handle_timeout(self.now);
            }
        }
    }

    /// How many times the relay told `event`.
    fn count(&self, event: &RelayEvent) -> usize {
        self.events.iter().filter(|e| *e == event).count()
    }

    fn viewers_event(&self, stream: &str) -> Option<usize> {
        self.events.iter().rev().find_map(|e| match e {
            RelayEvent::Viewers { stream: s, count } if s == stream => Some(*count),
            _ => None,
        })
    }
}

#[test]
fn a_publisher_reaches_every_viewer_with_the_payload_intact() {
    let mut world = World::new();
    world.publish("zhang", "corn", 5000);
    world.run(2_000);
    assert!(world.client("zhang").connected, "the publisher connects");
    assert!(world.events.contains(&RelayEvent::PublisherConnected { stream: "corn".into() }));

    world.play("buyer-1", "corn", 5001).unwrap();
    world.play("buyer-2", "corn", 5002).unwrap();
    world.run(2_000);
    assert!(world.client("buyer-1").connected && world.client("buyer-2").connected);
    assert_eq!(world.viewers_event("corn"), Some(2));
    assert_eq!(world.sfu.viewers("corn"), 2);

    for seq in 100..150 {
        let now = world.now;
        world.client("zhang").send_video(now, seq);
        world.run(10);
    }
    world.run(200);
    for buyer in ["buyer-1", "buyer-2"] {
        let received = &world.client(buyer).received;
        let sequences: Vec<u16> = received.iter().map(|p| p.header.sequence_number).collect();
        assert_eq!(sequences, (100..150).collect::<Vec<_>>(), "{buyer} gets every packet, in order");
        assert!(received.iter().all(|p| p.payload[0] == 0x65 && p.payload[1] == p.header.sequence_number as u8), "payloads are untouched");
    }
    assert_eq!(world.sfu.stats().forwarded, 100);
    // A sender report goes to each viewer with the first media, then once a second. (This client
    // stack keeps them to itself; the browser tests see Chromium take them.)
    assert_eq!(world.sfu.stats().sender_reports, 2);
}

#[test]
fn what_comes_from_a_viewers_address_that_is_not_genuine_is_refused_and_changes_nothing() {
    let mut world = World::live_with_a_viewer();
    let buyer = world.client("buyer").addr;
    let before = world.sfu.stats();
    let now = world.now;
    let mut forged_rtcp = vec![0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
    forged_rtcp.extend_from_slice(&[0xAB; 20]); // an SRTCP trailer and tag that authenticate nothing
    let forged: [&[u8]; 5] = [
        b"\x00\x01\x00\x08\x21\x12\xA4\x42 a binding request that is not",
        &[23, 254, 253, 0, 1, 0, 0, 0, 0, 0, 9, 0, 3, 1, 2, 3],
        &forged_rtcp,
        &[0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 3, 0xCD, 0xCD, 0xCD, 0xCD, 0xCD, 0xCD, 0xCD, 0xCD, 0xCD, 0xCD, 0xCD, 0xCD, 0xCD, 0xCD, 0xCD, 0xCD],
        &[0xFF; 10],
    ];
    for datagram in forged {
        world.sfu.handle_datagram(now, buyer, datagram);
    }
    // DTLS drops a record it cannot read without a word (RFC 6347 §4.1.2.7); the rest are counted.
    assert_eq!(world.sfu.stats().read_errors - before.read_errors, 4);
    let answered: Vec<_> = std::iter::from_fn(|| world.sfu.poll_transmit()).filter(|t| t.to == buyer).collect();
    assert!(answered.is_empty(), "nothing is answered: {answered:?}");
    assert_eq!(world.sfu.viewers("corn"), 1);

    for seq in 0..20 {
        let now = world.now;
        world.client("zhang").send_video(now, seq);
        world.run(20);
    }
    assert_eq!(world.client("buyer").received.len(), 20, "the viewer plays on");
}

#[test]
fn periodic_work_rides_on_the_cameras_frames_instead_of_waking_the_relay() {
    let mut world = World::live_with_a_viewer();

    // Two seconds of a 15 fps camera, a frame being four packets at once, played the way the
    // shell runs the core: one pass per frame, then sleep until the frame after it or until
    // `poll_timeout`, whichever is first. Each time `poll_timeout` comes first is a wake-up
    // that only periodic work asked for.
    let frame = Duration::from_millis(67);
    let mut timer_wakes = 0;
    let mut seq = 0;
    for frame_number in 0..30 {
        for part in 0..4 {
            let now = world.now;
            world.client("zhang").send_frame_part(now, frame_number, seq, part == 3);
            seq += 1;
        }
        world.pump();
        world.sfu.handle_timeout(world.now);
        world.pump();
        let next_frame = world.now + frame;
        while let Some(at) = world.sfu.poll_timeout().filter(|at| *at < next_frame) {
            timer_wakes += 1;
            world.now = at.max(world.now);
            world.sfu.handle_timeout(world.now);
            world.pump();
        }
        world.now = next_frame;
        world.tick_clients();
    }
    world.pump();
    let sequences: Vec<u16> = world.client("buyer").received.iter().map(|p| p.header.sequence_number).collect();
    assert_eq!(sequences, (0..120).collect::<Vec<_>>(), "every packet still reaches the viewer, in order");
    // Without the slack, every feedback deadline of either leg would be a wake-up of its own;
    // what is left with it are the few reports and checks that fall due early in a gap.
    assert!(timer_wakes <= 10, "{timer_wakes} wake-ups of its own in two seconds");
}

#[test]
fn a_frame_goes_to_viewers_in_one_flush_when_its_last_packet_comes() {
    let mut world = World::live_with_a_viewer();
    world.play("buyer-2", "corn", 5002).unwrap();
    world.run(2_000);
    let received = |world: &World| ["buyer", "buyer-2"].map(|b| world.clients[b].received.len());
    // One pass of the relay's loop at `world.now`, then `ms` later.
    let step = |world: &mut World, ms: u64| {
        world.pump();
        world.now += Duration::from_millis(ms);
        world.sfu.handle_timeout(world.now);
        world.pump();
    };

    // Start where no timer falls due for a while, the relay's or the clients': a viewer's
    // connection that runs one in the middle of a frame (or hears from its viewer) sends what it
    // was given so far, which is harmless but not what this test looks at.
    world.pump();
    while !world.quiet_for(Duration::from_millis(30)) {
        world.run(5);
        world.pump();
    }

    // A frame whose packets come 3 ms apart, as when the relay wakes in the middle of a burst:
    // nothing goes out until the last one, then all of it.
    let flushes = world.sfu.stats().flushes;
    for (part, seq) in (10..14).enumerate() {
        let now = world.now;
        world.client("zhang").send_frame_part(now, 1, seq, seq == 13);
        step(&mut world, 3);
        if seq < 13 {
            assert_eq!(received(&world), [0, 0], "packet {part} waits for the rest of its frame");
        }
    }
    assert_eq!(received(&world), [4, 4], "the frame goes out whole once its last packet is in");
    assert_eq!(world.sfu.stats().flushes - flushes, 2, "one flush per viewer for the four packets");

    // A frame whose last packet was lost on the way: the rest goes out after the hold, no later.
    let sent = world.now;
    for seq in [14, 15] {
        world.client("zhang").send_frame_part(sent, 2, seq, false);
    }
    world.pump();
    assert_eq!(received(&world), [4, 4]);
    while received(&world) != [6, 6] {
        let wake = world.sfu.poll_timeout().expect("held packets give the relay a deadline");
        assert!(wake <= sent + Duration::from_millis(15), "held at most 15 ms, not until {:?}", wake - sent);
        world.now = wake.max(world.now);
        world.sfu.handle_timeout(world.now);
        world.pump();
    }

    // A packet older than one already forwarded (reordered on the way in, or resent) is late:
    // it goes out in the pass it came in, though it does not end a frame.
    let now = world.now;
    world.client("zhang").send_frame_part(now, 4, 18, true);
    world.pump();
    world.client("zhang").send_frame_part(now, 3, 17, false);
    world.pump();
    let last: Vec<u16> = world.clients["buyer"].received.iter().skip(6).map(|p| p.header.sequence_number).collect();
    assert_eq!(last, [18, 17], "the late packet is not held");
}

#[test]
fn a_packet_lost_on_either_leg_is_asked_for_again_and_arrives() {
    let mut world = World::live_with_a_viewer();

    // One packet lost between the camera and the relay (the relay asks the camera), one
    // between the relay and the viewer (the viewer asks the relay, which keeps what it sent).
    world.losses.push(Loss { client: "zhang".into(), to_relay: true, after: 10 });
    world.losses.push(Loss { client: "buyer".into(), to_relay: false, after: 30 });
    for seq in 0..60 {
        let now = world.now;
        world.client("zhang").send_video(now, seq);
        world.run(20);
    }
    world.run(1_000);
    assert!(world.losses.is_empty(), "both packets were dropped on the way");
    let mut sequences: Vec<u16> = world.client("buyer").received.iter().map(|p| p.header.sequence_number).collect();
    sequences.sort_unstable();
    sequences.dedup();
    assert_eq!(sequences, (0..60).collect::<Vec<_>>(), "the viewer has every packet in the end");
    assert_eq!(world.sfu.stats().repaired, 1, "the camera's packet came again because the relay asked");
    let reports = &world.client("zhang").receiver_reports;
    assert!(reports.last().is_some_and(|highest| *highest as u16 == 59), "the relay reports what it received: {reports:?}");
}

#[test]
fn a_viewer_joining_or_asking_gets_a_keyframe_request_to_the_publisher_rate_limited() {
    let mut world = World::new();
    world.publish("zhang", "corn", 5000);
    world.run(1_000);
    // The relay learns the video's SSRC from the first packets.
    for seq in 0..3 {
        let now = world.now;
        world.client("zhang").send_video(now, seq);
        world.run(10);
    }
    assert_eq!(world.client("zhang").keyframe_requests, 0);
    world.play("buyer", "corn", 5001).unwrap();
    world.run(1_000);
    let after_join = world.client("zhang").keyframe_requests;
    assert!(after_join >= 1, "a joining viewer makes the relay ask for a keyframe");

    // Ten requests in 50 ms are one or two keyframe requests upstream, not ten.
    for _ in 0..10 {
        let now = world.now;
        world.client("buyer").ask_for_keyframe(now);
        world.run(5);
    }
    world.run(1_000);
    let forwarded = world.client("zhang").keyframe_requests - after_join;
    assert!((1..=2).contains(&forwarded), "{forwarded} requests reached the publisher");
}

#[test]
fn nobody_can_watch_a_stream_that_is_not_live_and_bad_offers_are_refused() {
    let mut world = World::new();
    assert_eq!(world.play("early", "corn", 5001).unwrap_err(), RelayError::NotLive);
    world.publish("zhang", "corn", 5000);
    // Published but not yet connected: still not live.
    assert_eq!(world.play("early", "corn", 5001).unwrap_err(), RelayError::NotLive);
    world.run(1_000);

    for bad in ["", "hello", "v=0\r\n", &"a=x\r\n".repeat(1000)] {
        assert!(matches!(world.sfu.play(world.now, "corn", bad), Err(RelayError::BadSdp(_))), "{bad:.20}");
        assert!(matches!(world.sfu.publish(world.now, "other", bad), Err(RelayError::BadSdp(_))), "{bad:.20}");
    }
    let stats = world.sfu.stats();
    assert_eq!(stats.sessions, 1, "refused offers leave nothing behind");
}

#[test]
fn trickle_checks_the_entity_tag_and_refuses_ice_restarts() {
    let mut world = World::new();
    let answer = world.publish("zhang", "corn", 5000);
    let now = world.now;
    let candidate = "a=candidate:1 1 udp 2122260223 10.0.0.2 5000 typ host\r\n";
    assert_eq!(world.sfu.trickle(now, answer.session, None, candidate), Err(RelayError::PreconditionRequired));
    assert_eq!(world.sfu.trickle(now, answer.session, Some("\"nope\""), candidate), Err(RelayError::EtagMismatch));
    assert_eq!(world.sfu.trickle(now, answer.session, Some("*"), candidate), Err(RelayError::IceRestartUnsupported));
    let restart = "a=ice-ufrag:newufrag\r\na=ice-pwd:newpasswordnewpasswordnew\r\n";
    assert_eq!(world.sfu.trickle(now, answer.session, Some(&format!("\"{}\"", answer.etag)), restart), Err(RelayError::IceRestartUnsupported));
    assert!(matches!(world.sfu.trickle(now, answer.session, Some(&format!("\"{}\"", answer.etag)), "garbage"), Err(RelayError::BadFragment(_))));
    assert_eq!(world.sfu.trickle(now, answer.session, Some(&format!("\"{}\"", answer.etag)), candidate), Ok(()));
    assert_eq!(world.sfu.trickle(now, relay::SessionId::random(), Some("*"), candidate), Err(RelayError::UnknownSession));
}

#[test]
fn sessions_end_cleanly_and_leave_nothing_behind() {
    let mut world = World::new();
    let publisher = world.publish("zhang", "corn", 5000);
    world.run(1_000);
    let viewers: Vec<_> = (0..20).map(|i| world.play(&format!("buyer-{i}"), "corn", 6000 + i).unwrap()).collect();
    world.run(2_000);
    assert_eq!(world.sfu.viewers("corn"), 20);
    // Only the camera is named for a socket of its own (the shell's `sockets.rs`).
    assert_eq!(world.sfu.cameras().collect::<Vec<_>>(), [world.client("zhang").addr]);

    // Viewers leave by DELETE; the count follows.
    for answer in &viewers[..10] {
        let info = world.sfu.end_session(answer.session).unwrap();
        assert_eq!(info.role, Role::Viewer);
    }
    world.run(100);
    assert_eq!(world.viewers_event("corn"), Some(10));
    assert_eq!(world.sfu.end_session(viewers[0].session), Err(RelayError::UnknownSession));

    // The publisher leaving takes the remaining viewers with it.
    world.sfu.end_session(publisher.session).unwrap();
    world.run(100);
    assert!(world.events.contains(&RelayEvent::PublisherGone { stream: "corn".into(), reason: EndReason::Ended }));
    let stats = world.sfu.stats();
    assert_eq!((stats.sessions, stats.streams, stats.routes), (0, 0, 0), "{stats:?}");
    assert_eq!(world.sfu.cameras().count(), 0, "the camera's socket is to be closed");
    world.run(5_000);
    assert!(world.sfu.stats().timers <= 1, "no timers left but stale ones: {:?}", world.sfu.stats());
}

#[test]
fn a_viewer_that_goes_quiet_is_dropped_and_the_others_keep_playing() {
    let mut world = World::with_limits(Limits { idle_timeout: Duration::from_secs(3), ..Limits::default() });
    world.publish("zhang", "corn", 5000);
    world.run(1_000);
    world.play("steady", "corn", 5001).unwrap();
    world.play("gone", "corn", 5002).unwrap();
    world.run(1_000);
    assert_eq!(world.sfu.viewers("corn"), 2);

    world.silent.push("gone".into());
    for seq in 0..800u16 {
        let now = world.now;
        world.client("zhang").send_video(now, seq);
        world.run(10);
    }
    assert_eq!(world.sfu.viewers("corn"), 1, "the quiet viewer was dropped");
    assert_eq!(world.viewers_event("corn"), Some(1));
    assert_eq!(world.client("steady").received.len(), 800, "the other viewer missed nothing");
}

#[test]
fn a_publisher_that_sends_no_media_is_reported_silent_and_its_viewers_stay_to_play_on() {
    let mut world = World::new();
    let silent = RelayEvent::PublisherSilent { stream: "corn".into() };
    let resumed = RelayEvent::PublisherResumed { stream: "corn".into() };
    world.publish("zhang", "corn", 5000);
    world.run(1_000);
    world.play("buyer", "corn", 5001).unwrap();
    world.run(500);
    assert_eq!(world.count(&silent), 0, "a camera connected 1.5 s ago that has not sent yet is not silent");

    // The camera never sends: two seconds after it connected (a few hundred milliseconds after
    // the offer, on this simulated network), it is silent.
    world.run(1_500);
    assert_eq!(world.count(&silent), 1);
    assert!(world.sfu.stream_state("corn").silent);
    assert!(world.sfu.stream_state("corn").live, "a silent camera is still connected");

    // Its media comes: resumed, once, and the viewer who waited plays it.
    for seq in 0..100u16 {
        let now = world.now;
        world.client("zhang").send_video(now, seq);
        world.run(10);
    }
    assert_eq!((world.count(&silent), world.count(&resumed)), (1, 1));
    assert!(!world.sfu.stream_state("corn").silent);
    assert_eq!(world.client("buyer").received.len(), 100);

    // The uplink drops: not silent before the gap, silent once after it, and the viewer stays.
    world.silent.push("zhang".into());
    world.run(1_800);
    assert_eq!(world.count(&silent), 1, "1.8 s without media is within the gap");
    world.run(400);
    assert_eq!(world.count(&silent), 2);
    assert_eq!(world.sfu.viewers("corn"), 1, "the viewer is kept to play on");

    world.silent.clear();
    let now = world.now;
    world.client("zhang").send_video(now, 100);
    world.run(10);
    assert_eq!((world.count(&silent), world.count(&resumed)), (2, 2));
    assert_eq!(world.client("buyer").received.len(), 101);
}

#[test]
fn a_new_publisher_replaces_the_old_one_and_its_viewers_are_ended() {
    let mut world = World::new();
    world.publish("phone-1", "corn", 5000);
    world.run(1_000);
    world.play("buyer", "corn", 5001).unwrap();
    world.run(1_000);
    world.publish("phone-2", "corn", 5003);
    world.run(1_000);
    assert!(world.events.contains(&RelayEvent::PublisherGone { stream: "corn".into(), reason: EndReason::Replaced }));
    assert_eq!(world.sfu.viewers("corn"), 0);
    assert!(world.client("phone-2").connected);
    assert_eq!(world.sfu.stats().sessions, 1);
    assert_eq!(world.sfu.cameras().collect::<Vec<_>>(), [world.client("phone-2").addr]);
}

#[test]
fn capacity_limits_refuse_new_sessions_without_hurting_existing_ones() {
    let mut world = World::with_limits(Limits { max_sessions: 3, ..Limits::default() });
    world.publish("zhang", "corn", 5000);
    world.run(1_000);
    world.play("a", "corn", 5001).unwrap();
    world.play("b", "corn", 5002).unwrap();
    assert_eq!(world.play("c", "corn", 5003).unwrap_err(), RelayError::Full);
    world.run(1_000);
    assert_eq!(world.sfu.viewers("corn"), 2);
}

/// Chromium's real offers, captured from Debian's Chromium 156 (`tests/fixtures`).
const CHROMIUM_WHIP_OFFER: &str = include_str!("fixtures/chromium-whip-offer.sdp");
const CHROMIUM_WHEP_OFFER: &str = include_str!("fixtures/chromium-whep-offer.sdp");

/// The payload types of the first audio and video m-lines of an SDP, in order.
fn payload_types(sdp: &str, media: &str) -> Vec<String> {
    sdp.lines().find(|l| l.starts_with(&format!("m={media} "))).map(|l| l.split(' ').skip(3).map(str::to_owned).collect()).unwrap_or_default()
}

fn rtpmap<'a>(sdp: &'a str, pt: &str) -> &'a str {
    sdp.lines().find_map(|l| l.strip_prefix(&format!("a=rtpmap:{pt} "))).unwrap_or("")
}

#[test]
fn a_browser_offer_is_answered_with_h264_first_and_only_codecs_the_relay_forwards() {
    let mut sfu = Sfu::new(RELAY.parse().unwrap(), Limits::default()).unwrap();
    let answer = sfu.publish(Instant::now(), "corn", CHROMIUM_WHIP_OFFER).unwrap();
    let video = payload_types(&answer.sdp, "video");
    assert!(!video.is_empty(), "{}", answer.sdp);
    assert_eq!(rtpmap(&answer.sdp, &video[0]), "H264/90000", "H.264 comes first: {video:?}\n{}", answer.sdp);
    for pt in &video {
        let codec = rtpmap(&answer.sdp, pt);
        assert!(["H264/90000", "VP8/90000", "rtx/90000"].contains(&codec), "{codec} is not forwarded");
    }
    let audio = payload_types(&answer.sdp, "audio");
    assert_eq!(rtpmap(&answer.sdp, &audio[0]), "opus/48000/2");
    assert!(answer.sdp.contains("a=ice-lite"), "the relay says it is ICE-lite");
    assert!(answer.sdp.contains("a=candidate:") && answer.sdp.contains("10.0.0.1 3478 typ host"), "{}", answer.sdp);
    // A browser's WHEP offer is a valid offer too, but there is nothing to play yet.
    assert_eq!(sfu.play(Instant::now(), "corn", CHROMIUM_WHEP_OFFER).unwrap_err(), RelayError::NotLive);
}

