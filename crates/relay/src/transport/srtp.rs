//! SRTP and SRTCP (RFC 3711, RFC 7714) for the relay's own media path: the session keys derived
//! from what DTLS exported, and the sealing and opening of single packets.
//!
//! The ciphers are str0m's crypto provider's (aws-lc-rs), the same primitives the str0m
//! connections use, so this module is only the framing around them: which bytes are
//! authenticated, where the tag and the SRTCP index go, and the rollover counter a receiver keeps
//! per SSRC. Three profiles, the ones the DTLS layer offers: AEAD_AES_256_GCM, AEAD_AES_128_GCM
//! and AES128_CM_HMAC_SHA1_80.

use str0m::crypto::{AeadAes128Gcm, AeadAes128GcmCipher, AeadAes256Gcm, AeadAes256GcmCipher};
use str0m::crypto::{Aes128CmSha1_80, Aes128CmSha1_80Cipher, CryptoProvider};

/// The RTP fixed header; SRTCP leaves the first 8 bytes of an RTCP packet (header and sender
/// SSRC) in the clear.
const RTP_FIXED_HEADER: usize = 12;
const RTCP_CLEAR: usize = 8;
/// The SRTCP trailer: the E (encrypted) flag and the 31-bit SRTCP index.
const SRTCP_INDEX_LEN: usize = 4;
const E_FLAG: u32 = 0x8000_0000;
/// Replay windows (RFC 3711 §3.3.2): packets this far behind the newest are still accepted once.
const REPLAY_WINDOW: u64 = 64;

/// An SRTP protection profile negotiated by DTLS (RFC 5764, RFC 7714).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Aes128CmSha1_80,
    AeadAes128Gcm,
    AeadAes256Gcm,
}

impl Profile {
    fn key_len(self) -> usize {
        match self {
            Profile::Aes128CmSha1_80 | Profile::AeadAes128Gcm => 16,
            Profile::AeadAes256Gcm => 32,
        }
    }

    fn salt_len(self) -> usize {
        match self {
            Profile::Aes128CmSha1_80 => 14,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 12,
        }
    }

    /// What sealing adds to an RTP packet: the GCM tag or the truncated HMAC.
    pub fn rtp_overhead(self) -> usize {
        match self {
            Profile::Aes128CmSha1_80 => Aes128CmSha1_80::HMAC_TAG_LEN,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => AeadAes128Gcm::TAG_LEN,
        }
    }

    /// The length of the DTLS keying material this profile needs: both sides' keys and salts.
    pub fn keying_material_len(self) -> usize {
        2 * (self.key_len() + self.salt_len())
    }
}

impl Profile {
    /// The profile DTLS negotiated, if it is one this module implements.
    pub fn from_dtls(profile: str0m::crypto::dtls::SrtpProfile) -> Option<Profile> {
        use str0m::crypto::dtls::SrtpProfile as P;
        match profile {
            P::AES128_CM_SHA1_80 => Some(Profile::Aes128CmSha1_80),
            P::AEAD_AES_128_GCM => Some(Profile::AeadAes128Gcm),
            P::AEAD_AES_256_GCM => Some(Profile::AeadAes256Gcm),
            _ => None,
        }
    }
}

/// Why a packet was not sealed or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    #[error("the packet is too short for its headers")]
    Truncated,
    #[error("the packet does not authenticate")]
    Unauthentic,
    #[error("the packet was already received")]
    Replayed,
    #[error("the keying material does not fit the profile")]
    BadKeyingMaterial,
}

/// One direction of an SRTP session: the keys of one sender, for its RTP and its RTCP.
pub struct Srtp {
    rtp: Keys,
    rtcp: Keys,
    /// The next SRTCP index when sealing.
    rtcp_index: u32,
    /// The SRTCP indexes already opened, when opening.
    rtcp_replay: ReplayWindow,
}

/// The session keys of one packet kind (RFC 3711 §4.3: cipher key, salt, authentication key).
struct Keys {
    salt: [u8; 14],
    cipher: Cipher,
}

enum Cipher {
    Cm { aes: Box<dyn Aes128CmSha1_80Cipher>, auth: [u8; 20], hmac: &'static dyn str0m::crypto::Sha1HmacProvider },
    Gcm128(Box<dyn AeadAes128GcmCipher>),
    Gcm256(Box<dyn AeadAes256GcmCipher>),
}

/// Key derivation labels (RFC 3711 §4.3.2).
const LABEL_RTP_KEY: u8 = 0;
const LABEL_RTP_AUTH: u8 = 1;
const LABEL_RTP_SALT: u8 = 2;
const LABEL_RTCP_KEY: u8 = 3;
const LABEL_RTCP_AUTH: u8 = 4;
const LABEL_RTCP_SALT: u8 = 5;

impl Srtp {
    /// The two directions of a DTLS-SRTP session from its exported keying material (RFC 5764
    /// §4.2: the client's key, the server's key, the client's salt, the server's salt):
    /// `(outgoing, incoming)` for the side that was the DTLS client if `client`, else the server.
    pub fn pair(crypto: &CryptoProvider, profile: Profile, material: &[u8], client: bool) -> Result<(Srtp, Srtp), SrtpError> {
        if material.len() != profile.keying_material_len() {
            return Err(SrtpError::BadKeyingMaterial);
        }
        let (key_len, salt_len) = (profile.key_len(), profile.salt_len());
        let (keys, salts) = material.split_at(2 * key_len);
        let client_side = Srtp::new(crypto, profile, &keys[..key_len], &salts[..salt_len], true);
        let server_side = Srtp::new(crypto, profile, &keys[key_len..], &salts[salt_len..], false);
        Ok(if client { (client_side, server_side) } else { (server_side, client_side) })
    }

    /// One direction from its master key and salt. `encrypt` says whether it seals (a sender's
    /// context) or opens (a receiver's).
    pub fn new(crypto: &CryptoProvider, profile: Profile, master_key: &[u8], master_salt: &[u8], encrypt: bool) -> Srtp {
        let derive = |label: u8, out: &mut [u8]| kdf(crypto, master_key, master_salt, label, out);
        let keys = |key_label: u8, auth_label: u8, salt_label: u8| {
            let mut salt = [0u8; 14];
            derive(salt_label, &mut salt[..profile.salt_len()]);
            let cipher = match profile {
                Profile::Aes128CmSha1_80 => {
                    let mut key = [0u8; 16];
                    derive(key_label, &mut key);
                    let mut auth = [0u8; 20];
                    derive(auth_label, &mut auth);
                    let aes = crypto.srtp_provider.aes_128_cm_sha1_80().create_cipher(key, encrypt);
                    Cipher::Cm { aes, auth, hmac: crypto.sha1_hmac_provider }
                }
                Profile::AeadAes128Gcm => {
                    let mut key = [0u8; 16];
                    derive(key_label, &mut key);
                    Cipher::Gcm128(crypto.srtp_provider.aead_aes_128_gcm().create_cipher(key, encrypt))
                }
                Profile::AeadAes256Gcm => {
                    let mut key = [0u8; 32];
                    derive(key_label, &mut key);
                    Cipher::Gcm256(crypto.srtp_provider.aead_aes_256_gcm().create_cipher(key, encrypt))
                }
            };
            Keys { salt, cipher }
        };
        Srtp {
            rtp: keys(LABEL_RTP_KEY, LABEL_RTP_AUTH, LABEL_RTP_SALT),
            rtcp: keys(LABEL_RTCP_KEY, LABEL_RTCP_AUTH, LABEL_RTCP_SALT),
            rtcp_index: 0,
            rtcp_replay: ReplayWindow::default(),
        }
    }

    /// Seals an RTP packet whose header (fixed part, CSRCs and extension) is `header_len` long,
    /// as packet `index` of its SSRC (the rollover counter times 2^16 plus the sequence number).
    pub fn seal_rtp(&mut self, packet: &[u8], header_len: usize, index: u64) -> Result<Vec<u8>, SrtpError> {
        let (header, payload) = packet.split_at_checked(header_len).ok_or(SrtpError::Truncated)?;
        let mut out = Vec::new();
        self.seal_rtp_into(header, payload, index, &mut out)?;
        Ok(out)
    }

    /// As [`Srtp::seal_rtp`], for the packet `header` then `payload`, into `out`. The relay
    /// seals every forwarded packet from the header it wrote for the viewer and the payload all
    /// viewers share, so the payload is not copied before it is encrypted, into the buffer of a
    /// datagram already sent. Every byte of `out` is written, so it is not cleared first: a
    /// reused buffer is within a few bytes of the new datagram's length, and zeroing the rest
    /// of it for each packet would be wasted work.
    pub fn seal_rtp_into(&mut self, header: &[u8], payload: &[u8], index: u64, out: &mut Vec<u8>) -> Result<(), SrtpError> {
        let header_len = header.len();
        if header_len < RTP_FIXED_HEADER {
            return Err(SrtpError::Truncated);
        }
        let len = header_len + payload.len();
        let ssrc = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        out.resize(len + self.rtp.tag_len(), 0);
        out[..header_len].copy_from_slice(header);
        let (roc, seq) = ((index >> 16) as u32, index as u16);
        match &mut self.rtp.cipher {
            Cipher::Cm { aes, auth, hmac } => {
                let iv = Aes128CmSha1_80::rtp_iv(self.rtp.salt, ssrc, index);
                aes.encrypt(&iv, payload, &mut out[header_len..len]).map_err(|_| SrtpError::Truncated)?;
                let sha1_hmac = |key: &[u8], parts: &[&[u8]]| hmac.sha1_hmac(key, parts);
                Aes128CmSha1_80::rtp_hmac(sha1_hmac, auth, out, index, len);
            }
            Cipher::Gcm128(aes) => {
                let iv = AeadAes128Gcm::rtp_iv(gcm_salt(&self.rtp.salt), ssrc, roc, seq);
                let (head, body) = out.split_at_mut(header_len);
                aes.encrypt(&iv, head, payload, body).map_err(|_| SrtpError::Truncated)?;
            }
            Cipher::Gcm256(aes) => {
                let iv = AeadAes256Gcm::rtp_iv(gcm_salt(&self.rtp.salt), ssrc, roc, seq);
                let (head, body) = out.split_at_mut(header_len);
                aes.encrypt(&iv, head, payload, body).map_err(|_| SrtpError::Truncated)?;
            }
        }
        Ok(())
    }

    /// Opens an SRTP packet sealed as packet `index` of its SSRC (see [`RtpReceiver`] for finding
    /// the index); the result is the plain RTP packet, header included.
    pub fn open_rtp(&mut self, packet: &[u8], header_len: usize, index: u64) -> Result<Vec<u8>, SrtpError> {
        let tag_len = self.rtp.tag_len();
        if header_len < RTP_FIXED_HEADER || packet.len() < header_len + tag_len {
            return Err(SrtpError::Truncated);
        }
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let (roc, seq) = ((index >> 16) as u32, index as u16);
        let (header, sealed) = packet.split_at(header_len);
        let mut out = vec![0u8; packet.len()];
        out[..header_len].copy_from_slice(header);
        let len = match &mut self.rtp.cipher {
            Cipher::Cm { aes, auth, hmac } => {
                let (authenticated, tag) = packet.split_at(packet.len() - tag_len);
                let sha1_hmac = |key: &[u8], parts: &[&[u8]]| hmac.sha1_hmac(key, parts);
                if !Aes128CmSha1_80::rtp_verify(sha1_hmac, auth, authenticated, index, tag) {
                    return Err(SrtpError::Unauthentic);
                }
                let iv = Aes128CmSha1_80::rtp_iv(self.rtp.salt, ssrc, index);
                let body = &authenticated[header_len..];
                aes.decrypt(&iv, body, &mut out[header_len..header_len + body.len()]).map_err(|_| SrtpError::Unauthentic)?;
                body.len()
            }
            Cipher::Gcm128(aes) => {
                let iv = AeadAes128Gcm::rtp_iv(gcm_salt(&self.rtp.salt), ssrc, roc, seq);
                aes.decrypt(&iv, &[header], sealed, &mut out[header_len..]).map_err(|_| SrtpError::Unauthentic)?
            }
            Cipher::Gcm256(aes) => {
                let iv = AeadAes256Gcm::rtp_iv(gcm_salt(&self.rtp.salt), ssrc, roc, seq);
                aes.decrypt(&iv, &[header], sealed, &mut out[header_len..]).map_err(|_| SrtpError::Unauthentic)?
            }
        };
        out.truncate(header_len + len);
        Ok(out)
    }

    /// Seals a (compound) RTCP packet under this sender's next SRTCP index.
    pub fn seal_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        if packet.len() < RTCP_CLEAR {
            return Err(SrtpError::Truncated);
        }
        let index = self.rtcp_index;
        self.rtcp_index = (index + 1) & !E_FLAG;
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let trailer = (E_FLAG | index).to_be_bytes();
        let (clear, body) = packet.split_at(RTCP_CLEAR);
        let mut out = vec![0u8; packet.len() + self.rtcp.tag_len() + SRTCP_INDEX_LEN];
        out[..RTCP_CLEAR].copy_from_slice(clear);
        match &mut self.rtcp.cipher {
            Cipher::Cm { aes, auth, hmac } => {
                // RFC 3711 §3.4: the encrypted part, then the index, then the tag over both.
                let iv = Aes128CmSha1_80::rtp_iv(self.rtcp.salt, ssrc, u64::from(index));
                aes.encrypt(&iv, body, &mut out[RTCP_CLEAR..packet.len()]).map_err(|_| SrtpError::Truncated)?;
                out[packet.len()..packet.len() + SRTCP_INDEX_LEN].copy_from_slice(&trailer);
                let sha1_hmac = |key: &[u8], parts: &[&[u8]]| hmac.sha1_hmac(key, parts);
                Aes128CmSha1_80::rtcp_hmac(sha1_hmac, auth, &mut out, packet.len() + SRTCP_INDEX_LEN);
            }
            cipher => {
                // RFC 7714 §9: the tag follows the ciphertext, the index comes last, and the
                // index is authenticated with the clear header.
                let aad = [clear, &trailer[..]].concat();
                let iv = AeadAes128Gcm::rtcp_iv(gcm_salt(&self.rtcp.salt), ssrc, index);
                let sealed = &mut out[RTCP_CLEAR..packet.len() + AeadAes128Gcm::TAG_LEN];
                match cipher {
                    Cipher::Gcm128(aes) => aes.encrypt(&iv, &aad, body, sealed),
                    Cipher::Gcm256(aes) => aes.encrypt(&iv, &aad, body, sealed),
                    Cipher::Cm { .. } => unreachable!("handled above"),
                }
                .map_err(|_| SrtpError::Truncated)?;
                let at = out.len() - SRTCP_INDEX_LEN;
                out[at..].copy_from_slice(&trailer);
            }
        }
        Ok(out)
    }

    /// Opens an SRTCP packet. An index seen before is refused.
    pub fn open_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let tag_len = self.rtcp.tag_len();
        if packet.len() < RTCP_CLEAR + SRTCP_INDEX_LEN + tag_len {
            return Err(SrtpError::Truncated);
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let clear = &packet[..RTCP_CLEAR];
        let (index_at, body_end) = match self.rtcp.cipher {
            Cipher::Cm { .. } => (packet.len() - tag_len - SRTCP_INDEX_LEN, packet.len() - tag_len - SRTCP_INDEX_LEN),
            _ => (packet.len() - SRTCP_INDEX_LEN, packet.len() - SRTCP_INDEX_LEN - tag_len),
        };
        let trailer: [u8; 4] = packet[index_at..index_at + SRTCP_INDEX_LEN].try_into().expect("four bytes");
        let word = u32::from_be_bytes(trailer);
        let (encrypted, index) = (word & E_FLAG != 0, word & !E_FLAG);
        if !self.rtcp_replay.fresh(u64::from(index)) {
            return Err(SrtpError::Replayed);
        }
        let mut out = vec![0u8; body_end];
        out[..RTCP_CLEAR].copy_from_slice(clear);
        match &mut self.rtcp.cipher {
            Cipher::Cm { aes, auth, hmac } => {
                let (authenticated, tag) = packet.split_at(packet.len() - tag_len);
                let sha1_hmac = |key: &[u8], parts: &[&[u8]]| hmac.sha1_hmac(key, parts);
                if !Aes128CmSha1_80::rtcp_verify(sha1_hmac, auth, authenticated, tag) {
                    return Err(SrtpError::Unauthentic);
                }
                let body = &packet[RTCP_CLEAR..body_end];
                if encrypted {
                    let iv = Aes128CmSha1_80::rtp_iv(self.rtcp.salt, ssrc, u64::from(index));
                    aes.decrypt(&iv, body, &mut out[RTCP_CLEAR..]).map_err(|_| SrtpError::Unauthentic)?;
                } else {
                    out[RTCP_CLEAR..].copy_from_slice(body);
                }
            }
            cipher => {
                if !encrypted {
                    // Unencrypted SRTCP under GCM authenticates everything as AAD; no browser
                    // sends it, and the relay does not accept it.
                    return Err(SrtpError::Unauthentic);
                }
                let iv = AeadAes128Gcm::rtcp_iv(gcm_salt(&self.rtcp.salt), ssrc, index);
                let sealed = &packet[RTCP_CLEAR..index_at];
                let aads: [&[u8]; 2] = [clear, &trailer];
                let len = match cipher {
                    Cipher::Gcm128(aes) => aes.decrypt(&iv, &aads, sealed, &mut out[RTCP_CLEAR..]),
                    Cipher::Gcm256(aes) => aes.decrypt(&iv, &aads, sealed, &mut out[RTCP_CLEAR..]),
                    Cipher::Cm { .. } => unreachable!("handled above"),
                }
                .map_err(|_| SrtpError::Unauthentic)?;
                out.truncate(RTCP_CLEAR + len);
            }
        }
        self.rtcp_replay.accept(u64::from(index));
        Ok(out)
    }
}

impl Keys {
    fn tag_len(&self) -> usize {
        match self.cipher {
            Cipher::Cm { .. } => Aes128CmSha1_80::HMAC_TAG_LEN,
            Cipher::Gcm128(_) | Cipher::Gcm256(_) => AeadAes128Gcm::TAG_LEN,
        }
    }
}

fn gcm_salt(salt: &[u8; 14]) -> [u8; 12] {
    salt[..12].try_into().expect("twelve bytes")
}

/// The AES-CM key derivation function (RFC 3711 §4.3.1 with a key derivation rate of 0; RFC
/// 7714 §11 uses it unchanged, with the 96-bit salt in the leading bytes).
fn kdf(crypto: &CryptoProvider, master_key: &[u8], master_salt: &[u8], label: u8, out: &mut [u8]) {
    let mut input = [0u8; 16];
    input[..master_salt.len()].copy_from_slice(master_salt);
    input[7] ^= label;
    let mut block = [0u8; 32];
    for (counter, chunk) in out.chunks_mut(16).enumerate() {
        input[14..].copy_from_slice(&(counter as u16).to_be_bytes());
        match master_key.len() {
            16 => crypto.srtp_provider.srtp_aes_128_ecb_round(master_key, &input, &mut block),
            _ => crypto.srtp_provider.srtp_aes_256_ecb_round(master_key, &input, &mut block),
        }
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}

/// What a receiver keeps per incoming SSRC to open its packets: the rollover counter it has
/// reached (RFC 3711 §3.3.1, Appendix A) and which recent packets it has already taken.
#[derive(Debug, Default, Clone)]
pub struct RtpReceiver {
    /// The highest index opened so far.
    highest: Option<u64>,
    replay: ReplayWindow,
}

impl RtpReceiver {
    /// The index a packet with sequence number `seq` most likely has: the one closest to the
    /// highest index so far.
    pub fn index(&self, seq: u16) -> u64 {
        let Some(highest) = self.highest else { return u64::from(seq) };
        let roc = highest >> 16;
        let candidates = [roc.checked_sub(1), Some(roc), Some(roc + 1)];
        candidates.into_iter().flatten().map(|roc| (roc << 16) | u64::from(seq)).min_by_key(|index| index.abs_diff(highest)).expect("roc itself is a candidate")
    }

    /// Whether `index` has not been opened before (and is not too old to tell).
    pub fn fresh(&self, index: u64) -> bool {
        self.replay.fresh(index)
    }

    /// Records that `index` authenticated; call only then, so that forged packets move nothing.
    pub fn accept(&mut self, index: u64) {
        self.replay.accept(index);
        self.highest = Some(self.highest.map_or(index, |highest| highest.max(index)));
    }
}

/// A sliding window of the last [`REPLAY_WINDOW`] indexes.
#[derive(Debug, Default, Clone)]
struct ReplayWindow {
    newest: Option<u64>,
    /// Bit `i` is set when `newest - i` was received.
    seen: u64,
}

impl ReplayWindow {
    fn fresh(&self, index: u64) -> bool {
        match self.newest {
            None => true,
            Some(newest) if index > newest => true,
            Some(newest) => {
                let behind = newest - index;
                behind < REPLAY_WINDOW && self.seen & (1 << behind) == 0
            }
        }
    }

    fn accept(&mut self, index: u64) {
        match self.newest {
            Some(newest) if index <= newest => {
                let behind = newest - index;
                if behind < REPLAY_WINDOW {
                    self.seen |= 1 << behind;
                }
            }
            Some(newest) => {
                let ahead = index - newest;
                self.seen = if ahead >= REPLAY_WINDOW { 1 } else { (self.seen << ahead) | 1 };
                self.newest = Some(index);
            }
            None => {
                self.seen = 1;
                self.newest = Some(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let text: String = text.split_whitespace().collect();
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    fn crypto() -> CryptoProvider {
        str0m::crypto::from_feature_flags()
    }

    #[test]
    fn key_derivation_matches_rfc_3711_appendix_b3() {
        let crypto = crypto();
        let key = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
        let salt = hex("0EC675AD498AFEEBB6960B3AABE6");
        let mut cipher_key = [0u8; 16];
        kdf(&crypto, &key, &salt, LABEL_RTP_KEY, &mut cipher_key);
        assert_eq!(cipher_key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut cipher_salt = [0u8; 14];
        kdf(&crypto, &key, &salt, LABEL_RTP_SALT, &mut cipher_salt);
        assert_eq!(cipher_salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        let mut auth = [0u8; 20];
        kdf(&crypto, &key, &salt, LABEL_RTP_AUTH, &mut auth);
        assert_eq!(auth.to_vec(), hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"));
    }

    const PROFILES: [Profile; 3] = [Profile::Aes128CmSha1_80, Profile::AeadAes128Gcm, Profile::AeadAes256Gcm];

    fn material(profile: Profile) -> Vec<u8> {
        (0..profile.keying_material_len()).map(|i| (i * 7 + 3) as u8).collect()
    }

    fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut packet = vec![0x90, 96];
        packet.extend_from_slice(&seq.to_be_bytes());
        packet.extend_from_slice(&1234u32.to_be_bytes());
        packet.extend_from_slice(&ssrc.to_be_bytes());
        // The one-byte extension profile, one word: MID "0".
        packet.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x40, b'0', 0, 0]);
        packet.extend_from_slice(payload);
        packet
    }

    fn rtcp_pli(sender: u32, media: u32) -> Vec<u8> {
        let mut packet = vec![0x81, 206, 0, 2];
        packet.extend_from_slice(&sender.to_be_bytes());
        packet.extend_from_slice(&media.to_be_bytes());
        packet
    }

    /// Both ends of a session: what one side seals, the other opens, and nothing else opens it.
    #[test]
    fn each_profile_round_trips_rtp_and_rtcp_between_client_and_server() {
        let crypto = crypto();
        for profile in PROFILES {
            let (mut client_out, mut client_in) = Srtp::pair(&crypto, profile, &material(profile), true).unwrap();
            let (mut server_out, mut server_in) = Srtp::pair(&crypto, profile, &material(profile), false).unwrap();
            let packet = rtp(65535, 0xCAFE, b"a frame's worth of payload");
            let index = (3 << 16) | 65535;
            let sealed = client_out.seal_rtp(&packet, 20, index).unwrap();
            assert_eq!(sealed.len(), packet.len() + profile.rtp_overhead(), "{profile:?}");
            assert_ne!(&sealed[20..packet.len()], &packet[20..], "{profile:?}: the payload is encrypted");
            assert_eq!(server_in.open_rtp(&sealed, 20, index).unwrap(), packet, "{profile:?}");
            // The wrong rollover counter, the wrong direction's keys, a flipped bit: refused.
            assert_eq!(server_in.open_rtp(&sealed, 20, 65535), Err(SrtpError::Unauthentic), "{profile:?}");
            assert_eq!(client_in.open_rtp(&sealed, 20, index), Err(SrtpError::Unauthentic), "{profile:?}");
            let mut flipped = sealed.clone();
            flipped[4] ^= 1;
            assert_eq!(server_in.open_rtp(&flipped, 20, index), Err(SrtpError::Unauthentic), "{profile:?}");

            let pli = rtcp_pli(1, 2);
            let sealed = server_out.seal_rtcp(&pli).unwrap();
            assert_eq!(client_in.open_rtcp(&sealed).unwrap(), pli, "{profile:?}");
            assert_eq!(client_in.open_rtcp(&sealed), Err(SrtpError::Replayed), "{profile:?}");
            let second = server_out.seal_rtcp(&pli).unwrap();
            let mut forged = second.clone();
            let last = forged.len() - 5;
            forged[last] ^= 0x10;
            assert_eq!(client_in.open_rtcp(&forged), Err(SrtpError::Unauthentic), "{profile:?}");
            assert_eq!(client_in.open_rtcp(&second).unwrap(), pli, "{profile:?}: a forged copy does not burn the index");
            assert_eq!(client_in.open_rtcp(&second[..10]), Err(SrtpError::Truncated), "{profile:?}");
        }
    }

    /// A second implementation, webrtc-rs's `rtc-srtp`, opens what this module seals and the
    /// other way round, for every profile, across a sequence number wrap.
    #[test]
    fn webrtc_rs_opens_what_this_seals_and_the_other_way_round() {
        use rtc_srtp::context::Context;
        use rtc_srtp::protection_profile::ProtectionProfile;
        let crypto = crypto();
        let ring = rtc_crypto::providers::RingCrypto;
        for profile in PROFILES {
            let theirs = match profile {
                Profile::Aes128CmSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
                Profile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
                Profile::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
            };
            let (key, salt) = (vec![0x11; profile.key_len()], vec![0x22; profile.salt_len()]);
            let mut ours_out = Srtp::new(&crypto, profile, &key, &salt, true);
            let mut ours_in = Srtp::new(&crypto, profile, &key, &salt, false);
            let mut their_in = Context::new(&key, &salt, theirs, None, None, &ring).unwrap();
            let mut their_out = Context::new(&key, &salt, theirs, None, None, &ring).unwrap();
            let mut receiver = RtpReceiver::default();
            for (n, seq) in (65530u16..=65535).chain(0..5).enumerate() {
                let index = if n < 6 { u64::from(seq) } else { (1 << 16) | u64::from(seq) };
                let packet = rtp(seq, 0xBEEF, &[n as u8; 100]);
                let sealed = ours_out.seal_rtp(&packet, 20, index).unwrap();
                // The buffer of a datagram sent before, as the relay reuses them, longer or
                // shorter than this one and full of what it held.
                for used in [1500, 130, 20] {
                    let mut reused = vec![0xEE; used];
                    ours_out.seal_rtp_into(&packet[..20], &packet[20..], index, &mut reused).unwrap();
                    assert_eq!(reused, sealed, "{profile:?} seq {seq}: sealing into a used buffer of {used} bytes");
                }
                assert_eq!(their_in.decrypt_rtp(&sealed).unwrap().to_vec(), packet, "{profile:?} seq {seq}");
                let sealed = their_out.encrypt_rtp(&packet).unwrap();
                let index = receiver.index(seq);
                assert!(receiver.fresh(index));
                assert_eq!(ours_in.open_rtp(&sealed, 20, index).unwrap(), packet, "{profile:?} seq {seq}");
                receiver.accept(index);
            }
            let pli = rtcp_pli(7, 8);
            let sealed = ours_out.seal_rtcp(&pli).unwrap();
            assert_eq!(their_in.decrypt_rtcp(&sealed).unwrap().to_vec(), pli, "{profile:?}");
            let sealed = their_out.encrypt_rtcp(&pli).unwrap();
            assert_eq!(ours_in.open_rtcp(&sealed).unwrap(), pli, "{profile:?}");
        }
    }

    #[test]
    fn a_receiver_finds_the_rollover_counter_and_refuses_replays() {
        let mut receiver = RtpReceiver::default();
        assert_eq!(receiver.index(65534), 65534);
        receiver.accept(65534);
        assert_eq!(receiver.index(1), (1 << 16) | 1, "after a wrap");
        receiver.accept((1 << 16) | 1);
        assert_eq!(receiver.index(65535), 65535, "late from before the wrap");
        assert!(receiver.fresh(65535));
        assert!(!receiver.fresh(65534), "already taken");
        assert!(!receiver.fresh((1 << 16) | 1), "already taken");
        receiver.accept((1 << 16) | 200);
        assert!(!receiver.fresh((1 << 16) | 100), "older than the window");
        assert!(receiver.fresh((1 << 16) | 199));
    }

    #[test]
    fn keying_material_of_the_wrong_length_is_refused() {
        let crypto = crypto();
        assert!(matches!(Srtp::pair(&crypto, Profile::AeadAes128Gcm, &[0; 10], false), Err(SrtpError::BadKeyingMaterial)));
    }
}
