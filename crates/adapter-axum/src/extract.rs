//! The `Session` extractor.

use std::marker::PhantomData;
use std::ops::Deref;

use axum_core::extract::FromRequestParts;
use http::request::Parts;
use session_core::Primary;

use crate::Error;

/// The request's session: use it as a handler argument. Derefs to
/// [`session_core::Session`]; rejects with a 500 when no layer marked `M` wraps the route.
///
/// `Session` is the session of [`SessionLayer::new`](crate::SessionLayer::new);
/// `Session<Admin>` that of `SessionLayer::<Admin>::marked(manager)`, for an app running
/// several managers (see [`SessionLayer::marked`](crate::SessionLayer::marked)).
pub struct Session<M = Primary> {
    inner: session_core::Session,
    marker: PhantomData<fn() -> M>,
}

impl<M> Session<M> {
    pub(crate) fn new(inner: session_core::Session) -> Self {
        Self {
            inner,
            marker: PhantomData,
        }
    }

    /// The framework-agnostic session.
    pub fn into_inner(self) -> session_core::Session {
        self.inner
    }
}

// Not derived: a derive would require `M: Clone` / `M: Debug` of the marker.
impl<M> Clone for Session<M> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone())
    }
}

impl<M> std::fmt::Debug for Session<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("marker", &std::any::type_name::<M>())
            .field("session", &self.inner)
            .finish()
    }
}

impl<M> Deref for Session<M> {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<S: Send + Sync, M: 'static> FromRequestParts<S> for Session<M> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or(Error::LayerMissing {
                marker: std::any::type_name::<M>(),
            })
    }
}
