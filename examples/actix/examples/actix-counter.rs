//! The smallest sessions app on actix-web: a counter per visitor, kept server-side.
//! `cargo run -p example-actix --example actix-counter`, then a few times
//! `curl -b jar -c jar localhost:8080`, and `curl -b jar -c jar -X POST localhost:8080/reset`.

use actix_web::{App, HttpServer, web};
use adapter_actix::{
    Error, Key, MemoryStore, Session, SessionConfig, SessionManager, SessionMiddleware,
};

async fn count(session: Session) -> Result<String, Error> {
    // Read-modify-write of one key, saved by the middleware after the handler.
    let n = session
        .update("count", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(format!("count: {n}\n"))
}

async fn reset(session: Session) -> Result<&'static str, Error> {
    session.destroy().await?; // deletes the session and expires the cookie
    Ok("reset\n")
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A random key, so sessions end with the process: load yours with Key::from_base64.
    let config = SessionConfig::builder([Key::generate()])
        .secure(false)
        .build()?; // secure(false): plain http on localhost
    let manager = SessionManager::new(MemoryStore::default(), config); // one process only
    HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::new(manager.clone()))
            .route("/", web::get().to(count))
            .route("/reset", web::post().to(reset))
    })
    .bind(("127.0.0.1", 8080))?
    .run()
    .await?;
    Ok(())
}
