//! Session identifiers and the keys stores see instead of them.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Raw length of a session id: 256 bits from the OS CSPRNG.
const ID_BYTES: usize = 32;

/// The secret a client holds in its cookie.
///
/// Natively: 256 bits from the operating system's CSPRNG, rendered as unpadded base64url
/// (43 characters). It is deliberately not `Display`, and its `Debug` is redacted, so that
/// it does not end up in logs by accident. Stores never see it: they get its [`StoreKey`].
///
/// An id read from or minted by an Express-compatible codec (see [`crate::express`]) is
/// instead the express-session id text, and carries the [`SidKeying`] its codec was
/// configured with: the connect-* layouts key by the plain id, the native layout after a
/// migration by its SHA-256. The codec decides, once; [`store_key`](Self::store_key) only
/// follows what the id says.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(Repr);

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    Native([u8; ID_BYTES]),
    Express { sid: String, keying: SidKeying },
}

/// How the store key of an express-session id is derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SidKeying {
    /// The store key is the id itself, as connect-redis, connect-pg-simple and
    /// connect-mongo key it: not hashed at rest (see [`crate::express`] for what that
    /// gives up).
    #[default]
    Plain,
    /// The store key is the lowercase hex SHA-256 of the id text, as in the native layout:
    /// for sessions moved out of a connect-* layout by the migration, whose cookies keep
    /// working.
    Hashed,
}

impl SessionId {
    /// A fresh random id.
    ///
    /// # Panics
    /// If the operating system's random source fails, which leaves no safe way to
    /// continue issuing sessions.
    pub fn generate() -> Self {
        Self(Repr::Native(random_bytes()))
    }

    /// An express-session id (any non-empty text; express-session's own are 32 characters
    /// of base64url), keyed as `keying` says.
    pub fn express(sid: impl Into<String>, keying: SidKeying) -> Self {
        Self(Repr::Express {
            sid: sid.into(),
            keying,
        })
    }

    /// The express-session id text, if this is one (for tests).
    #[cfg(any(test, feature = "test-suite"))]
    pub fn express_sid(&self) -> Option<&str> {
        match &self.0 {
            Repr::Express { sid, .. } => Some(sid),
            Repr::Native(_) => None,
        }
    }

    /// Parses the base64url text form; `None` for anything that is not exactly an id.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 43 {
            return None;
        }
        let mut bytes = [0u8; ID_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            Ok(ID_BYTES) => Some(Self(Repr::Native(bytes))),
            _ => None,
        }
    }

    /// The text form that goes into the cookie: base64url for a native id, the id text
    /// itself for an express-session one.
    pub fn expose(&self) -> String {
        match &self.0 {
            Repr::Native(bytes) => URL_SAFE_NO_PAD.encode(bytes),
            Repr::Express { sid, .. } => sid.clone(),
        }
    }

    /// The raw bytes of a native id (for the cookie codec); `None` for an express one.
    pub(crate) fn as_bytes(&self) -> Option<&[u8; ID_BYTES]> {
        match &self.0 {
            Repr::Native(bytes) => Some(bytes),
            Repr::Express { .. } => None,
        }
    }

    /// Rebuilds an id from raw bytes (for the cookie codec).
    pub(crate) fn from_bytes(bytes: [u8; ID_BYTES]) -> Self {
        Self(Repr::Native(bytes))
    }

    /// The key under which stores keep this session: the hex SHA-256 of a native id; for
    /// an express-session id, the id itself or its hex SHA-256, as its [`SidKeying`] says.
    pub fn store_key(&self) -> StoreKey {
        match &self.0 {
            Repr::Native(bytes) => StoreKey(hex(&Sha256::digest(bytes))),
            Repr::Express {
                sid,
                keying: SidKeying::Plain,
            } => StoreKey::plain_sid(sid),
            Repr::Express {
                sid,
                keying: SidKeying::Hashed,
            } => StoreKey::hashed_sid(sid),
        }
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
/// lookup by key compares digests, not secrets. The one exception is chosen explicitly:
/// an Express-compatible codec with [`SidKeying::Plain`] yields keys that are the plain
/// express-session id ([`StoreKey::plain_sid`]), because connect-* stores key by it.
///
/// Shared text: a store that files a session under several indexes (the memory store's
/// deadline order, a user's set) clones the key into each, and a clone is a reference
/// count, not an allocation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreKey(Arc<str>);

impl StoreKey {
    /// The 64-character hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuilds a key read back from a store (e.g. a per-user index); `None` unless it is
    /// 64 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Self(text.into()))
    }

    /// The key of an express-session id in a connect-* layout: the id text itself.
    pub fn plain_sid(sid: &str) -> Self {
        Self(sid.into())
    }

    /// The key of an express-session id in the native layout (after migration): the
    /// lowercase hex SHA-256 of the id text.
    pub fn hashed_sid(sid: &str) -> Self {
        Self(hex(&Sha256::digest(sid.as_bytes())))
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

/// The lowercase hex of a SHA-256 digest, written once into its shared allocation.
fn hex(digest: &[u8]) -> Arc<str> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (pair, b) in out.chunks_exact_mut(2).zip(digest) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
    // Hex digits are ASCII, so this is never the fallback.
    Arc::from(std::str::from_utf8(&out).unwrap_or_default())
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
        // The digest's hex, nibble by nibble (FIPS 180-2's "abc" vector).
        assert_eq!(
            StoreKey::hashed_sid("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn express_ids_are_keyed_as_their_codec_said() {
        let sid = "IU2SX-qVVHr1XEfWNbzO-c1-0iICbO5-";
        let plain = SessionId::express(sid, SidKeying::Plain);
        assert_eq!(plain.store_key().as_str(), sid);
        let hashed = SessionId::express(sid, SidKeying::Hashed);
        assert_eq!(hashed.store_key(), StoreKey::hashed_sid(sid));
        assert_eq!(
            StoreKey::parse(hashed.store_key().as_str()),
            Some(hashed.store_key())
        );
        assert_eq!(plain.expose(), sid);
        assert_eq!(plain.express_sid(), Some(sid));
        assert!(!format!("{plain:?}").contains(sid));
        assert_eq!(SessionId::generate().express_sid(), None);
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in ["", "short", &"A".repeat(44), &"!".repeat(43)] {
            assert_eq!(SessionId::parse(bad), None, "{bad}");
        }
    }
}
