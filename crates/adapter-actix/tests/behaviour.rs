//! The shared behaviour suite against an actix-web app serving the route contract.

use actix_web::http::StatusCode;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::middleware::Condition;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use adapter_actix::{Error, Session, SessionManager, SessionMiddleware};
use session_behaviour_suite::TestServer;
use session_behaviour_suite::contract::{self, Second};

async fn plain() -> &'static str {
    contract::PLAIN_BODY
}

async fn routes(request: HttpRequest, session: Session) -> Result<HttpResponse, Error> {
    reply(contract::run(request.path(), &session).await?)
}

async fn second_routes(
    request: HttpRequest,
    session: Session<Second>,
) -> Result<HttpResponse, Error> {
    reply(contract::run(request.path(), &session).await?)
}

async fn both_routes(
    request: HttpRequest,
    first: Session,
    second: Session<Second>,
) -> Result<HttpResponse, Error> {
    reply(contract::run_both(request.path(), &first, &second).await?)
}

fn reply(reply: contract::RouteReply) -> Result<HttpResponse, Error> {
    let status = StatusCode::from_u16(reply.status).expect("contract statuses are valid");
    let mut response = HttpResponse::build(status);
    if let Some(value) = reply.cache_control {
        response.insert_header((CACHE_CONTROL, value));
    }
    Ok(response.body(reply.body))
}

/// Actix runs its own single-threaded runtime, so the server gets a thread of its own.
async fn spawn(manager: SessionManager, second: Option<SessionManager>) -> TestServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let addr = listener.local_addr().expect("local address");
    let (handle_tx, handle_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                // Without a second manager, the outer middleware is switched off.
                let outer = second.clone().unwrap_or_else(|| manager.clone());
                App::new()
                    .wrap(SessionMiddleware::new(manager.clone()))
                    .wrap(Condition::new(
                        second.is_some(),
                        SessionMiddleware::<Second>::marked(outer),
                    ))
                    .route(contract::PLAIN, web::get().to(plain))
                    .route(contract::PLAIN, web::post().to(plain))
                    .route("/s/{rest:.*}", web::route().to(routes))
                    .route("/m/{rest:.*}", web::get().to(second_routes))
                    .route("/both/{rest:.*}", web::get().to(both_routes))
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .listen(listener)
            .expect("listen")
            .run();
            let _ = handle_tx.send(server.handle());
            server.await
        })
    });
    let handle = handle_rx.await.expect("the actix server starts");
    TestServer::new(addr, move || {
        // Sends the stop command now; completion is not awaited.
        drop(handle.stop(false));
    })
}

session_behaviour_suite::behaviour_tests!(spawn);
