//! Several managers in one app: each adapter layer is tagged with a marker type, and the
//! managers serving one request must never read the same credential.
//!
//! A marker is any `'static` type the app declares (`struct Admin;`); the adapters key the
//! request's session by it, so `Session<Admin>` finds the session of the layer marked
//! `Admin` and nothing else. [`Primary`] is the marker of an unmarked layer.
//!
//! Two managers that read the same cookie name or token header would each adopt the
//! other's credential (one store answering for ids the other issued, one `Set-Cookie`
//! overwriting the other's). Nothing at construction sees every layer of a router, so the
//! adapters check per request with [`RequestClaims`]: the first manager's claim costs no
//! allocation, and a conflict is a 500 that names both markers, before any store call.

use std::any::{TypeId, type_name};

use crate::config::SessionConfig;
use crate::transport::Transport;

/// The marker of an unmarked session layer: `Session` is `Session<Primary>` in every
/// adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Primary;

/// The managers that have started a session for one request, kept by the adapter in the
/// request (extensions or local cache) while its layers run.
#[derive(Debug, Clone, Default)]
pub struct RequestClaims {
    first: Option<Claim>,
    rest: Vec<Claim>,
}

#[derive(Debug, Clone)]
struct Claim {
    marker: TypeId,
    marker_name: &'static str,
    cookie: Option<String>,
    token_request: Option<String>,
    token_response: Option<String>,
}

impl Claim {
    fn new<M: 'static>(config: &SessionConfig) -> Self {
        let tokens = config.transport != Transport::Cookie;
        Self {
            marker: TypeId::of::<M>(),
            marker_name: type_name::<M>(),
            cookie: (config.transport != Transport::Header)
                .then(|| config.cookie_name().to_owned()),
            token_request: tokens.then(|| config.token_headers.request.clone()),
            token_response: tokens.then(|| config.token_headers.response.clone()),
        }
    }

    /// What `self` and `other` both read or write, if anything.
    fn overlap(&self, other: &Claim) -> Option<String> {
        if self.marker == other.marker {
            return Some("the same marker type".to_owned());
        }
        let same = |a: &Option<String>, b: &Option<String>| {
            a.as_ref()
                .zip(b.as_ref())
                .filter(|(a, b)| a == b)
                .map(|(a, _)| a.clone())
        };
        if let Some(name) = same(&self.cookie, &other.cookie) {
            return Some(format!("the cookie `{name}`"));
        }
        // Header names are stored lowercase by the config builder.
        if let Some(name) = same(&self.token_request, &other.token_request) {
            return Some(format!("the request header `{name}`"));
        }
        same(&self.token_response, &other.token_response)
            .map(|name| format!("the response header `{name}`"))
    }
}

/// Two session layers on one request would share a credential; see [`RequestClaims`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "session layers marked `{first}` and `{second}` both use {shared} on one request: give each \
     manager its own cookie name (and token headers) and each layer its own marker type"
)]
pub struct ClaimConflict {
    first: &'static str,
    second: &'static str,
    shared: String,
}

impl RequestClaims {
    /// Records that the layer marked `M`, driven by a manager with `config`, serves this
    /// request; refused when an earlier layer of the request has the same marker or uses
    /// the same cookie name, token request header or token response header.
    pub fn claim<M: 'static>(&mut self, config: &SessionConfig) -> Result<(), ClaimConflict> {
        let claim = Claim::new::<M>(config);
        let earlier = self.first.iter().chain(&self.rest);
        if let Some((other, shared)) = earlier
            .filter_map(|other| other.overlap(&claim).map(|shared| (other, shared)))
            .next()
        {
            return Err(ClaimConflict {
                first: other.marker_name,
                second: claim.marker_name,
                shared,
            });
        }
        match self.first {
            None => self.first = Some(claim),
            Some(_) => self.rest.push(claim),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Key, SessionConfigBuilder};

    struct Admin;

    fn config(
        configure: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder,
    ) -> SessionConfig {
        configure(SessionConfig::builder([Key::generate()]))
            .build()
            .expect("valid config")
    }

    #[test]
    fn distinct_markers_and_cookies_coexist() {
        let mut claims = RequestClaims::default();
        claims.claim::<Primary>(&config(|b| b)).expect("first");
        claims
            .claim::<Admin>(&config(|b| b.cookie_name("admin")))
            .expect("second");
    }

    #[test]
    fn the_same_cookie_name_is_refused() {
        let mut claims = RequestClaims::default();
        claims.claim::<Primary>(&config(|b| b)).expect("first");
        let conflict = claims
            .claim::<Admin>(&config(|b| b))
            .expect_err("same cookie");
        let message = conflict.to_string();
        assert!(message.contains("the cookie `"), "{message}");
        assert!(
            message.contains("Primary") && message.contains("Admin"),
            "{message}"
        );
    }

    #[test]
    fn the_same_marker_is_refused_even_with_distinct_cookies() {
        let mut claims = RequestClaims::default();
        claims.claim::<Admin>(&config(|b| b)).expect("first");
        let conflict = claims.claim::<Admin>(&config(|b| b.cookie_name("other")));
        assert!(
            conflict
                .expect_err("same marker")
                .to_string()
                .contains("same marker")
        );
    }

    #[test]
    fn token_headers_conflict_only_when_both_use_them() {
        let header = |b: SessionConfigBuilder| b.transport(Transport::Header);
        let mut claims = RequestClaims::default();
        claims
            .claim::<Primary>(&config(|b| b))
            .expect("cookie only");
        // Same default cookie name, but this manager never reads cookies.
        claims.claim::<Admin>(&config(header)).expect("header only");
        let both =
            |b: SessionConfigBuilder| b.cookie_name("third").transport(Transport::CookieOrHeader);
        let conflict = claims
            .claim::<u8>(&config(both))
            .expect_err("same token header");
        assert!(
            conflict
                .to_string()
                .contains("request header `authorization`"),
            "{conflict}"
        );
        let renamed = |b: SessionConfigBuilder| {
            b.cookie_name("third")
                .transport(Transport::CookieOrHeader)
                .token_headers("x-third", "session-token")
        };
        let conflict = claims
            .claim::<u8>(&config(renamed))
            .expect_err("same response header");
        assert!(
            conflict
                .to_string()
                .contains("response header `session-token`"),
            "{conflict}"
        );
    }
}
