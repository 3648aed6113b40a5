//! The sessions example on actix-web. Run it with `cargo run -p example-actix` and open
//! <http://localhost:3000>; `SESSION_STORE` picks the store (see examples/README.md).
//!
//! This file starts the server and routes; every session call is in `handlers.rs`.
//! The smallest app is `examples/actix-counter.rs`:
//! `cargo run -p example-actix --example actix-counter`.

use actix_web::{App, HttpServer, web};
use adapter_actix::SessionMiddleware;
use example_support as app;

mod error;
mod handlers;

use handlers as h;

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
        .route("/", web::get().to(h::index))
        .route("/api/me", web::get().to(h::me))
        .route("/api/count", web::post().to(h::count))
        .route("/api/login", web::post().to(h::login))
        .route("/api/logout", web::post().to(h::logout))
        .service(
            web::resource("/api/data/{key}")
                .route(web::get().to(h::get_data))
                .route(web::put().to(h::put_data))
                .route(web::delete().to(h::delete_data)),
        )
        .route("/api/sessions", web::get().to(h::sessions))
        .route(
            "/api/sessions/revoke-others",
            web::post().to(h::revoke_others),
        )
        .route("/api/sessions/{id}/revoke", web::post().to(h::revoke));
}
