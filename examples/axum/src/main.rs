//! The sessions example on axum. Run it with `cargo run -p example-axum` and open
//! <http://localhost:3000>; `SESSION_STORE` picks the store (see examples/README.md).

use adapter_axum::{Session, SessionLayer, SessionManager};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Json, Path};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use example_support::{self as app, Format, Login};
use serde::Serialize;
use serde_json::Value;

mod error;

use error::ApiError;

type Reply<T = Response> = Result<T, ApiError>;

#[tokio::main]
async fn main() {
    let setup = app::or_exit(app::setup().await);
    let listener = app::or_exit(
        tokio::net::TcpListener::bind(setup.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", setup.addr)),
    );
    tracing::info!("listening on http://{}", setup.addr);
    let served = axum::serve(listener, router(setup.manager))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    app::or_exit(served);
}

/// The app: `/health` outside the session layer, everything else inside it.
fn router(manager: SessionManager) -> Router {
    let with_session = Router::new()
        .route("/", get(index))
        .route("/api/me", get(me))
        .route("/api/count", post(count))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route(
            "/api/data/{key}",
            get(get_data).put(put_data).delete(delete_data),
        )
        .route("/api/sessions", get(sessions))
        .route("/api/sessions/revoke-others", post(revoke_others))
        .layer(SessionLayer::new(manager));
    Router::new()
        .route("/health", get(|| async { app::HEALTH_BODY }))
        .merge(with_session)
}

/// JSON for API clients, a 303 to `/` for the page's forms.
fn answer(headers: &HeaderMap, value: impl Serialize) -> Response {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    match Format::of(content_type) {
        Format::Form => Redirect::to("/").into_response(),
        Format::Json => Json(value).into_response(),
    }
}

async fn index(session: Session) -> Reply<Html<String>> {
    Ok(Html(app::page::render(&app::page(&session).await?)))
}

async fn me(session: Session) -> Reply<Json<app::Me>> {
    Ok(Json(app::me(&session).await?))
}

async fn count(session: Session, headers: HeaderMap) -> Reply {
    Ok(answer(&headers, app::increment(&session).await?))
}

async fn login(session: Session, headers: HeaderMap, body: Bytes) -> Reply {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let input = Login::parse(Format::of(content_type), &body)?;
    Ok(answer(
        &headers,
        app::login(&session, input.user.as_deref()).await?,
    ))
}

async fn logout(session: Session, headers: HeaderMap) -> Reply {
    Ok(answer(&headers, app::logout(&session).await?))
}

async fn get_data(session: Session, Path(key): Path<String>) -> Reply {
    Ok(match app::get_data(&session, &key).await? {
        Some(value) => Json(value).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    })
}

async fn put_data(
    session: Session,
    Path(key): Path<String>,
    Json(value): Json<Value>,
) -> Reply<Json<Value>> {
    Ok(Json(app::put_data(&session, &key, value).await?))
}

async fn delete_data(session: Session, Path(key): Path<String>) -> Reply<StatusCode> {
    app::delete_data(&session, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sessions(session: Session) -> Reply<Json<app::Sessions>> {
    Ok(Json(app::sessions(&session).await?))
}

async fn revoke_others(session: Session, headers: HeaderMap) -> Reply {
    let revoked = app::revoke_others(&session).await?;
    Ok(answer(&headers, revoked))
}
