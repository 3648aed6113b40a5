//! The `Session` extractor.

use std::ops::Deref;

use axum_core::extract::FromRequestParts;
use http::request::Parts;

use crate::Error;

/// The request's session: use it as a handler argument. Derefs to
/// [`session_core::Session`]; rejects with a 500 when [`SessionLayer`](crate::SessionLayer)
/// does not wrap the route.
#[derive(Clone)]
pub struct Session(session_core::Session);

impl Session {
    /// The framework-agnostic session.
    pub fn into_inner(self) -> session_core::Session {
        self.0
    }
}

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        parts
            .extensions
            .get::<session_core::Session>()
            .cloned()
            .map(Session)
            .ok_or(Error::LayerMissing)
    }
}
