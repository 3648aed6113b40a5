//! What the example apps do, written once over a [`Session`]: each framework's handler
//! extracts the session, calls one of these and serializes the result.

use serde::Serialize;
use serde_json::Value;
use session_core::{Session, SessionError};

/// The session key of the counter.
pub const COUNT: &str = "count";
/// Keys written through `/api/data/{key}` live under this prefix, apart from the app's own.
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

/// The user and counter (read-only: writes nothing).
pub async fn me(session: &Session) -> Result<Me, SessionError> {
    Ok(Me {
        user: session.user().await?,
        count: session.get::<i64>(COUNT).await?.unwrap_or(0),
    })
}

/// Adds one to the counter.
pub async fn increment(session: &Session) -> Result<Count, SessionError> {
    let count = session
        .get::<i64>(COUNT)
        .await?
        .unwrap_or(0)
        .saturating_add(1);
    session.insert(COUNT, count).await?;
    Ok(Count { count })
}

/// Signs `user` in: a new session id (no fixation) attached to the user's index. The
/// name is trimmed; empty, over-long or control-character names are refused.
pub async fn login(session: &Session, user: Option<&str>) -> Result<UserView, AppError> {
    let user = valid_user(user)?;
    session.regenerate().await?;
    session.set_user(user.clone()).await?;
    Ok(UserView { user: Some(user) })
}

fn valid_user(user: Option<&str>) -> Result<String, AppError> {
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

/// Ends the session: its record is deleted and the cookie expired.
pub async fn logout(session: &Session) -> Result<UserView, SessionError> {
    session.destroy().await?;
    Ok(UserView { user: None })
}

/// Stores `value` under the data key `key`; returns it.
pub async fn put_data(session: &Session, key: &str, value: Value) -> Result<Value, SessionError> {
    session.insert(&data_key(key), &value).await?;
    Ok(value)
}

/// The value under the data key `key`.
pub async fn get_data(session: &Session, key: &str) -> Result<Option<Value>, SessionError> {
    session.get_value(&data_key(key)).await
}

/// Removes the data key `key` (idempotent).
pub async fn delete_data(session: &Session, key: &str) -> Result<(), SessionError> {
    session.remove_value(&data_key(key)).await.map(drop)
}

fn data_key(key: &str) -> String {
    format!("{DATA_PREFIX}{key}")
}

/// The signed-in user's live sessions, the current one marked.
pub async fn sessions(session: &Session) -> Result<Sessions, AppError> {
    let user = session.user().await?.ok_or(AppError::Unauthorized)?;
    let current = session.store_key().await?;
    let mut sessions: Vec<SessionView> = session
        .sessions_of_user()
        .await?
        .into_iter()
        .map(|s| SessionView {
            id: s.key.as_str().chars().take(12).collect(),
            created_at: s.created_at.as_millis(),
            expires_at: s.expires_at.as_millis(),
            current: current.as_ref() == Some(&s.key),
        })
        .collect();
    sessions.sort_by_key(|s| (s.created_at, s.id.clone()));
    Ok(Sessions { user, sessions })
}

/// Deletes the signed-in user's other sessions ("sign out everywhere else").
pub async fn revoke_others(session: &Session) -> Result<Revoked, AppError> {
    if session.user().await?.is_none() {
        return Err(AppError::Unauthorized);
    }
    Ok(Revoked {
        revoked: session.revoke_other_sessions().await?,
    })
}

/// What the HTML page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageView {
    /// User and counter.
    pub me: Me,
    /// The user's sessions, when signed in.
    pub sessions: Vec<SessionView>,
}

/// `GET /`: the page's content (read-only).
pub async fn page(session: &Session) -> Result<PageView, SessionError> {
    let me = me(session).await?;
    let sessions = match &me.user {
        Some(_) => match sessions(session).await {
            Ok(s) => s.sessions,
            Err(AppError::Session(e)) => return Err(e),
            Err(_) => Vec::new(),
        },
        None => Vec::new(),
    };
    Ok(PageView { me, sessions })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_checked() {
        assert_eq!(valid_user(Some("  ada ")).expect("ok"), "ada");
        for bad in [None, Some(""), Some("   "), Some("a\nb")] {
            assert!(valid_user(bad).is_err(), "{bad:?}");
        }
        assert!(valid_user(Some(&"é".repeat(64))).is_ok());
        assert!(valid_user(Some(&"é".repeat(65))).is_err());
    }
}
