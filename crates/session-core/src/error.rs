//! Errors of configuration and of session use.

use crate::StoreError;

/// A configuration that cannot be used safely, reported when it is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No key was given.
    #[error("at least one cookie key is required")]
    NoKeys,
    /// An express-session secret is the empty string.
    #[error("express-session secrets must not be empty")]
    EmptyExpressSecret,
    /// A key is shorter than the minimum.
    #[error("cookie key of {len} bytes is too short (at least {min} bytes)")]
    KeyTooShort {
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// A key is not base64.
    #[error("cookie key is not valid base64")]
    KeyNotBase64,
    /// A key's bytes are obviously not random (see `Key::from_bytes` for the rule); the
    /// text says which check refused it.
    #[error(
        "cookie key is obviously not random ({0}): generate one with a CSPRNG, \
         e.g. `openssl rand -base64 32`"
    )]
    KeyLowEntropy(&'static str),
    /// A token header name is not an HTTP field name, or names a header the session uses
    /// for something else (`cookie`, `set-cookie`, `vary`, `cache-control`; the response
    /// header may be neither `authorization` nor the request header).
    #[error("invalid token header name {0:?}")]
    InvalidHeaderName(String),
    /// The cookie name is not an RFC 6265 token.
    #[error("invalid cookie name {0:?}: use letters, digits and !#$%&'*+-.^_`|~")]
    InvalidCookieName(String),
    /// A cookie attribute holds `;`, a control character or is too long.
    #[error(
        "invalid cookie {attribute}: {value:?} (no ';', control characters, or over 1024 bytes)"
    )]
    InvalidCookieAttribute {
        /// Which attribute.
        attribute: &'static str,
        /// The refused value.
        value: String,
    },
    /// `SameSite=None` cookies are refused by browsers unless `Secure`.
    #[error("SameSite=None requires the Secure attribute")]
    SameSiteNoneNeedsSecure,
    /// A `__Host-` or `__Secure-` prefixed name without the attributes the prefix demands.
    #[error("cookie name prefix {0} requires Secure (and for __Host-: Path=/ and no Domain)")]
    PrefixRequirements(&'static str),
    /// Neither an idle nor an absolute timeout: sessions would never end.
    #[error("set an idle timeout, an absolute timeout, or both")]
    NoTimeout,
    /// A timeout of zero.
    #[error("{0} must be greater than zero")]
    ZeroDuration(&'static str),
    /// `touch_after` so long against the idle timeout that an active session could expire
    /// between two touches.
    #[error(
        "touch_after ({touch_after:?}) must be at most half the idle timeout ({idle_timeout:?}), \
         or an active session expires before its deadline is pushed back"
    )]
    TouchAfterTooLong {
        /// The configured `touch_after`.
        touch_after: std::time::Duration,
        /// The configured idle timeout.
        idle_timeout: std::time::Duration,
    },
}

/// An error while a handler uses the session, or while the manager saves it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The store failed; the session is unavailable for this request.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The session's serialized data would exceed the configured limit; nothing was
    /// changed.
    #[error("session data would be {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The size it would have had.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Strict conflict policy: another request changed the session since it was loaded.
    #[error("the session was changed by a concurrent request")]
    Conflict,
    /// A value could not be serialized into, or deserialized out of, the session.
    #[error("session value for key {key:?}: {source}")]
    Value {
        /// The data key.
        key: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// The operation needs a signed-in user (see `Session::set_user`).
    #[error("the session has no user")]
    NoUser,
    /// A value nests arrays/objects deeper than the backends can read back; nothing was
    /// changed.
    #[error("session value for key {key:?} nests {depth} levels deep, over the limit of {limit}")]
    TooDeep {
        /// The data key.
        key: String,
        /// Its nesting depth.
        depth: usize,
        /// The limit ([`crate::MAX_VALUE_DEPTH`]).
        limit: usize,
    },
    /// `Session::require_recent_auth`: nobody is signed in, or the sign-in is too old for
    /// this action.
    #[error("a recent sign-in is required")]
    ReauthRequired,
    /// `Session::set_label` with a label longer than [`crate::MAX_LABEL_BYTES`]; nothing
    /// was changed.
    #[error("session label of {len} bytes is over the limit of {limit}")]
    LabelTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The CSRF guard refused this request the session: an unsafe method from another
    /// site (see [`crate::CsrfGuard`]), or a synchronizer token that does not match.
    #[error("cross-site request refused: {0}")]
    CsrfRefused(crate::CsrfRefusal),
}

impl SessionError {
    /// The HTTP status an adapter answers with, the same for every framework: 503 when the
    /// store failed, 409 for a strict-mode conflict, 413 for an oversized session
    /// (the request asked to store too much), 422 for a value nested too deeply or a label too
    /// long, 401 when a
    /// recent sign-in is required, 403 when the CSRF guard refused the request, 500
    /// otherwise.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::Store(StoreError::Encode(_)) => 500,
            Self::Store(_) => 503,
            Self::TooLarge { .. } => 413,
            Self::TooDeep { .. } | Self::LabelTooLong { .. } => 422,
            Self::ReauthRequired => 401,
            Self::CsrfRefused(_) => 403,
            Self::Conflict => 409,
            Self::Value { .. } | Self::NoUser => 500,
        }
    }
}
