//! What the manager asks an adapter to add to the response.

use std::time::Duration;

use cookie::Cookie;
use time::OffsetDateTime;

use crate::config::SessionConfig;

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
    vary: bool,
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
        f.debug_struct("HeaderPatch")
            .field("set_cookie", &set_cookie)
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
    /// `set_cookie` (if any) and belongs to a signed-in session or not.
    ///
    /// The merge, so that no shared cache stores a session's response:
    /// - signed in (and `no_store` on): `Cache-Control: no-store`, whatever the handler said;
    /// - otherwise, with a `Set-Cookie`: the handler's directives minus `public`,
    ///   `s-maxage` and `proxy-revalidate`, plus `private`; without a handler policy,
    ///   `private, no-cache="Set-Cookie"`;
    /// - `Vary: Cookie` whenever either applies.
    pub(crate) fn new(
        set_cookie: Option<String>,
        signed_in_no_store: bool,
        response: &ResponseInfo,
    ) -> Self {
        let handler = response.cache_control.as_deref();
        let cache_control = if signed_in_no_store {
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
        Self {
            vary: set_cookie.is_some() || signed_in_no_store,
            set_cookie,
            cache_control,
        }
    }

    /// Whether there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.set_cookie.is_none() && !self.vary && self.cache_control.is_none()
    }

    /// The `Set-Cookie` value, if any.
    pub fn set_cookie(&self) -> Option<&str> {
        self.set_cookie.as_deref()
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

    /// `(name, value)` pairs to append, names lowercase: `set-cookie`, `vary: Cookie`,
    /// then `cache-control` (after the handler's was removed, see
    /// [`replaced`](Self::replaced)).
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let cookie = self.set_cookie.as_deref().map(|v| ("set-cookie", v));
        let vary = self.vary.then_some(("vary", "Cookie"));
        let cache = self.cache_control.as_deref().map(|v| ("cache-control", v));
        cookie.into_iter().chain(vary).chain(cache)
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
