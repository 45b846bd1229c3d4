//! One connection's transport, sans-IO: ICE-lite answers, the DTLS handshake, and SRTP once DTLS
//! has exported the keys. What the connection carries (which streams, RTCP feedback) is the
//! caller's; this is the secure pipe under it.
//!
//! - ICE-lite (RFC 8445 §2.5): the relay only answers binding requests. A request must carry our
//!   ufrag and authenticate with our password; its source becomes an address the connection
//!   accepts DTLS and media from, and the one it sends to (the latest nominated one, or the first
//!   that checked if none is nominated yet).
//! - DTLS: str0m's provider's instance (dimpl), with the relay's one certificate. The peer's
//!   certificate must match the fingerprint its SDP announced, or the connection fails.
//! - SRTP: [`super::srtp`] with the exported keys, in the direction the DTLS role gives.
//!
//! Datagrams are told apart by their first byte (RFC 7983): 0–3 STUN, 20–63 DTLS, 128–191
//! RTP or RTCP.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::config::{CryptoProvider, DtlsCert, Fingerprint};
use str0m::crypto::dtls::{DtlsInstance, DtlsOutput};
use str0m::ice::StunMessage;

use super::rtp::{self, Header};
use super::srtp::{Profile, RtpReceiver, Srtp};

/// Addresses one connection accepts datagrams from at most (a client's candidates).
const MAX_REMOTES: usize = 8;
/// A DTLS record, or a STUN reply, fits in this.
const DTLS_BUF: usize = 2048;

/// What a connection needs to know from the negotiation (the SDP offer and answer).
#[derive(Debug, Clone)]
pub struct Params {
    /// Our ICE credentials, as the answer gave them.
    pub ufrag: String,
    pub pwd: String,
    /// The fingerprint of the certificate the peer will present (`a=fingerprint`).
    pub remote_fingerprint: Fingerprint,
    /// Whether the relay is the DTLS client (`a=setup:active` in the answer).
    pub dtls_client: bool,
}

/// A datagram to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Datagram {
    pub to: SocketAddr,
    pub data: Vec<u8>,
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for checks and the DTLS handshake.
    Connecting,
    /// DTLS is up, the peer is who its SDP said, and SRTP has keys.
    Connected,
    /// The handshake or the peer's certificate failed.
    Failed,
    /// The peer said goodbye (DTLS close_notify), or we did.
    Closed,
}

/// What a datagram carried, once it was accepted and opened.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A plain RTP packet (header and payload) and its index (rollover counter and sequence
    /// number).
    Rtp { packet: Vec<u8>, header: Header, index: u64 },
    /// A plain (compound) RTCP packet.
    Rtcp(Vec<u8>),
}

/// Why a datagram was not taken. Each is counted by the caller and otherwise changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("a STUN message that is not an authentic binding request for this connection")]
    BadCheck,
    #[error("a datagram from an address that has not passed a check")]
    Unchecked,
    #[error("media before the connection has keys")]
    NotConnected,
    #[error("a datagram that is neither STUN, DTLS, RTP nor RTCP")]
    Unknown,
    #[error("DTLS refused a record: {0}")]
    Dtls(String),
    #[error("SRTP: {0}")]
    Srtp(#[from] super::srtp::SrtpError),
}

/// One connection's transport. See the module documentation.
pub struct Conn {
    crypto: Arc<CryptoProvider>,
    params: Params,
    dtls: Box<dyn DtlsInstance>,
    dtls_started: bool,
    dtls_timeout: Option<Instant>,
    state: State,
    /// Addresses that passed a check, oldest first.
    remotes: Vec<SocketAddr>,
    /// Where datagrams go.
    remote: Option<SocketAddr>,
    keys: Option<Keys>,
    /// The peer's certificate matched its fingerprint.
    verified: bool,
    dtls_connected: bool,
    /// Per incoming SSRC: its rollover counter and replay window.
    receivers: HashMap<u32, RtpReceiver>,
    transmits: VecDeque<Datagram>,
    buf: Vec<u8>,
    /// The latest time an input came with, for output produced without one (a goodbye).
    now: Instant,
}

struct Keys {
    tx: Srtp,
    rx: Srtp,
    profile: Profile,
}

impl Conn {
    pub fn new(now: Instant, crypto: Arc<CryptoProvider>, cert: &DtlsCert, params: Params) -> Result<Conn, String> {
        let mut dtls = crypto.dtls_provider.new_dtls(cert, now, Default::default(), None).map_err(|e| e.to_string())?;
        dtls.set_active(params.dtls_client);
        // The instance initialises on its first timer run: a server must have had it before a
        // client's hello arrives. A client's first run sends its hello, so that waits until a
        // check says where the peer is.
        if !params.dtls_client {
            dtls.handle_timeout(now).map_err(|e| e.to_string())?;
        }
        let mut conn = Conn {
            crypto,
            params,
            dtls,
            dtls_started: false,
            dtls_timeout: None,
            state: State::Connecting,
            remotes: Vec::new(),
            remote: None,
            keys: None,
            verified: false,
            dtls_connected: false,
            receivers: HashMap::new(),
            transmits: VecDeque::new(),
            buf: vec![0; DTLS_BUF],
            now,
        };
        conn.drain_dtls(now);
        Ok(conn)
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The negotiated SRTP profile, once connected.
    pub fn profile(&self) -> Option<Profile> {
        self.keys.as_ref().map(|k| k.profile)
    }

    /// Where this connection sends, once a check has come in.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// A datagram from `from`. Replies (STUN, DTLS) are queued for [`Conn::poll_transmit`];
    /// opened media is returned.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) -> Result<Option<Incoming>, Refused> {
        self.now = self.now.max(now);
        match data.first() {
            Some(0..=3) => self.handle_check(now, from, data).map(|()| None),
            Some(20..=63) => {
                self.checked(from)?;
                self.dtls.handle_packet(data).map_err(|e| Refused::Dtls(e.to_string()))?;
                self.drain_dtls(now);
                Ok(None)
            }
            Some(128..=191) => {
                self.checked(from)?;
                let keys = self.keys.as_mut().filter(|_| self.state == State::Connected).ok_or(Refused::NotConnected)?;
                if rtp::is_rtcp(data) {
                    return Ok(Some(Incoming::Rtcp(keys.rx.open_rtcp(data)?)));
                }
                let header = Header::parse(data).ok_or(Refused::Unknown)?;
                // A receiver is kept for an SSRC only once a packet on it has opened, so that
                // forged packets cannot grow the table.
                let fresh = RtpReceiver::default();
                let receiver = self.receivers.get(&header.ssrc).unwrap_or(&fresh);
                let index = receiver.index(header.seq);
                if !receiver.fresh(index) {
                    return Err(super::srtp::SrtpError::Replayed.into());
                }
                let packet = keys.rx.open_rtp(data, header.len, index)?;
                self.receivers.entry(header.ssrc).or_default().accept(index);
                Ok(Some(Incoming::Rtp { packet, header, index }))
            }
            _ => Err(Refused::Unknown),
        }
    }

    /// Runs DTLS's retransmission timer when it is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if self.dtls_timeout.is_some_and(|at| at <= now) {
            self.dtls_timeout = None;
            if let Err(error) = self.dtls.handle_timeout(now) {
                tracing::debug!(%error, "DTLS timer");
            }
            self.drain_dtls(now);
        }
    }

    /// When [`Conn::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.dtls_timeout.filter(|_| matches!(self.state, State::Connecting | State::Connected))
    }

    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        self.transmits.pop_front()
    }

    /// Seals the RTP packet `header` then `payload` as packet `index` of its SSRC, for the peer,
    /// into `buf` (see [`super::srtp::Srtp::seal_rtp_into`]). `None` before the connection is
    /// up.
    pub fn seal_rtp(&mut self, header: &[u8], payload: &[u8], index: u64, mut buf: Vec<u8>) -> Option<Datagram> {
        let (keys, to) = self.sending()?;
        keys.tx.seal_rtp_into(header, payload, index, &mut buf).ok()?;
        Some(Datagram { to, data: buf })
    }

    /// Seals a (compound) RTCP packet for the peer.
    pub fn seal_rtcp(&mut self, packet: &[u8]) -> Option<Datagram> {
        let (keys, to) = self.sending()?;
        let data = keys.tx.seal_rtcp(packet).ok()?;
        Some(Datagram { to, data })
    }

    /// Says goodbye (DTLS close_notify) and stops.
    pub fn close(&mut self) {
        if matches!(self.state, State::Connected | State::Connecting) && self.dtls_connected && self.dtls.close().is_ok() {
            self.drain_dtls(self.now);
        }
        self.state = State::Closed;
    }

    fn sending(&mut self) -> Option<(&mut Keys, SocketAddr)> {
        if self.state != State::Connected {
            return None;
        }
        let to = self.remote?;
        Some((self.keys.as_mut()?, to))
    }

    fn checked(&self, from: SocketAddr) -> Result<(), Refused> {
        if self.remotes.contains(&from) { Ok(()) } else { Err(Refused::Unchecked) }
    }

    /// Answers a binding request addressed to us and authenticated with our password.
    fn handle_check(&mut self, now: Instant, from: SocketAddr, data: &[u8]) -> Result<(), Refused> {
        let message = StunMessage::parse(data).map_err(|_| Refused::BadCheck)?;
        let hmac = self.crypto.sha1_hmac_provider;
        let sha1_hmac = |key: &[u8], parts: &[&[u8]]| hmac.sha1_hmac(key, parts);
        let ours = message.split_username().map(|(ours, _)| ours);
        if !message.is_binding_request() || ours != Some(self.params.ufrag.as_str()) || !message.verify(self.params.pwd.as_bytes(), sha1_hmac) {
            return Err(Refused::BadCheck);
        }
        if !self.remotes.contains(&from) {
            if self.remotes.len() >= MAX_REMOTES {
                return Err(Refused::BadCheck);
            }
            self.remotes.push(from);
        }
        // The controlling side nominates the pair media should use; until it does, the first
        // address that checked will do (a lite agent has no pairs of its own to choose from).
        if message.use_candidate() || self.remote.is_none() {
            self.remote = Some(from);
        }
        let reply = StunMessage::binding_reply(message.trans_id(), from);
        let mut buf = [0u8; 256];
        let len = reply.to_bytes(Some(self.params.pwd.as_bytes()), &mut buf, sha1_hmac).map_err(|_| Refused::BadCheck)?;
        self.transmits.push_back(Datagram { to: from, data: buf[..len].to_vec() });
        if self.params.dtls_client && !self.dtls_started {
            // The DTLS client speaks first, once it knows where the peer is.
            self.dtls_started = true;
            if let Err(error) = self.dtls.handle_timeout(now) {
                tracing::debug!(%error, "starting DTLS");
            }
            self.drain_dtls(now);
        }
        Ok(())
    }

    fn drain_dtls(&mut self, now: Instant) {
        loop {
            match self.dtls.poll_output(&mut self.buf) {
                DtlsOutput::Packet(packet) => {
                    if let Some(to) = self.remote {
                        self.transmits.push_back(Datagram { to, data: packet.to_vec() });
                    }
                }
                DtlsOutput::BufferTooSmall { needed } => self.buf.resize(needed, 0),
                DtlsOutput::Timeout(at) => {
                    self.dtls_timeout = Some(at.max(now));
                    break;
                }
                DtlsOutput::Connected => self.dtls_connected = true,
                DtlsOutput::PeerCert(der) => {
                    let expected = &self.params.remote_fingerprint;
                    let digest = if expected.hash_func.eq_ignore_ascii_case("sha-256") {
                        Some(self.crypto.sha256_provider.sha256(der).to_vec())
                    } else if expected.hash_func.eq_ignore_ascii_case("sha-1") {
                        Some(self.crypto.sha1_provider.sha1(der).to_vec())
                    } else {
                        None
                    };
                    self.verified = digest.is_some_and(|digest| digest == expected.bytes);
                    if !self.verified {
                        tracing::debug!("the peer's certificate does not match its fingerprint");
                        self.state = State::Failed;
                    }
                }
                DtlsOutput::KeyingMaterial(material, profile) => {
                    let keys = Profile::from_dtls(profile).and_then(|profile| {
                        let (tx, rx) = Srtp::pair(&self.crypto, profile, &material, self.params.dtls_client).ok()?;
                        Some(Keys { tx, rx, profile })
                    });
                    if keys.is_none() {
                        self.state = State::Failed;
                    }
                    self.keys = keys;
                }
                DtlsOutput::CloseNotify => self.state = State::Closed,
                DtlsOutput::ApplicationData(_) => {} // No data channels.
                _ => {}
            }
        }
        if self.state == State::Connecting && self.dtls_connected && self.verified && self.keys.is_some() {
            self.state = State::Connected;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::ice::TransId;

    struct Pair {
        crypto: Arc<CryptoProvider>,
        relay: Conn,
        peer: Conn,
        relay_addr: SocketAddr,
        peer_addr: SocketAddr,
    }

    fn fingerprint(crypto: &CryptoProvider, cert: &DtlsCert) -> Fingerprint {
        Fingerprint { hash_func: "sha-256".into(), bytes: crypto.sha256_provider.sha256(&cert.certificate).to_vec() }
    }

    /// The relay's connection (the DTLS server) and a peer built the same way as the DTLS
    /// client, each expecting the other's certificate unless `wrong_fingerprint`.
    fn pair(now: Instant, wrong_fingerprint: bool) -> Pair {
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let relay_cert = crypto.dtls_provider.generate_certificate().unwrap();
        let peer_cert = crypto.dtls_provider.generate_certificate().unwrap();
        let impostor = crypto.dtls_provider.generate_certificate().unwrap();
        let expected = if wrong_fingerprint { &impostor } else { &peer_cert };
        let relay_params = Params { ufrag: "relay".into(), pwd: "relaypassword1234567890".into(), remote_fingerprint: fingerprint(&crypto, expected), dtls_client: false };
        let peer_params = Params { ufrag: "peer".into(), pwd: "peerpassword12345678901".into(), remote_fingerprint: fingerprint(&crypto, &relay_cert), dtls_client: true };
        Pair {
            relay: Conn::new(now, crypto.clone(), &relay_cert, relay_params).unwrap(),
            peer: Conn::new(now, crypto.clone(), &peer_cert, peer_params).unwrap(),
            crypto,
            relay_addr: "127.0.0.1:5000".parse().unwrap(),
            peer_addr: "127.0.0.1:6000".parse().unwrap(),
        }
    }

    fn check(crypto: &CryptoProvider, ufrag: &str, pwd: &str, nominate: bool) -> Vec<u8> {
        let username = format!("{ufrag}:them");
        let request = StunMessage::binding_request(&username, TransId::new(), true, 7, 100, nominate);
        let mut buf = [0u8; 256];
        let hmac = crypto.sha1_hmac_provider;
        let len = request.to_bytes(Some(pwd.as_bytes()), &mut buf, |k: &[u8], p: &[&[u8]]| hmac.sha1_hmac(k, p)).unwrap();
        buf[..len].to_vec()
    }

    impl Pair {
        /// Each side checks the other (as the peer's ICE agent would), then datagrams go back
        /// and forth until both sides are quiet.
        fn connect(&mut self, now: Instant) {
            let (relay_addr, peer_addr) = (self.relay_addr, self.peer_addr);
            let to_relay = check(&self.crypto, "relay", "relaypassword1234567890", true);
            self.relay.handle_datagram(now, peer_addr, &to_relay).unwrap();
            let to_peer = check(&self.crypto, "peer", "peerpassword12345678901", true);
            self.peer.handle_datagram(now, relay_addr, &to_peer).unwrap();
            for _ in 0..50 {
                let mut moved = false;
                while let Some(d) = self.relay.poll_transmit() {
                    moved = true;
                    assert_eq!(d.to, peer_addr);
                    if d.data[0] >= 20 {
                        let _ = self.peer.handle_datagram(now, relay_addr, &d.data);
                    }
                }
                while let Some(d) = self.peer.poll_transmit() {
                    moved = true;
                    if d.data[0] >= 20 {
                        let _ = self.relay.handle_datagram(now, peer_addr, &d.data);
                    }
                }
                if !moved {
                    break;
                }
            }
        }
    }

    fn rtp(seq: u16) -> Vec<u8> {
        let mut packet = vec![0x80, 0xE0];
        packet.extend_from_slice(&seq.to_be_bytes());
        packet.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0x12, 0x34]);
        packet.extend_from_slice(b"payload");
        packet
    }

    #[test]
    fn connects_and_carries_srtp_both_ways() {
        let now = Instant::now();
        let mut pair = pair(now, false);
        pair.connect(now);
        assert_eq!(pair.relay.state(), State::Connected);
        assert_eq!(pair.peer.state(), State::Connected);
        assert_eq!(pair.relay.profile(), pair.peer.profile());

        let sent = pair.relay.seal_rtp(&rtp(7)[..12], &rtp(7)[12..], 7, Vec::new()).unwrap();
        assert_eq!(sent.to, pair.peer_addr);
        let Some(Incoming::Rtp { packet, header, index }) = pair.peer.handle_datagram(now, pair.relay_addr, &sent.data).unwrap() else { panic!("not RTP") };
        assert_eq!((packet, header.seq, index), (rtp(7), 7, 7));
        assert_eq!(pair.peer.handle_datagram(now, pair.relay_addr, &sent.data), Err(Refused::Srtp(super::super::srtp::SrtpError::Replayed)));

        let pli = [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0x12, 0x34];
        let sent = pair.peer.seal_rtcp(&pli).unwrap();
        assert_eq!(pair.relay.handle_datagram(now, pair.peer_addr, &sent.data).unwrap(), Some(Incoming::Rtcp(pli.to_vec())));

        // Media from an address that never checked is not even opened.
        let other: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        let sent = pair.peer.seal_rtcp(&pli).unwrap();
        assert_eq!(pair.relay.handle_datagram(now, other, &sent.data), Err(Refused::Unchecked));

        pair.peer.close();
        while let Some(d) = pair.peer.poll_transmit() {
            let _ = pair.relay.handle_datagram(now, pair.peer_addr, &d.data);
        }
        assert_eq!(pair.relay.state(), State::Closed);
    }

    #[test]
    fn a_check_with_the_wrong_password_or_ufrag_is_not_answered() {
        let now = Instant::now();
        let mut pair = pair(now, false);
        let from = pair.peer_addr;
        let wrong_pwd = check(&pair.crypto, "relay", "not-the-password-at-all", true);
        assert_eq!(pair.relay.handle_datagram(now, from, &wrong_pwd), Err(Refused::BadCheck));
        let wrong_ufrag = check(&pair.crypto, "other", "relaypassword1234567890", true);
        assert_eq!(pair.relay.handle_datagram(now, from, &wrong_ufrag), Err(Refused::BadCheck));
        assert_eq!(pair.relay.handle_datagram(now, from, b"\x00\x01garbage"), Err(Refused::BadCheck));
        assert!(pair.relay.poll_transmit().is_none());
        assert_eq!(pair.relay.remote(), None);
        // And DTLS from that address is refused before the handshake sees it.
        assert_eq!(pair.relay.handle_datagram(now, from, &[22, 254, 253, 0, 0]), Err(Refused::Unchecked));

        let good = check(&pair.crypto, "relay", "relaypassword1234567890", false);
        pair.relay.handle_datagram(now, from, &good).unwrap();
        let reply = pair.relay.poll_transmit().unwrap();
        assert_eq!(reply.to, from);
        let parsed = StunMessage::parse(&reply.data).unwrap();
        assert!(parsed.is_successful_binding_response());
        assert_eq!(parsed.mapped_address(), Some(from));
        let hmac = pair.crypto.sha1_hmac_provider;
        assert!(parsed.verify(b"relaypassword1234567890", |k: &[u8], p: &[&[u8]]| hmac.sha1_hmac(k, p)));
    }

    #[test]
    fn a_peer_whose_certificate_does_not_match_its_fingerprint_fails() {
        let now = Instant::now();
        let mut pair = pair(now, true);
        pair.connect(now);
        assert_eq!(pair.relay.state(), State::Failed);
        assert!(pair.relay.seal_rtp(&rtp(1)[..12], &rtp(1)[12..], 1, Vec::new()).is_none(), "nothing is sealed for an unverified peer");
    }
}
