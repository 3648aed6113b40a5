//! The servers under test: one axum router per (implementation, store), all with the same
//! three routes, and a helper that serves a router on an ephemeral loopback port.

use std::net::SocketAddr;

use axum::{Router, routing::get};
use tokio::task::JoinHandle;

/// Workload (a): the handler never touches the session.
pub const PATH_NONE: &str = "/none";
/// Workload (b): the handler reads one small value from the session.
pub const PATH_READ: &str = "/read";
/// Workload (c): the handler reads one small value and writes it back incremented.
pub const PATH_WRITE: &str = "/write";

/// The session key every handler uses.
const KEY: &str = "n";

async fn no_session() -> &'static str {
    "ok"
}

/// A router without any session layer: the baseline for workload (a).
pub fn bare() -> Router {
    Router::new().route(PATH_NONE, get(no_session))
}

/// Handlers on our `adapter-axum` extractor.
mod ours {
    use adapter_axum::{Error, Session};

    use super::KEY;

    pub(super) async fn read(session: Session) -> Result<String, Error> {
        let n = session.get::<u64>(KEY).await?.unwrap_or(0);
        Ok(n.to_string())
    }

    pub(super) async fn write(session: Session) -> Result<String, Error> {
        let n = session.get::<u64>(KEY).await?.unwrap_or(0) + 1;
        session.insert(KEY, n).await?;
        Ok(n.to_string())
    }
}

/// Handlers on the `tower-sessions` extractor.
mod peer {
    use axum::http::StatusCode;
    use tower_sessions::Session;

    use super::KEY;

    fn internal<E>(_: E) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    pub(super) async fn read(session: Session) -> Result<String, StatusCode> {
        let n = session
            .get::<u64>(KEY)
            .await
            .map_err(internal)?
            .unwrap_or(0);
        Ok(n.to_string())
    }

    pub(super) async fn write(session: Session) -> Result<String, StatusCode> {
        let n = session
            .get::<u64>(KEY)
            .await
            .map_err(internal)?
            .unwrap_or(0)
            + 1;
        session.insert(KEY, n).await.map_err(internal)?;
        Ok(n.to_string())
    }
}

/// Our stack: `adapter-axum` over `store`, signed cookies with a fresh key, `secure` off
/// (plain-HTTP loopback), everything else at its defaults.
pub fn ours(store: impl session_core::SessionStore) -> Result<Router, session_core::ConfigError> {
    let config = session_core::SessionConfig::builder([session_core::Key::generate()])
        .secure(false)
        .build()?;
    let manager = adapter_axum::SessionManager::new(store, config);
    Ok(Router::new()
        .route(PATH_NONE, get(no_session))
        .route(PATH_READ, get(ours::read))
        .route(PATH_WRITE, get(ours::write))
        .layer(adapter_axum::SessionLayer::new(manager)))
}

/// The peer stack: `tower-sessions` over `store`, signed cookies (like ours) with a fresh key,
/// `secure` off, everything else at its defaults.
pub fn peer<S>(store: S) -> Router
where
    S: tower_sessions::SessionStore + Clone,
{
    let layer = tower_sessions::SessionManagerLayer::new(store)
        .with_secure(false)
        .with_signed(tower_sessions::cookie::Key::generate());
    Router::new()
        .route(PATH_NONE, get(no_session))
        .route(PATH_READ, get(peer::read))
        .route(PATH_WRITE, get(peer::write))
        .layer(layer)
}

/// A router being served on loopback; the server task stops when this is dropped.
#[derive(Debug)]
pub struct Server {
    /// Where the server listens (127.0.0.1, an ephemeral port).
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on 127.0.0.1:0 in the current tokio runtime.
pub async fn serve(router: Router) -> std::io::Result<Server> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("bench server on {addr} stopped: {e}");
        }
    });
    Ok(Server { addr, task })
}
