//! The cookie value codec: a session id signed (HMAC-SHA256) or sealed (AES-256-GCM) under a
//! list of rotating keys. The first key signs or seals; every key verifies or opens.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::SessionId;
use crate::error::ConfigError;
use crate::id::random_bytes;

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted master key: 256 bits.
pub const MIN_KEY_BYTES: usize = 32;
/// Longest cookie value any mode produces; longer candidates are refused unread.
pub(crate) const MAX_VALUE_LEN: usize = 128;

/// A master key. Signing and encryption keys are derived from it separately, so one key
/// serves both modes without reusing key material across algorithms.
#[derive(Clone)]
pub struct Key {
    signing: [u8; 32],
    encryption: [u8; 32],
}

impl Key {
    /// Derives a key from at least 32 bytes of secret material.
    pub fn from_bytes(master: &[u8]) -> Result<Self, ConfigError> {
        if master.len() < MIN_KEY_BYTES {
            return Err(ConfigError::KeyTooShort {
                len: master.len(),
                min: MIN_KEY_BYTES,
            });
        }
        Ok(Self::derived_from(master))
    }

    /// Decodes base64 (standard or url-safe, padding optional) key material.
    pub fn from_base64(text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .or_else(|_| STANDARD.decode(text))
            .map_err(|_| ConfigError::KeyNotBase64)?;
        Self::from_bytes(&bytes)
    }

    /// A random key, for development and tests: sessions do not survive a restart.
    pub fn generate() -> Self {
        Self::derived_from(&random_bytes::<64>())
    }

    fn derived_from(master: &[u8]) -> Self {
        Self {
            signing: derive(master, b"signing"),
            encryption: derive(master, b"encryption"),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

fn derive(master: &[u8], purpose: &[u8]) -> [u8; 32] {
    let mut mac = mac_with(master);
    mac.update(b"session-core/v1/");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}

fn mac_with(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; this branch is unreachable.
    match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

/// How the id is protected in the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CookieMode {
    /// HMAC-SHA256 tag next to the id: tamper-proof, the id is visible to the client.
    #[default]
    Signed,
    /// AES-256-GCM sealed id: tamper-proof and opaque to the client.
    Private,
}

/// Why a cookie value was refused. All of these lead to a fresh session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    /// Not the shape any mode produces (length, alphabet, separator).
    #[error("malformed session cookie")]
    Malformed,
    /// Well-formed, but no configured key produced it.
    #[error("session cookie signature or seal does not verify")]
    Forged,
}

/// A cookie value that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The session id it carries.
    pub id: SessionId,
    /// Whether it verified under an older key only, so it should be re-issued.
    pub by_older_key: bool,
}

/// Encodes and verifies cookie values for one cookie name, mode and key list.
#[derive(Clone)]
pub struct CookieCodec {
    name: String,
    mode: CookieMode,
    keys: Vec<Key>,
}

impl fmt::Debug for CookieCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieCodec")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl CookieCodec {
    /// A codec for cookie `name`; `keys[0]` signs or seals, all keys verify. The name is
    /// bound into every value, so a value cannot be replayed under another cookie name.
    pub fn new(name: &str, mode: CookieMode, keys: Vec<Key>) -> Result<Self, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        Ok(Self {
            name: name.to_owned(),
            mode,
            keys,
        })
    }

    /// The cookie value for `id` under the newest key.
    pub fn encode(&self, id: &SessionId) -> String {
        let key = &self.keys[0];
        match self.mode {
            CookieMode::Signed => {
                let text = id.expose();
                let tag = self.tag(key, &text);
                format!("{text}.{}", URL_SAFE_NO_PAD.encode(tag))
            }
            CookieMode::Private => {
                let nonce_bytes = random_bytes::<12>();
                let nonce = Nonce::from_slice(&nonce_bytes);
                let sealed = cipher(key).encrypt(
                    nonce,
                    Payload {
                        msg: id.as_bytes(),
                        aad: self.name.as_bytes(),
                    },
                );
                let Ok(sealed) = sealed else {
                    unreachable!("AES-GCM sealing of 32 bytes cannot fail")
                };
                let mut out = Vec::with_capacity(12 + sealed.len());
                out.extend_from_slice(nonce);
                out.extend_from_slice(&sealed);
                URL_SAFE_NO_PAD.encode(out)
            }
        }
    }

    /// Verifies a cookie value. Never panics, whatever the bytes.
    pub fn decode(&self, value: &str) -> Result<Verified, CookieError> {
        if value.len() > MAX_VALUE_LEN {
            return Err(CookieError::Malformed);
        }
        match self.mode {
            CookieMode::Signed => self.verify_signed(value),
            CookieMode::Private => self.open_private(value),
        }
    }

    fn tag(&self, key: &Key, id_text: &str) -> [u8; 32] {
        let mut mac = mac_with(&key.signing);
        mac.update(self.name.as_bytes());
        mac.update(b"=");
        mac.update(id_text.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn verify_signed(&self, value: &str) -> Result<Verified, CookieError> {
        let (text, tag_text) = value.split_once('.').ok_or(CookieError::Malformed)?;
        let id = SessionId::parse(text).ok_or(CookieError::Malformed)?;
        let mut tag = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(tag_text, &mut tag) {
            Ok(32) if tag_text.len() == 43 => {}
            _ => return Err(CookieError::Malformed),
        }
        for (i, key) in self.keys.iter().enumerate() {
            let mut mac = mac_with(&key.signing);
            mac.update(self.name.as_bytes());
            mac.update(b"=");
            mac.update(text.as_bytes());
            // `verify_slice` compares in constant time.
            if mac.verify_slice(&tag).is_ok() {
                return Ok(Verified {
                    id,
                    by_older_key: i > 0,
                });
            }
        }
        Err(CookieError::Forged)
    }

    fn open_private(&self, value: &str) -> Result<Verified, CookieError> {
        let mut raw = [0u8; 12 + 32 + 16];
        match URL_SAFE_NO_PAD.decode_slice(value, &mut raw) {
            Ok(60) if value.len() == 80 => {}
            _ => return Err(CookieError::Malformed),
        }
        let (nonce, sealed) = raw.split_at(12);
        for (i, key) in self.keys.iter().enumerate() {
            let opened = cipher(key).decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: self.name.as_bytes(),
                },
            );
            if let Ok(plain) = opened {
                let bytes: [u8; 32] = plain.try_into().map_err(|_| CookieError::Forged)?;
                return Ok(Verified {
                    id: SessionId::from_bytes(bytes),
                    by_older_key: i > 0,
                });
            }
        }
        Err(CookieError::Forged)
    }
}

fn cipher(key: &Key) -> Aes256Gcm {
    Aes256Gcm::new((&key.encryption).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(mode: CookieMode, keys: Vec<Key>) -> CookieCodec {
        CookieCodec::new("sid", mode, keys).expect("codec")
    }

    #[test]
    fn round_trips_in_both_modes() {
        for mode in [CookieMode::Signed, CookieMode::Private] {
            let c = codec(mode, vec![Key::generate()]);
            let id = SessionId::generate();
            let v = c.encode(&id);
            assert!(v.len() <= MAX_VALUE_LEN);
            assert_eq!(
                c.decode(&v),
                Ok(Verified {
                    id,
                    by_older_key: false
                })
            );
        }
    }

    #[test]
    fn private_mode_hides_the_id() {
        let c = codec(CookieMode::Private, vec![Key::generate()]);
        let id = SessionId::generate();
        assert!(!c.encode(&id).contains(&id.expose()));
    }

    #[test]
    fn older_keys_verify_and_ask_for_reissue() {
        for mode in [CookieMode::Signed, CookieMode::Private] {
            let (old, new) = (Key::generate(), Key::generate());
            let id = SessionId::generate();
            let v = codec(mode, vec![old.clone()]).encode(&id);
            let rotated = codec(mode, vec![new.clone(), old]);
            assert_eq!(
                rotated.decode(&v),
                Ok(Verified {
                    id,
                    by_older_key: true
                })
            );
            assert_eq!(codec(mode, vec![new]).decode(&v), Err(CookieError::Forged));
        }
    }

    #[test]
    fn near_miss_signatures_are_forged() {
        let c = codec(CookieMode::Signed, vec![Key::generate()]);
        let v = c.encode(&SessionId::generate());
        let (text, tag) = v.split_once('.').expect("dot");
        let mut raw = URL_SAFE_NO_PAD.decode(tag).expect("b64");
        raw[31] ^= 1;
        let near = format!("{text}.{}", URL_SAFE_NO_PAD.encode(&raw));
        assert_eq!(c.decode(&near), Err(CookieError::Forged));
    }

    #[test]
    fn the_cookie_name_is_bound() {
        let key = Key::generate();
        for mode in [CookieMode::Signed, CookieMode::Private] {
            let a = CookieCodec::new("a", mode, vec![key.clone()]).expect("codec");
            let b = CookieCodec::new("b", mode, vec![key.clone()]).expect("codec");
            let v = a.encode(&SessionId::generate());
            assert_eq!(b.decode(&v), Err(CookieError::Forged));
        }
    }

    #[test]
    fn keys_must_be_long_enough() {
        assert!(matches!(
            Key::from_bytes(&[0; 31]),
            Err(ConfigError::KeyTooShort { .. })
        ));
        assert!(Key::from_bytes(&[0; 32]).is_ok());
        assert!(Key::from_base64(&STANDARD.encode([7u8; 48])).is_ok());
        assert!(matches!(
            Key::from_base64("not base64!"),
            Err(ConfigError::KeyNotBase64)
        ));
    }
}
