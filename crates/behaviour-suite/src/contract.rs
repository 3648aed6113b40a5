//! The fixed route contract every adapter's test app serves.
//!
//! - `GET /plain` answers `200 plain` and never touches the session (so does `POST`).
//! - `GET /s/...` (and `POST`, `PUT`, `PATCH`, `DELETE`, for the CSRF guard) hands the request path and the request's session to [`run`] and turns
//!   its [`RouteReply`] into a response (status, body, and `Cache-Control` when given); a
//!   `SessionError` goes through the adapter's own error type (`?`).
//!
//! Routes under `/s/` (keys and values are plain ASCII path segments):
//!
//! | path | does | body |
//! |---|---|---|
//! | `get/{k}` | reads `k` | its JSON, or `null` |
//! | `set/{k}/{v}` | stores the string `v` under `k` | `ok` |
//! | `remove/{k}` | removes `k` | `ok` |
//! | `keys` | lists keys | keys joined by `,` |
//! | `user` | reads the user | the user, or empty |
//! | `login/{user}` | sets the user and regenerates | `ok` |
//! | `sign-in/{user}` | sets the user only (the id must rotate by itself) | `ok` |
//! | `sign-out` | clears the user | `ok` |
//! | `recent/{ms}` | `require_recent_auth(ms)`: 401 through the adapter when too old | `ok` |
//! | `regenerate` | regenerates | `ok` |
//! | `destroy` | destroys | `ok` |
//! | `destroy-then-set/{k}/{v}` | destroys, then stores `v` under `k` | `ok` |
//! | `remember/{true,false}` | sets the persistent flag | `ok` |
//! | `sessions` | counts the user's sessions | the count |
//! | `revoke-others` | deletes the user's other sessions | how many |
//! | `fail/{k}/{v}` | stores `v` under `k`, then answers 500 | `failed` |
//! | `cached/{k}/{v}` | stores `v`, answers with `Cache-Control: private, max-age=60` | `ok` |
//! | `public/{k}/{v}` | stores `v`, answers with `Cache-Control: public, max-age=600` | `ok` |
//! | `read-public` | reads the user, answers with `Cache-Control: public, max-age=600` | the user |
//! | `destroy-fail` | destroys, then answers 500 | `failed` |
//! | `big/{n}` | stores `n` bytes under `big` | `ok` |
//! | `rendezvous/{gate}/{k}/{v}` | reads `k`, waits for a second request at `gate`, stores `v` | `ok` |
//!
//! When the app runs a second manager (marked [`Second`]), `/m/...` serves the same table
//! with the second session, and `GET /both/copy/{k}` reads `k` from the first session and
//! stores it in the second ([`run_both`]).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use session_core::{Session, SessionError};
use tokio::sync::Barrier;

/// The path of the route that never touches the session.
pub const PLAIN: &str = "/plain";
/// The body of [`PLAIN`].
pub const PLAIN_BODY: &str = "plain";
/// The `Cache-Control` the `cached` route sets.
pub const HANDLER_CACHE_CONTROL: &str = "private, max-age=60";
/// The `Cache-Control` the `public` and `read-public` routes set: what no response of a
/// session may keep.
pub const PUBLIC_CACHE_CONTROL: &str = "public, max-age=600";

/// What a contract route answers, for the adapter's app to turn into a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteReply {
    /// The status code.
    pub status: u16,
    /// A `Cache-Control` value the handler sets, if any.
    pub cache_control: Option<&'static str>,
    /// The body.
    pub body: String,
}

impl RouteReply {
    fn ok(body: impl Into<String>) -> Self {
        Self {
            status: 200,
            cache_control: None,
            body: body.into(),
        }
    }

    fn status(status: u16, body: &str) -> Self {
        Self {
            status,
            ..Self::ok(body)
        }
    }
}

/// The marker of the second manager, in apps that run two.
#[derive(Debug)]
pub struct Second;

/// Serves the contract route at `path` (the full request path, starting `/s/`, or `/m/`
/// for the second session).
pub async fn run(path: &str, session: &Session) -> Result<RouteReply, SessionError> {
    let rest = path
        .strip_prefix("/s/")
        .or_else(|| path.strip_prefix("/m/"));
    let Some(rest) = rest else {
        return Ok(RouteReply::status(404, "not found"));
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let ok = || Ok(RouteReply::ok("ok"));
    match parts.as_slice() {
        ["get", k] => {
            let value = session.get_value(k).await?;
            Ok(RouteReply::ok(value.unwrap_or_default().to_string()))
        }
        ["set", k, v] => session.insert(k, *v).await.and_then(|()| ok()),
        ["remove", k] => session.remove_value(k).await.and_then(|_| ok()),
        ["keys"] => Ok(RouteReply::ok(session.keys().await?.join(","))),
        ["user"] => Ok(RouteReply::ok(session.user().await?.unwrap_or_default())),
        ["login", user] => {
            session.set_user(*user).await?;
            session.regenerate().await.and_then(|()| ok())
        }
        ["sign-in", user] => session.set_user(*user).await.and_then(|()| ok()),
        ["sign-out"] => session.clear_user().await.and_then(|()| ok()),
        ["recent", ms] => {
            let max_age = Duration::from_millis(ms.parse().unwrap_or(0));
            session
                .require_recent_auth(max_age)
                .await
                .and_then(|()| ok())
        }
        ["regenerate"] => session.regenerate().await.and_then(|()| ok()),
        ["destroy"] => session.destroy().await.and_then(|()| ok()),
        ["destroy-then-set", k, v] => {
            session.destroy().await?;
            session.insert(k, *v).await.and_then(|()| ok())
        }
        ["remember", on] => session
            .set_persistent(*on == "true")
            .await
            .and_then(|()| ok()),
        ["sessions"] => Ok(RouteReply::ok(
            session.sessions_of_user().await?.len().to_string(),
        )),
        ["revoke-others"] => Ok(RouteReply::ok(
            session.revoke_other_sessions().await?.to_string(),
        )),
        ["fail", k, v] => {
            session.insert(k, *v).await?;
            Ok(RouteReply::status(500, "failed"))
        }
        ["cached", k, v] => {
            session.insert(k, *v).await?;
            Ok(RouteReply {
                cache_control: Some(HANDLER_CACHE_CONTROL),
                ..RouteReply::ok("ok")
            })
        }
        ["public", k, v] => {
            session.insert(k, *v).await?;
            Ok(RouteReply {
                cache_control: Some(PUBLIC_CACHE_CONTROL),
                ..RouteReply::ok("ok")
            })
        }
        ["read-public"] => Ok(RouteReply {
            cache_control: Some(PUBLIC_CACHE_CONTROL),
            ..RouteReply::ok(session.user().await?.unwrap_or_default())
        }),
        ["destroy-fail"] => {
            session.destroy().await?;
            Ok(RouteReply::status(500, "failed"))
        }
        ["big", n] => {
            let n = n.parse().unwrap_or(0);
            session
                .insert("big", "x".repeat(n))
                .await
                .and_then(|()| ok())
        }
        ["rendezvous", gate, k, v] => {
            session.get_value(k).await?;
            if !meet(gate).await {
                return Ok(RouteReply::status(504, "nobody came"));
            }
            session.insert(k, *v).await.and_then(|()| ok())
        }
        _ => Ok(RouteReply::status(404, "not found")),
    }
}

/// Serves `/both/copy/{k}`: `k` of the first session (or `null`) stored in the second.
pub async fn run_both(
    path: &str,
    first: &Session,
    second: &Session,
) -> Result<RouteReply, SessionError> {
    let Some(key) = path.strip_prefix("/both/copy/") else {
        return Ok(RouteReply::status(404, "not found"));
    };
    let value = first.get_value(key).await?.unwrap_or_default();
    second.insert(key, value).await?;
    Ok(RouteReply::ok("ok"))
}

/// Waits until a second request reaches `gate`; `false` after 10 s alone.
async fn meet(gate: &str) -> bool {
    static GATES: LazyLock<Mutex<HashMap<String, Arc<Barrier>>>> = LazyLock::new(Mutex::default);
    let barrier = {
        let mut gates = GATES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        gates
            .entry(gate.to_owned())
            .or_insert_with(|| Arc::new(Barrier::new(2)))
            .clone()
    };
    tokio::time::timeout(Duration::from_secs(10), barrier.wait())
        .await
        .is_ok()
}
