//! The CSRF guard: a cross-site request with an unsafe method may not use the session.
//!
//! Browsers attach the session cookie to a form another site posts (`SameSite=Lax` lets a
//! top-level cross-site POST through in some browsers, and a sibling subdomain is
//! "same-site" anyway), so login CSRF and state changes on a victim's session are
//! possible without a guard. The guard reads what browsers say about where a request
//! comes from: `Sec-Fetch-Site` (every current browser) and `Origin` (sent with every
//! cross-origin request and with POSTs). A request that carries neither, such as one from
//! `curl` or a server, is not a browser's cross-site request and passes; apps that must
//! support old browsers without either header add a synchronizer token
//! ([`crate::Session::csrf_token`]).
//!
//! The guard is lazy like the session: it refuses (403) the first session access of a
//! refused request, so routes that never touch the session are unaffected, and nothing a
//! refused handler did reaches the store.

/// What an adapter tells the manager about a request, for the CSRF guard. Header values
/// are raw bytes, as the frameworks hold them.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestInfo<'a> {
    /// The method (`GET`, `POST`, …).
    pub method: &'a str,
    /// The `Host` header (HTTP/2's `:authority`), the request's own origin's host.
    pub host: Option<&'a [u8]>,
    /// The `Origin` header.
    pub origin: Option<&'a [u8]>,
    /// The `Sec-Fetch-Site` header.
    pub sec_fetch_site: Option<&'a [u8]>,
}

/// Why the guard refused a request (logged, never sent to the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfRefusal {
    /// `Sec-Fetch-Site: cross-site` on an unsafe method.
    CrossSite,
    /// An `Origin` that is neither the request's own nor allowed.
    ForeignOrigin,
    /// `Origin: null` (a sandboxed frame, a `data:` URL, some redirects).
    OpaqueOrigin,
    /// [`crate::Session::verify_csrf_token`] with a token that is not the session's.
    TokenMismatch,
}

impl std::fmt::Display for CsrfRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::CrossSite => "Sec-Fetch-Site is cross-site",
            Self::ForeignOrigin => "Origin is neither this site nor an allowed origin",
            Self::OpaqueOrigin => "Origin is null",
            Self::TokenMismatch => "the CSRF token is not this session's",
        })
    }
}

/// The CSRF guard's settings ([`crate::SessionConfigBuilder::csrf_guard`]): on by
/// default, with no origin allowed besides the request's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfGuard {
    enabled: bool,
    allowed: Vec<String>,
}

impl Default for CsrfGuard {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed: Vec::new(),
        }
    }
}

impl CsrfGuard {
    /// The guard switched off: every request may use the session (for APIs that
    /// authenticate by other means than the cookie, or a guard of the app's own).
    pub fn off() -> Self {
        Self {
            enabled: false,
            allowed: Vec::new(),
        }
    }

    /// Also accepts unsafe requests whose `Origin` is `origin` (`scheme://host[:port]`,
    /// e.g. a separate front-end, or the public origin when a proxy rewrites `Host`), and
    /// whose `Sec-Fetch-Site` is then `cross-site`.
    pub fn allow_origin(mut self, origin: impl AsRef<str>) -> Self {
        self.allowed.push(normalize_origin(origin.as_ref()));
        self
    }

    /// Whether the guard is on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The verdict on `request`: `Ok` unless it has an unsafe method and says it comes
    /// from another site.
    pub fn check(&self, request: &RequestInfo<'_>) -> Result<(), CsrfRefusal> {
        if !self.enabled || is_safe(request.method) {
            return Ok(());
        }
        let origin = match request.origin.map(std::str::from_utf8) {
            None => None,
            Some(Ok(origin)) => Some(origin.trim()),
            Some(Err(_)) => return Err(CsrfRefusal::ForeignOrigin),
        };
        if let Some(origin) = origin {
            if origin == "null" {
                return Err(CsrfRefusal::OpaqueOrigin);
            }
            let origin = normalize_origin(origin);
            if self.allowed.contains(&origin) {
                return Ok(());
            }
            if !same_authority(&origin, request.host) {
                return Err(CsrfRefusal::ForeignOrigin);
            }
        }
        let cross_site = request
            .sec_fetch_site
            .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"cross-site"));
        if cross_site {
            return Err(CsrfRefusal::CrossSite);
        }
        Ok(())
    }
}

/// GET, HEAD, OPTIONS and TRACE change nothing by definition (RFC 9110), so they pass.
fn is_safe(method: &str) -> bool {
    ["GET", "HEAD", "OPTIONS", "TRACE"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// `scheme://host[:port]` lowercased, without a trailing slash or the scheme's default
/// port.
fn normalize_origin(origin: &str) -> String {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
        if origin.starts_with(scheme) && origin.ends_with(port) {
            return origin[..origin.len() - port.len()].to_owned();
        }
    }
    origin
}

/// Whether the (normalized) origin's `host[:port]` is the request's `Host`.
fn same_authority(origin: &str, host: Option<&[u8]>) -> bool {
    let Some(authority) = origin.split_once("://").map(|(_, a)| a) else {
        return false;
    };
    let Some(host) = host.and_then(|h| std::str::from_utf8(h).ok()) else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    let host = [":443", ":80"]
        .iter()
        .find_map(|port| host.strip_suffix(port))
        .unwrap_or(&host);
    authority == host
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(
        method: &'a str,
        origin: Option<&'a str>,
        site: Option<&'a str>,
    ) -> RequestInfo<'a> {
        RequestInfo {
            method,
            host: Some(b"app.example:8080"),
            origin: origin.map(str::as_bytes),
            sec_fetch_site: site.map(str::as_bytes),
        }
    }

    #[test]
    fn cross_site_unsafe_requests_are_refused() {
        let guard = CsrfGuard::default();
        let evil = Some("https://evil.example");
        for method in ["POST", "PUT", "PATCH", "DELETE", "post"] {
            assert_eq!(
                guard.check(&request(method, evil, Some("cross-site"))),
                Err(CsrfRefusal::ForeignOrigin)
            );
            assert_eq!(
                guard.check(&request(method, None, Some("cross-site"))),
                Err(CsrfRefusal::CrossSite)
            );
        }
        assert_eq!(
            guard.check(&request("POST", Some("null"), None)),
            Err(CsrfRefusal::OpaqueOrigin)
        );
        // A sibling subdomain is same-site, but not the same origin.
        let sibling = Some("http://other.app.example:8080");
        assert_eq!(
            guard.check(&request("POST", sibling, Some("same-site"))),
            Err(CsrfRefusal::ForeignOrigin)
        );
    }

    #[test]
    fn same_origin_safe_and_headerless_requests_pass() {
        let guard = CsrfGuard::default();
        let own = Some("http://APP.example:8080/");
        assert_eq!(
            guard.check(&request("POST", own, Some("same-origin"))),
            Ok(())
        );
        assert_eq!(guard.check(&request("POST", None, Some("none"))), Ok(()));
        assert_eq!(guard.check(&request("POST", None, None)), Ok(()));
        let evil = Some("https://evil.example");
        assert_eq!(
            guard.check(&request("GET", evil, Some("cross-site"))),
            Ok(())
        );
        let default_port = RequestInfo {
            method: "POST",
            host: Some(b"app.example"),
            origin: Some(b"https://app.example:443"),
            sec_fetch_site: Some(b"same-origin"),
        };
        assert_eq!(guard.check(&default_port), Ok(()));
    }

    #[test]
    fn allowed_origins_pass_and_the_guard_can_be_switched_off() {
        let guard = CsrfGuard::default().allow_origin("https://front.example/");
        let front = Some("https://front.example");
        assert_eq!(
            guard.check(&request("POST", front, Some("cross-site"))),
            Ok(())
        );
        let evil = Some("https://evil.example");
        assert!(
            guard
                .check(&request("POST", evil, Some("cross-site")))
                .is_err()
        );
        assert_eq!(
            CsrfGuard::off().check(&request("POST", evil, Some("cross-site"))),
            Ok(())
        );
    }
}
