//! The error handlers return: `?` on any session call, answered with the same status in
//! every adapter and an empty body (details go to the log, never to the client).

use rocket::Request;
use rocket::http::Status;
use rocket::response::{self, Responder, Response};
use session_core::SessionError;

/// A session failure in a handler, or a [`Session`](crate::Session) guard on an instance
/// without [`SessionFairing`](crate::SessionFairing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session failed (store outage, oversized data, conflict...).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// No `SessionFairing` with the guard's marker is attached.
    #[error(
        "Session<{marker}> guard used without its fairing: add \
         .attach(SessionFairing::new(manager)), or SessionFairing::<Marker>::marked(manager) for a marked session"
    )]
    FairingMissing {
        /// The guard's marker type.
        marker: &'static str,
    },
    /// Two attached fairings share a marker, a cookie name or a token header (the log of
    /// the request says which).
    #[error("session fairings conflict: see the error logged for this request")]
    FairingsConflict,
}

impl Error {
    /// The response status: [`SessionError::status_code`], or 500 for a missing fairing.
    pub fn status(&self) -> Status {
        match self {
            Self::Session(e) => Status::new(e.status_code()),
            Self::FairingMissing { .. } | Self::FairingsConflict => Status::InternalServerError,
        }
    }
}

impl<'r> Responder<'r, 'static> for Error {
    fn respond_to(self, _request: &'r Request<'_>) -> response::Result<'static> {
        tracing::error!(error = %self, "session error");
        Response::build().status(self.status()).ok()
    }
}
