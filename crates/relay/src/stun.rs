//! Just enough STUN to route a datagram from an address the relay has not seen yet.
//!
//! Every peer connection shares one UDP socket, so the first packet from a new address must say
//! which connection it is for. ICE guarantees that packet is a STUN binding request whose
//! `USERNAME` is `<our ufrag>:<their ufrag>`; the ufrag names the session. Whether the request is
//! genuine (its `MESSAGE-INTEGRITY`) is checked by the ICE agent the datagram is then handed to.

/// The STUN magic cookie (RFC 5389 §6).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const HEADER_LEN: usize = 20;
const BINDING_REQUEST: u16 = 0x0001;
const ATTR_USERNAME: u16 = 0x0006;

/// Whether the datagram looks like STUN at all (RFC 7983 demultiplexing: first byte 0..=3).
pub fn is_stun(data: &[u8]) -> bool {
    data.len() >= HEADER_LEN && data[0] < 4 && data[4..8] == MAGIC_COOKIE
}

/// The local ufrag a binding request is addressed to, if `data` is one.
pub fn local_ufrag(data: &[u8]) -> Option<&str> {
    if !is_stun(data) || u16::from_be_bytes([data[0], data[1]]) != BINDING_REQUEST {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([data[2], data[3]]));
    let body = data.get(HEADER_LEN..HEADER_LEN + length)?;
    let mut rest = body;
    while rest.len() >= 4 {
        let kind = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let value = rest.get(4..4 + len)?;
        if kind == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split_once(':').map(|(ours, _)| ours);
        }
        // Attributes are padded to four bytes.
        let padded = 4 + len.div_ceil(4) * 4;
        rest = rest.get(padded..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(attributes: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, value) in attributes {
            body.extend_from_slice(&kind.to_be_bytes());
            body.extend_from_slice(&(value.len() as u16).to_be_bytes());
            body.extend_from_slice(value);
            body.resize(body.len().div_ceil(4) * 4, 0);
        }
        let mut packet = Vec::new();
        packet.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
        packet.extend_from_slice(&(body.len() as u16).to_be_bytes());
        packet.extend_from_slice(&MAGIC_COOKIE);
        packet.extend_from_slice(&[7; 12]);
        packet.extend_from_slice(&body);
        packet
    }

    #[test]
    fn finds_the_local_ufrag_after_other_attributes() {
        let packet = binding_request(&[(0x8022, b"agent"), (ATTR_USERNAME, b"relayufrag:peer")]);
        assert_eq!(local_ufrag(&packet), Some("relayufrag"));
    }

    #[test]
    fn refuses_what_is_not_a_well_formed_binding_request() {
        assert_eq!(local_ufrag(b"\x80\x60 an RTP packet, not STUN at all"), None);
        let mut truncated = binding_request(&[(ATTR_USERNAME, b"relayufrag:peer")]);
        truncated.truncate(26);
        assert_eq!(local_ufrag(&truncated), None);
        assert_eq!(local_ufrag(&binding_request(&[(ATTR_USERNAME, b"no-colon")])), None);
        assert_eq!(local_ufrag(&binding_request(&[(0x8022, b"agent")])), None);
        let mut response = binding_request(&[(ATTR_USERNAME, b"relayufrag:peer")]);
        response[0] = 0x01; // 0x0101, a success response
        assert_eq!(local_ufrag(&response), None);
    }
}
