//! Everything a deployment decides, checked once at start-up.

use std::num::NonZeroUsize;
use std::time::Duration;

pub use cookie::SameSite;

use crate::codec::{CookieCodec, CookieMode, Key};
use crate::csrf::CsrfGuard;
use crate::error::ConfigError;
use crate::transport::{TokenHeaders, Transport};
use crate::{ExpressSecrets, SidKeying};

/// What happens when two requests write the same key of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConflictPolicy {
    /// Per-key last writer wins; writes of different keys never clash. The default.
    #[default]
    Merge,
    /// A write based on a stale version fails with `SessionError::Conflict` instead of
    /// silently overwriting a concurrent change.
    Strict,
}

/// Cookie attributes.
#[derive(Debug, Clone)]
pub(crate) struct CookieAttributes {
    pub name: String,
    pub path: String,
    pub domain: Option<String>,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: SameSite,
    pub partitioned: bool,
}

/// A checked session configuration. Build it with [`SessionConfig::builder`].
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub(crate) cookie: CookieAttributes,
    pub(crate) codec: CookieCodec,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) absolute_timeout: Option<Duration>,
    pub(crate) touch_after: Duration,
    pub(crate) persistent: bool,
    pub(crate) save_uninitialized: bool,
    pub(crate) save_on_server_error: bool,
    pub(crate) max_data_bytes: usize,
    pub(crate) max_cookie_header_bytes: usize,
    pub(crate) conflict_policy: ConflictPolicy,
    pub(crate) flush_on_principal_change: bool,
    pub(crate) no_store_when_signed_in: bool,
    pub(crate) transport: Transport,
    pub(crate) token_headers: TokenHeaders,
    pub(crate) max_sessions_per_user: Option<NonZeroUsize>,
    pub(crate) csrf: CsrfGuard,
}

impl SessionConfig {
    /// Whether the cookie is express-session's (Express-compatible mode).
    pub fn is_express_compatible(&self) -> bool {
        self.codec.is_express()
    }
}

/// The default `touch_after`, unless the idle timeout calls for less.
const DEFAULT_TOUCH_AFTER: Duration = Duration::from_secs(60);

impl SessionConfig {
    /// A builder with secure defaults; `keys[0]` signs new cookies, all keys verify.
    ///
    /// | setting | default |
    /// |---|---|
    /// | cookie name | `__Host-sid` when Secure, else `sid` |
    /// | Path / Domain | `/` / none |
    /// | Secure, HttpOnly, SameSite | on, on, `Lax` |
    /// | mode | signed (HMAC-SHA256) |
    /// | idle / absolute timeout | 24 h / 7 days |
    /// | touch_after | 60 s, at most a quarter of the idle timeout |
    /// | persistent cookie | no (browser-session cookie) |
    /// | save_uninitialized / save on 5xx | no / no |
    /// | max data | 64 KiB serialized |
    /// | max Cookie header scanned | 8 KiB |
    /// | conflict policy | merge (per-key last writer wins) |
    /// | flush data on a change of principal | yes |
    /// | `Cache-Control: no-store` on signed-in responses | yes |
    /// | transport | cookie only (header tokens: `Authorization: Bearer`, answered in `Session-Token`) |
    /// | max concurrent sessions per user | unlimited |
    /// | CSRF guard (unsafe cross-site requests may not use the session) | on, own origin only |
    pub fn builder(keys: impl IntoIterator<Item = Key>) -> SessionConfigBuilder {
        SessionConfigBuilder {
            keys: keys.into_iter().collect(),
            name: None,
            path: "/".into(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            partitioned: false,
            mode: CookieMode::Signed,
            idle_timeout: Some(Duration::from_secs(24 * 3600)),
            absolute_timeout: Some(Duration::from_secs(7 * 24 * 3600)),
            touch_after: None,
            persistent: false,
            save_uninitialized: false,
            save_on_server_error: false,
            max_data_bytes: 64 * 1024,
            max_cookie_header_bytes: 8 * 1024,
            conflict_policy: ConflictPolicy::Merge,
            flush_on_principal_change: true,
            no_store_when_signed_in: true,
            transport: Transport::Cookie,
            token_headers: None,
            max_sessions_per_user: None,
            csrf: CsrfGuard::default(),
            express: None,
        }
    }

    /// A builder for Express-compatible mode ([`crate::express`]): the same defaults, but
    /// the cookie is express-session's `connect.sid` signed with `secrets`, and the ids
    /// are keyed as the connect-* stores key them (plain). Shorthand for
    /// `builder([]).express_compatible(secrets, SidKeying::Plain)`.
    pub fn express_builder(secrets: ExpressSecrets) -> SessionConfigBuilder {
        Self::builder([]).express_compatible(secrets, SidKeying::Plain)
    }

    /// The cookie name in use.
    pub fn cookie_name(&self) -> &str {
        &self.cookie.name
    }

    /// Where the credential travels.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The request header (lowercase) an adapter passes to
    /// [`SessionManager::start_request`](crate::SessionManager::start_request), or
    /// `None` when the transport is cookie only.
    pub fn token_header(&self) -> Option<&str> {
        (self.transport != Transport::Cookie).then_some(self.token_headers.request.as_str())
    }

    /// The codec for this configuration's cookie name, mode and keys (for tests).
    #[cfg(feature = "test-suite")]
    pub fn codec(&self) -> &CookieCodec {
        &self.codec
    }

    /// How often, at most, an unmodified session's deadline is pushed back.
    pub fn touch_after(&self) -> Duration {
        self.touch_after
    }

    /// The idle timeout, if any.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// The absolute timeout, if any.
    pub fn absolute_timeout(&self) -> Option<Duration> {
        self.absolute_timeout
    }

    /// The CSRF guard's settings.
    pub fn csrf_guard(&self) -> &CsrfGuard {
        &self.csrf
    }

    /// The cap on a user's concurrent sessions, if any.
    pub fn max_sessions_per_user(&self) -> Option<NonZeroUsize> {
        self.max_sessions_per_user
    }
}

/// Builds a [`SessionConfig`]; every setting is checked by [`build`](Self::build).
#[derive(Debug, Clone)]
#[must_use]
pub struct SessionConfigBuilder {
    keys: Vec<Key>,
    name: Option<String>,
    path: String,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    partitioned: bool,
    mode: CookieMode,
    idle_timeout: Option<Duration>,
    absolute_timeout: Option<Duration>,
    touch_after: Option<Duration>,
    persistent: bool,
    save_uninitialized: bool,
    save_on_server_error: bool,
    max_data_bytes: usize,
    max_cookie_header_bytes: usize,
    conflict_policy: ConflictPolicy,
    flush_on_principal_change: bool,
    no_store_when_signed_in: bool,
    transport: Transport,
    token_headers: Option<(String, String)>,
    max_sessions_per_user: Option<NonZeroUsize>,
    csrf: CsrfGuard,
    express: Option<(ExpressSecrets, SidKeying)>,
}

impl SessionConfigBuilder {
    /// Express-compatible mode, opt-in ([`crate::express`]): the cookie becomes
    /// express-session's `s:<sid>.<sig>` (HMAC-SHA256 under `secrets[0]`, every secret
    /// verifies, older ones are re-issued under the first), new ids are express-session's
    /// (24 random bytes, base64url), and the default cookie name is `connect.sid`. The
    /// builder's [`Key`]s and [`mode`](Self::mode) are then unused.
    ///
    /// `keying` says what stores see: [`SidKeying::Plain`] beside a Node app on a connect-*
    /// layout, [`SidKeying::Hashed`] on the native layout once the sessions were migrated.
    pub fn express_compatible(mut self, secrets: ExpressSecrets, keying: SidKeying) -> Self {
        self.express = Some((secrets, keying));
        self
    }

    /// The cookie name (an RFC 6265 token).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// The cookie `Path`.
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
    /// The cookie `Domain` (none by default: host-only).
    pub fn cookie_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }
    /// The `Secure` attribute; turn it off only for plain-http development.
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }
    /// The `HttpOnly` attribute.
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }
    /// The `SameSite` attribute.
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }
    /// The `Partitioned` attribute (CHIPS).
    pub fn partitioned(mut self, on: bool) -> Self {
        self.partitioned = on;
        self
    }
    /// Signed or private cookies.
    pub fn mode(mut self, mode: CookieMode) -> Self {
        self.mode = mode;
        self
    }
    /// Sessions end after this long without a request that touches them; `None`: never
    /// idle out (then an absolute timeout is required).
    pub fn idle_timeout(mut self, d: Option<Duration>) -> Self {
        self.idle_timeout = d;
        self
    }
    /// Sessions end this long after creation whatever their activity; `None`: no cap.
    pub fn absolute_timeout(mut self, d: Option<Duration>) -> Self {
        self.absolute_timeout = d;
        self
    }
    /// An unmodified session's deadline is pushed back at most this often (each push is a
    /// store write). At most half the idle timeout, or [`build`](Self::build) refuses it:
    /// a longer one lets a session that is in use expire. Unset, it is 60 s or a quarter
    /// of the idle timeout, whichever is shorter.
    pub fn touch_after(mut self, d: Duration) -> Self {
        self.touch_after = Some(d);
        self
    }
    /// Whether new sessions get a persistent cookie (`Max-Age`) or a browser-session one;
    /// a session can override it ("remember me").
    pub fn persistent(mut self, on: bool) -> Self {
        self.persistent = on;
        self
    }
    /// Whether a new session nobody wrote to is stored anyway.
    pub fn save_uninitialized(mut self, on: bool) -> Self {
        self.save_uninitialized = on;
        self
    }
    /// Whether changes made by a handler that answered 5xx are saved.
    pub fn save_on_server_error(mut self, on: bool) -> Self {
        self.save_on_server_error = on;
        self
    }
    /// The largest serialized session data accepted.
    pub fn max_data_bytes(mut self, bytes: usize) -> Self {
        self.max_data_bytes = bytes;
        self
    }
    /// How many bytes of Cookie headers are scanned for the session cookie.
    pub fn max_cookie_header_bytes(mut self, bytes: usize) -> Self {
        self.max_cookie_header_bytes = bytes;
        self
    }
    /// Merge (per-key last writer wins) or strict (typed conflicts).
    pub fn conflict_policy(mut self, policy: ConflictPolicy) -> Self {
        self.conflict_policy = policy;
        self
    }
    /// Whether a change from one signed-in principal to another (or to nobody) drops the
    /// session's data, so user A's leftovers never become user B's. On by default; an
    /// anonymous visitor's data survives a login either way.
    pub fn flush_on_principal_change(mut self, on: bool) -> Self {
        self.flush_on_principal_change = on;
        self
    }
    /// Whether responses of signed-in sessions get `Cache-Control: no-store` (so the back
    /// button cannot show an account page after logout). On by default.
    pub fn no_store_when_signed_in(mut self, on: bool) -> Self {
        self.no_store_when_signed_in = on;
        self
    }

    /// Where the credential travels: cookie only (the default), a request header only, or
    /// either ([`Transport`]).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// The header transport's names: the request header that carries the token
    /// (`authorization` means `Authorization: Bearer <token>`; any other carries the bare
    /// token) and the response header a new or rotated token is sent in (an empty value
    /// there tells the client to drop its token). Default `authorization` /
    /// `session-token`.
    pub fn token_headers(mut self, request: &str, response: &str) -> Self {
        self.token_headers = Some((request.to_owned(), response.to_owned()));
        self
    }

    /// At most this many concurrent sessions per user (off by default): a login beyond it
    /// signs the user's least recently seen other session out. Enforced by the store
    /// right after the login's write ([`crate::SessionStore::trim_sessions_of`]), so
    /// concurrent logins of one user end with at most this many sessions.
    pub fn max_sessions_per_user(mut self, max: Option<NonZeroUsize>) -> Self {
        self.max_sessions_per_user = max;
        self
    }

    /// The CSRF guard ([`CsrfGuard`]): on by default; [`CsrfGuard::off`] switches it off,
    /// [`CsrfGuard::allow_origin`] accepts other origins. Adapters hand each request's
    /// method, `Host`, `Origin` and `Sec-Fetch-Site` to [`crate::SessionManager::start_request`].
    pub fn csrf_guard(mut self, guard: CsrfGuard) -> Self {
        self.csrf = guard;
        self
    }

    /// Checks every setting.
    pub fn build(self) -> Result<SessionConfig, ConfigError> {
        let name = self.name.unwrap_or_else(|| {
            if self.express.is_some() {
                "connect.sid".to_owned()
            } else if self.secure {
                "__Host-sid".to_owned()
            } else {
                "sid".to_owned()
            }
        });
        check_name(&name)?;
        check_attribute("Path", &self.path)?;
        if let Some(domain) = &self.domain {
            check_attribute("Domain", domain)?;
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(ConfigError::SameSiteNoneNeedsSecure);
        }
        // Browsers match the prefixes case-insensitively.
        let has_prefix = |prefix: &str| {
            name.get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        };
        if has_prefix("__Secure-") && !self.secure {
            return Err(ConfigError::PrefixRequirements("__Secure-"));
        }
        if has_prefix("__Host-") && (!self.secure || self.path != "/" || self.domain.is_some()) {
            return Err(ConfigError::PrefixRequirements("__Host-"));
        }
        match (self.idle_timeout, self.absolute_timeout) {
            (None, None) => return Err(ConfigError::NoTimeout),
            (Some(d), _) if d.is_zero() => return Err(ConfigError::ZeroDuration("idle timeout")),
            (_, Some(d)) if d.is_zero() => {
                return Err(ConfigError::ZeroDuration("absolute timeout"));
            }
            _ => {}
        }
        let touch_after = match (self.touch_after, self.idle_timeout) {
            (Some(touch_after), Some(idle_timeout)) if touch_after > idle_timeout / 2 => {
                return Err(ConfigError::TouchAfterTooLong {
                    touch_after,
                    idle_timeout,
                });
            }
            (Some(touch_after), _) => touch_after,
            (None, Some(idle)) => DEFAULT_TOUCH_AFTER.min(idle / 4),
            (None, None) => DEFAULT_TOUCH_AFTER,
        };
        let codec = match self.express {
            Some((secrets, keying)) => CookieCodec::express(&name, secrets, keying),
            None => CookieCodec::new(&name, self.mode, self.keys)?,
        };
        let token_headers = match &self.token_headers {
            Some((request, response)) => TokenHeaders::checked(request, response)?,
            None => TokenHeaders::default(),
        };
        Ok(SessionConfig {
            cookie: CookieAttributes {
                name,
                path: self.path,
                domain: self.domain,
                secure: self.secure,
                http_only: self.http_only,
                same_site: self.same_site,
                partitioned: self.partitioned,
            },
            codec,
            idle_timeout: self.idle_timeout,
            absolute_timeout: self.absolute_timeout,
            touch_after,
            persistent: self.persistent,
            save_uninitialized: self.save_uninitialized,
            save_on_server_error: self.save_on_server_error,
            max_data_bytes: self.max_data_bytes,
            max_cookie_header_bytes: self.max_cookie_header_bytes,
            conflict_policy: self.conflict_policy,
            flush_on_principal_change: self.flush_on_principal_change,
            no_store_when_signed_in: self.no_store_when_signed_in,
            transport: self.transport,
            token_headers,
            max_sessions_per_user: self.max_sessions_per_user,
            csrf: self.csrf,
        })
    }
}

fn check_name(name: &str) -> Result<(), ConfigError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || name.len() > 256 || !name.bytes().all(token) {
        return Err(ConfigError::InvalidCookieName(name.to_owned()));
    }
    Ok(())
}

fn check_attribute(attribute: &'static str, value: &str) -> Result<(), ConfigError> {
    let bad = |c: char| c == ';' || c.is_control();
    if value.is_empty() || value.len() > 1024 || value.contains(bad) {
        return Err(ConfigError::InvalidCookieAttribute {
            attribute,
            value: value.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> SessionConfigBuilder {
        SessionConfig::builder([Key::generate()])
    }

    #[test]
    fn defaults_are_secure() {
        let c = builder().build().expect("defaults build");
        assert_eq!(c.cookie_name(), "__Host-sid");
        assert!(c.cookie.secure && c.cookie.http_only);
        assert_eq!(c.cookie.same_site, SameSite::Lax);
        assert_eq!(
            builder().secure(false).build().expect("dev").cookie_name(),
            "sid"
        );
    }

    #[test]
    fn injection_and_unsafe_settings_are_refused_with_their_reason() {
        use ConfigError as E;
        let attribute = |attribute: &'static str, value: &str| E::InvalidCookieAttribute {
            attribute,
            value: value.to_owned(),
        };
        let cases: Vec<(SessionConfigBuilder, ConfigError)> = vec![
            (
                builder().cookie_name("a;b"),
                E::InvalidCookieName("a;b".into()),
            ),
            (
                builder().cookie_name("a b"),
                E::InvalidCookieName("a b".into()),
            ),
            (
                builder().cookie_name(""),
                E::InvalidCookieName(String::new()),
            ),
            (
                builder().cookie_path("/x; Domain=evil"),
                attribute("Path", "/x; Domain=evil"),
            ),
            (
                builder().cookie_path("/x\r\nSet-Cookie: a=b"),
                attribute("Path", "/x\r\nSet-Cookie: a=b"),
            ),
            (
                builder().cookie_name("s").cookie_domain("a.com;x"),
                attribute("Domain", "a.com;x"),
            ),
            (
                builder().secure(false).same_site(SameSite::None),
                E::SameSiteNoneNeedsSecure,
            ),
            (
                builder().secure(false).cookie_name("__Host-x"),
                E::PrefixRequirements("__Host-"),
            ),
            (
                builder().secure(false).cookie_name("__host-x"),
                E::PrefixRequirements("__Host-"),
            ),
            (
                builder().cookie_name("__HOST-x").cookie_domain("a.com"),
                E::PrefixRequirements("__Host-"),
            ),
            (
                builder().cookie_name("__Host-x").cookie_path("/app"),
                E::PrefixRequirements("__Host-"),
            ),
            (
                builder().secure(false).cookie_name("__Secure-x"),
                E::PrefixRequirements("__Secure-"),
            ),
            (
                builder().secure(false).cookie_name("__SECURE-x"),
                E::PrefixRequirements("__Secure-"),
            ),
            (
                builder().idle_timeout(None).absolute_timeout(None),
                E::NoTimeout,
            ),
            (
                builder().idle_timeout(Some(Duration::ZERO)),
                E::ZeroDuration("idle timeout"),
            ),
            (
                builder().absolute_timeout(Some(Duration::ZERO)),
                E::ZeroDuration("absolute timeout"),
            ),
            (
                builder()
                    .idle_timeout(Some(Duration::from_secs(2)))
                    .touch_after(Duration::from_secs(60)),
                E::TouchAfterTooLong {
                    touch_after: Duration::from_secs(60),
                    idle_timeout: Duration::from_secs(2),
                },
            ),
            (SessionConfig::builder([]), E::NoKeys),
        ];
        for (b, expected) in cases {
            assert_eq!(b.build().err(), Some(expected));
        }
    }

    #[test]
    fn touch_after_defaults_to_a_quarter_of_a_short_idle_timeout() {
        let short = builder().idle_timeout(Some(Duration::from_secs(2)));
        assert_eq!(
            short.build().expect("short idle").touch_after(),
            Duration::from_millis(500)
        );
        assert_eq!(
            builder().build().expect("defaults").touch_after(),
            Duration::from_secs(60)
        );
        let half = builder()
            .idle_timeout(Some(Duration::from_secs(2)))
            .touch_after(Duration::from_secs(1));
        assert_eq!(
            half.build().expect("half").touch_after(),
            Duration::from_secs(1)
        );
    }
}
