//! What the example apps share that is not a session call: the checks on their input, the
//! shapes of their answers, and their refusals. Every session call is in the apps' own
//! handler files (`examples/<framework>/src/handlers.rs`).

use serde::Serialize;
use serde_json::Value;
use session_core::{SessionError, SessionSummary, StoreKey};

use crate::{Format, Login};

/// Keys written through `/api/data/{key}` live under this prefix, apart from the app's own
/// (`count`).
pub const DATA_PREFIX: &str = "data:";
/// The longest accepted user name, in characters.
pub const MAX_USER_CHARS: usize = 64;

/// A request the app refuses, or a session failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is invalid (400).
    #[error("{0}")]
    BadRequest(&'static str),
    /// The route needs a signed-in user (401).
    #[error("sign in first")]
    Unauthorized,
    /// The session failed: answer it through the adapter's error type.
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl AppError {
    /// The HTTP status of an app-level refusal; `None` for session errors, which the
    /// adapter's error type answers.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::BadRequest(_) => Some(400),
            Self::Unauthorized => Some(401),
            Self::Session(_) => None,
        }
    }

    /// The JSON body of an app-level refusal: `{"error": "…"}`.
    pub fn body(&self) -> Value {
        serde_json::json!({ "error": self.to_string() })
    }
}

/// `GET /api/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Me {
    /// The signed-in user.
    pub user: Option<String>,
    /// The counter.
    pub count: i64,
}

/// `POST /api/count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Count {
    /// The counter after the increment.
    pub count: i64,
}

/// `POST /api/login` and `POST /api/logout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    /// The signed-in user after the request.
    pub user: Option<String>,
}

/// One entry of `GET /api/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionView {
    /// A short, stable label: the first characters of the store key (never the id).
    pub id: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Idle deadline, milliseconds since the Unix epoch.
    pub expires_at: i64,
    /// Whether it is the session of this request.
    pub current: bool,
}

impl SessionView {
    /// The entries of `GET /api/sessions`, oldest first, the one stored under `current`
    /// (the request's own, from `Session::store_key`) marked.
    pub fn list(sessions: Vec<SessionSummary>, current: Option<&StoreKey>) -> Vec<Self> {
        let mut list: Vec<Self> = sessions
            .into_iter()
            .map(|s| Self {
                id: s.key.as_str().chars().take(12).collect(),
                created_at: s.created_at.as_millis(),
                expires_at: s.expires_at.as_millis(),
                current: current == Some(&s.key),
            })
            .collect();
        list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        list
    }
}

/// `GET /api/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sessions {
    /// Whose sessions.
    pub user: String,
    /// Oldest first.
    pub sessions: Vec<SessionView>,
}

/// `POST /api/sessions/revoke-others`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Revoked {
    /// How many sessions were deleted.
    pub revoked: u64,
}

/// What the HTML page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageView {
    /// User and counter.
    pub me: Me,
    /// The user's sessions, when signed in.
    pub sessions: Vec<SessionView>,
}

/// The user name of a `POST /api/login` body in `format` (JSON or a form), trimmed;
/// a missing, empty, over-long or control-character name is a 400. The examples take any
/// name: a real app checks a password here.
pub fn login_name(format: Format, body: &[u8]) -> Result<String, AppError> {
    user_name(Login::parse(format, body)?.user.as_deref())
}

fn user_name(user: Option<&str>) -> Result<String, AppError> {
    let user = user.map(str::trim).unwrap_or_default();
    if user.is_empty() {
        return Err(AppError::BadRequest("a user name is required"));
    }
    if user.chars().count() > MAX_USER_CHARS || user.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "user names are at most 64 characters, without control characters",
        ));
    }
    Ok(user.to_owned())
}

/// The session key that `/api/data/{key}` reads and writes: `key` under [`DATA_PREFIX`].
pub fn data_key(key: &str) -> String {
    format!("{DATA_PREFIX}{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_checked() {
        assert_eq!(user_name(Some("  ada ")).expect("ok"), "ada");
        for bad in [None, Some(""), Some("   "), Some("a\nb")] {
            assert!(user_name(bad).is_err(), "{bad:?}");
        }
        assert!(user_name(Some(&"é".repeat(64))).is_ok());
        assert!(user_name(Some(&"é".repeat(65))).is_err());
        let form = login_name(Format::Form, b"user=+bob+").expect("form");
        assert_eq!(form, "bob");
        assert!(login_name(Format::Json, b"{}").is_err());
    }

    #[test]
    fn session_lists_are_oldest_first_with_the_current_one_marked() {
        let key = |c: &str| StoreKey::parse(&c.repeat(64)).expect("64 hex digits");
        let summary = |c: &str, created: i64| SessionSummary {
            key: key(c),
            created_at: session_core::Timestamp::from_millis(created),
            expires_at: session_core::Timestamp::from_millis(created + 1),
            last_seen: session_core::Timestamp::from_millis(created),
            authenticated_at: None,
            label: None,
        };
        let list = SessionView::list(vec![summary("b", 20), summary("a", 10)], Some(&key("b")));
        let ids: Vec<_> = list.iter().map(|s| (s.id.as_str(), s.current)).collect();
        assert_eq!(ids, [("aaaaaaaaaaaa", false), ("bbbbbbbbbbbb", true)]);
    }
}
