//! The error handlers return: `?` on any session call, answered with the same status in
//! every adapter and an empty body (details go to the log, never to the client).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use session_core::SessionError;

/// A session failure in a handler, or a [`Session`](crate::Session) extractor on an app
/// that [`SessionMiddleware`](crate::SessionMiddleware) does not wrap.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session failed (store outage, oversized data, conflict...).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The app is not wrapped by a `SessionMiddleware` with the extractor's marker.
    #[error(
        "Session<{marker}> extractor used without its middleware: add \
         .wrap(SessionMiddleware::new(manager)), or SessionMiddleware::<Marker>::marked(manager) for a marked session"
    )]
    MiddlewareMissing {
        /// The extractor's marker type.
        marker: &'static str,
    },
}

impl Error {
    /// The response status: [`SessionError::status_code`], or 500 for a missing middleware.
    pub fn status(&self) -> StatusCode {
        let code = match self {
            Self::Session(e) => e.status_code(),
            Self::MiddlewareMissing { .. } => 500,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        tracing::error!(error = %self, "session error");
        HttpResponse::new(self.status())
    }
}
