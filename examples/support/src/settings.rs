//! The examples' configuration, read from the environment once at start-up.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::time::Duration;

use session_core::{
    ConfigError, ConflictPolicy, CsrfGuard, ExpressSecrets, Key, SessionConfig, SidKeying,
    Transport,
};

use crate::StoreUrl;
use crate::compat::{Compat, parse_secrets};

/// Why the environment does not describe a usable configuration.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A variable holds a value that does not parse.
    #[error("{var}: {why}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What is wrong (never the value of a secret).
        why: String,
    },
    /// The session configuration built from the variables is refused.
    #[error("session configuration: {0}")]
    Config(#[from] ConfigError),
}

impl SettingsError {
    fn invalid(var: &'static str, why: impl Into<String>) -> Self {
        Self::Invalid {
            var,
            why: why.into(),
        }
    }
}

/// Every setting of an example app.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `SESSION_STORE` | `sqlite://sessions.db` | `memory:`, `sqlite://<path>`, `postgres://…`, `redis://…`, `redis+cluster://h:p,h:p`, `redis+sentinel://h:p,h:p/<master>[?wait=1]`, `mongodb://…` |
/// | `SESSION_KEYS` | a generated key (a warning is logged) | comma-separated base64 keys of ≥ 32 bytes, newest first |
/// | `HOST` / `PORT` | `127.0.0.1` / `3000` | where to listen |
/// | `SESSION_IDLE_SECS` | 86400 | idle timeout |
/// | `SESSION_ABSOLUTE_SECS` | 604800 | absolute timeout |
/// | `SESSION_TOUCH_AFTER_SECS` | 60, at most a quarter of the idle timeout | how often an unmodified session's deadline is pushed back (at most half the idle timeout) |
/// | `SESSION_COOKIE_SECURE` | `false` | the cookie's `Secure` attribute: set it to `true` whenever the site is served over TLS (directly or behind a TLS-terminating proxy) |
/// | `SESSION_ALLOWED_ORIGINS` | none | comma-separated origins (`https://front.example`) the CSRF guard accepts besides the request's own |
/// | `SESSION_MAX_PER_USER` | unlimited | at most this many concurrent sessions per user; a login beyond it signs the least recently seen out |
/// | `SESSION_STRICT` | `false` | strict conflict policy: a lost update becomes a 409 |
/// | `SESSION_STORE_TIMEOUT_MS` | the store's own (4000) | bound on one store operation while the server is down, frozen or slow (every store but memory) |
/// | `SESSION_PERSISTENT` | `false` | persistent cookies (`Max-Age`/`Expires` kept in step with the store) instead of browser-session ones |
/// | `SESSION_COMPAT` | `native` | `express`: share sessions with an Express app (its cookie, `SESSION_SECRETS`, its connect-* layout); `express-migrated`: its cookie on the native layout (see [`Compat`]) |
/// | `SESSION_TRANSPORT` | `cookie` | `header`: the session travels as `Authorization: Bearer <token>`, new tokens come back in `Session-Token` (empty: drop it); `both`: a token request is answered by header, any other by cookie |
/// | `SESSION_SECRETS` | — | with `SESSION_COMPAT=express*`: the Node app's secrets, comma-separated, newest first |
#[derive(Debug, Clone)]
pub struct Settings {
    /// The store to use.
    pub store: StoreUrl,
    /// Cookie keys, newest first.
    pub keys: Vec<Key>,
    /// Whether `keys` is a generated development key (sessions die with the process).
    pub generated_key: bool,
    /// The address to listen on.
    pub addr: SocketAddr,
    /// The idle timeout.
    pub idle: Duration,
    /// The absolute timeout.
    pub absolute: Duration,
    /// The touch throttle.
    pub touch_after: Option<Duration>,
    /// The cookie's `Secure` attribute.
    pub cookie_secure: bool,
    /// Strict conflict policy.
    pub strict: bool,
    /// Bound on one store operation, `None` for the store's default.
    pub store_timeout: Option<Duration>,
    /// Origins the CSRF guard accepts besides the request's own.
    pub allowed_origins: Vec<String>,
    /// The cap on a user's concurrent sessions.
    pub max_per_user: Option<NonZeroUsize>,
    /// Where the session travels (cookie, header token, or either).
    pub transport: Transport,
    /// Persistent cookies for new sessions.
    pub persistent: bool,
    /// Native or Express-compatible.
    pub compat: Compat,
    /// The Node app's secrets, in Express-compatible modes.
    pub secrets: Option<ExpressSecrets>,
}

/// The store used when `SESSION_STORE` is unset: an SQLite file in the current directory.
pub const DEFAULT_STORE: &str = "sqlite://sessions.db";
/// The port used when `PORT` is unset.
pub const DEFAULT_PORT: u16 = 3000;

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// Reads settings through `get` (a variable's value, or `None` when unset).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let store = get("SESSION_STORE").unwrap_or_else(|| DEFAULT_STORE.to_owned());
        let store =
            StoreUrl::parse(&store).map_err(|why| SettingsError::invalid("SESSION_STORE", why))?;
        let compat = Compat::from_lookup(get)?;
        let secrets = compat
            .is_express()
            .then(|| parse_secrets(get("SESSION_SECRETS")))
            .transpose()?;
        let (keys, generated_key) = match get("SESSION_KEYS") {
            Some(text) => (parse_keys(&text)?, false),
            // The express cookie is signed with SESSION_SECRETS: no key is needed.
            None => (vec![Key::generate()], !compat.is_express()),
        };
        let host: IpAddr = parse_or("HOST", get("HOST"), IpAddr::V4(Ipv4Addr::LOCALHOST))?;
        let port: u16 = parse_or("PORT", get("PORT"), DEFAULT_PORT)?;
        Ok(Self {
            store,
            keys,
            generated_key,
            addr: SocketAddr::new(host, port),
            idle: secs("SESSION_IDLE_SECS", get("SESSION_IDLE_SECS"), 24 * 3600)?,
            absolute: secs(
                "SESSION_ABSOLUTE_SECS",
                get("SESSION_ABSOLUTE_SECS"),
                7 * 24 * 3600,
            )?,
            touch_after: get("SESSION_TOUCH_AFTER_SECS")
                .map(|v| secs("SESSION_TOUCH_AFTER_SECS", Some(v), 60))
                .transpose()?,
            cookie_secure: flag("SESSION_COOKIE_SECURE", get("SESSION_COOKIE_SECURE"))?,
            strict: flag("SESSION_STRICT", get("SESSION_STRICT"))?,
            store_timeout: millis("SESSION_STORE_TIMEOUT_MS", get("SESSION_STORE_TIMEOUT_MS"))?,
            allowed_origins: get("SESSION_ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|o| !o.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            max_per_user: match get("SESSION_MAX_PER_USER") {
                None => None,
                Some(v) => Some(v.trim().parse::<NonZeroUsize>().map_err(|e| {
                    SettingsError::invalid("SESSION_MAX_PER_USER", format!("{v:?}: {e}"))
                })?),
            },
            transport: transport(get("SESSION_TRANSPORT"))?,
            persistent: flag("SESSION_PERSISTENT", get("SESSION_PERSISTENT"))?,
            compat,
            secrets,
        })
    }

    /// The session configuration these settings describe.
    pub fn session_config(&self) -> Result<SessionConfig, SettingsError> {
        let policy = if self.strict {
            ConflictPolicy::Strict
        } else {
            ConflictPolicy::Merge
        };
        let mut builder = SessionConfig::builder(self.keys.iter().cloned())
            .secure(self.cookie_secure)
            .idle_timeout(Some(self.idle))
            .absolute_timeout(Some(self.absolute))
            .conflict_policy(policy)
            .max_sessions_per_user(self.max_per_user)
            .persistent(self.persistent)
            .transport(self.transport);
        let guard = self
            .allowed_origins
            .iter()
            .fold(CsrfGuard::default(), |guard, origin| {
                guard.allow_origin(origin)
            });
        builder = builder.csrf_guard(guard);
        let keying = match self.compat {
            Compat::Native => None,
            Compat::Express(_) => Some(SidKeying::Plain),
            Compat::ExpressMigrated => Some(SidKeying::Hashed),
        };
        if let (Some(keying), Some(secrets)) = (keying, &self.secrets) {
            builder = builder.express_compatible(secrets.clone(), keying);
        }
        // Unset, the library picks 60 s or a quarter of the idle timeout.
        if let Some(touch_after) = self.touch_after {
            builder = builder.touch_after(touch_after);
        }
        Ok(builder.build()?)
    }
}

fn parse_keys(text: &str) -> Result<Vec<Key>, SettingsError> {
    text.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .enumerate()
        // The key itself never appears in the message.
        .map(|(i, k)| {
            Key::from_base64(k)
                .map_err(|e| SettingsError::invalid("SESSION_KEYS", format!("key #{}: {e}", i + 1)))
        })
        .collect()
}

fn parse_or<T: std::str::FromStr>(
    var: &'static str,
    value: Option<String>,
    default: T,
) -> Result<T, SettingsError>
where
    T::Err: std::fmt::Display,
{
    match value {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|e| SettingsError::invalid(var, format!("{v:?}: {e}"))),
    }
}

fn secs(var: &'static str, value: Option<String>, default: u64) -> Result<Duration, SettingsError> {
    let n: u64 = parse_or(var, value, default)?;
    if n == 0 {
        return Err(SettingsError::invalid(
            var,
            "must be a positive number of seconds",
        ));
    }
    Ok(Duration::from_secs(n))
}

fn millis(var: &'static str, value: Option<String>) -> Result<Option<Duration>, SettingsError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match parse_or(var, Some(value), 0u64)? {
        0 => Err(SettingsError::invalid(
            var,
            "must be a positive number of milliseconds",
        )),
        n => Ok(Some(Duration::from_millis(n))),
    }
}

fn transport(value: Option<String>) -> Result<Transport, SettingsError> {
    match value.as_deref().map(str::trim) {
        None | Some("cookie") => Ok(Transport::Cookie),
        Some("header") => Ok(Transport::Header),
        Some("both") => Ok(Transport::CookieOrHeader),
        Some(other) => Err(SettingsError::invalid(
            "SESSION_TRANSPORT",
            format!("{other:?}: expected cookie, header or both"),
        )),
    }
}

fn flag(var: &'static str, value: Option<String>) -> Result<bool, SettingsError> {
    match value
        .as_deref()
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(SettingsError::invalid(
            var,
            format!("{other:?}: expected true or false"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults() {
        let s = read(&[]).expect("defaults");
        assert_eq!(s.store, StoreUrl::Sqlite(DEFAULT_STORE.into()));
        assert!(s.generated_key);
        assert_eq!(s.addr.port(), 3000);
        assert!(!s.cookie_secure && !s.strict);
        assert_eq!(s.store_timeout, None);
        let config = s.session_config().expect("dev config");
        assert_eq!(config.cookie_name(), "sid");
        assert!(!config.is_express_compatible() && !s.persistent);
    }

    #[test]
    fn express_compatibility_needs_the_secrets() {
        let s = read(&[
            ("SESSION_COMPAT", "express"),
            ("SESSION_SECRETS", "new secret, old secret"),
            ("SESSION_STORE", "redis://127.0.0.1:6379"),
        ])
        .expect("express");
        assert!(!s.generated_key, "no key warning: the secrets sign");
        let config = s.session_config().expect("express config");
        assert!(config.is_express_compatible());
        assert_eq!(config.cookie_name(), "connect.sid");
        assert_eq!(s.secrets.as_ref().map(ExpressSecrets::len), Some(2));
        let Compat::Express(names) = &s.compat else {
            panic!("not express: {:?}", s.compat)
        };
        assert_eq!(
            (names.redis_prefix.as_str(), names.pg_table.as_str()),
            ("sess:", "session")
        );
        let err = read(&[("SESSION_COMPAT", "express")]).expect_err("no secrets");
        assert!(err.to_string().starts_with("SESSION_SECRETS"), "{err}");
        let err = read(&[("SESSION_TRANSPORT", "carrier-pigeon")]).expect_err("unknown");
        assert!(err.to_string().starts_with("SESSION_TRANSPORT"), "{err}");
        let header = read(&[("SESSION_TRANSPORT", "header")]).expect("header");
        assert_eq!(header.transport, Transport::Header);
        let err = read(&[("SESSION_COMPAT", "koa")]).expect_err("unknown");
        assert!(err.to_string().starts_with("SESSION_COMPAT"), "{err}");
        let migrated = read(&[
            ("SESSION_COMPAT", "express-migrated"),
            ("SESSION_SECRETS", "s"),
        ]);
        assert!(
            migrated
                .expect("migrated")
                .session_config()
                .expect("config")
                .is_express_compatible()
        );
    }

    #[test]
    fn values_are_read() {
        let key = "HWC9A1T0vUpdH1Gzbf/U57MQUWBUId+dZuoI8Y2CyUI=";
        let s = read(&[
            ("SESSION_STORE", "memory:"),
            ("SESSION_KEYS", &format!("{key}, {key}")),
            ("PORT", "8080"),
            ("SESSION_IDLE_SECS", "30"),
            ("SESSION_COOKIE_SECURE", "true"),
            ("SESSION_STRICT", "1"),
            ("SESSION_STORE_TIMEOUT_MS", "1500"),
        ])
        .expect("valid");
        assert_eq!(s.store, StoreUrl::Memory);
        assert_eq!((s.keys.len(), s.generated_key), (2, false));
        assert_eq!(s.addr.port(), 8080);
        assert_eq!(s.idle, Duration::from_secs(30));
        assert!(s.cookie_secure && s.strict);
        assert_eq!(s.store_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(
            s.session_config().expect("secure").cookie_name(),
            "__Host-sid"
        );
    }

    #[test]
    fn bad_values_are_named_and_secrets_are_not_echoed() {
        let cases = [
            ("PORT", "http", "PORT"),
            ("PORT", "70000", "PORT"),
            ("SESSION_IDLE_SECS", "0", "SESSION_IDLE_SECS"),
            ("SESSION_STORE_TIMEOUT_MS", "0", "SESSION_STORE_TIMEOUT_MS"),
            (
                "SESSION_STORE_TIMEOUT_MS",
                "soon",
                "SESSION_STORE_TIMEOUT_MS",
            ),
            ("SESSION_ABSOLUTE_SECS", "-5", "SESSION_ABSOLUTE_SECS"),
            ("SESSION_COOKIE_SECURE", "maybe", "SESSION_COOKIE_SECURE"),
            ("SESSION_STORE", "ftp://x", "SESSION_STORE"),
            ("SESSION_KEYS", "c2hvcnQtc2VjcmV0", "SESSION_KEYS"),
        ];
        for (var, value, named) in cases {
            let err = read(&[(var, value)]).expect_err(var).to_string();
            assert!(err.starts_with(named), "{var}={value}: {err}");
        }
        let err = read(&[("SESSION_KEYS", "c2hvcnQtc2VjcmV0")]).expect_err("short key");
        assert!(!err.to_string().contains("c2hvcnQtc2VjcmV0"), "{err}");
    }
}
