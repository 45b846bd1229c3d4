//! Secrets and short codes: device tokens, pairing codes, order-link codes, buyers' status links.
//!
//! Device tokens are 256 random bits, shown once and stored only as a SHA-256 hash. A buyer's status
//! token is an HMAC of the order id under the server's key: as unguessable as a random token, and a
//! retried order (same Idempotency-Key) gets the same link back without the server keeping the token.

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::ids::OrderId;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Digits only: typed with one thumb on any phone keypad.
pub const PAIRING_CODE_DIGITS: usize = 8;
/// Letters and digits that cannot be mistaken for each other (no 0/o, 1/l/i).
const LINK_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
pub const LINK_CODE_LEN: usize = 7;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes
}

/// A new device token: 256 random bits, URL-safe base64 (43 characters).
pub fn device_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// The hex SHA-256 of a secret, which is what the database keeps.
pub fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// A uniformly random choice of `alphabet` characters.
fn random_code(alphabet: &[u8], len: usize) -> String {
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - 256 % alphabet.len();
    let mut code = String::with_capacity(len);
    while code.len() < len {
        for byte in random_bytes::<16>() {
            if usize::from(byte) < limit && code.len() < len {
                code.push(char::from(alphabet[usize::from(byte) % alphabet.len()]));
            }
        }
    }
    code
}

pub fn pairing_code() -> String {
    random_code(b"0123456789", PAIRING_CODE_DIGITS)
}

/// Accepts what a person types for a pairing code ("4821 0937", "4821-0937") as its digits.
pub fn normalize_pairing_code(typed: &str) -> Option<String> {
    let digits: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (digits.len() == PAIRING_CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

pub fn link_code() -> String {
    random_code(LINK_ALPHABET, LINK_CODE_LEN)
}

pub fn is_link_code(text: &str) -> bool {
    text.len() == LINK_CODE_LEN && text.bytes().all(|b| LINK_ALPHABET.contains(&b))
}

/// The server's own secret for status links, kept in the data directory.
#[derive(Clone)]
pub struct ServerKey([u8; 32]);

impl ServerKey {
    /// Reads `server.key` from `data_dir`, creating it (readable by the owner only) the first time.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<ServerKey> {
        let path = data_dir.join("server.key");
        match std::fs::read(&path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes.try_into().map_err(|_| anyhow::anyhow!("{} is not 32 bytes", path.display()))?;
                Ok(ServerKey(key))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = random_bytes::<32>();
                write_private(&path, &key).with_context(|| format!("writing {}", path.display()))?;
                Ok(ServerKey(key))
            }
            Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The buyer's status-link token for `order_id`.
    pub fn status_token(&self, order_id: OrderId) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"order-status:");
        mac.update(order_id.0.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    #[cfg(test)]
    pub fn fixed(byte: u8) -> ServerKey {
        ServerKey([byte; 32])
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hash_stably() {
        let (a, b) = (device_token(), device_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(hash(&a), hash(&a));
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn codes_use_their_alphabets() {
        for _ in 0..100 {
            let code = pairing_code();
            assert_eq!(normalize_pairing_code(&code), Some(code.clone()));
            assert!(is_link_code(&link_code()));
        }
        assert_eq!(normalize_pairing_code("4821 0937"), Some("48210937".into()));
        assert_eq!(normalize_pairing_code("4821-093"), None);
        assert_eq!(normalize_pairing_code("4821093x"), None);
        assert!(!is_link_code("abc"));
        assert!(!is_link_code("abcdef0"));
    }

    #[test]
    fn status_tokens_depend_on_key_and_order() {
        let order = OrderId(uuid::Uuid::from_u128(1));
        let other = OrderId(uuid::Uuid::from_u128(2));
        let key = ServerKey::fixed(7);
        assert_eq!(key.status_token(order), key.status_token(order));
        assert_ne!(key.status_token(order), key.status_token(other));
        assert_ne!(key.status_token(order), ServerKey::fixed(8).status_token(order));
    }

    #[test]
    fn the_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServerKey::load_or_create(dir.path()).unwrap();
        let again = ServerKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.0, again.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("server.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
