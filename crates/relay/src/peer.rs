//! Building the relay's peer connections: which codecs each side may use, which RTCP the relay
//! wants to see, and the ICE-lite settings that let every connection share one socket.
//!
//! Everything from the webrtc-rs stack that the rest of the crate touches is named here or in
//! `sfu.rs`; nothing of it leaves the crate, so the media library can be swapped behind
//! [`crate::Relay`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use rtc::interceptor::{
    Attribute, Interceptor, NackGeneratorBuilder, NackResponderBuilder, Packet, ReceiverReportBuilder, Registry, SenderReportBuilder, Slot, StreamInfo,
    TaggedPacket,
};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::configure_twcc_receiver_only;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_VP8, MediaEngine};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCDtlsRole, RTCIceCandidate, RTCIceCandidateInit};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

use crate::RelayError;

/// Payload types the relay registers; answers use whatever the offer numbered the codec.
const VIDEO_PT: u8 = 96;
const AUDIO_PT: u8 = 111;

/// The ICE credentials of one relay-side connection. The ufrag doubles as the routing key for the
/// first STUN request from a new address.
#[derive(Debug, Clone)]
pub struct IceCredentials {
    pub ufrag: String,
    pub pwd: String,
}

impl IceCredentials {
    pub fn random() -> IceCredentials {
        IceCredentials { ufrag: random_token(16), pwd: random_token(32) }
    }
}

/// Random `[A-Za-z0-9]` text from the operating system's generator.
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).expect("the operating system has no random source");
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

pub fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the operating system has no random source");
    u32::from_le_bytes(bytes)
}

/// The one video codec a publisher will send, chosen from its offer: H.264 constrained baseline
/// first (then baseline), so that every phone decodes the stream without the relay transcoding
/// anything; VP8 from a publisher that offers no H.264.
///
/// Answers keep the offer's codec order, and a browser offers VP8 first, so preferring H.264 means
/// offering the stack nothing else: the publisher's media engine gets exactly this codec, with the
/// offer's own format parameters so the match is exact.
pub fn choose_video_codec(offer: &str) -> Option<RTCRtpCodec> {
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
        rtpmaps.iter().filter(|(_, codec)| codec.eq_ignore_ascii_case("H264/90000")).map(|(pt, _)| fmtp(pt)).find(|params| {
            let has = |key: &str, value: &str| params.split(';').any(|kv| kv.trim().eq_ignore_ascii_case(&format!("{key}={value}")));
            let profile_ok = params.split(';').filter_map(|kv| kv.trim().strip_prefix("profile-level-id=")).any(|id| id.len() == 6 && id[..4].eq_ignore_ascii_case(profile));
            profile_ok && has("packetization-mode", "1")
        })
    };
    let video = |mime: &str, fmtp: &str| RTCRtpCodec {
        mime_type: mime.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: fmtp.to_owned(),
        rtcp_feedback: video_feedback(),
    };
    if let Some(params) = h264("42e0").or_else(|| h264("4200")) {
        return Some(video(MIME_TYPE_H264, params));
    }
    rtpmaps.iter().any(|(_, codec)| codec.eq_ignore_ascii_case("VP8/90000")).then(|| video(MIME_TYPE_VP8, ""))
}

fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: Vec::new(),
    }
}

fn video_feedback() -> Vec<RTCPFeedback> {
    [("nack", ""), ("nack", "pli"), ("ccm", "fir")]
        .into_iter()
        .map(|(typ, parameter)| RTCPFeedback { typ: typ.to_owned(), parameter: parameter.to_owned() })
        .collect()
}

fn rtx(payload_type: u8, apt: u8) -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_RTX.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: format!("apt={apt}"),
            rtcp_feedback: Vec::new(),
        },
        payload_type,
    }
}

/// The codecs of a live stream, as negotiated with its publisher; viewers get exactly these.
#[derive(Debug, Clone, Default)]
pub struct StreamCodecs {
    pub video: Option<RTCRtpCodec>,
    pub audio: Option<RTCRtpCodec>,
}

impl StreamCodecs {
    /// What a viewer's connection negotiates: the stream's codecs, and for a kind the stream does
    /// not carry (a camera without a microphone) a stand-in that never sends. Answering every
    /// section the viewer offered keeps rejected sections out of the answer, which some stacks
    /// (aiortc) cannot take.
    pub fn for_viewers(&self) -> StreamCodecs {
        StreamCodecs {
            video: Some(self.video.clone().unwrap_or_else(|| RTCRtpCodec {
                mime_type: MIME_TYPE_VP8.to_owned(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: video_feedback(),
            })),
            audio: Some(self.audio.clone().unwrap_or_else(opus)),
        }
    }
}

/// The media engine for a publisher: the video codec chosen from its offer, and Opus.
fn publisher_media(video: Option<RTCRtpCodec>) -> Result<MediaEngine, Error> {
    let mut media = MediaEngine::default();
    if let Some(video) = video {
        media.register_codec(RTCRtpCodecParameters { rtp_codec: video, payload_type: VIDEO_PT }, RtpCodecKind::Video)?;
        media.register_codec(rtx(VIDEO_PT + 1, VIDEO_PT), RtpCodecKind::Video)?;
    }
    media.register_codec(RTCRtpCodecParameters { rtp_codec: opus(), payload_type: AUDIO_PT }, RtpCodecKind::Audio)?;
    Ok(media)
}

/// The media engine for a viewer: only what the publisher sends, so the answer can hold nothing
/// else.
fn viewer_media(codecs: &StreamCodecs) -> Result<MediaEngine, Error> {
    let mut media = MediaEngine::default();
    if let Some(video) = &codecs.video {
        media.register_codec(RTCRtpCodecParameters { rtp_codec: video.clone(), payload_type: VIDEO_PT }, RtpCodecKind::Video)?;
        media.register_codec(rtx(VIDEO_PT + 1, VIDEO_PT), RtpCodecKind::Video)?;
    }
    if let Some(audio) = &codecs.audio {
        media.register_codec(RTCRtpCodecParameters { rtp_codec: audio.clone(), payload_type: AUDIO_PT }, RtpCodecKind::Audio)?;
    }
    Ok(media)
}

/// Which end of the relay a connection is, for its RTP/RTCP interceptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leg {
    /// The relay receives: it asks for what was lost (NACK), reports reception (RR) and gives the
    /// camera's bandwidth estimate its transport-wide feedback (TWCC).
    Publisher,
    /// The relay sends: it resends what a viewer lost (NACK responder), sends sender reports (for
    /// lip sync), and hands keyframe requests to the relay.
    Viewer,
}

/// Each leg gets only the interceptors it needs: every one is a step every packet takes, and the
/// viewer leg runs once per viewer per packet.
fn interceptors(leg: Leg, media: &mut MediaEngine) -> Result<Registry, Error> {
    match leg {
        Leg::Publisher => {
            let registry = Registry::new()
                .with(Slot::NackGenerator, NackGeneratorBuilder::new().build())
                .with(Slot::ReceiverReport, ReceiverReportBuilder::new().build());
            configure_twcc_receiver_only(registry, media)
        }
        Leg::Viewer => Ok(Registry::new()
            .with(Slot::NackResponder, NackResponderBuilder::new().build())
            .with(Slot::SenderReport, SenderReportBuilder::new().build())
            .with(Slot::from(14_000), KeyframeRequests::default())),
    }
}

/// A new relay-side peer connection, not yet negotiated.
fn build(now: Instant, ice: &IceCredentials, media: MediaEngine, leg: Leg) -> Result<RTCPeerConnection, RelayError> {
    let mut media = media;
    let registry = interceptors(leg, &mut media).map_err(internal)?;
    let settings = SettingEngineBuilder::new()
        // ICE-lite: the relay only answers checks, on one host candidate, which is what lets one
        // socket serve every connection (the request's ufrag says which one it is for).
        .with_lite(true)
        .with_ice_credentials(ice.ufrag.clone(), ice.pwd.clone())
        .with_answering_dtls_role(RTCDtlsRole::Server)
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .build();
    RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_setting_engine(settings)
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .build(now)
        .map_err(internal)
}

/// Negotiates a publisher's offer; returns the connection and the answer.
pub fn answer_publisher(now: Instant, ice: &IceCredentials, local: SocketAddr, offer: &str) -> Result<(RTCPeerConnection, String), RelayError> {
    let mut pc = build(now, ice, publisher_media(choose_video_codec(offer)).map_err(internal)?, Leg::Publisher)?;
    let answer = negotiate(&mut pc, now, local, offer)?;
    Ok((pc, answer))
}

/// Negotiates a viewer's offer with send tracks for what the stream carries.
pub fn answer_viewer(
    now: Instant,
    ice: &IceCredentials,
    local: SocketAddr,
    offer: &str,
    codecs: &StreamCodecs,
    tracks: Vec<rtc::media_stream::MediaStreamTrack>,
) -> Result<(RTCPeerConnection, String), RelayError> {
    let mut pc = build(now, ice, viewer_media(codecs).map_err(internal)?, Leg::Viewer)?;
    for track in tracks {
        pc.add_track(track).map_err(internal)?;
    }
    let answer = negotiate(&mut pc, now, local, offer)?;
    Ok((pc, answer))
}

fn negotiate(pc: &mut RTCPeerConnection, now: Instant, local: SocketAddr, offer: &str) -> Result<String, RelayError> {
    let offer = RTCSessionDescription::offer(offer.to_owned()).map_err(|e| RelayError::BadSdp(e.to_string()))?;
    pc.set_remote_description(now, offer).map_err(|e| RelayError::BadSdp(e.to_string()))?;
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: local.ip().to_string(),
            port: local.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()
    .map_err(internal)?;
    pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json().map_err(internal)?).map_err(internal)?;
    // The relay has no other candidates: say so, so the answer carries a=end-of-candidates.
    pc.add_local_candidate(RTCIceCandidateInit::default()).map_err(internal)?;
    let answer = pc.create_answer(None).map_err(|e| RelayError::BadSdp(e.to_string()))?;
    pc.set_local_description(now, answer).map_err(|e| RelayError::BadSdp(e.to_string()))?;
    pc.local_description().map(|d| d.sdp).ok_or_else(|| RelayError::Internal("no local description".into()))
}

fn internal(error: Error) -> RelayError {
    RelayError::Internal(error.to_string())
}

/// Marks inbound keyframe requests (PLI, FIR) for the application, so a viewer's request reaches
/// the relay and, through it, the publisher. Everything else passes unmarked.
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
                p.as_any().downcast_ref::<PictureLossIndication>().is_some() || p.as_any().downcast_ref::<FullIntraRequest>().is_some()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(lines: &[&str]) -> String {
        lines.iter().map(|l| format!("{l}\r\n")).collect()
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
        let chosen = choose_video_codec(&all).unwrap();
        assert_eq!(chosen.mime_type, MIME_TYPE_H264);
        assert!(chosen.sdp_fmtp_line.contains("profile-level-id=42e01f") && chosen.sdp_fmtp_line.contains("packetization-mode=1"));

        let baseline = offer(&["a=rtpmap:96 VP8/90000", "a=rtpmap:102 H264/90000", "a=fmtp:102 packetization-mode=1;profile-level-id=42001f"]);
        assert!(choose_video_codec(&baseline).unwrap().sdp_fmtp_line.contains("42001f"));

        // Single-NAL H.264 (packetization-mode 0) and High profile are not what the relay forwards.
        let vp8 = offer(&["a=rtpmap:102 H264/90000", "a=fmtp:102 packetization-mode=0;profile-level-id=42e01f", "a=rtpmap:96 VP8/90000"]);
        assert_eq!(choose_video_codec(&vp8).unwrap().mime_type, MIME_TYPE_VP8);
        assert_eq!(choose_video_codec(&offer(&["a=rtpmap:100 H264/90000", "a=fmtp:100 packetization-mode=1;profile-level-id=640c1f"])), None);
        assert_eq!(choose_video_codec(&offer(&["a=rtpmap:111 opus/48000/2"])), None);
    }
}
