//! The `connect.sid` cookie: `s:<sid>.<sig>` as express-session 1.19 (cookie-signature
//! 1.0.7) writes and reads it.
//!
//! - `sig` is HMAC-SHA256 keyed with the secret's UTF-8 bytes over the sid's UTF-8 bytes,
//!   in *standard* base64 without padding (43 characters of `A-Za-z0-9+/`).
//! - In `Set-Cookie` the value is percent-encoded like JavaScript's `encodeURIComponent`
//!   (`s%3A…`, `%2B`, `%2F`).
//! - On read: surrounding quotes are stripped, the value is percent-decoded when it holds a
//!   `%` (a malformed escape leaves it as it is), it must start with `s:`, and it is split
//!   at the **last** `.`; each secret is tried in order and the recomputed signature text
//!   must be byte-identical (padded or url-safe variants are refused, as Node refuses
//!   them). The comparison is constant-time.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::codec::{CookieError, Verified};
use crate::error::ConfigError;
use crate::id::random_bytes;
use crate::{SessionId, SidKeying};

/// Longest express cookie value looked at (percent-encoded). express-session's own are at
/// most 32 + 43 characters plus escapes; `genid` may make longer ids.
pub(crate) const MAX_EXPRESS_VALUE_LEN: usize = 512;

/// Random bytes in an id the Rust side mints: express-session's `uid(24)`.
const SID_BYTES: usize = 24;

/// The `secret` list of express-session: the first signs, every one verifies (in order).
///
/// Any non-empty strings, exactly as the Node app is configured with them (they must be
/// byte-identical on both sides). Its `Debug` never shows them.
#[derive(Clone)]
pub struct ExpressSecrets(Vec<String>);

impl ExpressSecrets {
    /// The secrets, newest (signing) first. Refuses an empty list or an empty secret.
    pub fn new<S: Into<String>>(secrets: impl IntoIterator<Item = S>) -> Result<Self, ConfigError> {
        let secrets: Vec<String> = secrets.into_iter().map(Into::into).collect();
        if secrets.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        if secrets.iter().any(String::is_empty) {
            return Err(ConfigError::EmptyExpressSecret);
        }
        Ok(Self(secrets))
    }

    /// How many secrets there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: an empty list is refused by [`new`](Self::new).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ExpressSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExpressSecrets(<{} redacted>)", self.0.len())
    }
}

/// The express-session cookie format for one secret list and store keying.
#[derive(Debug, Clone)]
pub(crate) struct ExpressCookie {
    secrets: ExpressSecrets,
    keying: SidKeying,
}

impl ExpressCookie {
    pub(crate) fn new(secrets: ExpressSecrets, keying: SidKeying) -> Self {
        Self { secrets, keying }
    }

    /// A new id as express-session makes them: 24 random bytes, base64url, no padding.
    pub(crate) fn generate_id(&self) -> SessionId {
        SessionId::express(
            URL_SAFE_NO_PAD.encode(random_bytes::<SID_BYTES>()),
            self.keying,
        )
    }

    /// The `Set-Cookie` value (already percent-encoded) for `id`, signed with the first secret.
    pub(crate) fn encode(&self, id: &SessionId) -> String {
        let sid = id.expose();
        let sig = signature(&self.secrets.0[0], &sid);
        encode_uri_component(&format!("s:{sid}.{sig}"))
    }

    /// Verifies a cookie value as express-session does; never panics.
    pub(crate) fn decode(&self, value: &str) -> Result<Verified, CookieError> {
        if value.len() > MAX_EXPRESS_VALUE_LEN {
            return Err(CookieError::Malformed);
        }
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        let decoded = if value.contains('%') {
            decode_uri_component(value).unwrap_or_else(|| value.to_owned())
        } else {
            value.to_owned()
        };
        let signed = decoded.strip_prefix("s:").ok_or(CookieError::Malformed)?;
        let (sid, sig) = signed.rsplit_once('.').ok_or(CookieError::Malformed)?;
        if sid.is_empty() {
            return Err(CookieError::Malformed);
        }
        for (i, secret) in self.secrets.0.iter().enumerate() {
            if constant_time_eq(signature(secret, sid).as_bytes(), sig.as_bytes()) {
                return Ok(Verified {
                    id: SessionId::express(sid, self.keying),
                    by_older_key: i > 0,
                });
            }
        }
        Err(CookieError::Forged)
    }
}

/// cookie-signature's `sign` without the `sid.` prefix: standard base64, `=` stripped.
pub(crate) fn signature(secret: &str, sid: &str) -> String {
    // HMAC takes keys of any length.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(sid.as_bytes());
    STANDARD_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Equality whose time depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// JavaScript's `encodeURIComponent`: everything but `A-Za-z0-9-_.!~*'()` as `%XX` of its
/// UTF-8 bytes.
pub(crate) fn encode_uri_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// JavaScript's `decodeURIComponent`; `None` where it would throw (a bad escape, or bytes
/// that are not UTF-8).
fn decode_uri_component(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie(secrets: &[&str]) -> ExpressCookie {
        let secrets = ExpressSecrets::new(secrets.iter().copied()).expect("secrets");
        ExpressCookie::new(secrets, SidKeying::Plain)
    }

    /// Captured from express-session 1.19.0 with secrets `['new secret', 'old secret']`.
    const NODE_VALUE: &str =
        "s%3A_-3QNTHKravDkKfjIjhqcvpa9sJGi_rN.nuWtE%2BUPMfbFIdd%2BuO2FLGotCHgUHiW07Af8Z90U2SM";
    const NODE_SID: &str = "_-3QNTHKravDkKfjIjhqcvpa9sJGi_rN";

    #[test]
    fn reads_and_writes_what_express_session_wrote() {
        let c = cookie(&["new secret", "old secret"]);
        let v = c.decode(NODE_VALUE).expect("node cookie verifies");
        assert_eq!(v.id.express_sid(), Some(NODE_SID));
        assert!(!v.by_older_key);
        assert_eq!(v.id.store_key().as_str(), NODE_SID);
        assert_eq!(c.encode(&v.id), NODE_VALUE);
    }

    #[test]
    fn older_secrets_verify_and_ask_for_reissue() {
        let rotated = cookie(&["newest", "new secret"]);
        let v = rotated.decode(NODE_VALUE).expect("older secret verifies");
        assert!(v.by_older_key);
        assert_ne!(rotated.encode(&v.id), NODE_VALUE);
        assert_eq!(
            cookie(&["other"]).decode(NODE_VALUE),
            Err(CookieError::Forged)
        );
    }

    #[test]
    fn tampering_and_variants_node_refuses_are_refused() {
        let c = cookie(&["new secret"]);
        let raw = decode_uri_component(NODE_VALUE).expect("decodes");
        let other_sid = raw.replacen("_-3Q", "_-3R", 1);
        let padded = format!("{raw}=");
        let url_safe = raw.replace('+', "-");
        let unsigned = raw.trim_start_matches("s:").to_owned();
        for bad in [other_sid, padded, url_safe] {
            assert_eq!(c.decode(&bad), Err(CookieError::Forged), "{bad}");
        }
        for bad in [
            unsigned,
            "s:".into(),
            "s:.abc".into(),
            "s:nodot".into(),
            "%E0%A4%A".into(),
        ] {
            assert_eq!(c.decode(&bad), Err(CookieError::Malformed), "{bad}");
        }
        assert!(c.decode(&"a".repeat(MAX_EXPRESS_VALUE_LEN + 1)).is_err());
        assert!(
            c.decode(&format!("\"{raw}\"")).is_ok(),
            "quotes are stripped"
        );
        assert!(c.decode(&raw).is_ok(), "an unencoded value is read as well");
    }

    #[test]
    fn new_ids_look_like_express_sessions() {
        let c = cookie(&["s"]);
        let id = c.generate_id();
        let sid = id.express_sid().expect("express id");
        assert_eq!(sid.len(), 32);
        assert!(
            sid.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(c.generate_id(), id);
        assert_eq!(c.decode(&c.encode(&id)).expect("round trip").id, id);
    }

    #[test]
    fn empty_secret_lists_are_refused() {
        assert_eq!(
            ExpressSecrets::new(Vec::<String>::new()).err(),
            Some(ConfigError::NoKeys)
        );
        assert_eq!(
            ExpressSecrets::new([""]).err(),
            Some(ConfigError::EmptyExpressSecret)
        );
        assert!(
            !format!("{:?}", ExpressSecrets::new(["hunter2"]).expect("ok")).contains("hunter2")
        );
    }

    #[test]
    fn percent_encoding_matches_encode_uri_component() {
        assert_eq!(
            encode_uri_component("s:a+b/c=d.e-f_g~h!"),
            "s%3Aa%2Bb%2Fc%3Dd.e-f_g~h!"
        );
        assert_eq!(decode_uri_component("s%3Aa%2Bb"), Some("s:a+b".into()));
        assert_eq!(decode_uri_component("%zz"), None);
    }
}
