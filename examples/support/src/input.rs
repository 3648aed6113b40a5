//! Request bodies: JSON from API clients, url-encoded forms from the page.

use serde::Deserialize;

use crate::AppError;

/// Who sent a request, judged by its `Content-Type`: a browser form gets a 303 to `/`, an
/// API client a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON in and out (also requests without a body).
    Json,
    /// An HTML form post (`application/x-www-form-urlencoded`).
    Form,
}

impl Format {
    /// The format of a request with this `Content-Type` header.
    pub fn of(content_type: Option<&str>) -> Self {
        let essence = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|ct| ct.trim().to_ascii_lowercase());
        match essence.as_deref() {
            Some("application/x-www-form-urlencoded") => Self::Form,
            _ => Self::Json,
        }
    }
}

/// The body of `POST /api/login`: `{"user": "…"}` or `user=…`.
#[derive(Debug, Default, Deserialize)]
pub struct Login {
    /// The user name; missing → 400.
    #[serde(default)]
    pub user: Option<String>,
}

impl Login {
    /// Parses a login body in `format`.
    pub fn parse(format: Format, body: &[u8]) -> Result<Self, AppError> {
        match format {
            Format::Form => serde_urlencoded::from_bytes(body)
                .map_err(|_| AppError::BadRequest("expected a form with a user field")),
            Format::Json => serde_json::from_slice(body)
                .map_err(|_| AppError::BadRequest("expected JSON {\"user\": \"<name>\"}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_bodies() {
        assert_eq!(Format::of(None), Format::Json);
        assert_eq!(Format::of(Some("application/json")), Format::Json);
        assert_eq!(
            Format::of(Some("Application/X-WWW-Form-Urlencoded; charset=utf-8")),
            Format::Form
        );
        let form = Login::parse(Format::Form, b"user=ada+l%C3%B6").expect("form");
        assert_eq!(form.user.as_deref(), Some("ada lö"));
        let json = Login::parse(Format::Json, br#"{"user":"ada"}"#).expect("json");
        assert_eq!(json.user.as_deref(), Some("ada"));
        assert!(
            Login::parse(Format::Json, b"{}")
                .expect("empty")
                .user
                .is_none()
        );
        assert!(Login::parse(Format::Json, b"not json").is_err());
        assert!(Login::parse(Format::Json, br#"{"user": 5}"#).is_err());
    }
}
