//! The relay's sans-IO core: every peer connection of every stream, fed datagrams, commands and
//! the current time, answering with datagrams to send and events for the marketplace.
//!
//! Like the connections it owns (the relay's own transport is sans-IO too), [`Sfu`] does no IO
//! and reads no clock: the shell in `shell.rs` owns the socket and the timer. That keeps the
//! forwarding path a plain function call per viewer, with no task, channel or lock per packet,
//! and lets the tests drive whole sessions in memory.
//!
//! str0m negotiates each session's SDP; the connection itself is the relay's own
//! ([`crate::transport`]): ICE-lite answers, DTLS and SRTP for both legs. On a camera's leg the
//! relay unwraps retransmissions, asks for lost packets, and sends the receiver reports and
//! transport-wide congestion feedback the camera's rate control runs on ([`Inbound`]). On a
//! viewer's leg it rewrites each packet for the viewer ([`Outbound`]) and answers the few RTCP
//! messages a viewer sends (NACK, PLI, FIR, BYE).
//!
//! Forwarding: a publisher's RTP packet is decrypted once and held, shared, with the rest of its
//! frame. A flush then goes viewer by viewer: each held packet is rewritten to the viewer's SSRC,
//! payload type and sequence numbers, sealed and queued, so a viewer's packets of a frame leave
//! back to back (one segmented send). A video packet that does not end its frame waits for the
//! one that does (the RTP marker bit), for [`FRAME_HOLD`] at most, because a frame is shown only
//! once its last packet is in: holding the others costs the picture nothing, and a flush walks
//! every viewer however few packets it carries. A viewer that has not finished connecting is
//! skipped; a viewer that stops answering is dropped after [`Limits::idle_timeout`]. A publisher
//! whose media stops is reported silent after [`Limits::media_gap`] and keeps its viewers, so they
//! play on if it comes back before the idle timeout ends it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::media::MediaKind;

use crate::peer::{self, Leg, Shared, StreamCodecs};
use crate::transport::conn::{self, Conn, Incoming};
use crate::transport::inbound::Inbound;
use crate::transport::outbound::{Forwarded, Outbound};
use crate::transport::rtcp::{self, Feedback, REPORT_INTERVAL};
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
    /// A connected publisher that sends no media for this long is reported silent (a camera at
    /// 15 fps sends a frame every 67 ms). Buyers' pages then say it is the farmer's line that
    /// dropped, which their own connection cannot tell them.
    pub media_gap: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_sessions: 4_000,
            max_viewers_per_stream: 2_000,
            connect_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(20),
            keyframe_interval: Duration::from_millis(500),
            media_gap: Duration::from_secs(2),
        }
    }
}

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    pub to: SocketAddr,
    pub data: Vec<u8>,
}

/// The housekeeping period: pending keyframe requests and timeouts are looked at this often.
const TICK: Duration = Duration::from_millis(100);
/// How late periodic work may run. A camera's connection wants the clock often (its congestion
/// feedback every 100 ms, NACK retries, reports), and each such deadline met on its own wakes the
/// relay thread, on an idle core, for a pass whose cost is mostly that wake-up. With the slack,
/// a deadline is met by the next datagram's pass when one comes within it (a camera at 15 fps
/// sends a frame every 67 ms, audio every 20 ms) and by a wake-up of its own only when none
/// does. Media written to viewers has no slack: it goes out in the pass that wrote it, and so
/// does the first request for a packet the camera lost.
const TIMER_SLACK: Duration = Duration::from_millis(40);
/// How long a video packet that does not end its frame may wait for the rest of the frame. A
/// browser sends the packets of an ordinary frame within a millisecond or so of each other, but
/// the relay may wake up in the middle of them; a key frame (tens of packets) comes paced over a
/// few hundred milliseconds, and goes out in pieces this far apart. A frame whose last packet is
/// lost goes out when the hold ends, well before the next frame's first packet would show the
/// viewer the gap and make it ask for the missing packet.
const FRAME_HOLD: Duration = Duration::from_millis(15);
/// Buffers kept for reuse ([`Sfu::recycle`]): a flush's worth at a few dozen viewers, about
/// 300 KB.
const MAX_SPARE: usize = 256;
/// Buffers smaller than this (an RTCP packet's) are not worth keeping: a media packet would
/// outgrow them at once.
const MIN_SPARE_CAPACITY: usize = 1024;
/// Addresses one session may be reached from (a client's candidates); more are ignored.
const MAX_ADDRS_PER_SESSION: usize = 8;

type Key = u64;

struct Session {
    id: SessionId,
    stream: Arc<str>,
    role: SessionRole,
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
    Publisher(Box<Publishing>),
    Viewer(Box<Viewing>),
}

/// A camera's connection: the relay's own transport and the camera's media as received.
struct Publishing {
    conn: Conn,
    inbound: Inbound,
    /// When media last came in; before the first packet, when the connection came up.
    media_at: Option<Instant>,
    /// Reported silent ([`RelayEvent::PublisherSilent`]) and not yet resumed.
    silent: bool,
}

/// A viewer's connection: the relay's own transport and a send stream per kind it takes.
struct Viewing {
    conn: Conn,
    video: Option<Outbound>,
    audio: Option<Outbound>,
    /// When sender reports are next due; they go out with the media of the first flush after.
    next_report: Option<Instant>,
}

impl Viewing {
    fn outbound(&mut self, kind: MediaKind) -> Option<&mut Outbound> {
        if kind == MediaKind::Video { self.video.as_mut() } else { self.audio.as_mut() }
    }
}

#[derive(Default)]
struct Stream {
    publisher: Option<Key>,
    viewers: Vec<Key>,
    codecs: StreamCodecs,
    keyframe_sent: Option<Instant>,
    keyframe_pending: bool,
    /// The newest video sequence number forwarded: an older one is a retransmission or a
    /// reordered packet, late already, and goes out at once.
    newest_video: Option<u64>,
    /// The publisher's packets waiting for the next flush.
    held: Vec<(MediaKind, Arc<Forwarded>)>,
}

/// The relay's state. See the module documentation.
pub struct Sfu {
    local: SocketAddr,
    limits: Limits,
    shared: Shared,
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
    /// Streams with packets held for the next flush.
    held_streams: Vec<Arc<str>>,
    /// Set when something held must go out in this pass (audio, the end of a video frame, a
    /// late packet): the instant it was held.
    flush_at: Option<Instant>,
    /// When the oldest held video packet must go out if its frame's last packet has not come.
    held_until: Option<Instant>,
    /// Where a packet's header for a viewer is written before the packet is sealed (and a
    /// retransmission's whole packet, which carries the original sequence number before the
    /// payload).
    scratch: Vec<u8>,
    /// Buffers of datagrams sent, handed back by the shell ([`Sfu::recycle`]) for the next
    /// packets to be sealed into: a sealed packet is larger than the allocator's per-thread
    /// caches take, so a new one per forwarded packet was a trip through its bins each time.
    spare: Vec<Vec<u8>>,
    /// The origin of the sender reports' NTP clock: the first flush.
    epoch: Option<Instant>,
}

impl Sfu {
    /// A relay whose single host candidate is `local` (the address clients send to).
    pub fn new(local: SocketAddr, limits: Limits) -> Result<Sfu, RelayError> {
        Ok(Sfu {
            local,
            limits,
            shared: Shared::new()?,
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
            held_streams: Vec::new(),
            flush_at: None,
            held_until: None,
            scratch: Vec::with_capacity(1500),
            spare: Vec::new(),
            epoch: None,
        })
    }

    /// Starts publishing `stream` with a WHIP offer. A stream has one publisher: a new one (the
    /// same farmer reconnecting after a network change) replaces the old, whose viewers are ended
    /// so that they reconnect to the new one.
    pub fn publish(&mut self, now: Instant, stream: &str, offer: &str) -> Result<Answer, RelayError> {
        self.check_capacity()?;
        let video = peer::choose_video_codec(offer);
        let mut negotiated = peer::answer(now, &self.shared, self.local, Leg::Publisher, offer, StreamCodecs { video, audio: true })?;
        let taken = |kind: MediaKind| negotiated.sections.iter().any(|s| s.kind == kind && s.pt.is_some());
        let codecs = StreamCodecs { video: video.filter(|_| taken(MediaKind::Video)), audio: taken(MediaKind::Audio) };
        if codecs.video.is_none() && !codecs.audio {
            return Err(RelayError::NoMedia);
        }
        let transport = peer::publisher_transport(&mut negotiated, offer)?;
        let conn = Conn::new(now, self.shared.crypto.clone(), &self.shared.cert, transport.params).map_err(RelayError::Internal)?;
        let inbound = Inbound::new(now, transport.inbound, peer::random_u32());
        if let Some(old) = self.streams.get(stream).and_then(|s| s.publisher) {
            self.remove(old, EndReason::Replaced);
        }
        let role = SessionRole::Publisher(Box::new(Publishing { conn, inbound, media_at: None, silent: false }));
        let (key, answer) = self.insert(now, stream, role, negotiated.ufrag, negotiated.answer, offer);
        let entry = self.streams.entry(self.sessions[&key].stream.clone()).or_default();
        entry.publisher = Some(key);
        entry.codecs = codecs;
        entry.keyframe_sent = None;
        entry.keyframe_pending = false;
        entry.newest_video = None;
        entry.held.clear();
        self.stats.publishes += 1;
        Ok(answer)
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
        let stream_has_video = entry.codecs.video.is_some();
        let mut negotiated = peer::answer(now, &self.shared, self.local, Leg::Viewer, offer, entry.codecs.for_viewers())?;
        let transport = peer::viewer_transport(&mut negotiated, offer)?;
        // Each stream starts at a random sequence number below 2^15, as SRTP without a signalled
        // rollover counter requires.
        let outbound = |kind: MediaKind| {
            let (_, params) = transport.streams.iter().find(|(k, _)| *k == kind)?;
            Some(Outbound::new(params.clone(), peer::random_u16() >> 1))
        };
        let (video, audio) = (outbound(MediaKind::Video), outbound(MediaKind::Audio));
        // A viewer that cannot take the stream's video would see nothing: say so rather than
        // connect a black screen.
        if stream_has_video && video.is_none() || video.is_none() && audio.is_none() {
            return Err(RelayError::CodecUnsupported);
        }
        let conn = Conn::new(now, self.shared.crypto.clone(), &self.shared.cert, transport.params).map_err(RelayError::Internal)?;
        let role = SessionRole::Viewer(Box::new(Viewing { conn, video, audio, next_report: None }));
        let (key, answer) = self.insert(now, stream, role, negotiated.ufrag, negotiated.answer, offer);
        let shared = self.sessions[&key].stream.clone();
        self.streams.entry(shared).or_default().viewers.push(key);
        self.stats.plays += 1;
        Ok(answer)
    }

    /// Applies a trickle ICE fragment (`PATCH`). `if_match` is the request's entity tag. The time
    /// is taken like every input's, though nothing here depends on it yet.
    pub fn trickle(&mut self, _now: Instant, id: SessionId, if_match: Option<&str>, fragment: &str) -> Result<(), RelayError> {
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
        // The relay is ICE-lite and learns the client's address from its checks, so a trickled
        // candidate changes nothing: the fragment is checked and accepted.
        tracing::debug!(session = %session.id, candidates = fragment.candidates.len(), "trickled candidates");
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

    /// Whether `stream` has a connected publisher, whether it is silent, and how many connected
    /// viewers.
    pub fn stream_state(&self, stream: &str) -> StreamState {
        let Some(entry) = self.streams.get(stream) else { return StreamState::default() };
        let publisher = entry.publisher.and_then(|key| self.sessions.get(&key)).filter(|s| s.connected);
        let silent = publisher.is_some_and(|s| matches!(&s.role, SessionRole::Publisher(p) if p.silent));
        StreamState { live: publisher.is_some(), viewers: self.viewers(stream), silent }
    }

    /// Viewers of `stream` that are connected.
    pub fn viewers(&self, stream: &str) -> usize {
        self.streams.get(stream).map_or(0, |s| s.viewers.iter().filter(|k| self.sessions.get(k).is_some_and(|v| v.connected)).count())
    }

    /// The address each camera sends from, once its checks have chosen one. The shell gives each
    /// a socket of its own (`sockets.rs`), so that media and viewers' feedback arrive apart.
    pub fn cameras(&self) -> impl Iterator<Item = SocketAddr> + Clone + '_ {
        self.streams.values().filter_map(|stream| stream.publisher).filter_map(|key| match &self.sessions.get(&key)?.role {
            SessionRole::Publisher(publishing) => publishing.conn.remote(),
            SessionRole::Viewer(_) => None,
        })
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
        match &mut session.role {
            SessionRole::Publisher(publishing) => {
                let media = match publishing.conn.handle_datagram(now, from, data) {
                    Ok(Some(Incoming::Rtp { packet, header, index })) => publishing.inbound.receive(now, &packet, &header, index).map(|media| (media, packet)),
                    Ok(Some(Incoming::Rtcp(packet))) => {
                        publishing.inbound.handle_rtcp(now, &packet);
                        None
                    }
                    Ok(None) => None,
                    Err(error) => {
                        self.stats.read_errors += 1;
                        tracing::debug!(%error, session = %session.id, "a datagram the connection refused");
                        None
                    }
                };
                if let Some((media, packet)) = media {
                    publishing.media_at = Some(now);
                    let stream = session.stream.clone();
                    if std::mem::take(&mut publishing.silent) {
                        self.events.push_back(RelayEvent::PublisherResumed { stream: stream.to_string() });
                    }
                    self.stats.rtp_in += 1;
                    self.stats.repaired += u64::from(media.repaired);
                    let forwarded = Forwarded { seq: media.seq, timestamp: media.timestamp, marker: media.marker, payload: Arc::from(&packet[media.payload]), received: now };
                    self.forward(now, &stream, media.kind, forwarded);
                }
                self.after_publisher_input(now, key);
            }
            SessionRole::Viewer(viewing) => {
                let feedback = match viewing.conn.handle_datagram(now, from, data) {
                    Ok(Some(Incoming::Rtcp(packet))) => rtcp::feedback(&packet),
                    Ok(_) => Vec::new(),
                    Err(error) => {
                        self.stats.read_errors += 1;
                        tracing::debug!(%error, session = %session.id, "a datagram the connection refused");
                        Vec::new()
                    }
                };
                self.viewer_feedback(now, key, feedback);
            }
        }
    }

    /// Time has passed: run every connection's deadlines that are due, and housekeeping. Cheap
    /// when nothing is due, so call it after every batch of inputs as well as at
    /// [`Sfu::poll_timeout`]: that is how early deadlines ride on a datagram's pass.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.held_until.is_some_and(|at| at <= now) {
            self.flush_at.get_or_insert(now);
        }
        self.flush();
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
            match &mut session.role {
                SessionRole::Publisher(publishing) => {
                    publishing.conn.handle_timeout(now);
                    self.after_publisher_input(now, key);
                }
                SessionRole::Viewer(viewing) => {
                    viewing.conn.handle_timeout(now);
                    self.after_viewer_input(now, key, false);
                }
            }
        }
        if self.next_tick.is_none_or(|tick| tick <= now) {
            self.next_tick = Some(now + TICK);
            self.housekeeping(now);
        }
    }

    /// The next datagram to send. The first call after forwarding the end of a frame flushes what
    /// is held for viewers (see [`Sfu::flush`]), so poll after every batch of inputs.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.flush_at.is_some() {
            self.flush();
        }
        self.transmits.pop_front()
    }

    /// Hands back the buffer of a datagram [`Sfu::poll_transmit`] gave and the shell has sent,
    /// to seal a later packet into. Optional: a buffer not handed back is simply freed.
    pub fn recycle(&mut self, data: Vec<u8>) {
        if self.spare.len() < MAX_SPARE && data.capacity() >= MIN_SPARE_CAPACITY {
            self.spare.push(data);
        }
    }

    pub fn poll_event(&mut self) -> Option<RelayEvent> {
        self.events.pop_front()
    }

    /// The latest instant [`Sfu::handle_timeout`] must run: deadlines plus [`TIMER_SLACK`], the
    /// held part of a frame's [`FRAME_HOLD`], or now when media waits to go out. Work that is due
    /// earlier runs in any pass that calls `handle_timeout`, which the shell does after every
    /// batch of inputs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if let Some(at) = self.flush_at {
            return Some(at);
        }
        let timer = self.timers.peek().map(|Reverse((at, _))| *at);
        [timer.map(|at| at + TIMER_SLACK), self.next_tick.map(|at| at + TIMER_SLACK), self.held_until].into_iter().flatten().min()
    }

    // --- Internals --------------------------------------------------------------------------------

    fn check_capacity(&self) -> Result<(), RelayError> {
        if self.sessions.len() >= self.limits.max_sessions { Err(RelayError::Full) } else { Ok(()) }
    }

    fn insert(&mut self, now: Instant, stream: &str, role: SessionRole, ufrag: String, answer: String, offer: &str) -> (Key, Answer) {
        let key = self.next_key;
        self.next_key += 1;
        let id = SessionId::random();
        let stream = self.streams.get_key_value(stream).map_or_else(|| Arc::from(stream), |(name, _)| name.clone());
        let is_publisher = matches!(role, SessionRole::Publisher(_));
        let session = Session {
            id,
            stream,
            role,
            ufrag: ufrag.clone(),
            remote_ufrag: offer.lines().find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:")).map(str::to_owned),
            etag: peer::random_token(16),
            addrs: Vec::new(),
            created: now,
            last_heard: now,
            connected: false,
            timeout: None,
            closing: None,
        };
        let answer = Answer { session: id, sdp: answer, etag: session.etag.clone() };
        self.ids.insert(id, key);
        self.ufrags.insert(ufrag, key);
        self.sessions.insert(key, session);
        if self.next_tick.is_none() {
            self.next_tick = Some(now + TICK);
        }
        if is_publisher {
            self.after_publisher_input(now, key);
        } else {
            self.after_viewer_input(now, key, false);
        }
        (key, answer)
    }

    /// Drains what a publisher's connection produced after an input (handshake datagrams, the
    /// RTCP that fell due), and acts on where it now is: connected (say so), failed or closed
    /// (end it and its viewers).
    fn after_publisher_input(&mut self, now: Instant, key: Key) {
        let Some(session) = self.sessions.get_mut(&key) else { return };
        let SessionRole::Publisher(publishing) = &mut session.role else { return };
        let Publishing { conn, inbound, .. } = &mut **publishing;
        if let Some(compound) = inbound.poll_rtcp(now)
            && let Some(datagram) = conn.seal_rtcp(&compound)
        {
            self.transmits.push_back(Transmit { to: datagram.to, data: datagram.data });
        }
        while let Some(datagram) = conn.poll_transmit() {
            self.transmits.push_back(Transmit { to: datagram.to, data: datagram.data });
        }
        let connected_now = conn.state() == conn::State::Connected && !session.connected;
        session.connected |= connected_now;
        match conn.state() {
            conn::State::Failed => session.closing = session.closing.or(Some(EndReason::Failed)),
            conn::State::Closed => session.closing = session.closing.or(Some(EndReason::Ended)),
            conn::State::Connecting | conn::State::Connected => {}
        }
        if let Some(at) = [conn.poll_timeout(), inbound.poll_timeout()].into_iter().flatten().min() {
            reschedule(&mut self.timers, now, key, &mut session.timeout, at);
        }
        if connected_now {
            // The silence clock starts when the connection comes up.
            publishing.media_at = Some(now);
            self.events.push_back(RelayEvent::PublisherConnected { stream: session.stream.to_string() });
        }
        if let Some(reason) = session.closing {
            self.remove(key, reason);
        }
    }

    /// Acts on what a viewer's RTCP asked: resends what it lost, passes a keyframe request on to
    /// the publisher, ends the session on a goodbye.
    fn viewer_feedback(&mut self, now: Instant, key: Key, feedback: Vec<Feedback>) {
        let Sfu { sessions, transmits, stats, scratch, spare, .. } = self;
        let Some(session) = sessions.get_mut(&key) else { return };
        let SessionRole::Viewer(viewing) = &mut session.role else { return };
        let mut keyframe_wanted = false;
        for message in feedback {
            match message {
                Feedback::Nack { ssrc, seqs } => {
                    let Viewing { conn, video, audio, .. } = &mut **viewing;
                    let Some(stream) = [video.as_mut(), audio.as_mut()].into_iter().flatten().find(|o| o.ssrc() == ssrc) else { continue };
                    stream.resend(&seqs, scratch, |header, payload, index| match conn.seal_rtp(header, payload, index, spare.pop().unwrap_or_default()) {
                        Some(datagram) => {
                            stats.retransmitted += 1;
                            transmits.push_back(Transmit { to: datagram.to, data: datagram.data });
                        }
                        None => stats.write_errors += 1,
                    });
                }
                Feedback::Keyframe { .. } => keyframe_wanted = true,
                Feedback::Bye => session.closing = session.closing.or(Some(EndReason::Ended)),
                Feedback::SenderReport { .. } => {} // A viewer sends none; it would change nothing.
            }
        }
        self.after_viewer_input(now, key, keyframe_wanted);
    }

    /// Drains what a viewer's connection produced after an input (handshake datagrams), and acts
    /// on where it now is: connected (count it, ask for a keyframe), failed or closed (end it).
    fn after_viewer_input(&mut self, now: Instant, key: Key, mut keyframe_wanted: bool) {
        let Some(session) = self.sessions.get_mut(&key) else { return };
        let SessionRole::Viewer(viewing) = &mut session.role else { return };
        while let Some(datagram) = viewing.conn.poll_transmit() {
            self.transmits.push_back(Transmit { to: datagram.to, data: datagram.data });
        }
        let connected_now = viewing.conn.state() == conn::State::Connected && !session.connected;
        session.connected |= connected_now;
        match viewing.conn.state() {
            conn::State::Failed => session.closing = session.closing.or(Some(EndReason::Failed)),
            conn::State::Closed => session.closing = session.closing.or(Some(EndReason::Ended)),
            conn::State::Connecting | conn::State::Connected => {}
        }
        if let Some(at) = viewing.conn.poll_timeout() {
            reschedule(&mut self.timers, now, key, &mut session.timeout, at);
        }
        let stream = session.stream.clone();
        let closing = session.closing;
        if connected_now {
            self.viewer_count_changed(&stream);
            keyframe_wanted = true;
        }
        if keyframe_wanted {
            self.request_keyframe(now, &stream);
        }
        if let Some(reason) = closing {
            self.remove(key, reason);
        }
    }

    /// Holds one publisher packet for the stream's viewers, and says when it must go out: in this
    /// pass, or with the rest of its frame.
    fn forward(&mut self, now: Instant, stream: &Arc<str>, kind: MediaKind, forwarded: Forwarded) {
        let Some(entry) = self.streams.get_mut(stream) else { return };
        let seq = forwarded.seq;
        let in_order = kind == MediaKind::Video && entry.newest_video.is_none_or(|newest| seq > newest);
        if in_order {
            entry.newest_video = Some(seq);
        }
        if in_order && !forwarded.marker {
            self.held_until.get_or_insert(now + FRAME_HOLD);
        } else {
            self.flush_at = Some(now);
        }
        if entry.held.is_empty() {
            self.held_streams.push(stream.clone());
        }
        entry.held.push((kind, Arc::new(forwarded)));
    }

    /// Sends what is held to every connected viewer, viewer by viewer: each packet rewritten for
    /// the viewer and sealed, then the viewer's sender reports when they are due. A viewer's
    /// packets of a frame are therefore adjacent in the queue, which `wire::Sender::send` turns
    /// into one segmented message.
    fn flush(&mut self) {
        let Some(now) = self.flush_at.take() else { return };
        self.held_until = None;
        let epoch = *self.epoch.get_or_insert(now);
        let Sfu { sessions, streams, stats, transmits, scratch, held_streams, spare, .. } = self;
        for stream in held_streams.drain(..) {
            let Some(entry) = streams.get_mut(&stream) else { continue };
            for key in &entry.viewers {
                let Some(viewer) = sessions.get_mut(key) else { continue };
                let SessionRole::Viewer(viewing) = &mut viewer.role else { continue };
                if !viewer.connected {
                    continue;
                }
                stats.flushes += 1;
                for (kind, packet) in &entry.held {
                    let Some(index) = viewing.outbound(*kind).and_then(|out| out.write(packet, scratch)) else { continue };
                    match viewing.conn.seal_rtp(scratch, &packet.payload, index, spare.pop().unwrap_or_default()) {
                        Some(datagram) => {
                            stats.forwarded += 1;
                            stats.bytes_out += datagram.data.len() as u64;
                            transmits.push_back(Transmit { to: datagram.to, data: datagram.data });
                        }
                        None => stats.write_errors += 1,
                    }
                }
                if viewing.next_report.is_none_or(|at| at <= now) {
                    viewing.next_report = Some(now + REPORT_INTERVAL);
                    let reports: Vec<u8> = [&viewing.video, &viewing.audio].into_iter().flatten().filter_map(|out| out.report(now, epoch)).flatten().collect();
                    if let Some(datagram) = viewing.conn.seal_rtcp(&reports).filter(|_| !reports.is_empty()) {
                        stats.sender_reports += 1;
                        transmits.push_back(Transmit { to: datagram.to, data: datagram.data });
                    }
                }
            }
            entry.held.clear();
        }
    }

    /// Asks the publisher for a keyframe now, or as soon as the rate limit allows.
    fn request_keyframe(&mut self, now: Instant, stream: &str) {
        let Some(entry) = self.streams.get_mut(stream) else { return };
        if entry.keyframe_sent.is_some_and(|at| now < at + self.limits.keyframe_interval) {
            entry.keyframe_pending = true;
            return;
        }
        let Some(key) = entry.publisher else { return };
        let Some(session) = self.sessions.get_mut(&key) else { return };
        let SessionRole::Publisher(publishing) = &mut session.role else { return };
        // The camera's video SSRC is known from its first packet; before that there is nothing
        // to ask, and the first frame is a key frame anyway.
        let Some(pli) = publishing.inbound.keyframe_request() else { return };
        let Some(datagram) = publishing.conn.seal_rtcp(&pli) else { return };
        self.transmits.push_back(Transmit { to: datagram.to, data: datagram.data });
        entry.keyframe_sent = Some(now);
        entry.keyframe_pending = false;
        self.stats.keyframe_requests += 1;
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
        let gap = self.limits.media_gap;
        for session in self.sessions.values_mut() {
            if let SessionRole::Publisher(publishing) = &mut session.role
                && !publishing.silent
                && publishing.media_at.is_some_and(|at| now.saturating_duration_since(at) >= gap)
            {
                publishing.silent = true;
                self.events.push_back(RelayEvent::PublisherSilent { stream: session.stream.to_string() });
            }
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
        // Say goodbye (DTLS close_notify) where the connection is still up.
        let conn = match &mut session.role {
            SessionRole::Publisher(publishing) => &mut publishing.conn,
            SessionRole::Viewer(viewing) => &mut viewing.conn,
        };
        conn.close();
        while let Some(datagram) = conn.poll_transmit() {
            self.transmits.push_back(Transmit { to: datagram.to, data: datagram.data });
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
        // Reclaim the timer heap once it is mostly stale entries of removed sessions (a
        // connection with nothing to do asks to be woken far in the future, so stale entries
        // would otherwise sit there for long).
        if self.sessions.is_empty() {
            self.timers.clear();
        } else if self.timers.len() > 64 && self.timers.len() > 4 * self.sessions.len() {
            let sessions = &self.sessions;
            self.timers.retain(|Reverse((at, key))| sessions.get(key).is_some_and(|s| s.timeout == Some(*at)));
        }
    }
}

/// Queues the session's next deadline if it is earlier than the one already queued. A deadline
/// that is already due is pushed a millisecond out, so a connection that keeps asking for "now"
/// cannot spin the loop.
fn reschedule(timers: &mut BinaryHeap<Reverse<(Instant, Key)>>, now: Instant, key: Key, queued: &mut Option<Instant>, at: Instant) {
    let at = at.max(now + Duration::from_millis(1));
    if queued.is_none_or(|queued| at < queued) {
        timers.push(Reverse((at, key)));
        *queued = Some(at);
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

/// An entity tag without its quotes or weak prefix.
fn unquote(tag: &str) -> &str {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.trim_matches('"')
}
