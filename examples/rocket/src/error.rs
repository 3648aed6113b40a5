//! Errors as responses: session failures through the adapter's `Error` (503, 409, 413…),
//! the app's own refusals (400, 401) as `{"error": "…"}`.

use adapter_rocket::SessionError;
use example_support::AppError;
use rocket::Request;
use rocket::http::Status;
use rocket::response::{self, Responder};
use rocket::serde::json::Json;

/// What a handler fails with.
pub enum ApiError {
    Session(adapter_rocket::Error),
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

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        match self {
            Self::Session(e) => e.respond_to(request),
            Self::App(e) => {
                let status = e.status().map_or(Status::InternalServerError, Status::new);
                (status, Json(e.body())).respond_to(request)
            }
        }
    }
}
