//! Every session call of the actix-web example. A handler takes `adapter_actix::Session`
//! like any extractor; the session loads lazily on its first use, and the middleware saves
//! what the handler changed after it returns. `?` turns a `SessionError` into the
//! adapter's answer (503 when the store is down, 409 on a strict-mode conflict, 413 when
//! too large).

use actix_web::http::header::{CONTENT_TYPE, LOCATION, USER_AGENT};
use actix_web::web::{Bytes, Json, Path};
use actix_web::{HttpRequest, HttpResponse};
use adapter_actix::{Session, SessionError};
use example_support::{
    self as app, AppError, Count, Format, Me, PageView, Revoked, SessionView, Sessions, UserView,
};
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;

type Reply<T = HttpResponse> = Result<T, ApiError>;

/// The session key of the counter.
const COUNT: &str = "count";

/// `GET /`: the page, read-only (a read writes nothing back).
pub async fn index(session: Session) -> Reply {
    let me = whoami(&session).await?;
    let sessions = match me.user {
        Some(_) => list(&session).await?,
        None => Vec::new(),
    };
    let html = app::page::render(&PageView { me, sessions });
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// `GET /api/me`.
pub async fn me(session: Session) -> Reply<Json<Me>> {
    Ok(Json(whoami(&session).await?))
}

async fn whoami(session: &Session) -> Result<Me, SessionError> {
    Ok(Me {
        user: session.user().await?,
        count: session.get::<i64>(COUNT).await?.unwrap_or(0),
    })
}

/// `POST /api/count`: one read-modify-write of one key; only that key is saved.
pub async fn count(session: Session, request: HttpRequest) -> Reply {
    let count = session
        .update(COUNT, |n: Option<i64>| n.unwrap_or(0).saturating_add(1))
        .await?;
    Ok(answer(&request, Count { count }))
}

/// `POST /api/login` (the CSRF guard refuses it from other sites). `set_user` moves the session to a new id in the same save (no
/// fixation, no `regenerate` needed) and files it under the user; an anonymous visitor's
/// counter survives, a previous user's data would not.
pub async fn login(session: Session, request: HttpRequest, body: Bytes) -> Reply {
    let user = app::login_name(format(&request), &body)?;
    session.set_user(user.as_str()).await?;
    let agent = request
        .headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok());
    session.set_label(app::device_label(agent)).await?;
    Ok(answer(&request, UserView { user: Some(user) }))
}

/// `POST /api/logout`: `destroy` deletes the record and expires the cookie. (To sign out
/// but keep a fresh anonymous session, call `clear_user` instead.)
pub async fn logout(session: Session, request: HttpRequest) -> Reply {
    session.destroy().await?;
    Ok(answer(&request, UserView { user: None }))
}

/// `GET /api/data/{key}`: any JSON value, 404 when absent.
pub async fn get_data(session: Session, key: Path<String>) -> Reply {
    Ok(match session.get_value(&app::data_key(&key)).await? {
        Some(value) => HttpResponse::Ok().json(value),
        None => HttpResponse::NotFound().finish(),
    })
}

/// `PUT /api/data/{key}`: stores and echoes any JSON value.
pub async fn put_data(
    session: Session,
    key: Path<String>,
    value: Json<Value>,
) -> Reply<Json<Value>> {
    session.insert(&app::data_key(&key), &*value).await?;
    Ok(value)
}

/// `DELETE /api/data/{key}`: idempotent.
pub async fn delete_data(session: Session, key: Path<String>) -> Reply {
    session.remove_value(&app::data_key(&key)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/sessions`: the signed-in user's live sessions, this one marked.
pub async fn sessions(session: Session) -> Reply<Json<Sessions>> {
    let user = session.user().await?.ok_or(AppError::Unauthorized)?;
    let sessions = list(&session).await?;
    Ok(Json(Sessions { user, sessions }))
}

async fn list(session: &Session) -> Result<Vec<SessionView>, SessionError> {
    let this = session.store_key().await?;
    let all = session.sessions_of_user().await?;
    Ok(SessionView::list(all, this.as_ref()))
}

/// `POST /api/sessions/{id}/revoke`: signs one of the user's sessions out, at once; a
/// handle of another user's session is a 404.
pub async fn revoke(session: Session, request: HttpRequest, id: Path<String>) -> Reply {
    session.user().await?.ok_or(AppError::Unauthorized)?;
    let handle = app::session_handle(&id)?;
    if !session.revoke_session(&handle).await? {
        return Err(AppError::NoSuchSession.into());
    }
    Ok(answer(&request, Revoked { revoked: 1 }))
}

/// `POST /api/sessions/revoke-others`: "sign out everywhere else", at once.
pub async fn revoke_others(session: Session, request: HttpRequest) -> Reply {
    session.user().await?.ok_or(AppError::Unauthorized)?;
    let revoked = session.revoke_other_sessions().await?;
    Ok(answer(&request, Revoked { revoked }))
}

fn format(request: &HttpRequest) -> Format {
    let content_type = request.headers().get(CONTENT_TYPE);
    Format::of(content_type.and_then(|v| v.to_str().ok()))
}

/// JSON for API clients, a 303 to `/` for the page's forms.
fn answer(request: &HttpRequest, value: impl Serialize) -> HttpResponse {
    match format(request) {
        Format::Form => HttpResponse::SeeOther()
            .insert_header((LOCATION, "/"))
            .finish(),
        Format::Json => HttpResponse::Ok().json(value),
    }
}
