//! The shared behaviour suite against an axum app serving the route contract.

use adapter_axum::{Error, Session, SessionLayer, SessionManager};
use axum::Router;
use axum::http::header::{CACHE_CONTROL, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use session_behaviour_suite::TestServer;
use session_behaviour_suite::contract::{self, Second};

async fn plain() -> &'static str {
    contract::PLAIN_BODY
}

async fn routes(session: Session, uri: Uri) -> Result<Response, Error> {
    reply(contract::run(uri.path(), &session).await?)
}

async fn second_routes(session: Session<Second>, uri: Uri) -> Result<Response, Error> {
    reply(contract::run(uri.path(), &session).await?)
}

async fn both_routes(first: Session, second: Session<Second>, uri: Uri) -> Result<Response, Error> {
    reply(contract::run_both(uri.path(), &first, &second).await?)
}

fn reply(reply: contract::RouteReply) -> Result<Response, Error> {
    let status = StatusCode::from_u16(reply.status).expect("contract statuses are valid");
    let mut response = (status, reply.body).into_response();
    if let Some(value) = reply.cache_control {
        let value = HeaderValue::from_static(value);
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    Ok(response)
}

async fn spawn(manager: SessionManager, second: Option<SessionManager>) -> TestServer {
    let mut app = Router::new()
        .route(contract::PLAIN, get(plain).post(plain))
        .route(
            "/s/{*rest}",
            get(routes)
                .post(routes)
                .put(routes)
                .patch(routes)
                .delete(routes),
        )
        .route("/m/{*rest}", get(second_routes))
        .route("/both/{*rest}", get(both_routes))
        .layer(SessionLayer::new(manager));
    if let Some(second) = second {
        app = app.layer(SessionLayer::<Second>::marked(second));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    });
    TestServer::new(addr, move || {
        let _ = stop.send(());
    })
}

session_behaviour_suite::behaviour_tests!(spawn);
