//! What the manager asks an adapter to add to the response.

use std::time::Duration;

use cookie::Cookie;
use time::OffsetDateTime;

use crate::config::SessionConfig;

/// What an adapter tells the manager about the response its handler produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseInfo {
    /// The status code.
    pub status: u16,
    /// Whether the handler set its own `Cache-Control`.
    pub has_cache_control: bool,
}

/// Headers to append to the response; empty when the session needs no cookie change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderPatch {
    set_cookie: Option<String>,
    cache_control: bool,
}

impl HeaderPatch {
    /// Nothing to add.
    pub fn none() -> Self {
        Self::default()
    }

    pub(crate) fn with_cookie(set_cookie: String, response: ResponseInfo) -> Self {
        Self {
            set_cookie: Some(set_cookie),
            cache_control: !response.has_cache_control,
        }
    }

    /// Whether there is nothing to add.
    pub fn is_empty(&self) -> bool {
        self.set_cookie.is_none()
    }

    /// The `Set-Cookie` value, if any.
    pub fn set_cookie(&self) -> Option<&str> {
        self.set_cookie.as_deref()
    }

    /// `(name, value)` pairs to append, names lowercase: `set-cookie`, then `vary: Cookie`
    /// (a response that sets a cookie must not be shared by caches across clients), then,
    /// when the handler chose no caching policy, `cache-control: no-cache="Set-Cookie"`.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let cookie = self.set_cookie.as_deref();
        let cookie_headers = cookie
            .into_iter()
            .flat_map(|v| [("set-cookie", v), ("vary", "Cookie")]);
        let cache = (cookie.is_some() && self.cache_control)
            .then_some(("cache-control", "no-cache=\"Set-Cookie\""));
        cookie_headers.chain(cache)
    }
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
