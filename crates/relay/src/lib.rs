//! The live video relay: a selective forwarding unit that takes one WHIP publisher per stream and
//! forwards its RTP, never transcoded, to any number of WHEP viewers.
//!
//! The marketplace talks to it through [`Relay`] only, in SDP text and opaque ids; no type of the
//! media library crosses this boundary, so the library can be swapped without touching the server.
//!
//! - [`sfu`]: the sans-IO core: sessions, routing, forwarding, keyframe requests, timeouts.
//! - [`peer`]: how the relay's peer connections are negotiated (codecs, RTCP, ICE-lite).
//! - [`transport`]: the relay's own connections, cameras' and viewers' (ICE-lite, DTLS, SRTP, RTCP,
//!   congestion feedback).
//! - [`shell`]: the thread that owns the UDP sockets and the timer and drives the core.
//! - [`sockets`]: the shared UDP socket, and one beside it for each camera.
//! - [`stun`], [`sdpfrag`]: the little parsing the relay does itself.

pub mod peer;
pub mod sdpfrag;
pub mod sfu;
pub mod shell;
pub mod sockets;
pub mod stun;
pub mod transport;
pub mod wire;

use std::fmt;
use std::str::FromStr;

pub use sfu::Limits;
pub use shell::{Relay, RelayConfig};

/// A session's id: 128 random bits, so its URL can serve as the capability to end it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId([u8; 16]);

impl SessionId {
    pub fn random() -> SessionId {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system has no random source");
        SessionId(bytes)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl FromStr for SessionId {
    type Err = RelayError;

    fn from_str(text: &str) -> Result<SessionId, RelayError> {
        if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(RelayError::UnknownSession);
        }
        let mut bytes = [0u8; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| RelayError::UnknownSession)?;
        }
        Ok(SessionId(bytes))
    }
}

/// Which end of a stream a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Publisher,
    Viewer,
}

/// A session as the HTTP layer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: SessionId,
    pub stream: String,
    pub role: Role,
    /// The entity tag of the session's ICE state (unquoted).
    pub etag: String,
    pub connected: bool,
}

/// The relay's answer to an offer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub session: SessionId,
    pub sdp: String,
    /// The entity tag for `ETag` (unquoted).
    pub etag: String,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Someone asked (`DELETE`, or the stream was ended).
    Ended,
    /// The connection failed, never finished connecting, or went quiet.
    Failed,
    /// A new publisher took the stream over.
    Replaced,
    /// The viewer's publisher went away.
    PublisherGone,
}

/// What the relay tells the marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayEvent {
    /// The publisher's connection is up: the stream is live.
    PublisherConnected { stream: String },
    /// The publisher is gone; its viewers were ended with it.
    PublisherGone { stream: String, reason: EndReason },
    /// The number of connected viewers changed.
    Viewers { stream: String, count: usize },
    /// The connected publisher has sent no media for [`Limits::media_gap`]: its uplink is weak or
    /// cut. Its viewers stay connected, to play on when the media comes back.
    PublisherSilent { stream: String },
    /// Media from the publisher arrives again after [`RelayEvent::PublisherSilent`].
    PublisherResumed { stream: String },
}

/// A stream as the relay sees it right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamState {
    /// A publisher is connected.
    pub live: bool,
    /// Connected viewers.
    pub viewers: usize,
    /// The publisher is connected but silent (see [`RelayEvent::PublisherSilent`]).
    pub silent: bool,
}

/// Counters, for `/metrics`, the benchmark and the leak test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub sessions: usize,
    pub streams: usize,
    pub routes: usize,
    pub timers: usize,
    pub publishes: u64,
    pub plays: u64,
    pub datagrams_in: u64,
    /// Media packets taken from publishers.
    pub rtp_in: u64,
    /// Of those, packets a publisher lost on the way and sent again when the relay asked (NACK).
    pub repaired: u64,
    /// RTP packets written to viewers' connections.
    pub forwarded: u64,
    /// Times a viewer was sent what was held for it: one per viewer per frame when frames come
    /// whole.
    pub flushes: u64,
    pub bytes_out: u64,
    /// Packets sent to viewers again because they asked (NACK).
    pub retransmitted: u64,
    /// RTCP sender reports sent to viewers.
    pub sender_reports: u64,
    pub keyframe_requests: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    pub send_errors: u64,
    pub unroutable: u64,
}

/// Why the relay refused a request. The HTTP layer maps each to a status and an error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error("the SDP offer is not usable: {0}")]
    BadSdp(String),
    #[error("the offer has no audio or video the relay can take")]
    NoMedia,
    #[error("the offer has no codec the stream is sent in")]
    CodecUnsupported,
    #[error("the stream is not live")]
    NotLive,
    #[error("the relay has no room for another session")]
    Full,
    #[error("no such session")]
    UnknownSession,
    #[error("the trickle fragment is not usable: {0}")]
    BadFragment(String),
    #[error("If-Match is required")]
    PreconditionRequired,
    #[error("the entity tag does not match the session's")]
    EtagMismatch,
    #[error("ICE restarts are not supported: start a new session")]
    IceRestartUnsupported,
    #[error("the relay is not running")]
    Stopped,
    #[error("the media stack failed: {0}")]
    Internal(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_round_trip_and_refuse_anything_else() {
        let id = SessionId::random();
        assert_eq!(id.to_string().parse::<SessionId>().unwrap(), id);
        assert_eq!(id.to_string().len(), 32);
        for bad in ["", "zz", &"A".repeat(32), &"0".repeat(31), &"0".repeat(33), "../../etc/passwd"] {
            assert_eq!(bad.parse::<SessionId>(), Err(RelayError::UnknownSession), "{bad}");
        }
    }
}
