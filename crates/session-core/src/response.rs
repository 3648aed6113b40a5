//! What the manager asks an adapter to add to the response.

use std::time::Duration;

use cookie::Cookie;
use time::OffsetDateTime;

use crate::config::SessionConfig;
use crate::transport::Transport;

/// What an adapter tells the manager about the response its handler produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseInfo {
    /// The status code.
    pub status: u16,
    /// The handler's `Cache-Control` value, if it set one (a value that is not UTF-8 may
    /// be passed as `Some("")`: the session's policy then replaces it).
    pub cache_control: Option<String>,
}

impl ResponseInfo {
    /// A response with this status and no `Cache-Control` of the handler's.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            cache_control: None,
        }
    }
}

/// Headers to change on the response: `Set-Cookie` and `Vary` to append, `Cache-Control`
/// to replace. Empty when the session needs nothing.
///
/// Its `Debug` output never shows the cookie value (it is a live credential).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderPatch {
    set_cookie: Option<String>,
    /// The header transport's response header and its value (empty: drop the token).
    token: Option<(String, String)>,
    vary: Option<String>,
    cache_control: Option<String>,
}

impl std::fmt::Debug for HeaderPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keep the name and attributes, never the value.
        let set_cookie = self.set_cookie.as_deref().map(|c| {
            let (pair, attributes) = c.split_once(';').unwrap_or((c, ""));
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            format!("{name}=<redacted>;{attributes}")
        });
        let token = self.token.as_ref().map(|(name, value)| {
            if value.is_empty() {
                format!("{name}: <empty: drop the token>")
            } else {
                format!("{name}: <redacted>")
            }
        });
        f.debug_struct("HeaderPatch")
            .field("set_cookie", &set_cookie)
            .field("token", &token)
            .field("vary", &self.vary)
            .field("cache_control", &self.cache_control)
            .finish()
    }
}

/// Directives a shared cache acts on, removed from a response that carries a session:
/// what `private` or `no-store` then forbids is not theirs to allow.
const SHARED_CACHE_DIRECTIVES: [&str; 3] = ["public", "s-maxage", "proxy-revalidate"];

impl HeaderPatch {
    /// Nothing to add.
    pub fn none() -> Self {
        Self::default()
    }

    /// The patch for a response whose handler's caching policy is `response`, that sets
    /// `set_cookie` and/or sends `token` in the token response header (if any) and
    /// belongs to a signed-in session or not.
    ///
    /// The merge, so that no shared cache stores a session's response:
    /// - signed in (and `no_store` on), or a token header sent: `Cache-Control: no-store`,
    ///   whatever the handler said (a token is a credential in the response itself);
    /// - otherwise, with a `Set-Cookie`: the handler's directives minus `public`,
    ///   `s-maxage` and `proxy-revalidate`, plus `private`; without a handler policy,
    ///   `private, no-cache="Set-Cookie"`;
    /// - `Vary` naming the request headers the session came from whenever either applies.
    pub(crate) fn new(
        set_cookie: Option<String>,
        token: Option<String>,
        signed_in_no_store: bool,
        response: &ResponseInfo,
        config: &SessionConfig,
    ) -> Self {
        let handler = response.cache_control.as_deref();
        let cache_control = if signed_in_no_store || token.is_some() {
            let already = handler.is_some_and(|h| directives(h).any(|d| d == "no-store"));
            (!already).then(|| "no-store".to_owned())
        } else if set_cookie.is_some() {
            Some(match handler {
                None => "private, no-cache=\"Set-Cookie\"".to_owned(),
                Some(h) => private_merge(h),
            })
            .filter(|merged| Some(merged.as_str()) != handler)
        } else {
            None
        };
        let applies = set_cookie.is_some() || token.is_some() || signed_in_no_store;
        let vary = applies.then(|| match config.token_header() {
            None => "Cookie".to_owned(),
            Some(header) if config.transport == Transport::Header => header.to_owned(),
            Some(header) => format!("Cookie, {header}"),
        });
        Self {
            vary,
            token: token.map(|value| (config.token_headers.response.clone(), value)),
            set_cookie,
            cache_control,
        }
    }

    /// Whether there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.set_cookie.is_none()
            && self.token.is_none()
            && self.vary.is_none()
            && self.cache_control.is_none()
    }

    /// The `Set-Cookie` value, if any.
    pub fn set_cookie(&self) -> Option<&str> {
        self.set_cookie.as_deref()
    }

    /// The token response header's value, if one is sent: a new or rotated token, or empty
    /// when the client must drop its token (destroyed, expired or unknown).
    pub fn token(&self) -> Option<&str> {
        self.token.as_ref().map(|(_, value)| value.as_str())
    }

    /// The `Cache-Control` value that replaces the handler's, if any.
    pub fn cache_control(&self) -> Option<&str> {
        self.cache_control.as_deref()
    }

    /// Header names (lowercase) whose existing values the adapter removes before appending
    /// [`headers`](Self::headers): `cache-control` when the session's policy replaces it.
    pub fn replaced(&self) -> impl Iterator<Item = &'static str> {
        self.cache_control
            .as_ref()
            .map(|_| "cache-control")
            .into_iter()
    }

    /// `(name, value)` pairs to append, names lowercase: `set-cookie`, the token response
    /// header, `vary`, then `cache-control` (after the handler's was removed, see
    /// [`replaced`](Self::replaced)).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        let cookie = self.set_cookie.as_deref().map(|v| ("set-cookie", v));
        let token = self.token.as_ref().map(|(n, v)| (n.as_str(), v.as_str()));
        let vary = self.vary.as_deref().map(|v| ("vary", v));
        let cache = self.cache_control.as_deref().map(|v| ("cache-control", v));
        cookie.into_iter().chain(token).chain(vary).chain(cache)
    }
}

/// The directive names of a `Cache-Control` value, lowercase.
fn directives(value: &str) -> impl Iterator<Item = String> + '_ {
    value.split(',').filter_map(|d| {
        let name = d.split('=').next()?.trim();
        (!name.is_empty()).then(|| name.to_ascii_lowercase())
    })
}

/// `value` with the shared-cache directives dropped and `private` added (unless it
/// already forbids storing altogether).
fn private_merge(value: &str) -> String {
    let mut kept: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .filter(|d| {
            let name = d.split('=').next().unwrap_or_default().trim();
            !SHARED_CACHE_DIRECTIVES
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name))
        })
        .collect();
    let has = |want: &str| {
        kept.iter().any(|d| {
            d.split('=')
                .next()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(want))
        })
    };
    if !has("private") && !has("no-store") {
        kept.insert(0, "private");
    }
    kept.join(", ")
}

/// How long the browser keeps the cookie.
pub(crate) enum Lifetime {
    /// Until the browser session ends.
    BrowserSession,
    /// This long (a persistent cookie).
    MaxAge(Duration),
    /// Drop it now.
    Expired,
}

/// A `Set-Cookie` header value.
pub(crate) fn set_cookie(config: &SessionConfig, value: String, lifetime: Lifetime) -> String {
    let attrs = &config.cookie;
    let mut cookie = Cookie::build((attrs.name.clone(), value))
        .path(attrs.path.clone())
        .secure(attrs.secure)
        .http_only(attrs.http_only)
        .same_site(attrs.same_site)
        .partitioned(attrs.partitioned);
    if let Some(domain) = &attrs.domain {
        cookie = cookie.domain(domain.clone());
    }
    match lifetime {
        Lifetime::BrowserSession => {}
        Lifetime::MaxAge(age) => {
            let age = time::Duration::seconds(i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
            cookie = cookie
                .max_age(age)
                .expires(OffsetDateTime::now_utc().saturating_add(age));
        }
        Lifetime::Expired => {
            cookie = cookie
                .max_age(time::Duration::ZERO)
                .expires(OffsetDateTime::UNIX_EPOCH);
        }
    }
    cookie.build().to_string()
}
