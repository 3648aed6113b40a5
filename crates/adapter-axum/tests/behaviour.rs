//! The shared behaviour suite against an axum app serving the route contract.

use adapter_axum::{Error, Session, SessionLayer, SessionManager};
use axum::Router;
use axum::http::header::{CACHE_CONTROL, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use session_behaviour_suite::{TestServer, contract};

async fn plain() -> &'static str {
    contract::PLAIN_BODY
}

async fn routes(session: Session, uri: Uri) -> Result<Response, Error> {
    let reply = contract::run(uri.path(), &session).await?;
    let status = StatusCode::from_u16(reply.status).expect("contract statuses are valid");
    let mut response = (status, reply.body).into_response();
    if let Some(value) = reply.cache_control {
        let value = HeaderValue::from_static(value);
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    Ok(response)
}

async fn spawn(manager: SessionManager) -> TestServer {
    let app = Router::new()
        .route(contract::PLAIN, get(plain).post(plain))
        .route(
            "/s/{*rest}",
            get(routes)
                .post(routes)
                .put(routes)
                .patch(routes)
                .delete(routes),
        )
        .layer(SessionLayer::new(manager));
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
