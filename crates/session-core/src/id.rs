//! Session identifiers and the keys stores see instead of them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Raw length of a session id: 256 bits from the OS CSPRNG.
const ID_BYTES: usize = 32;

/// The secret a client holds in its cookie.
///
/// 256 bits from the operating system's CSPRNG, rendered as unpadded base64url (43
/// characters). It is deliberately not `Display`, and its `Debug` is redacted, so that
/// it does not end up in logs by accident. Stores never see it: they get its [`StoreKey`].
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId([u8; ID_BYTES]);

impl SessionId {
    /// A fresh random id.
    ///
    /// # Panics
    /// If the operating system's random source fails, which leaves no safe way to
    /// continue issuing sessions.
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    /// Parses the base64url text form; `None` for anything that is not exactly an id.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 43 {
            return None;
        }
        let mut bytes = [0u8; ID_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            Ok(ID_BYTES) => Some(Self(bytes)),
            _ => None,
        }
    }

    /// The base64url text form that goes into the cookie.
    pub fn expose(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The raw bytes (for the cookie codec).
    pub(crate) fn as_bytes(&self) -> &[u8; ID_BYTES] {
        &self.0
    }

    /// Rebuilds an id from raw bytes (for the cookie codec).
    pub(crate) fn from_bytes(bytes: [u8; ID_BYTES]) -> Self {
        Self(bytes)
    }

    /// The key under which stores keep this session.
    pub fn store_key(&self) -> StoreKey {
        let digest = Sha256::digest(self.0);
        StoreKey(hex(&digest))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

/// What a store indexes a session by: the lowercase hex SHA-256 of its session id (the secret the cookie carries).
///
/// A leaked database, backup or slow-query log therefore holds no live session ids, and a
/// lookup by key compares digests, not secrets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreKey(String);

impl StoreKey {
    /// The 64-character hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuilds a key read back from a store (e.g. a per-user index); `None` unless it is
    /// 64 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Self(text.to_owned()))
    }

    /// A random key that belongs to no client: a store's reservation token or placeholder
    /// (the Redis rotation uses one), and keys for tests.
    pub fn random() -> Self {
        SessionId::generate().store_key()
    }
}

impl fmt::Display for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `N` bytes from the OS CSPRNG (ids, nonces, development keys).
///
/// # Panics
/// If the operating system's random source fails: there is no safe way to go on issuing
/// sessions without it.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    bytes
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_differ() {
        let a = SessionId::generate();
        let b = SessionId::generate();
        assert_ne!(a, b);
        assert_eq!(SessionId::parse(&a.expose()), Some(a.clone()));
        assert_eq!(a.expose().len(), 43);
        assert!(!format!("{a:?}").contains(&a.expose()));
    }

    #[test]
    fn store_key_is_hex_sha256_and_not_the_id() {
        let id = SessionId::generate();
        let key = id.store_key();
        assert_eq!(key.as_str().len(), 64);
        assert!(!key.as_str().contains(&id.expose()));
        assert_eq!(StoreKey::parse(key.as_str()), Some(key));
        assert_eq!(StoreKey::parse("ABC"), None);
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in ["", "short", &"A".repeat(44), &"!".repeat(43)] {
            assert_eq!(SessionId::parse(bad), None, "{bad}");
        }
    }
}
