//! The error handlers return: `?` on any session call, answered with the same status in
//! every adapter and an empty body (details go to the log, never to the client).

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use session_core::SessionError;

/// A session failure in a handler, or a [`Session`](crate::Session) extractor on a route
/// that [`SessionLayer`](crate::SessionLayer) does not wrap.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session failed (store outage, oversized data, conflict...).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The route is not wrapped by a `SessionLayer` with the extractor's marker.
    #[error(
        "Session<{marker}> extractor used on a route without its layer: add \
         .layer(SessionLayer::new(manager)), or SessionLayer::<Marker>::marked(manager) for a marked session"
    )]
    LayerMissing {
        /// The extractor's marker type.
        marker: &'static str,
    },
}

impl Error {
    /// The response status: [`SessionError::status_code`], or 500 for a missing layer.
    pub fn status_code(&self) -> StatusCode {
        let code = match self {
            Self::Session(e) => e.status_code(),
            Self::LayerMissing { .. } => 500,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "session error");
        self.status_code().into_response()
    }
}
