//! Every session call of the Rocket example. A route takes `adapter_rocket::Session` like
//! any request guard; the session loads lazily on its first use, and the fairing saves
//! what the route changed after it returns. `?` turns a `SessionError` into the adapter's
//! answer (503 when the store is down, 409 on a strict-mode conflict, 413 when too large).

use adapter_rocket::{Session, SessionError};
use example_support::{
    self as app, AppError, Count, Format, Me, PageView, Revoked, SessionView, Sessions, UserView,
};
use rocket::Either;
use rocket::http::{ContentType, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::response::Redirect;
use rocket::response::content::RawHtml;
use rocket::serde::json::Json;
use rocket::{Request, delete, get, post, put};
use serde_json::Value;

use crate::error::ApiError;

type Reply<T> = Result<T, ApiError>;
/// JSON for API clients, a 303 to `/` for the page's forms.
type JsonOrHome<T> = Either<Json<T>, Redirect>;

/// The session key of the counter.
const COUNT: &str = "count";

/// Never touches the session (the fairing only loads it on use).
#[get("/health")]
pub fn health() -> &'static str {
    app::HEALTH_BODY
}

/// `GET /`: the page, read-only (a read writes nothing back).
#[get("/")]
pub async fn index(session: Session) -> Reply<RawHtml<String>> {
    let me = whoami(&session).await?;
    let sessions = match me.user {
        Some(_) => list(&session).await?,
        None => Vec::new(),
    };
    Ok(RawHtml(app::page::render(&PageView { me, sessions })))
}

/// `GET /api/me`.
#[get("/api/me")]
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
#[post("/api/count")]
pub async fn count(session: Session, ct: Option<&ContentType>) -> Reply<JsonOrHome<Count>> {
    let count = session
        .update(COUNT, |n: Option<i64>| n.unwrap_or(0).saturating_add(1))
        .await?;
    Ok(answer(ct, Count { count }))
}

/// `POST /api/login` (the CSRF guard refuses it from other sites). `set_user` moves the session to a new id in the same save (no
/// fixation, no `regenerate` needed) and files it under the user; an anonymous visitor's
/// counter survives, a previous user's data would not.
#[post("/api/login", data = "<body>")]
pub async fn login(
    session: Session,
    ct: Option<&ContentType>,
    agent: UserAgent<'_>,
    body: Vec<u8>,
) -> Reply<JsonOrHome<UserView>> {
    let user = app::login_name(format(ct), &body)?;
    session.set_user(user.as_str()).await?;
    session.set_label(app::device_label(agent.0)).await?;
    Ok(answer(ct, UserView { user: Some(user) }))
}

/// The `User-Agent` header, if any (for the session's device label).
pub struct UserAgent<'r>(Option<&'r str>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for UserAgent<'r> {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(UserAgent(request.headers().get_one("User-Agent")))
    }
}

/// `POST /api/logout`: `destroy` deletes the record and expires the cookie. (To sign out
/// but keep a fresh anonymous session, call `clear_user` instead.)
#[post("/api/logout")]
pub async fn logout(session: Session, ct: Option<&ContentType>) -> Reply<JsonOrHome<UserView>> {
    session.destroy().await?;
    Ok(answer(ct, UserView { user: None }))
}

/// `GET /api/data/<key>`: any JSON value, 404 when absent.
#[get("/api/data/<key>")]
pub async fn get_data(session: Session, key: &str) -> Reply<Option<Json<Value>>> {
    Ok(session.get_value(&app::data_key(key)).await?.map(Json))
}

/// `PUT /api/data/<key>`: stores and echoes any JSON value.
#[put("/api/data/<key>", data = "<value>")]
pub async fn put_data(session: Session, key: &str, value: Json<Value>) -> Reply<Json<Value>> {
    session.insert(&app::data_key(key), &*value).await?;
    Ok(value)
}

/// `DELETE /api/data/<key>`: idempotent.
#[delete("/api/data/<key>")]
pub async fn delete_data(session: Session, key: &str) -> Reply<Status> {
    session.remove_value(&app::data_key(key)).await?;
    Ok(Status::NoContent)
}

/// `GET /api/sessions`: the signed-in user's live sessions, this one marked.
#[get("/api/sessions")]
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

/// `POST /api/sessions/<id>/revoke`: signs one of the user's sessions out, at once; a
/// handle of another user's session is a 404.
#[post("/api/sessions/<id>/revoke")]
pub async fn revoke(
    session: Session,
    ct: Option<&ContentType>,
    id: &str,
) -> Reply<JsonOrHome<Revoked>> {
    session.user().await?.ok_or(AppError::Unauthorized)?;
    let handle = app::session_handle(id)?;
    if !session.revoke_session(&handle).await? {
        return Err(AppError::NoSuchSession.into());
    }
    Ok(answer(ct, Revoked { revoked: 1 }))
}

/// `POST /api/sessions/revoke-others`: "sign out everywhere else", at once.
#[post("/api/sessions/revoke-others")]
pub async fn revoke_others(
    session: Session,
    ct: Option<&ContentType>,
) -> Reply<JsonOrHome<Revoked>> {
    session.user().await?.ok_or(AppError::Unauthorized)?;
    let revoked = session.revoke_other_sessions().await?;
    Ok(answer(ct, Revoked { revoked }))
}

fn format(content_type: Option<&ContentType>) -> Format {
    Format::of(content_type.map(ToString::to_string).as_deref())
}

fn answer<T>(content_type: Option<&ContentType>, value: T) -> JsonOrHome<T> {
    match format(content_type) {
        Format::Form => Either::Right(Redirect::to("/")),
        Format::Json => Either::Left(Json(value)),
    }
}
