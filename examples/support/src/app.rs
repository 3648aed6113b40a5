//! What the example apps share that is not a session call: the checks on their input, the
//! shapes of their answers, and their refusals. Every session call is in the apps' own
//! handler files (`examples/<framework>/src/handlers.rs`).

use serde::Serialize;
use serde_json::Value;
use session_core::{SessionError, SessionHandle, SessionSummary, store::StoreKey};

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
    /// No such session of the signed-in user (404): unknown, gone, or another user's.
    #[error("no such session")]
    NoSuchSession,
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
            Self::NoSuchSession => Some(404),
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

/// One entry of `GET /api/sessions`: what the account page shows of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionView {
    /// The session's public handle (never the cookie's id), for `POST
    /// /api/sessions/{id}/revoke`.
    pub id: String,
    /// The device label set at sign-in ([`device_label`]), if any.
    pub label: Option<String>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When a request last saved or touched it, milliseconds since the Unix epoch.
    pub last_seen: i64,
    /// Idle deadline, milliseconds since the Unix epoch.
    pub expires_at: i64,
    /// Whether it is the session of this request.
    pub current: bool,
}

impl SessionView {
    /// The entries of `GET /api/sessions`, newest first, the one stored under `current`
    /// (the request's own, from `Session::store_key`) marked.
    pub fn list(sessions: Vec<SessionSummary>, current: Option<&StoreKey>) -> Vec<Self> {
        let mut list: Vec<Self> = sessions
            .into_iter()
            .map(|s| Self {
                id: s.handle().to_string(),
                current: current == Some(&s.key),
                label: s.label,
                created_at: s.created_at.as_millis(),
                last_seen: s.last_seen.as_millis(),
                expires_at: s.expires_at.as_millis(),
            })
            .collect();
        list.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        list
    }
}

/// A short label for the device behind `user_agent` ("Firefox on Linux"), what the
/// account page shows per session. The app parses it (the library parses no user
/// agent); a rough guess is enough to tell one's devices apart.
pub fn device_label(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    let has = |needle: &str| ua.contains(needle);
    let browser = if has("Firefox/") {
        "Firefox"
    } else if has("Edg/") {
        "Edge"
    } else if has("HeadlessChrome/") {
        "Headless Chrome"
    } else if has("Chrome/") {
        "Chrome"
    } else if has("Safari/") {
        "Safari"
    } else if has("curl/") {
        "curl"
    } else {
        "Unknown browser"
    };
    let os = if has("Android") {
        "Android"
    } else if has("iPhone") || has("iPad") {
        "iOS"
    } else if has("Windows") {
        "Windows"
    } else if has("Mac OS X") {
        "macOS"
    } else if has("Linux") {
        "Linux"
    } else {
        return browser.to_owned();
    };
    format!("{browser} on {os}")
}

/// The handle of `POST /api/sessions/{id}/revoke`; text that is not one is a 404 (no such
/// session), like a handle of a session that is gone or another user's.
pub fn session_handle(id: &str) -> Result<SessionHandle, AppError> {
    SessionHandle::parse(id).ok_or(AppError::NoSuchSession)
}

/// `GET /api/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sessions {
    /// Whose sessions.
    pub user: String,
    /// Newest first.
    pub sessions: Vec<SessionView>,
}

/// `POST /api/sessions/revoke-others` and `POST /api/sessions/{id}/revoke`.
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
    fn session_lists_are_newest_first_with_the_current_one_marked_by_handle() {
        let key = |c: &str| StoreKey::parse(&c.repeat(64)).expect("64 hex digits");
        let summary = |c: &str, created: i64| SessionSummary {
            key: key(c),
            created_at: session_core::Timestamp::from_millis(created),
            expires_at: session_core::Timestamp::from_millis(created + 1),
            last_seen: session_core::Timestamp::from_millis(created),
            authenticated_at: None,
            label: Some(format!("device {c}")),
        };
        let list = SessionView::list(vec![summary("a", 10), summary("b", 20)], Some(&key("b")));
        let ids: Vec<_> = list.iter().map(|s| (s.id.clone(), s.current)).collect();
        let handle = |c: &str| SessionHandle::of(&key(c)).to_string();
        assert_eq!(ids, [(handle("b"), true), (handle("a"), false)]);
        assert!(
            list.iter()
                .all(|s| !s.id.contains(&"a".repeat(64)) && s.id.len() == 43)
        );
        assert_eq!(
            session_handle(&list[1].id).ok(),
            Some(SessionHandle::of(&key("a")))
        );
        assert!(session_handle("../etc").is_err());
    }

    #[test]
    fn device_labels_are_short_guesses() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(device_label(Some(firefox)), "Firefox on Linux");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device_label(Some(iphone)), "Safari on iOS");
        assert_eq!(device_label(Some("curl/8.5.0")), "curl");
        assert_eq!(device_label(None), "Unknown browser");
    }
}
