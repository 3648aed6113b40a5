//! Errors as responses: session failures through the adapter's `Error` (503, 409, 413…),
//! the app's own refusals (400, 401) as `{"error": "…"}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use adapter_actix::SessionError;
use example_support::AppError;

/// What a handler fails with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Session(adapter_actix::Error),
    #[error(transparent)]
    App(AppError),
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Session(e) => Self::Session(e.into()),
            other => Self::App(other),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        Self::Session(e.into())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Session(e) => e.status_code(),
            Self::App(e) => e
                .status()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Session(e) => e.error_response(),
            Self::App(e) => HttpResponse::build(self.status_code()).json(e.body()),
        }
    }
}
