//! The guard without the fairing: a 500, not a panic.

use adapter_rocket::Session;
use rocket::http::Status;
use rocket::local::asynchronous::Client;
use rocket::{get, routes};

#[get("/")]
async fn needs_session(session: Session) -> String {
    session
        .keys()
        .await
        .map(|k| k.join(","))
        .unwrap_or_default()
}

#[tokio::test]
async fn guard_without_fairing_is_a_500() {
    let rocket = rocket::build().mount("/", routes![needs_session]);
    let client = Client::untracked(rocket).await.expect("a local client");
    let response = client.get("/").dispatch().await;
    assert_eq!(response.status(), Status::InternalServerError);
}
