//! The sessions example on actix-web. Run it with `cargo run -p example-actix` and open
//! <http://localhost:3000>; `SESSION_STORE` picks the store (see examples/README.md).

use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::web::{self, Bytes, Json, Path};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use adapter_actix::{Session, SessionMiddleware};
use example_support::{self as app, Format, Login};
use serde::Serialize;
use serde_json::Value;

mod error;

use error::ApiError;

type Reply<T = HttpResponse> = Result<T, ApiError>;

#[actix_web::main]
async fn main() {
    let setup = app::or_exit(app::setup().await);
    let manager = setup.manager;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::new(manager.clone()))
            .configure(routes)
    })
    .bind(setup.addr)
    .map_err(|e| format!("cannot listen on {}: {e}", setup.addr));
    tracing::info!("listening on http://{}", setup.addr);
    app::or_exit(app::or_exit(server).run().await);
}

/// The routes. The middleware wraps them all; `/health` never touches the session, so it
/// costs no store call.
fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/health", web::get().to(|| async { app::HEALTH_BODY }))
        .route("/", web::get().to(index))
        .route("/api/me", web::get().to(me))
        .route("/api/count", web::post().to(count))
        .route("/api/login", web::post().to(login))
        .route("/api/logout", web::post().to(logout))
        .service(
            web::resource("/api/data/{key}")
                .route(web::get().to(get_data))
                .route(web::put().to(put_data))
                .route(web::delete().to(delete_data)),
        )
        .route("/api/sessions", web::get().to(sessions))
        .route("/api/sessions/revoke-others", web::post().to(revoke_others));
}

fn format(request: &HttpRequest) -> Format {
    Format::of(
        request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )
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

async fn index(session: Session) -> Reply {
    let html = app::page::render(&app::page(&session).await?);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

async fn me(session: Session) -> Reply<Json<app::Me>> {
    Ok(Json(app::me(&session).await?))
}

async fn count(session: Session, request: HttpRequest) -> Reply {
    Ok(answer(&request, app::increment(&session).await?))
}

async fn login(session: Session, request: HttpRequest, body: Bytes) -> Reply {
    let input = Login::parse(format(&request), &body)?;
    Ok(answer(
        &request,
        app::login(&session, input.user.as_deref()).await?,
    ))
}

async fn logout(session: Session, request: HttpRequest) -> Reply {
    Ok(answer(&request, app::logout(&session).await?))
}

async fn get_data(session: Session, key: Path<String>) -> Reply {
    Ok(match app::get_data(&session, &key).await? {
        Some(value) => HttpResponse::Ok().json(value),
        None => HttpResponse::NotFound().finish(),
    })
}

async fn put_data(session: Session, key: Path<String>, value: Json<Value>) -> Reply<Json<Value>> {
    Ok(Json(
        app::put_data(&session, &key, value.into_inner()).await?,
    ))
}

async fn delete_data(session: Session, key: Path<String>) -> Reply {
    app::delete_data(&session, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn sessions(session: Session) -> Reply<Json<app::Sessions>> {
    Ok(Json(app::sessions(&session).await?))
}

async fn revoke_others(session: Session, request: HttpRequest) -> Reply {
    Ok(answer(&request, app::revoke_others(&session).await?))
}
