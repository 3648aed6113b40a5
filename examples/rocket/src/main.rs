//! The sessions example on Rocket. Run it with `cargo run -p example-rocket` and open
//! <http://localhost:3000>; `SESSION_STORE` picks the store (see examples/README.md).

use adapter_rocket::{Session, SessionFairing};
use example_support::{self as app, Format, Login};
use rocket::Either;
use rocket::http::{ContentType, Status};
use rocket::response::Redirect;
use rocket::response::content::RawHtml;
use rocket::serde::json::Json;
use rocket::{delete, get, post, put, routes};
use serde_json::Value;

mod error;

use error::ApiError;

type Reply<T> = Result<T, ApiError>;
/// JSON for API clients, a 303 to `/` for the page's forms.
type JsonOrHome<T> = Either<Json<T>, Redirect>;

#[rocket::main]
async fn main() {
    let setup = app::or_exit(app::setup().await);
    let figment = rocket::Config::figment()
        .merge(("address", setup.addr.ip()))
        .merge(("port", setup.addr.port()))
        .merge(("log_level", "critical"))
        .merge(("cli_colors", false));
    tracing::info!("listening on http://{}", setup.addr);
    let rocket = rocket::custom(figment)
        .attach(SessionFairing::new(setup.manager))
        .mount(
            "/",
            routes![
                health,
                index,
                me,
                count,
                login,
                logout,
                get_data,
                put_data,
                delete_data,
                sessions,
                revoke_others
            ],
        );
    app::or_exit(rocket.launch().await.map(drop));
}

fn answer<T>(content_type: Option<&ContentType>, value: T) -> JsonOrHome<T> {
    match format(content_type) {
        Format::Form => Either::Right(Redirect::to("/")),
        Format::Json => Either::Left(Json(value)),
    }
}

fn format(content_type: Option<&ContentType>) -> Format {
    Format::of(content_type.map(ToString::to_string).as_deref())
}

/// Never touches the session (the fairing only loads it on use).
#[get("/health")]
fn health() -> &'static str {
    app::HEALTH_BODY
}

#[get("/")]
async fn index(session: Session) -> Reply<RawHtml<String>> {
    Ok(RawHtml(app::page::render(&app::page(&session).await?)))
}

#[get("/api/me")]
async fn me(session: Session) -> Reply<Json<app::Me>> {
    Ok(Json(app::me(&session).await?))
}

#[post("/api/count")]
async fn count(session: Session, ct: Option<&ContentType>) -> Reply<JsonOrHome<app::Count>> {
    Ok(answer(ct, app::increment(&session).await?))
}

#[post("/api/login", data = "<body>")]
async fn login(
    session: Session,
    ct: Option<&ContentType>,
    body: Vec<u8>,
) -> Reply<JsonOrHome<app::UserView>> {
    let input = Login::parse(format(ct), &body)?;
    Ok(answer(
        ct,
        app::login(&session, input.user.as_deref()).await?,
    ))
}

#[post("/api/logout")]
async fn logout(session: Session, ct: Option<&ContentType>) -> Reply<JsonOrHome<app::UserView>> {
    Ok(answer(ct, app::logout(&session).await?))
}

#[get("/api/data/<key>")]
async fn get_data(session: Session, key: &str) -> Reply<Option<Json<Value>>> {
    Ok(app::get_data(&session, key).await?.map(Json))
}

#[put("/api/data/<key>", data = "<value>")]
async fn put_data(session: Session, key: &str, value: Json<Value>) -> Reply<Json<Value>> {
    Ok(Json(
        app::put_data(&session, key, value.into_inner()).await?,
    ))
}

#[delete("/api/data/<key>")]
async fn delete_data(session: Session, key: &str) -> Reply<Status> {
    app::delete_data(&session, key).await?;
    Ok(Status::NoContent)
}

#[get("/api/sessions")]
async fn sessions(session: Session) -> Reply<Json<app::Sessions>> {
    Ok(Json(app::sessions(&session).await?))
}

#[post("/api/sessions/revoke-others")]
async fn revoke_others(
    session: Session,
    ct: Option<&ContentType>,
) -> Reply<JsonOrHome<app::Revoked>> {
    Ok(answer(ct, app::revoke_others(&session).await?))
}
