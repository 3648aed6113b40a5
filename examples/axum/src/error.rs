//! Errors as responses: session failures through the adapter's `Error` (503, 409, 413…),
//! the app's own refusals (400, 401) as `{"error": "…"}`.

use adapter_axum::SessionError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use example_support::AppError;

/// What a handler fails with.
pub enum ApiError {
    Session(adapter_axum::Error),
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Session(e) => e.into_response(),
            Self::App(e) => {
                let status = e
                    .status()
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (status, Json(e.body())).into_response()
            }
        }
    }
}
