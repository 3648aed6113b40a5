//! The `Session` extractor.

use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use session_core::Primary;

use crate::Error;

/// The request's session: use it as a handler argument. Derefs to
/// [`session_core::Session`]; fails with a 500 when no middleware marked `M` wraps the app.
///
/// `Session` is the session of [`SessionMiddleware::new`](crate::SessionMiddleware::new);
/// `Session<Admin>` that of `SessionMiddleware::<Admin>::marked(manager)`, for an app
/// running several managers (see
/// [`SessionMiddleware::marked`](crate::SessionMiddleware::marked)).
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

impl<M: 'static> FromRequest for Session<M> {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let session = request.extensions().get::<Self>().cloned();
        ready(session.ok_or(Error::MiddlewareMissing {
            marker: std::any::type_name::<M>(),
        }))
    }
}
