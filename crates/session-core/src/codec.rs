//! The cookie value codec: a session id signed (HMAC-SHA256) or sealed (XChaCha20-Poly1305)
//! under a list of rotating keys. The first key signs or seals; every key verifies or opens.
//!
//! # Wire formats
//!
//! - **Signed**: `<id>.<tag>`, both base64url without padding (43 + 1 + 43 characters); the
//!   tag is HMAC-SHA256 under the key's signing subkey over `name "=" <id>`.
//! - **Private, format version 1**: base64url without padding (98 characters) of 73 bytes:
//!   `0x01 ‖ nonce (24 random bytes) ‖ ciphertext (32) ‖ Poly1305 tag (16)`, the id sealed
//!   with XChaCha20-Poly1305 under the key's sealing subkey, with `0x01 ‖ name` as
//!   associated data. The leading byte names the format, so the algorithm can change again:
//!   a later version gets a new byte and [`CookieCodec::decode`] dispatches on it; an
//!   unknown byte is [`CookieError::UnsupportedVersion`].
//!
//! # Why XChaCha20-Poly1305
//!
//! Random 96-bit nonces (AES-GCM, as before) may only be drawn about 2^32 times under one
//! key (NIST SP 800-38D) before a repeat becomes too likely, and a repeat under GCM leaks
//! the authentication key. A busy site reaches that in days (2^32 writes at 10k/s ≈ 5 days).
//! XChaCha20 takes 192-bit nonces: after 2^64 seals under one key the chance that any two
//! nonces collide is still about 2^-65, so random nonces never wear a key out. It is
//! constant-time in software on every CPU. AES-256-GCM-SIV would also survive a repeated
//! nonce, but its 96-bit nonces still bound the messages per key (at a far higher count),
//! and it is slower where AES hardware is missing; it was not needed.
//!
//! # Cookies sealed by older releases
//!
//! Values sealed with AES-256-GCM (no version byte, 80 characters) are **not** opened:
//! they decode as a version this build does not know (or as malformed), and the visitor
//! gets a fresh session, as for any expired cookie. Keeping a second AEAD and a second,
//! unversioned layout only to spare one sign-in per private-mode user would keep alive the
//! format sniffing the version byte exists to end; the library is pre-1.0 and unpublished.
//! Signed cookies are unchanged and keep working.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::ConfigError;
use crate::express::cookie::{ExpressCookie, MAX_EXPRESS_VALUE_LEN};
use crate::id::random_bytes;
use crate::{ExpressSecrets, SessionId, SidKeying};

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted master key: 256 bits.
pub const MIN_KEY_BYTES: usize = 32;
/// Longest cookie value any mode produces; longer candidates are refused unread.
pub(crate) const MAX_VALUE_LEN: usize = 128;

/// The format byte that leads every private value this build seals.
const PRIVATE_V1: u8 = 1;
const ID_LEN: usize = 32;
const XNONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bytes of a version-1 private value before base64: version, nonce, ciphertext, tag.
const PRIVATE_V1_LEN: usize = 1 + XNONCE_LEN + ID_LEN + TAG_LEN;

/// Fewest distinct byte values accepted in key material (see [`Key::from_bytes`]).
const MIN_DISTINCT_BYTES: usize = 8;
/// Longest accepted run of bytes that advance by one constant step (see [`Key::from_bytes`]).
const MAX_STEP_RUN: usize = 15;

/// A master key. Signing and sealing keys are derived from it separately, so one key
/// serves both modes without reusing key material across algorithms.
#[derive(Clone)]
pub struct Key {
    signing: [u8; 32],
    sealing: [u8; 32],
}

impl Key {
    /// Derives a key from at least 32 bytes of secret material.
    ///
    /// Material that is obviously not random is refused with
    /// [`ConfigError::KeyLowEntropy`]: fewer than 8 distinct byte values (`[0; 32]`,
    /// `"aaaa…"`, a 0/1 string); a block of at most half the length repeated, or a
    /// repeated step between bytes (`"secret-key-secret-key-…"`, `0, 1, 2, …, 31`); or a run
    /// of 16 or more bytes advancing by one constant step (zero padding after a short
    /// secret, an alphabet). Each check refuses 32 bytes from a CSPRNG with probability
    /// below 2^-100, and random hex or base64 text keys practically never (a 32-digit
    /// decimal string, itself only ~106 bits, about once in 800). Passing is no proof of
    /// entropy: generate keys with a CSPRNG (`openssl rand -base64 32`).
    pub fn from_bytes(master: &[u8]) -> Result<Self, ConfigError> {
        if master.len() < MIN_KEY_BYTES {
            return Err(ConfigError::KeyTooShort {
                len: master.len(),
                min: MIN_KEY_BYTES,
            });
        }
        if let Some(reason) = low_entropy(master) {
            return Err(ConfigError::KeyLowEntropy(reason));
        }
        Ok(Self::derived_from(master))
    }

    /// Decodes base64 (standard or url-safe, padding optional) key material; the decoded
    /// bytes are checked as by [`Key::from_bytes`].
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
            // A label of its own: the AES-GCM key of earlier releases ("encryption") is
            // never reused under another algorithm.
            sealing: derive(master, b"private/xchacha20poly1305"),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// Why `master` is obviously not random, if it is (see [`Key::from_bytes`]).
fn low_entropy(master: &[u8]) -> Option<&'static str> {
    let mut seen = [false; 256];
    for &b in master {
        seen[usize::from(b)] = true;
    }
    if seen.iter().filter(|&&s| s).count() < MIN_DISTINCT_BYTES {
        return Some("fewer than 8 distinct byte values");
    }
    if is_periodic(master) {
        return Some("a repeated block");
    }
    let steps: Vec<u8> = master.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    if is_periodic(&steps) {
        return Some("a repeated step between bytes, like a counter");
    }
    // A run of n bytes with one constant step is n - 1 equal steps.
    let mut run = 0;
    for pair in steps.windows(2) {
        run = if pair[0] == pair[1] { run + 1 } else { 0 };
        if run + 2 > MAX_STEP_RUN {
            return Some("16 or more bytes in one constant step, like padding or an alphabet");
        }
    }
    None
}

/// Whether `s` repeats with a period of at most half its length.
fn is_periodic(s: &[u8]) -> bool {
    (1..=s.len() / 2).any(|p| s[p..].iter().zip(s).all(|(a, b)| a == b))
}

fn derive(master: &[u8], purpose: &[u8]) -> [u8; 32] {
    let mut mac = mac_with(master);
    mac.update(b"session-core/v1/");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}

fn mac_with(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; this branch is unreachable.
    match <HmacSha256 as KeyInit>::new_from_slice(key) {
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
    /// XChaCha20-Poly1305 sealed id behind a format byte: tamper-proof and opaque to the
    /// client.
    Private,
}

/// Why a cookie value was refused. All of these lead to a fresh session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// Not the shape any mode produces (length, alphabet, separator).
    #[error("malformed session cookie")]
    Malformed,
    /// Well-formed, but no configured key produced it.
    #[error("session cookie signature or seal does not verify")]
    Forged,
    /// A private value whose leading format byte this build does not know (a cookie from a
    /// newer release, one sealed by a release before format bytes, or tampering).
    #[error(
        "private session cookie has format version {0}; this build opens version {PRIVATE_V1} only"
    )]
    UnsupportedVersion(u8),
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
    /// Per key of `keys`, HMAC state already keyed with its signing subkey and fed
    /// `name "="`: a tag then costs two SHA-256 blocks (the id's and the outer hash's)
    /// instead of four.
    signers: Vec<HmacSha256>,
    /// `Some` in Express-compatible mode: the express-session format replaces `mode` and
    /// `keys` entirely.
    express: Option<ExpressCookie>,
}

impl fmt::Debug for CookieCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieCodec")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .field("keys", &self.keys.len())
            .field("express", &self.express)
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
        let signers = keys
            .iter()
            .map(|key| {
                let mut mac = mac_with(&key.signing);
                mac.update(name.as_bytes());
                mac.update(b"=");
                mac
            })
            .collect();
        Ok(Self {
            name: name.to_owned(),
            mode,
            keys,
            signers,
            express: None,
        })
    }

    /// An Express-compatible codec: express-session's `s:<sid>.<sig>` under `secrets`
    /// (see [`crate::express`]); ids it reads or mints are keyed as `keying` says.
    pub fn express(name: &str, secrets: ExpressSecrets, keying: SidKeying) -> Self {
        Self {
            name: name.to_owned(),
            mode: CookieMode::Signed,
            keys: Vec::new(),
            signers: Vec::new(),
            express: Some(ExpressCookie::new(secrets, keying)),
        }
    }

    /// Whether this codec speaks express-session's cookie format.
    pub fn is_express(&self) -> bool {
        self.express.is_some()
    }

    /// A fresh id of the kind this codec encodes: 256 random bits natively, express-session's
    /// 24-byte ids in Express-compatible mode.
    pub fn generate_id(&self) -> SessionId {
        match &self.express {
            Some(express) => express.generate_id(),
            None => SessionId::generate(),
        }
    }

    /// The longest cookie value this codec can have produced; longer ones are not read.
    pub(crate) fn max_value_len(&self) -> usize {
        if self.express.is_some() {
            MAX_EXPRESS_VALUE_LEN
        } else {
            MAX_VALUE_LEN
        }
    }

    /// The cookie value for `id` under the newest key (in Express-compatible mode, already
    /// percent-encoded for `Set-Cookie`).
    ///
    /// Ids come from the same codec ([`generate_id`](Self::generate_id) or
    /// [`decode`](Self::decode)); a private-mode codec given an express-session id, which
    /// it cannot seal, returns an empty value, which no codec accepts.
    pub fn encode(&self, id: &SessionId) -> String {
        if let Some(express) = &self.express {
            return express.encode(id);
        }
        let key = &self.keys[0];
        match self.mode {
            CookieMode::Signed => {
                let text = id.expose();
                let tag = self.tag(&self.signers[0], &text);
                format!("{text}.{}", URL_SAFE_NO_PAD.encode(tag))
            }
            CookieMode::Private => {
                let Some(id_bytes) = id.as_bytes() else {
                    return String::new();
                };
                let nonce = random_bytes::<XNONCE_LEN>();
                let mut out = [0u8; PRIVATE_V1_LEN];
                let (head, rest) = out.split_at_mut(1 + XNONCE_LEN);
                let (body, tag_out) = rest.split_at_mut(ID_LEN);
                head[0] = PRIVATE_V1;
                head[1..].copy_from_slice(&nonce);
                body.copy_from_slice(id_bytes);
                let sealed = cipher(key).encrypt_inout_detached(
                    &XNonce::from(nonce),
                    &self.private_aad(PRIVATE_V1),
                    body.into(),
                );
                let Ok(tag) = sealed else {
                    unreachable!("XChaCha20-Poly1305 sealing of 32 bytes cannot fail")
                };
                tag_out.copy_from_slice(&tag);
                URL_SAFE_NO_PAD.encode(out)
            }
        }
    }

    /// Verifies a cookie value. Never panics, whatever the bytes.
    pub fn decode(&self, value: &str) -> Result<Verified, CookieError> {
        if let Some(express) = &self.express {
            return express.decode(value);
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(CookieError::Malformed);
        }
        match self.mode {
            CookieMode::Signed => self.verify_signed(value),
            CookieMode::Private => self.open_private(value),
        }
    }

    fn tag(&self, signer: &HmacSha256, id_text: &str) -> [u8; 32] {
        let mut mac = signer.clone();
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
        for (i, signer) in self.signers.iter().enumerate() {
            let mut mac = signer.clone();
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

    /// The associated data of a private value: its format byte, then the cookie name.
    fn private_aad(&self, version: u8) -> Vec<u8> {
        let mut aad = Vec::with_capacity(1 + self.name.len());
        aad.push(version);
        aad.extend_from_slice(self.name.as_bytes());
        aad
    }

    fn open_private(&self, value: &str) -> Result<Verified, CookieError> {
        // MAX_VALUE_LEN characters of base64 are at most 96 bytes.
        let mut raw = [0u8; MAX_VALUE_LEN / 4 * 3];
        let len = URL_SAFE_NO_PAD
            .decode_slice(value, &mut raw)
            .map_err(|_| CookieError::Malformed)?;
        match raw[..len].split_first() {
            None => Err(CookieError::Malformed),
            Some((&PRIVATE_V1, rest)) => self.open_v1(rest),
            Some((&other, _)) => Err(CookieError::UnsupportedVersion(other)),
        }
    }

    /// Opens the bytes after a version-1 format byte: nonce, ciphertext, tag.
    fn open_v1(&self, rest: &[u8]) -> Result<Verified, CookieError> {
        if rest.len() != PRIVATE_V1_LEN - 1 {
            return Err(CookieError::Malformed);
        }
        let (nonce, rest) = rest.split_at(XNONCE_LEN);
        let (sealed, tag) = rest.split_at(ID_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| CookieError::Malformed)?;
        let tag = Tag::try_from(tag).map_err(|_| CookieError::Malformed)?;
        let aad = self.private_aad(PRIVATE_V1);
        for (i, key) in self.keys.iter().enumerate() {
            let mut id = [0u8; ID_LEN];
            id.copy_from_slice(sealed);
            // The tag is checked (in constant time) before anything is decrypted.
            if cipher(key)
                .decrypt_inout_detached(&nonce, &aad, id.as_mut_slice().into(), &tag)
                .is_ok()
            {
                return Ok(Verified {
                    id: SessionId::from_bytes(id),
                    by_older_key: i > 0,
                });
            }
        }
        Err(CookieError::Forged)
    }
}

fn cipher(key: &Key) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&key.sealing.into())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn codec(mode: CookieMode, keys: Vec<Key>) -> CookieCodec {
        CookieCodec::new("sid", mode, keys).expect("codec")
    }

    fn raw(value: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(value).expect("base64url")
    }

    fn b64(raw: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(raw)
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
    fn private_values_are_version_1_of_73_bytes() {
        let c = codec(CookieMode::Private, vec![Key::generate()]);
        let v = c.encode(&SessionId::generate());
        assert_eq!(v.len(), 98);
        let bytes = raw(&v);
        assert_eq!(bytes.len(), PRIVATE_V1_LEN);
        assert_eq!(bytes[0], PRIVATE_V1);
    }

    #[test]
    fn private_mode_hides_the_id() {
        let c = codec(CookieMode::Private, vec![Key::generate()]);
        let id = SessionId::generate();
        let v = c.encode(&id);
        assert!(!v.contains(&id.expose()));
        assert!(
            !raw(&v)
                .windows(ID_LEN)
                .any(|w| Some(w) == id.as_bytes().map(|b| b.as_slice()))
        );
    }

    #[test]
    fn older_keys_verify_and_ask_for_reissue() {
        for mode in [CookieMode::Signed, CookieMode::Private] {
            let (k1, k2) = (Key::generate(), Key::generate());
            let id = SessionId::generate();
            let rotated = codec(mode, vec![k1.clone(), k2.clone()]);
            // Sealed by key 2 of [k1, k2]: opens, and asks to be re-issued.
            let by_k2 = codec(mode, vec![k2]).encode(&id);
            assert_eq!(
                rotated.decode(&by_k2),
                Ok(Verified {
                    id: id.clone(),
                    by_older_key: true
                })
            );
            // Sealed by the list itself: key 1, nothing to re-issue.
            assert_eq!(
                rotated.decode(&rotated.encode(&id)),
                Ok(Verified {
                    id: id.clone(),
                    by_older_key: false
                })
            );
            // Key 2 dropped from the list: refused.
            assert_eq!(
                codec(mode, vec![k1]).decode(&by_k2),
                Err(CookieError::Forged)
            );
        }
    }

    #[test]
    fn tampering_any_byte_of_a_sealed_value_fails() {
        let c = codec(CookieMode::Private, vec![Key::generate(), Key::generate()]);
        let good = raw(&c.encode(&SessionId::generate()));
        for at in 0..good.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[at] ^= flip;
                let expected = if at == 0 {
                    CookieError::UnsupportedVersion(bad[0])
                } else {
                    CookieError::Forged
                };
                assert_eq!(c.decode(&b64(&bad)), Err(expected), "byte {at} ^ {flip:#x}");
            }
        }
        // Cut short, extended, or emptied: the wrong length for version 1.
        let c1 = |bytes: &[u8]| c.decode(&b64(bytes));
        assert_eq!(c1(&good[..good.len() - 1]), Err(CookieError::Malformed));
        assert_eq!(
            c1(&[good.as_slice(), &[0]].concat()),
            Err(CookieError::Malformed)
        );
        assert_eq!(c1(&good[..1]), Err(CookieError::Malformed));
        assert_eq!(c.decode(""), Err(CookieError::Malformed));
    }

    #[test]
    fn tampering_any_character_of_a_value_fails() {
        const ALPHABET: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
        for mode in [CookieMode::Signed, CookieMode::Private] {
            let c = codec(mode, vec![Key::generate()]);
            let good = c.encode(&SessionId::generate());
            for at in 0..good.len() {
                for &to in ALPHABET {
                    let mut bad = good.clone().into_bytes();
                    if bad[at] == to {
                        continue;
                    }
                    bad[at] = to;
                    let bad = String::from_utf8(bad).expect("ascii");
                    assert!(c.decode(&bad).is_err(), "{mode:?}: {bad} verified");
                }
            }
        }
    }

    #[test]
    fn a_wrong_version_byte_is_a_clear_error() {
        let c = codec(CookieMode::Private, vec![Key::generate()]);
        let mut bytes = raw(&c.encode(&SessionId::generate()));
        for version in [0u8, 2, 0x7f, 0xff] {
            bytes[0] = version;
            let err = c.decode(&b64(&bytes)).expect_err("unknown version");
            assert_eq!(err, CookieError::UnsupportedVersion(version));
            let text = err.to_string();
            assert!(
                text.contains(&format!("format version {version};"))
                    && text.contains("opens version 1 only"),
                "{text}"
            );
        }
    }

    #[test]
    fn unversioned_aes_gcm_values_of_earlier_releases_are_refused() {
        // The old layout: 12-byte nonce, 32-byte ciphertext, 16-byte tag, 80 characters.
        let c = codec(CookieMode::Private, vec![Key::generate()]);
        for first in [0u8, 1, 2, 0x9c] {
            let mut old = random_bytes::<60>();
            old[0] = first;
            let value = b64(&old);
            assert_eq!(value.len(), 80);
            let expected = if first == PRIVATE_V1 {
                CookieError::Malformed
            } else {
                CookieError::UnsupportedVersion(first)
            };
            assert_eq!(c.decode(&value), Err(expected));
        }
    }

    #[test]
    fn nonces_do_not_repeat_across_10k_seals() {
        let c = codec(CookieMode::Private, vec![Key::generate()]);
        let id = SessionId::generate();
        let mut nonces = HashSet::new();
        let mut values = HashSet::new();
        for _ in 0..10_000 {
            let v = c.encode(&id);
            nonces.insert(raw(&v)[1..1 + XNONCE_LEN].to_vec());
            values.insert(v);
        }
        assert_eq!(nonces.len(), 10_000);
        assert_eq!(
            values.len(),
            10_000,
            "same id, same key: only the nonce differs"
        );
    }

    #[test]
    fn near_miss_signatures_are_forged() {
        let c = codec(CookieMode::Signed, vec![Key::generate()]);
        let v = c.encode(&SessionId::generate());
        let (text, tag) = v.split_once('.').expect("dot");
        let mut raw = raw(tag);
        raw[31] ^= 1;
        let near = format!("{text}.{}", b64(&raw));
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
    fn keys_must_be_long_enough_and_base64() {
        let random = random_bytes::<31>();
        assert!(matches!(
            Key::from_bytes(&random),
            Err(ConfigError::KeyTooShort { len: 31, min: 32 })
        ));
        assert!(Key::from_bytes(&random_bytes::<32>()).is_ok());
        assert!(Key::from_base64(&STANDARD.encode(random_bytes::<48>())).is_ok());
        assert!(Key::from_base64(&b64(&random_bytes::<32>())).is_ok());
        assert!(matches!(
            Key::from_base64("not base64!"),
            Err(ConfigError::KeyNotBase64)
        ));
    }

    fn refused(material: &[u8]) -> Option<&'static str> {
        match Key::from_bytes(material) {
            Err(ConfigError::KeyLowEntropy(why)) => Some(why),
            Err(other) => panic!("{material:?}: {other}"),
            Ok(_) => None,
        }
    }

    #[test]
    fn obviously_low_entropy_keys_are_refused() {
        let counter: Vec<u8> = (0..32).collect();
        let evens: Vec<u8> = (0..64).map(|i| i * 2).collect();
        let down: Vec<u8> = (0..40).map(|i| 200 - i).collect();
        let padded = [random_bytes::<16>().as_slice(), &[0; 16]].concat();
        let twice = random_bytes::<16>().repeat(2);
        let cases: [(&[u8], &str); 12] = [
            (&[0; 32], "distinct"),
            (&[0xff; 64], "distinct"),
            (&[7; 48], "distinct"),
            (&[0, 1].repeat(16), "distinct"),
            (b"passwordpasswordpasswordpassword", "distinct"),
            (b"secret-key-secret-key-secret-key", "repeated block"),
            (b"0123456789abcdef0123456789abcdef", "repeated block"),
            (&twice, "repeated block"),
            (&counter, "repeated step"),
            (&evens, "repeated step"),
            (&padded, "constant step"),
            (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef", "constant step"),
        ];
        for (material, why) in cases {
            let got = refused(material).unwrap_or_else(|| panic!("{material:?} accepted"));
            assert!(got.contains(why), "{material:?}: {got}");
        }
        assert!(refused(&down).is_some());
        // The same rule behind base64.
        assert!(matches!(
            Key::from_base64(&STANDARD.encode([7u8; 48])),
            Err(ConfigError::KeyLowEntropy(_))
        ));
        let err = Key::from_bytes(&[0; 32]).expect_err("zeros").to_string();
        assert!(
            err.contains("not random") && err.contains("CSPRNG"),
            "{err}"
        );
    }

    #[test]
    fn random_keys_and_random_key_text_are_accepted() {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for _ in 0..10_000 {
            let bytes = random_bytes::<32>();
            assert_eq!(refused(&bytes), None, "{bytes:?}");
            // Key text passed as bytes: hex and base64 of random bytes.
            let hex: Vec<u8> = bytes
                .iter()
                .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
                .collect();
            assert_eq!(refused(&hex), None, "{hex:?}");
            assert_eq!(refused(b64(&bytes).as_bytes()), None);
        }
        // Just over the thresholds: 8 distinct values; a 15-byte sequence.
        // (Eight values picked by the digits of pi, mod 8: no period, no long run.)
        let eight: Vec<u8> = b"31415926535897932384626433832795"
            .iter()
            .map(|d| [9, 200, 3, 77, 150, 31, 64, 250][usize::from(d - b'0') % 8])
            .collect();
        assert_eq!(refused(&eight), None, "{eight:?}");
        let fifteen = [b"ABCDEFGHIJKLMNO!".as_slice(), &random_bytes::<16>()].concat();
        assert_eq!(refused(&fifteen), None, "{fifteen:?}");
    }
}
