//! The `Session` extractor.

use std::future::{Ready, ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::Error;

/// The request's session: use it as a handler argument. Derefs to
/// [`session_core::Session`]; fails with a 500 when
/// [`SessionMiddleware`](crate::SessionMiddleware) does not wrap the app.
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

impl FromRequest for Session {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let session = request.extensions().get::<session_core::Session>().cloned();
        ready(session.map(Session).ok_or(Error::MiddlewareMissing))
    }
}
