//! The sessions example on axum. Run it with `cargo run -p example-axum` and open
//! <http://localhost:3000>; `SESSION_STORE` picks the store (see examples/README.md).
//!
//! This file starts the server and routes; every session call is in `handlers.rs`.
//! The smallest app is `examples/axum-counter.rs`:
//! `cargo run -p example-axum --example axum-counter`.

use adapter_axum::{SessionLayer, SessionManager};
use axum::Router;
use axum::routing::{get, post};
use example_support as app;

mod error;
mod handlers;

use handlers as h;

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
        .route("/", get(h::index))
        .route("/api/me", get(h::me))
        .route("/api/count", post(h::count))
        .route("/api/login", post(h::login))
        .route("/api/logout", post(h::logout))
        .route(
            "/api/data/{key}",
            get(h::get_data).put(h::put_data).delete(h::delete_data),
        )
        .route("/api/sessions", get(h::sessions))
        .route("/api/sessions/revoke-others", post(h::revoke_others))
        .route("/api/sessions/{id}/revoke", post(h::revoke))
        .layer(SessionLayer::new(manager));
    Router::new()
        .route("/health", get(|| async { app::HEALTH_BODY }))
        .merge(with_session)
}
