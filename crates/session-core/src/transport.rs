//! Where the session credential travels: a cookie for browsers, a request header for API
//! clients (mobile apps, CLIs), or either.
//!
//! A header token is the cookie value moved to a header: the same signed or sealed id, the
//! same rotation, expiry and store behaviour. CSRF rules do not apply to it: a browser
//! attaches cookies to a cross-site request by itself, but never an `Authorization` or a
//! custom header — a page of another origin must run script to set one, and CORS asks this
//! server first — so a forged request carries no token.

use crate::error::ConfigError;

/// Where a session's credential travels between client and server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Transport {
    /// A cookie only (the default). Token headers are ignored.
    #[default]
    Cookie,
    /// A request header only. Cookies are neither read nor set.
    Header,
    /// Either. A request that carries a token header is served by header alone (its
    /// cookies are ignored, and the answer is a token header, never a `Set-Cookie`); a
    /// request with a cookie and no token header is served by cookie. A session created for
    /// a request that carried neither is issued both ways, and the client keeps the one it
    /// understands.
    CookieOrHeader,
}

/// Which way one request's credential came (or, for a new session, will go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Cookie,
    Header,
    /// Nothing was presented: a new session goes out on every configured transport.
    Neither,
}

/// The header names of the header transport, checked at build time.
#[derive(Debug, Clone)]
pub(crate) struct TokenHeaders {
    /// Lowercase. `authorization` means `Authorization: Bearer <token>`; any other name
    /// carries the bare token.
    pub request: String,
    /// Lowercase; names the header a new or rotated token is sent in. An empty value
    /// tells the client to drop its token (destroyed, expired or unknown).
    pub response: String,
}

/// The default request header of the header transport.
pub const DEFAULT_TOKEN_HEADER: &str = "authorization";
/// The default response header carrying a new token.
pub const DEFAULT_TOKEN_RESPONSE_HEADER: &str = "session-token";

impl Default for TokenHeaders {
    fn default() -> Self {
        Self {
            request: DEFAULT_TOKEN_HEADER.to_owned(),
            response: DEFAULT_TOKEN_RESPONSE_HEADER.to_owned(),
        }
    }
}

/// Headers the session itself writes or reads for other purposes.
const RESERVED: [&str; 4] = ["cookie", "set-cookie", "vary", "cache-control"];

impl TokenHeaders {
    /// Checks and lowercases both names.
    pub(crate) fn checked(request: &str, response: &str) -> Result<Self, ConfigError> {
        let request = header_name(request)?;
        let response = header_name(response)?;
        if response == DEFAULT_TOKEN_HEADER || response == request {
            return Err(ConfigError::InvalidHeaderName(response));
        }
        Ok(Self { request, response })
    }

    /// The token one request presents: exactly one value of the request header, with the
    /// `Bearer` scheme when that header is `authorization`. Several values, another scheme
    /// (`Basic`), non-UTF-8 bytes or an oversized value present no token.
    pub(crate) fn token<'a>(
        &self,
        values: impl IntoIterator<Item = &'a [u8]>,
        max_bytes: usize,
    ) -> Option<String> {
        let mut values = values.into_iter();
        let value = values.next()?;
        if values.next().is_some() || value.len() > max_bytes {
            return None;
        }
        let value = std::str::from_utf8(value).ok()?.trim();
        let token = if self.request == DEFAULT_TOKEN_HEADER {
            let (scheme, rest) = value.split_once(' ')?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return None;
            }
            rest.trim()
        } else {
            value
        };
        (!token.is_empty()).then(|| token.to_owned())
    }
}

/// `name` lowercased, if it is a valid HTTP field name (RFC 9110 `token`) that the session
/// does not use for something else.
fn header_name(name: &str) -> Result<String, ConfigError> {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let lower = name.to_ascii_lowercase();
    if lower.is_empty() || !lower.bytes().all(tchar) || RESERVED.contains(&lower.as_str()) {
        return Err(ConfigError::InvalidHeaderName(name.to_owned()));
    }
    Ok(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(headers: &TokenHeaders, values: &[&str]) -> Option<String> {
        headers.token(values.iter().map(|v| v.as_bytes()), 4096)
    }

    #[test]
    fn bearer_tokens_are_read_from_authorization_only_with_that_scheme() {
        let h = TokenHeaders::default();
        assert_eq!(token(&h, &["Bearer abc.def"]).as_deref(), Some("abc.def"));
        assert_eq!(token(&h, &["bearer   abc "]).as_deref(), Some("abc"));
        assert_eq!(token(&h, &["Basic dXNlcjpwdw=="]), None);
        assert_eq!(token(&h, &["Bearer"]), None);
        assert_eq!(token(&h, &["Bearer "]), None);
        assert_eq!(token(&h, &["Bearer a", "Bearer b"]), None, "ambiguous");
        assert_eq!(token(&h, &[]), None);
        assert_eq!(h.token([&[0xff, 0xfe][..]], 4096), None);
        assert_eq!(h.token([b"Bearer xyz".as_slice()], 5), None, "oversized");
    }

    #[test]
    fn a_custom_header_carries_the_bare_token() {
        let h = TokenHeaders::checked("X-Session-Token", "X-New-Session-Token").expect("valid");
        assert_eq!(h.request, "x-session-token");
        assert_eq!(token(&h, &["abc"]).as_deref(), Some("abc"));
        assert_eq!(token(&h, &["  "]), None);
    }

    #[test]
    fn reserved_or_malformed_names_are_refused() {
        for (request, response) in [
            ("cookie", "session-token"),
            ("authorization", "set-cookie"),
            ("authorization", "authorization"),
            ("x-token", "x-token"),
            ("bad name", "session-token"),
            ("", "session-token"),
            ("authorization", "sess\u{e9}"),
        ] {
            assert!(
                matches!(
                    TokenHeaders::checked(request, response),
                    Err(ConfigError::InvalidHeaderName(_))
                ),
                "{request} / {response}"
            );
        }
    }
}
