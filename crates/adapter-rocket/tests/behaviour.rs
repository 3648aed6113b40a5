//! The shared behaviour suite against a Rocket app serving the route contract.

use std::io::Cursor;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use adapter_rocket::{Error, Session, SessionFairing, SessionManager};
use rocket::config::{LogLevel, Shutdown};
use rocket::fairing::AdHoc;
use rocket::http::uri::Origin;
use rocket::http::{Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::{Config, Request, delete, get, patch, post, put, routes};
use session_behaviour_suite::TestServer;
use session_behaviour_suite::contract::{self, RouteReply, Second};

struct Reply(RouteReply);

impl<'r> Responder<'r, 'static> for Reply {
    fn respond_to(self, _request: &'r Request<'_>) -> response::Result<'static> {
        let RouteReply {
            status,
            cache_control,
            body,
        } = self.0;
        let mut response = Response::build();
        response
            .status(Status::new(status))
            .sized_body(body.len(), Cursor::new(body));
        if let Some(value) = cache_control {
            response.header(Header::new("Cache-Control", value));
        }
        response.ok()
    }
}

#[get("/plain")]
fn plain() -> &'static str {
    contract::PLAIN_BODY
}

#[post("/plain")]
fn plain_post() -> &'static str {
    contract::PLAIN_BODY
}

async fn serve(uri: &Origin<'_>, session: Session) -> Result<Reply, Error> {
    Ok(Reply(contract::run(uri.path().as_str(), &session).await?))
}

#[get("/s/<_..>")]
async fn contract_routes(uri: &Origin<'_>, session: Session) -> Result<Reply, Error> {
    serve(uri, session).await
}

#[post("/s/<_..>")]
async fn contract_post(uri: &Origin<'_>, session: Session) -> Result<Reply, Error> {
    serve(uri, session).await
}

#[put("/s/<_..>")]
async fn contract_put(uri: &Origin<'_>, session: Session) -> Result<Reply, Error> {
    serve(uri, session).await
}

#[patch("/s/<_..>")]
async fn contract_patch(uri: &Origin<'_>, session: Session) -> Result<Reply, Error> {
    serve(uri, session).await
}

#[delete("/s/<_..>")]
async fn contract_delete(uri: &Origin<'_>, session: Session) -> Result<Reply, Error> {
    serve(uri, session).await
}

#[get("/m/<_..>")]
async fn second_routes(uri: &Origin<'_>, session: Session<Second>) -> Result<Reply, Error> {
    Ok(Reply(contract::run(uri.path().as_str(), &session).await?))
}

#[get("/both/<_..>")]
async fn both_routes(
    uri: &Origin<'_>,
    first: Session,
    second: Session<Second>,
) -> Result<Reply, Error> {
    let path = uri.path();
    Ok(Reply(
        contract::run_both(path.as_str(), &first, &second).await?,
    ))
}

async fn spawn(manager: SessionManager, second: Option<SessionManager>) -> TestServer {
    let config = Config {
        address: Ipv4Addr::LOCALHOST.into(),
        port: 0,
        log_level: LogLevel::Off,
        cli_colors: false,
        shutdown: Shutdown {
            ctrlc: false,
            #[cfg(unix)]
            signals: Default::default(),
            grace: 1,
            mercy: 1,
            ..Shutdown::default()
        },
        ..Config::debug_default()
    };
    let (port_tx, port_rx) = tokio::sync::oneshot::channel();
    let port_tx = Mutex::new(Some(port_tx));
    let mut rocket = rocket::custom(config).attach(SessionFairing::new(manager));
    if let Some(second) = second {
        rocket = rocket.attach(SessionFairing::<Second>::marked(second));
    }
    let rocket = rocket
        .attach(AdHoc::on_liftoff("report port", move |rocket| {
            let port = rocket.config().port;
            if let Some(tx) = port_tx.lock().expect("port sender").take() {
                let _ = tx.send(port);
            }
            Box::pin(async {})
        }))
        .mount(
            "/",
            routes![
                plain,
                plain_post,
                contract_routes,
                contract_post,
                contract_put,
                contract_patch,
                contract_delete,
                second_routes,
                both_routes
            ],
        )
        .ignite()
        .await
        .expect("rocket ignites");
    let shutdown = rocket.shutdown();
    tokio::spawn(rocket.launch());
    let port = port_rx.await.expect("rocket lifts off");
    TestServer::new(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), move || {
        shutdown.notify();
    })
}

session_behaviour_suite::behaviour_tests!(spawn);
