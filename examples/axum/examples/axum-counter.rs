//! The smallest sessions app on axum: a counter per visitor, kept server-side.
//! `cargo run -p example-axum --example axum-counter`, then a few times
//! `curl -b jar -c jar localhost:3000`, and `curl -b jar -c jar -X POST localhost:3000/reset`.

use adapter_axum::{Error, Key, MemoryStore, Session, SessionConfig, SessionLayer, SessionManager};
use axum::{Router, routing::get, routing::post};

async fn count(session: Session) -> Result<String, Error> {
    // Read-modify-write of one key, saved by the layer after the handler.
    let n = session
        .update("count", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(format!("count: {n}\n"))
}

async fn reset(session: Session) -> Result<&'static str, Error> {
    session.destroy().await?; // deletes the session and expires the cookie
    Ok("reset\n")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A random key, so sessions end with the process: load yours with Key::from_base64.
    let config = SessionConfig::builder([Key::generate()])
        .secure(false)
        .build()?; // secure(false): plain http on localhost
    let manager = SessionManager::new(MemoryStore::default(), config); // one process only
    let app = Router::new()
        .route("/", get(count))
        .route("/reset", post(reset))
        .layer(SessionLayer::new(manager));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
