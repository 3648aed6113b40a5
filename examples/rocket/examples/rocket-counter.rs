//! The smallest sessions app on Rocket: a counter per visitor, kept server-side.
//! `cargo run -p example-rocket --example rocket-counter`, then a few times
//! `curl -b jar -c jar localhost:8000`, and `curl -b jar -c jar -X POST localhost:8000/reset`.

use adapter_rocket::{
    Error, Key, MemoryStore, Session, SessionConfig, SessionFairing, SessionManager,
};
use rocket::{get, post, routes};

#[get("/")]
async fn count(session: Session) -> Result<String, Error> {
    // Read-modify-write of one key, saved by the fairing after the handler.
    let n = session
        .update("count", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(format!("count: {n}\n"))
}

#[post("/reset")]
async fn reset(session: Session) -> Result<&'static str, Error> {
    session.destroy().await?; // deletes the session and expires the cookie
    Ok("reset\n")
}

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A random key, so sessions end with the process: load yours with Key::from_base64.
    let config = SessionConfig::builder([Key::generate()])
        .secure(false)
        .build()?; // secure(false): plain http on localhost
    let manager = SessionManager::new(MemoryStore::default(), config); // one process only
    rocket::build()
        .attach(SessionFairing::new(manager))
        .mount("/", routes![count, reset])
        .launch()
        .await?;
    Ok(())
}
