//! The relay's sans-IO core: every peer connection of every stream, fed datagrams, commands and
//! the current time, answering with datagrams to send and events for the marketplace.
//!
//! Like the peer connections it owns (the webrtc-rs `rtc` crate is sans-IO too), [`Sfu`] does no
//! IO and reads no clock: the shell in `shell.rs` owns the socket and the timer. That keeps the
//! forwarding path a plain function call per viewer, with no task, channel or lock per packet,
//! and lets the tests drive whole sessions in memory.
//!
//! Forwarding: a publisher's RTP packet is decrypted once, then for each connected viewer it is
//! re-addressed (the viewer leg's SSRC and payload type, no header extensions) and written to that
//! viewer's connection, which encrypts and queues it. A viewer that has not finished connecting is
//! skipped; a viewer that stops answering is dropped after [`Limits::idle_timeout`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters, RTCRtpRtxParameters, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

use crate::peer::{self, IceCredentials, StreamCodecs};
use crate::{Answer, EndReason, RelayError, RelayEvent, Role, SessionId, SessionInfo, Stats, StreamState, sdpfrag, stun};

/// How long the relay waits before it counts a quiet or unfinished connection as gone.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sessions of all streams together.
    pub max_sessions: usize,
    /// Viewers of one stream.
    pub max_viewers_per_stream: usize,
    /// A session must connect (ICE and DTLS) within this.
    pub connect_timeout: Duration,
    /// A connected session that sends nothing (browsers send a consent check every few seconds)
    /// for this long is gone.
    pub idle_timeout: Duration,
    /// Keyframe requests to one publisher are at least this far apart: each one costs the
    /// publisher's uplink a large frame.
    pub keyframe_interval: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_sessions: 4_000,
            max_viewers_per_stream: 2_000,
            connect_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(20),
            keyframe_interval: Duration::from_millis(500),
        }
    }
}

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    pub to: SocketAddr,
    pub data: BytesMut,
}

/// The housekeeping period: pending keyframe requests and timeouts are looked at this often.
const TICK: Duration = Duration::from_millis(100);
/// Addresses one session may be reached from (a client's candidates); more are ignored.
const MAX_ADDRS_PER_SESSION: usize = 8;

type Key = u64;

struct Session {
    id: SessionId,
    stream: Arc<str>,
    role: SessionRole,
    pc: RTCPeerConnection,
    ufrag: String,
    remote_ufrag: Option<String>,
    etag: String,
    addrs: Vec<SocketAddr>,
    created: Instant,
    last_heard: Instant,
    connected: bool,
    /// The deadline this session has in the timer heap, if any.
    timeout: Option<Instant>,
    /// Set when the connection failed or closed; the session is removed after its outputs drain.
    closing: Option<EndReason>,
}

enum SessionRole {
    Publisher(Publishing),
    Viewer(Viewing),
}

#[derive(Default)]
struct Publishing {
    /// The publisher's tracks by the id the stack gave them, and what they carry.
    tracks: HashMap<String, RtpCodecKind>,
    /// Where keyframe requests go: the video receiver and the SSRC it receives.
    video: Option<(RTCRtpReceiverId, u32)>,
}

#[derive(Default)]
struct Viewing {
    video: Option<Outbound>,
    audio: Option<Outbound>,
}

/// One of a viewer's send tracks.
#[derive(Debug, Clone, Copy)]
struct Outbound {
    sender: RTCRtpSenderId,
    ssrc: u32,
    payload_type: u8,
}

#[derive(Default)]
struct Stream {
    publisher: Option<Key>,
    viewers: Vec<Key>,
    codecs: StreamCodecs,
    keyframe_sent: Option<Instant>,
    keyframe_pending: bool,
}

/// The relay's state. See the module documentation.
pub struct Sfu {
    local: SocketAddr,
    limits: Limits,
    sessions: HashMap<Key, Session>,
    ids: HashMap<SessionId, Key>,
    ufrags: HashMap<String, Key>,
    routes: HashMap<SocketAddr, Key>,
    streams: HashMap<Arc<str>, Stream>,
    timers: BinaryHeap<Reverse<(Instant, Key)>>,
    next_tick: Option<Instant>,
    next_key: Key,
    transmits: VecDeque<Transmit>,
    events: VecDeque<RelayEvent>,
    stats: Stats,
    /// Reused between datagrams so reading a publisher's packets allocates nothing.
    inbound: Vec<(RtpCodecKind, rtp::Packet)>,
}

impl Sfu {
    /// A relay whose single host candidate is `local` (the address clients send to).
    pub fn new(local: SocketAddr, limits: Limits) -> Sfu {
        Sfu {
            local,
            limits,
            sessions: HashMap::new(),
            ids: HashMap::new(),
            ufrags: HashMap::new(),
            routes: HashMap::new(),
            streams: HashMap::new(),
            timers: BinaryHeap::new(),
            next_tick: None,
            next_key: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            inbound: Vec::new(),
        }
    }

    /// Starts publishing `stream` with a WHIP offer. A stream has one publisher: a new one (the
    /// same farmer reconnecting after a network change) replaces the old, whose viewers are ended
    /// so that they reconnect to the new one.
    pub fn publish(&mut self, now: Instant, stream: &str, offer: &str) -> Result<Answer, RelayError> {
        self.check_capacity()?;
        let ice = IceCredentials::random();
        let (mut pc, sdp) = peer::answer_publisher(now, &ice, self.local, offer)?;
        let codecs = negotiated_codecs(&mut pc);
        if codecs.video.is_none() && codecs.audio.is_none() {
            let _ = pc.close();
            return Err(RelayError::NoMedia);
        }
        if let Some(old) = self.streams.get(stream).and_then(|s| s.publisher) {
            self.remove(old, EndReason::Replaced);
        }
        let key = self.insert(now, stream, SessionRole::Publisher(Publishing::default()), pc, ice, offer);
        let entry = self.streams.entry(self.sessions[&key].stream.clone()).or_default();
        entry.publisher = Some(key);
        entry.codecs = codecs;
        entry.keyframe_sent = None;
        entry.keyframe_pending = false;
        self.stats.publishes += 1;
        Ok(self.answer(key, sdp))
    }

    /// Starts playing `stream` with a WHEP offer. Only a stream whose publisher is connected can
    /// be played: until then nobody knows which codecs the viewers will get.
    pub fn play(&mut self, now: Instant, stream: &str, offer: &str) -> Result<Answer, RelayError> {
        self.check_capacity()?;
        let Some(entry) = self.streams.get(stream) else { return Err(RelayError::NotLive) };
        let live = entry.publisher.and_then(|key| self.sessions.get(&key)).is_some_and(|s| s.connected);
        if !live {
            return Err(RelayError::NotLive);
        }
        if entry.viewers.len() >= self.limits.max_viewers_per_stream {
            return Err(RelayError::Full);
        }
        let entry_has_video = entry.codecs.video.is_some();
        let codecs = entry.codecs.for_viewers();
        let mut tracks = Vec::new();
        let mut wanted = Vec::new();
        for (kind, codec) in [(RtpCodecKind::Video, &codecs.video), (RtpCodecKind::Audio, &codecs.audio)] {
            let Some(codec) = codec else { continue };
            let ssrc = peer::random_u32();
            let rtx = (kind == RtpCodecKind::Video).then(|| RTCRtpRtxParameters { ssrc: peer::random_u32() });
            let name = if kind == RtpCodecKind::Video { "video" } else { "audio" };
            tracks.push(MediaStreamTrack::new(
                "fieldcast".to_owned(),
                name.to_owned(),
                name.to_owned(),
                kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), rtx, ..Default::default() },
                    codec: codec.clone(),
                    ..Default::default()
                }],
            ));
            wanted.push((kind, ssrc, codec.mime_type.clone()));
        }
        let ice = IceCredentials::random();
        let (mut pc, sdp) = peer::answer_viewer(now, &ice, self.local, offer, &codecs, tracks)?;
        let mut viewing = Viewing::default();
        let senders: Vec<RTCRtpSenderId> = pc.get_senders().collect();
        for sender_id in senders {
            let Some(mut sender) = pc.rtp_sender(sender_id) else { continue };
            let kind = sender.track().kind();
            let Some((_, ssrc, mime)) = wanted.iter().find(|(k, _, _)| *k == kind) else { continue };
            let payload_type = sender
                .get_parameters()
                .rtp_parameters
                .codecs
                .iter()
                .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime))
                .map(|c| c.payload_type);
            if let Some(payload_type) = payload_type {
                let outbound = Outbound { sender: sender_id, ssrc: *ssrc, payload_type };
                match kind {
                    RtpCodecKind::Video => viewing.video = Some(outbound),
                    _ => viewing.audio = Some(outbound),
                }
            }
        }
        // A viewer that cannot take the stream's video would see nothing: say so rather than
        // connect a black screen.
        if entry_has_video && viewing.video.is_none() || viewing.video.is_none() && viewing.audio.is_none() {
            let _ = pc.close();
            return Err(RelayError::CodecUnsupported);
        }
        let key = self.insert(now, stream, SessionRole::Viewer(viewing), pc, ice, offer);
        let shared = self.sessions[&key].stream.clone();
        self.streams.entry(shared).or_default().viewers.push(key);
        self.stats.plays += 1;
        Ok(self.answer(key, sdp))
    }

    /// Applies a trickle ICE fragment (`PATCH`). `if_match` is the request's entity tag.
    pub fn trickle(&mut self, now: Instant, id: SessionId, if_match: Option<&str>, fragment: &str) -> Result<(), RelayError> {
        let key = *self.ids.get(&id).ok_or(RelayError::UnknownSession)?;
        let session = self.sessions.get_mut(&key).ok_or(RelayError::UnknownSession)?;
        match if_match.map(unquote) {
            None => return Err(RelayError::PreconditionRequired),
            Some("*") => return Err(RelayError::IceRestartUnsupported),
            Some(tag) if tag != session.etag => return Err(RelayError::EtagMismatch),
            Some(_) => {}
        }
        let fragment = sdpfrag::parse(fragment)?;
        if fragment.ufrag.is_some() && fragment.ufrag != session.remote_ufrag {
            return Err(RelayError::IceRestartUnsupported);
        }
        for (mid, candidate) in fragment.candidates {
            let init = RTCIceCandidateInit {
                candidate,
                sdp_mid: mid,
                sdp_mline_index: None,
                username_fragment: session.remote_ufrag.clone(),
                url: None,
            };
            // The relay is ICE-lite and learns the client's address from its checks; a candidate
            // the stack cannot use (an mDNS name, a TCP one) changes nothing.
            if let Err(error) = session.pc.add_remote_candidate(init) {
                tracing::debug!(%error, "ignoring a trickled candidate");
            }
        }
        self.after_input(now, key);
        Ok(())
    }

    /// What the relay knows about a session, for the HTTP layer's checks.
    pub fn session(&self, id: SessionId) -> Option<SessionInfo> {
        let session = self.ids.get(&id).and_then(|key| self.sessions.get(key))?;
        Some(info(session))
    }

    /// Ends one session (`DELETE`).
    pub fn end_session(&mut self, id: SessionId) -> Result<SessionInfo, RelayError> {
        let key = *self.ids.get(&id).ok_or(RelayError::UnknownSession)?;
        let info = info(&self.sessions[&key]);
        self.remove(key, EndReason::Ended);
        Ok(info)
    }

    /// Ends a stream: its publisher and every viewer.
    pub fn end_stream(&mut self, stream: &str) {
        let Some(entry) = self.streams.get(stream) else { return };
        let keys: Vec<Key> = entry.publisher.into_iter().chain(entry.viewers.iter().copied()).collect();
        for key in keys {
            self.remove(key, EndReason::Ended);
        }
    }

    /// Ends every stream: the relay is shutting down.
    pub fn end_all(&mut self) {
        let streams: Vec<Arc<str>> = self.streams.keys().cloned().collect();
        for stream in streams {
            self.end_stream(&stream);
        }
    }

    pub fn stats(&self) -> Stats {
        let mut stats = self.stats;
        stats.sessions = self.sessions.len();
        stats.streams = self.streams.len();
        stats.routes = self.routes.len();
        stats.timers = self.timers.len();
        stats
    }

    /// Whether `stream` has a connected publisher, and how many connected viewers.
    pub fn stream_state(&self, stream: &str) -> StreamState {
        let Some(entry) = self.streams.get(stream) else { return StreamState::default() };
        let live = entry.publisher.and_then(|key| self.sessions.get(&key)).is_some_and(|s| s.connected);
        StreamState { live, viewers: self.viewers(stream) }
    }

    /// Viewers of `stream` that are connected.
    pub fn viewers(&self, stream: &str) -> usize {
        self.streams.get(stream).map_or(0, |s| s.viewers.iter().filter(|k| self.sessions.get(k).is_some_and(|v| v.connected)).count())
    }

    /// A datagram arrived on the relay's socket.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        self.stats.datagrams_in += 1;
        let key = match self.routes.get(&from) {
            Some(key) => *key,
            None => match stun::local_ufrag(data).and_then(|ufrag| self.ufrags.get(ufrag)) {
                Some(key) => {
                    let key = *key;
                    let session = self.sessions.get_mut(&key).expect("ufrags only name live sessions");
                    if session.addrs.len() >= MAX_ADDRS_PER_SESSION {
                        self.stats.unroutable += 1;
                        return;
                    }
                    session.addrs.push(from);
                    self.routes.insert(from, key);
                    key
                }
                None => {
                    self.stats.unroutable += 1;
                    return;
                }
            },
        };
        let session = self.sessions.get_mut(&key).expect("routes only name live sessions");
        session.last_heard = now;
        let message = TaggedBytesMut {
            now,
            transport: TransportContext { local_addr: self.local, peer_addr: from, ecn: None, transport_protocol: TransportProtocol::UDP },
            message: BytesMut::from(data),
        };
        if let Err(error) = session.pc.handle_read(message) {
            self.stats.read_errors += 1;
            tracing::debug!(%error, session = %session.id, "a datagram the connection refused");
        }
        self.after_input(now, key);
    }

    /// Time has passed: run every connection's deadlines that are due, and housekeeping.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, key))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(session) = self.sessions.get_mut(&key) else { continue };
            if session.timeout != Some(at) {
                continue; // Stale: the session has an earlier or later deadline queued too.
            }
            session.timeout = None;
            if let Err(error) = session.pc.handle_timeout(now) {
                tracing::debug!(%error, session = %session.id, "a connection's timer failed");
            }
            self.after_input(now, key);
        }
        if self.next_tick.is_none_or(|tick| tick <= now) {
            self.next_tick = Some(now + TICK);
            self.housekeeping(now);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<RelayEvent> {
        self.events.pop_front()
    }

    /// The next instant [`Sfu::handle_timeout`] wants to run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timer = self.timers.peek().map(|Reverse((at, _))| *at);
        match (timer, self.next_tick) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // --- Internals --------------------------------------------------------------------------------

    fn check_capacity(&self) -> Result<(), RelayError> {
        if self.sessions.len() >= self.limits.max_sessions { Err(RelayError::Full) } else { Ok(()) }
    }

    fn insert(&mut self, now: Instant, stream: &str, role: SessionRole, pc: RTCPeerConnection, ice: IceCredentials, offer: &str) -> Key {
        let key = self.next_key;
        self.next_key += 1;
        let id = SessionId::random();
        let stream = self.streams.get_key_value(stream).map_or_else(|| Arc::from(stream), |(name, _)| name.clone());
        let session = Session {
            id,
            stream,
            role,
            pc,
            ufrag: ice.ufrag.clone(),
            remote_ufrag: offer.lines().find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:")).map(str::to_owned),
            etag: peer::random_token(16),
            addrs: Vec::new(),
            created: now,
            last_heard: now,
            connected: false,
            timeout: None,
            closing: None,
        };
        self.ids.insert(id, key);
        self.ufrags.insert(ice.ufrag, key);
        self.sessions.insert(key, session);
        if self.next_tick.is_none() {
            self.next_tick = Some(now + TICK);
        }
        self.after_input(now, key);
        key
    }

    fn answer(&self, key: Key, sdp: String) -> Answer {
        let session = &self.sessions[&key];
        Answer { session: session.id, sdp, etag: session.etag.clone() }
    }

    /// Drains what a connection produced after an input: datagrams, state changes, media.
    fn after_input(&mut self, now: Instant, key: Key) {
        let Some(session) = self.sessions.get_mut(&key) else { return };
        while let Some(out) = session.pc.poll_write() {
            self.transmits.push_back(Transmit { to: out.transport.peer_addr, data: out.message });
        }
        let mut connected_now = false;
        while let Some(event) = session.pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => match state {
                    RTCPeerConnectionState::Connected if !session.connected => {
                        session.connected = true;
                        connected_now = true;
                    }
                    RTCPeerConnectionState::Failed => session.closing = Some(EndReason::Failed),
                    RTCPeerConnectionState::Closed => session.closing = session.closing.or(Some(EndReason::Ended)),
                    _ => {}
                },
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    if let SessionRole::Publisher(publishing) = &mut session.role
                        && let Some(receiver) = session.pc.rtp_receiver(init.receiver_id)
                    {
                        let kind = receiver.track().kind();
                        publishing.tracks.insert(init.track_id.clone(), kind);
                        if kind == RtpCodecKind::Video {
                            publishing.video = Some((init.receiver_id, init.ssrc));
                        }
                    }
                }
                _ => {}
            }
        }
        let mut keyframe_wanted = connected_now && matches!(session.role, SessionRole::Viewer(_));
        let mut inbound = std::mem::take(&mut self.inbound);
        while let Some(TaggedRTCMessage { message, .. }) = session.pc.poll_read() {
            match (message, &session.role) {
                (RTCMessage::RtpPacket(track_id, mut packet), SessionRole::Publisher(publishing)) => {
                    if let Some(kind) = publishing.tracks.get(&track_id) {
                        // Extension ids are per leg; each viewer's connection adds the ones its
                        // leg negotiated. Stripped once here rather than once per viewer.
                        packet.header.extension = false;
                        packet.header.extensions.clear();
                        inbound.push((*kind, packet));
                    }
                }
                // Only keyframe requests are marked for delivery (see `peer::KeyframeRequests`).
                (RTCMessage::RtcpPacket(_, _), SessionRole::Viewer(_)) => keyframe_wanted = true,
                _ => {}
            }
        }
        reschedule(&mut self.timers, now, key, session);
        let stream = session.stream.clone();
        let is_publisher = matches!(session.role, SessionRole::Publisher(_));
        let closing = session.closing;

        if connected_now {
            if is_publisher {
                self.events.push_back(RelayEvent::PublisherConnected { stream: stream.to_string() });
            } else {
                self.viewer_count_changed(&stream);
            }
        }
        self.stats.rtp_in += inbound.len() as u64;
        for (kind, packet) in inbound.drain(..) {
            self.forward(now, &stream, kind, packet);
        }
        self.inbound = inbound;
        if keyframe_wanted {
            self.request_keyframe(now, &stream);
        }
        if let Some(reason) = closing {
            self.remove(key, reason);
        }
    }

    /// Sends one publisher packet to every connected viewer of the stream.
    fn forward(&mut self, now: Instant, stream: &str, kind: RtpCodecKind, packet: rtp::Packet) {
        let Some(entry) = self.streams.get(stream) else { return };
        let Sfu { sessions, transmits, stats, .. } = self;
        for key in &entry.viewers {
            let Some(viewer) = sessions.get_mut(key) else { continue };
            if !viewer.connected {
                continue;
            }
            let SessionRole::Viewer(viewing) = &viewer.role else { continue };
            let Some(out) = (if kind == RtpCodecKind::Video { viewing.video } else { viewing.audio }) else { continue };
            let mut copy = packet.clone();
            copy.header.ssrc = out.ssrc;
            copy.header.payload_type = out.payload_type;
            let Some(mut sender) = viewer.pc.rtp_sender(out.sender) else { continue };
            match sender.write_rtp(now, copy) {
                Ok(()) => stats.forwarded += 1,
                Err(error) => {
                    stats.write_errors += 1;
                    tracing::trace!(%error, "a viewer's connection refused a packet");
                }
            }
            while let Some(out) = viewer.pc.poll_write() {
                stats.bytes_out += out.message.len() as u64;
                transmits.push_back(Transmit { to: out.transport.peer_addr, data: out.message });
            }
        }
    }

    /// Asks the publisher for a keyframe now, or as soon as the rate limit allows.
    fn request_keyframe(&mut self, now: Instant, stream: &str) {
        let Some(entry) = self.streams.get_mut(stream) else { return };
        if entry.keyframe_sent.is_some_and(|at| now < at + self.limits.keyframe_interval) {
            entry.keyframe_pending = true;
            return;
        }
        let Some(session) = entry.publisher.and_then(|key| self.sessions.get_mut(&key)) else { return };
        let SessionRole::Publisher(Publishing { video: Some((receiver_id, media_ssrc)), .. }) = &session.role else { return };
        let (receiver_id, media_ssrc) = (*receiver_id, *media_ssrc);
        entry.keyframe_sent = Some(now);
        entry.keyframe_pending = false;
        if let Some(mut receiver) = session.pc.rtp_receiver(receiver_id) {
            let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc };
            match receiver.write_rtcp(now, vec![Box::new(pli)]) {
                Ok(()) => self.stats.keyframe_requests += 1,
                Err(error) => tracing::debug!(%error, "could not ask the publisher for a keyframe"),
            }
        }
        while let Some(out) = session.pc.poll_write() {
            self.transmits.push_back(Transmit { to: out.transport.peer_addr, data: out.message });
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        let pending: Vec<Arc<str>> = self.streams.iter().filter(|(_, s)| s.keyframe_pending).map(|(name, _)| name.clone()).collect();
        for stream in pending {
            self.request_keyframe(now, &stream);
        }
        let expired: Vec<(Key, EndReason)> = self
            .sessions
            .iter()
            .filter_map(|(key, s)| {
                let never_connected = !s.connected && now.saturating_duration_since(s.created) > self.limits.connect_timeout;
                let went_quiet = s.connected && now.saturating_duration_since(s.last_heard) > self.limits.idle_timeout;
                (never_connected || went_quiet).then_some((*key, EndReason::Failed))
            })
            .collect();
        for (key, reason) in expired {
            self.remove(key, reason);
        }
        if self.sessions.is_empty() {
            self.next_tick = None;
        }
    }

    fn viewer_count_changed(&mut self, stream: &str) {
        let count = self.viewers(stream);
        self.events.push_back(RelayEvent::Viewers { stream: stream.to_owned(), count });
    }

    /// Closes a session and forgets it; a publisher takes its viewers with it.
    fn remove(&mut self, key: Key, reason: EndReason) {
        let Some(mut session) = self.sessions.remove(&key) else { return };
        let _ = session.pc.close();
        while let Some(out) = session.pc.poll_write() {
            self.transmits.push_back(Transmit { to: out.transport.peer_addr, data: out.message });
        }
        self.ids.remove(&session.id);
        self.ufrags.remove(&session.ufrag);
        for addr in &session.addrs {
            if self.routes.get(addr) == Some(&key) {
                self.routes.remove(addr);
            }
        }
        let stream = session.stream.clone();
        let Some(entry) = self.streams.get_mut(&stream) else { return };
        match session.role {
            SessionRole::Publisher(_) => {
                if entry.publisher == Some(key) {
                    entry.publisher = None;
                    let viewers = std::mem::take(&mut entry.viewers);
                    self.events.push_back(RelayEvent::PublisherGone { stream: stream.to_string(), reason });
                    for viewer in viewers {
                        self.remove(viewer, EndReason::PublisherGone);
                    }
                    self.events.push_back(RelayEvent::Viewers { stream: stream.to_string(), count: 0 });
                }
            }
            SessionRole::Viewer(_) => {
                entry.viewers.retain(|k| *k != key);
                if session.connected {
                    self.viewer_count_changed(&stream);
                }
            }
        }
        if let Some(entry) = self.streams.get(&stream)
            && entry.publisher.is_none()
            && entry.viewers.is_empty()
        {
            self.streams.remove(&stream);
        }
        // Reclaim the timer heap once it is mostly stale entries of removed sessions.
        if self.timers.len() > 64 && self.timers.len() > 4 * self.sessions.len() {
            let sessions = &self.sessions;
            self.timers.retain(|Reverse((at, key))| sessions.get(key).is_some_and(|s| s.timeout == Some(*at)));
        }
    }
}

/// Queues the session's next deadline if it is earlier than the one already queued. A deadline
/// that is already due is pushed a millisecond out, so a connection that keeps asking for "now"
/// cannot spin the loop.
fn reschedule(timers: &mut BinaryHeap<Reverse<(Instant, Key)>>, now: Instant, key: Key, session: &mut Session) {
    if let Some(at) = session.pc.poll_timeout() {
        let at = at.max(now + Duration::from_millis(1));
        if session.timeout.is_none_or(|queued| at < queued) {
            timers.push(Reverse((at, key)));
            session.timeout = Some(at);
        }
    }
}

fn info(session: &Session) -> SessionInfo {
    SessionInfo {
        id: session.id,
        stream: session.stream.to_string(),
        role: match session.role {
            SessionRole::Publisher(_) => Role::Publisher,
            SessionRole::Viewer(_) => Role::Viewer,
        },
        etag: session.etag.clone(),
        connected: session.connected,
    }
}

/// The first negotiated codec of each kind on a publisher's receivers: what it will send.
fn negotiated_codecs(pc: &mut RTCPeerConnection) -> StreamCodecs {
    let mut codecs = StreamCodecs::default();
    let receivers: Vec<RTCRtpReceiverId> = pc.get_receivers().collect();
    for id in receivers {
        let Some(mut receiver) = pc.rtp_receiver(id) else { continue };
        let kind = receiver.track().kind();
        let primary = receiver
            .get_parameters()
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| !c.rtp_codec.mime_type.eq_ignore_ascii_case(rtc::peer_connection::configuration::media_engine::MIME_TYPE_RTX))
            .map(|c| c.rtp_codec.clone());
        match kind {
            RtpCodecKind::Video if codecs.video.is_none() => codecs.video = primary,
            RtpCodecKind::Audio if codecs.audio.is_none() => codecs.audio = primary,
            _ => {}
        }
    }
    codecs
}

/// An entity tag without its quotes or weak prefix.
fn unquote(tag: &str) -> &str {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.trim_matches('"')
}
