//! The `Session` request guard.

use std::marker::PhantomData;
use std::ops::Deref;

use rocket::Request;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};
use session_core::Primary;

use crate::{Claims, Error, Slot};

/// The request's session: use it as a handler argument (a request guard). Derefs to
/// [`session_core::Session`]; fails with a 500 when no fairing marked `M` is attached.
///
/// `Session` is the session of [`SessionFairing::new`](crate::SessionFairing::new);
/// `Session<Admin>` that of `SessionFairing::<Admin>::marked(manager)`, for an app running
/// several managers (see [`SessionFairing::marked`](crate::SessionFairing::marked)).
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

#[rocket::async_trait]
impl<'r, M: 'static> FromRequest<'r> for Session<M> {
    type Error = Error;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Error> {
        // Two fairings in conflict: no handler runs with either session.
        if Claims::of(request).conflicted() {
            return Outcome::Error((Status::InternalServerError, Error::FairingsConflict));
        }
        match &request.local_cache(Slot::<M>::empty).0 {
            Some(session) => Outcome::Success(session.clone()),
            None => {
                let error = Error::FairingMissing {
                    marker: std::any::type_name::<M>(),
                };
                tracing::error!(error = %error, "session error");
                Outcome::Error((Status::InternalServerError, error))
            }
        }
    }
}
