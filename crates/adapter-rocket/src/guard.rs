//! The `Session` request guard.

use std::ops::Deref;

use rocket::Request;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};

use crate::{Error, Slot};

/// The request's session: use it as a handler argument. Derefs to
/// [`session_core::Session`]; fails with a 500 when
/// [`SessionFairing`](crate::SessionFairing) is not attached.
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

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = Error;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Error> {
        match &request.local_cache(|| Slot(None)).0 {
            Some(session) => Outcome::Success(Session(session.clone())),
            None => {
                tracing::error!(error = %Error::FairingMissing, "session error");
                Outcome::Error((Status::InternalServerError, Error::FairingMissing))
            }
        }
    }
}
