//! The relay's own media transport, replacing str0m's media path piece by piece: SRTP and SRTCP
//! over the keys DTLS exports.
//!
//! Why: the fan-out benchmark's target (≤ 8 µs per forwarded packet) is out of reach with
//! str0m's per-packet send path and per-connection passes (ARCHITECTURE.md has the figures). The
//! cryptographic primitives stay str0m's provider's (aws-lc-rs); what lives here is the framing
//! around them, kept small and tested against webrtc-rs's implementation.

pub mod srtp;
