//! The relay's own media transport, in place of str0m's media path for both legs: ICE-lite answers,
//! the DTLS handshake through str0m's provider, and SRTP and SRTCP over the keys DTLS exports.
//!
//! - [`conn`]: one connection's secure pipe (ICE-lite, DTLS, SRTP), sans-IO.
//! - [`outbound`]: a send stream towards a viewer (rewriting, retransmission, sender reports).
//! - [`inbound`]: a camera's media as received (RTX unwrapped, NACKs, receiver reports), and
//!   [`twcc`]: the transport-wide congestion feedback its rate control needs.
//! - [`rtcp`]: the feedback the relay reads and the reports it writes.
//! - [`srtp`]: sealing and opening packets; [`rtp`]: reading RTP headers in place.
//!
//! Why: the fan-out benchmark's target (≤ 8 µs per forwarded packet) is out of reach with
//! str0m's per-packet send path and per-connection passes (ARCHITECTURE.md has the figures). The
//! cryptographic primitives stay str0m's provider's (aws-lc-rs); what lives here is the framing
//! around them, kept small and tested against webrtc-rs's implementation.

pub mod conn;
pub mod inbound;
pub mod outbound;
pub mod rtcp;
pub mod rtp;
pub mod srtp;
pub mod twcc;
