//! Building the relay's peer connections: which codecs each side may use and the ICE-lite
//! settings that let every connection share one socket.
//!
//! str0m, a sans-IO WebRTC stack, negotiates every session's SDP. The connection then moves to
//! the relay's own transport once the answer is written ([`publisher_transport`],
//! [`viewer_transport`]), because the fan-out benchmark demanded it (str0m's per-packet receive
//! and send paths and per-connection passes; see ARCHITECTURE.md). str0m had itself replaced the
//! webrtc-rs `rtc` crate for the same reason. Everything of str0m that the rest of the crate
//! touches is named here, in `sfu.rs` or in `transport/`; nothing of it leaves the crate, so the
//! library can be swapped again behind [`crate::Relay`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::config::{CryptoProvider, DtlsCert, Fingerprint};
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, Mid, Pt};
use str0m::rtp::{Extension, ExtensionMap};
use str0m::{Candidate, Rtc};

use crate::RelayError;
use crate::transport::{self, conn};
use crate::transport::inbound::{InboundParams, Payload};
use crate::transport::outbound::StreamParams;

/// Payload types the relay registers; answers use whatever the offer numbered the codec.
const VIDEO_PT: u8 = 96;
const VIDEO_RTX_PT: u8 = 97;

/// The video codec a stream is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// H.264 with packetization mode 1 and this `profile-level-id`.
    H264 { profile_level_id: u32 },
    Vp8,
}

/// The one video codec a publisher will send, chosen from its offer: H.264 constrained baseline
/// first (then baseline), so that every phone decodes the stream without the relay transcoding
/// anything; VP8 from a publisher that offers no H.264.
///
/// Offering the stack exactly this codec is what makes the choice stick: an answer follows the
/// offer's order, and a browser offers VP8 first.
pub fn choose_video_codec(offer: &str) -> Option<VideoCodec> {
    let mut rtpmaps: Vec<(&str, &str)> = Vec::new();
    let mut fmtps: Vec<(&str, &str)> = Vec::new();
    for line in offer.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("a=rtpmap:") {
            if let Some((pt, codec)) = rest.split_once(' ') {
                rtpmaps.push((pt, codec));
            }
        } else if let Some(rest) = line.strip_prefix("a=fmtp:")
            && let Some((pt, params)) = rest.split_once(' ')
        {
            fmtps.push((pt, params));
        }
    }
    let fmtp = |pt: &str| fmtps.iter().find(|(p, _)| *p == pt).map_or("", |(_, f)| f);
    let h264 = |profile: &str| {
        rtpmaps.iter().filter(|(_, codec)| codec.eq_ignore_ascii_case("H264/90000")).find_map(|(pt, _)| {
            let params = fmtp(pt);
            let mode_1 = params.split(';').any(|kv| kv.trim().eq_ignore_ascii_case("packetization-mode=1"));
            let id = params.split(';').find_map(|kv| kv.trim().strip_prefix("profile-level-id"))?.strip_prefix('=')?;
            let matches = id.len() == 6 && id[..4].eq_ignore_ascii_case(profile);
            (mode_1 && matches).then(|| u32::from_str_radix(id, 16).ok()).flatten()
        })
    };
    if let Some(profile_level_id) = h264("42e0").or_else(|| h264("4200")) {
        return Some(VideoCodec::H264 { profile_level_id });
    }
    rtpmaps.iter().any(|(_, codec)| codec.eq_ignore_ascii_case("VP8/90000")).then_some(VideoCodec::Vp8)
}

/// The codecs of a live stream, as negotiated with its publisher; viewers get exactly these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCodecs {
    pub video: Option<VideoCodec>,
    /// Opus, the only audio codec.
    pub audio: bool,
}

impl StreamCodecs {
    /// What a viewer's connection negotiates: the stream's codecs, and for a kind the stream does
    /// not carry (a camera without a microphone) a stand-in that never sends. Answering every
    /// section the viewer offered keeps rejected sections out of the answer, which some stacks
    /// (aiortc) cannot take.
    pub fn for_viewers(self) -> StreamCodecs {
        StreamCodecs { video: Some(self.video.unwrap_or(VideoCodec::Vp8)), audio: true }
    }
}

/// What every connection of one relay shares: the crypto provider and one DTLS certificate, so
/// that a new session does not pay for a key generation.
pub struct Shared {
    pub crypto: Arc<CryptoProvider>,
    pub cert: DtlsCert,
}

impl Shared {
    pub fn new() -> Result<Shared, RelayError> {
        let crypto = str0m::crypto::from_feature_flags();
        let cert = crypto.dtls_provider.generate_certificate().ok_or_else(|| RelayError::Internal("no DTLS certificate".into()))?;
        Ok(Shared { crypto: Arc::new(crypto), cert })
    }
}

/// One media section of a negotiated connection.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    pub mid: Mid,
    pub kind: MediaKind,
    /// The payload type the section's codec was given, if the section took a codec at all.
    pub pt: Option<Pt>,
}

/// A negotiated connection, not yet connected.
pub struct Negotiated {
    pub rtc: Rtc,
    pub answer: String,
    pub ufrag: String,
    pub sections: Vec<Section>,
}

/// Which end of the relay a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// The relay receives the camera.
    Publisher,
    /// The relay sends to a viewer.
    Viewer,
}

impl Leg {
    /// The RTP header extensions the leg negotiates. The camera's leg keeps transport-wide
    /// sequence numbers and absolute send time, which the phone's congestion control needs to
    /// adapt to a weak uplink, and drops video orientation so that the phone rotates its frames
    /// itself (the relay forwards payloads and would lose the rotation). A viewer's leg carries
    /// only the MID: the relay runs no congestion control towards viewers, and every extension
    /// is work on every packet for every viewer, and feedback from every viewer.
    fn extensions(self) -> ExtensionMap {
        let mut map = ExtensionMap::empty();
        map.set(4, Extension::RtpMid);
        if self == Leg::Publisher {
            map.set(1, Extension::AudioLevel);
            map.set(2, Extension::AbsoluteSendTime);
            map.set(3, Extension::TransportSequenceNumber);
        }
        map
    }
}

/// Negotiates an offer with a connection for `leg` that can use `codecs`, on the relay's one
/// host candidate.
pub fn answer(now: Instant, shared: &Shared, local: SocketAddr, leg: Leg, offer: &str, codecs: StreamCodecs) -> Result<Negotiated, RelayError> {
    let parsed = SdpOffer::from_sdp_string(offer).map_err(|e| RelayError::BadSdp(e.to_string()))?;
    let mut config = Rtc::builder()
        // ICE-lite: the relay only answers checks, on one host candidate, which is what lets one
        // socket serve every connection (the request's ufrag says which one it is for).
        .set_ice_lite(true)
        // RTP mode: packets are forwarded as they arrive, never reassembled into frames.
        .set_rtp_mode(true)
        .set_crypto_provider(shared.crypto.clone())
        .set_dtls_cert(shared.cert.clone())
        .set_extension_map(leg.extensions())
        .clear_codecs();
    let registry = config.codec_config();
    match codecs.video {
        Some(VideoCodec::H264 { profile_level_id }) => registry.add_h264(VIDEO_PT.into(), Some(VIDEO_RTX_PT.into()), true, profile_level_id),
        Some(VideoCodec::Vp8) => {
            registry.add_config(VIDEO_PT.into(), Some(VIDEO_RTX_PT.into()), Codec::Vp8, Frequency::NINETY_KHZ, None, FormatParams::default())
        }
        None => {}
    }
    if codecs.audio {
        registry.enable_opus(true, false);
    }
    let mut rtc = config.build(now);
    let candidate = Candidate::host(local, "udp").map_err(|e| RelayError::Internal(e.to_string()))?;
    rtc.add_local_candidate(candidate);
    let answer = rtc.sdp_api().accept_offer(parsed).map_err(|e| RelayError::BadSdp(e.to_string()))?;
    let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
    let sections = offered_mids(offer)
        .filter_map(|mid| {
            let media = rtc.media(mid)?;
            let usable = media.direction() != Direction::Inactive && !media.disabled();
            Some(Section { mid, kind: media.kind(), pt: media.remote_pts().first().copied().filter(|_| usable) })
        })
        .collect();
    Ok(Negotiated { rtc, answer: answer.to_sdp_string(), ufrag, sections })
}

/// A camera's connection on the relay's own transport: what the negotiation settled.
pub struct PublisherTransport {
    pub params: conn::Params,
    pub inbound: InboundParams,
}

/// Moves a negotiated publisher connection onto the relay's own transport: which payload types
/// carry what and the transport-wide sequence number extension, from the answer str0m wrote.
pub fn publisher_transport(negotiated: &mut Negotiated, offer: &str) -> Result<PublisherTransport, RelayError> {
    let params = conn_params(negotiated, offer)?;
    let answer = &negotiated.answer;
    let mut payload_types = Vec::new();
    let mut kind = None;
    for line in answer.lines().map(str::trim_end) {
        if let Some(media) = line.strip_prefix("m=") {
            kind = match media.split(' ').next() {
                Some("audio") => Some(MediaKind::Audio),
                Some("video") => Some(MediaKind::Video),
                _ => None,
            };
        } else if let (Some(kind), Some(rtpmap)) = (kind, line.strip_prefix("a=rtpmap:"))
            && let Some((pt, codec)) = rtpmap.split_once(' ')
            && let Ok(number) = pt.parse::<u8>()
        {
            let payload = if codec.to_ascii_lowercase().starts_with("rtx/") {
                rtx_pairs(answer).find(|(rtx, _)| *rtx == number).map(|(_, apt)| Payload::Rtx { apt })
            } else {
                Some(Payload::Media(kind))
            };
            payload_types.extend(payload.map(|payload| (number, payload)));
        }
    }
    let twcc = extension_id(answer, "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01");
    Ok(PublisherTransport { params, inbound: InboundParams { payload_types, twcc } })
}

/// A viewer's connection on the relay's own transport: what the negotiation settled.
pub struct ViewerTransport {
    pub params: conn::Params,
    /// Each section the viewer takes media on: its kind and its send stream.
    pub streams: Vec<(MediaKind, StreamParams)>,
}

/// Moves a negotiated viewer connection onto the relay's own transport: str0m chose the codecs
/// and wrote the answer (ICE credentials, SSRCs, the DTLS role); the connection itself is ours.
pub fn viewer_transport(negotiated: &mut Negotiated, offer: &str) -> Result<ViewerTransport, RelayError> {
    let params = conn_params(negotiated, offer)?;
    let answer = &negotiated.answer;
    let mid_extension = extension_id(answer, "urn:ietf:params:rtp-hdrext:sdes:mid");
    let mut streams = Vec::new();
    for section in &negotiated.sections {
        let Some(pt) = section.pt else { continue };
        let mut direct = negotiated.rtc.direct_api();
        let sender = direct.stream_tx_by_mid(section.mid, None).ok_or_else(|| RelayError::Internal(format!("no send stream for mid {}", section.mid)))?;
        let (ssrc, rtx_ssrc) = (*sender.ssrc(), sender.rtx().map(|ssrc| *ssrc));
        let payload_type = *pt;
        let rtx = rtx_pairs(answer).find(|(_, apt)| *apt == payload_type).map(|(rtx, _)| rtx).zip(rtx_ssrc);
        let clock_rate = transport::rtp::clock_rate(section.kind);
        let mid = mid_extension.map(|id| (id, section.mid.to_string()));
        streams.push((section.kind, StreamParams { ssrc, payload_type, rtx, mid, clock_rate }));
    }
    Ok(ViewerTransport { params, streams })
}

/// What either leg's connection needs from the negotiation: our ICE credentials, the peer's
/// certificate fingerprint (from the offer) and the DTLS role the answer took.
fn conn_params(negotiated: &mut Negotiated, offer: &str) -> Result<conn::Params, RelayError> {
    let remote_fingerprint = sdp_attributes(offer, "fingerprint")
        .find_map(|value| value.parse::<Fingerprint>().ok())
        .ok_or_else(|| RelayError::BadSdp("the offer has no usable a=fingerprint".into()))?;
    let dtls_client = match sdp_attributes(&negotiated.answer, "setup").next() {
        Some("active") => true,
        Some("passive") => false,
        other => return Err(RelayError::Internal(format!("the answer's DTLS role is {other:?}"))),
    };
    let credentials = negotiated.rtc.direct_api().local_ice_credentials();
    Ok(conn::Params { ufrag: credentials.ufrag, pwd: credentials.pass, remote_fingerprint, dtls_client })
}

/// The id an SDP gave the RTP header extension `uri` (`a=extmap:<id>[/<direction>] <uri>`).
fn extension_id(sdp: &str, uri: &str) -> Option<u8> {
    sdp_attributes(sdp, "extmap").find_map(|value| {
        let (id, named) = value.split_once(' ')?;
        (named.trim() == uri).then(|| id.split('/').next()?.parse().ok()).flatten()
    })
}

/// The retransmission payload types of an SDP and the payload type each repeats
/// (`a=fmtp:<rtx> apt=<pt>`).
fn rtx_pairs(sdp: &str) -> impl Iterator<Item = (u8, u8)> + '_ {
    sdp_attributes(sdp, "fmtp").filter_map(|value| {
        let (rtx, params) = value.split_once(' ')?;
        Some((rtx.parse().ok()?, params.trim().strip_prefix("apt=")?.parse().ok()?))
    })
}

/// The values of `a=<name>:` lines, session-level and media-level alike, in order.
fn sdp_attributes<'a>(sdp: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    sdp.lines().filter_map(move |line| line.trim_end().strip_prefix("a=")?.strip_prefix(name)?.strip_prefix(':'))
}

fn offered_mids(offer: &str) -> impl Iterator<Item = Mid> + '_ {
    offer.lines().filter_map(|line| line.trim_end().strip_prefix("a=mid:")).map(Mid::from)
}

/// Random `[A-Za-z0-9]` text from the operating system's generator.
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).expect("the operating system has no random source");
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

pub fn random_u16() -> u16 {
    let mut bytes = [0u8; 2];
    getrandom::fill(&mut bytes).expect("the operating system has no random source");
    u16::from_le_bytes(bytes)
}

pub fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the operating system has no random source");
    u32::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(lines: &[&str]) -> String {
        lines.iter().map(|l| format!("{l}\r\n")).collect()
    }

    #[test]
    fn extension_ids_and_rtx_payload_types_are_read_from_the_answer() {
        let answer = offer(&[
            "m=video 9 UDP/TLS/RTP/SAVPF 102 103",
            "a=extmap:3/sendrecv http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
            "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
            "a=fmtp:102 packetization-mode=1;profile-level-id=42e01f",
            "a=fmtp:103 apt=102",
        ]);
        assert_eq!(extension_id(&answer, "urn:ietf:params:rtp-hdrext:sdes:mid"), Some(4));
        assert_eq!(extension_id(&answer, "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"), Some(3));
        assert_eq!(extension_id(&answer, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"), None);
        assert_eq!(rtx_pairs(&answer).collect::<Vec<_>>(), vec![(103, 102)]);
    }

    #[test]
    fn h264_constrained_baseline_wins_then_baseline_then_vp8() {
        let all = offer(&[
            "a=rtpmap:96 VP8/90000",
            "a=rtpmap:102 H264/90000",
            "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
            "a=rtpmap:104 H264/90000",
            "a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
            "a=rtpmap:108 H264/90000",
            "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        ]);
        assert_eq!(choose_video_codec(&all), Some(VideoCodec::H264 { profile_level_id: 0x42e01f }));

        let baseline = offer(&["a=rtpmap:96 VP8/90000", "a=rtpmap:102 H264/90000", "a=fmtp:102 packetization-mode=1;profile-level-id=42001f"]);
        assert_eq!(choose_video_codec(&baseline), Some(VideoCodec::H264 { profile_level_id: 0x42001f }));

        // Single-NAL H.264 (packetization-mode 0) and High profile are not what the relay forwards.
        let vp8 = offer(&["a=rtpmap:102 H264/90000", "a=fmtp:102 packetization-mode=0;profile-level-id=42e01f", "a=rtpmap:96 VP8/90000"]);
        assert_eq!(choose_video_codec(&vp8), Some(VideoCodec::Vp8));
        assert_eq!(choose_video_codec(&offer(&["a=rtpmap:100 H264/90000", "a=fmtp:100 packetization-mode=1;profile-level-id=640c1f"])), None);
        assert_eq!(choose_video_codec(&offer(&["a=rtpmap:111 opus/48000/2"])), None);
    }
}
