//! The actix-web stacks: our `adapter-actix` against `actix-session`, both on Redis, serving
//! the same routes as the axum stacks in [`crate::apps`]. Each server runs on its own actix
//! system thread with the same number of workers.

use std::{net::SocketAddr, sync::mpsc, thread::JoinHandle};

use actix_web::{
    App, HttpResponse, HttpServer,
    dev::{Server, ServerHandle},
    web,
};

use crate::apps::{PATH_BIG, PATH_BIG_SEED, PATH_LOGIN, PATH_NONE, PATH_READ, PATH_WRITE};

/// Worker threads per actix server (the machine's core count is the usual choice).
const WORKERS: usize = 2;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Handlers on our `adapter-actix` extractor.
mod ours {
    use actix_web::HttpResponse;
    use adapter_actix::{Error, Session};

    use crate::apps::{BIG_KEY_NAMES, KEY, USER_KEY, big_value, next_big_write};

    pub(super) async fn read(session: Session) -> Result<HttpResponse, Error> {
        let n = session.get::<u64>(KEY).await?.unwrap_or(0);
        Ok(HttpResponse::Ok().body(n.to_string()))
    }

    pub(super) async fn write(session: Session) -> Result<HttpResponse, Error> {
        let n = session.get::<u64>(KEY).await?.unwrap_or(0) + 1;
        session.insert(KEY, n).await?;
        Ok(HttpResponse::Ok().body(n.to_string()))
    }

    pub(super) async fn big_seed(session: Session) -> Result<HttpResponse, Error> {
        for (i, key) in BIG_KEY_NAMES.iter().enumerate() {
            session.insert(key, big_value(i)).await?;
        }
        Ok(HttpResponse::Ok().body("seeded"))
    }

    pub(super) async fn big(session: Session) -> Result<HttpResponse, Error> {
        let (key, value) = next_big_write();
        session.insert(key, value).await?;
        Ok(HttpResponse::Ok().body("ok"))
    }

    pub(super) async fn login(session: Session) -> Result<HttpResponse, Error> {
        session.insert(USER_KEY, 42_u64).await?;
        Ok(HttpResponse::Ok().body("ok"))
    }
}

/// Handlers on the `actix-session` extractor.
mod peer {
    use actix_session::Session;
    use actix_web::{HttpResponse, error::ErrorInternalServerError};

    use crate::apps::{BIG_KEY_NAMES, KEY, USER_KEY, big_value, next_big_write};

    type Result<T> = std::result::Result<T, actix_web::Error>;

    pub(super) async fn read(session: Session) -> Result<HttpResponse> {
        let n = session
            .get::<u64>(KEY)
            .map_err(ErrorInternalServerError)?
            .unwrap_or(0);
        Ok(HttpResponse::Ok().body(n.to_string()))
    }

    pub(super) async fn write(session: Session) -> Result<HttpResponse> {
        let n = session
            .get::<u64>(KEY)
            .map_err(ErrorInternalServerError)?
            .unwrap_or(0)
            + 1;
        session.insert(KEY, n).map_err(ErrorInternalServerError)?;
        Ok(HttpResponse::Ok().body(n.to_string()))
    }

    pub(super) async fn big_seed(session: Session) -> Result<HttpResponse> {
        for (i, key) in BIG_KEY_NAMES.iter().enumerate() {
            session
                .insert(*key, big_value(i))
                .map_err(ErrorInternalServerError)?;
        }
        Ok(HttpResponse::Ok().body("seeded"))
    }

    pub(super) async fn big(session: Session) -> Result<HttpResponse> {
        let (key, value) = next_big_write();
        session
            .insert(key, value)
            .map_err(ErrorInternalServerError)?;
        Ok(HttpResponse::Ok().body("ok"))
    }

    pub(super) async fn login(session: Session) -> Result<HttpResponse> {
        session
            .insert(USER_KEY, 42_u64)
            .map_err(ErrorInternalServerError)?;
        Ok(HttpResponse::Ok().body("ok"))
    }
}

async fn no_session() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

/// The routes of our actix stack (behind `adapter-actix`'s middleware, which the caller
/// wraps around the app), for [`actix_web::App::configure`].
pub fn our_routes(config: &mut web::ServiceConfig) {
    config
        .route(PATH_NONE, web::get().to(no_session))
        .route(PATH_READ, web::get().to(ours::read))
        .route(PATH_WRITE, web::get().to(ours::write))
        .route(PATH_BIG_SEED, web::get().to(ours::big_seed))
        .route(PATH_BIG, web::get().to(ours::big))
        .route(PATH_LOGIN, web::get().to(ours::login));
}

/// An actix server on its own system thread; stopped (gracelessly) when dropped.
#[derive(Debug)]
pub struct ActixServer {
    /// Where the server listens (127.0.0.1, an ephemeral port).
    pub addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl Drop for ActixServer {
    fn drop(&mut self) {
        // `stop` only resolves inside a runtime; dropping the future still signals the server.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Our stack: `adapter-actix` over our Redis store at `url` (prefix `bench:actix:`).
pub fn serve_ours(url: String) -> Result<ActixServer, Error> {
    spawn(move || async move {
        let store = store_redis::RedisStore::connect(&url)
            .await?
            .with_prefix("bench:actix:");
        let middleware = adapter_actix::SessionMiddleware::new(crate::apps::our_manager(store)?);
        let server =
            HttpServer::new(move || App::new().wrap(middleware.clone()).configure(our_routes))
                .workers(WORKERS)
                .bind(("127.0.0.1", 0))?;
        Ok((bound(&server.addrs())?, server.run()))
    })
}

/// The peer stack: `actix-session` with its `RedisSessionStore` at `url`, signed cookies (like
/// ours), `secure` off, everything else at its defaults.
pub fn serve_peer(url: String) -> Result<ActixServer, Error> {
    use actix_session::{
        SessionMiddleware, config::CookieContentSecurity, storage::RedisSessionStore,
    };
    spawn(move || async move {
        let store = RedisSessionStore::new(url).await?;
        let key = actix_web::cookie::Key::generate();
        let server = HttpServer::new(move || {
            let middleware = SessionMiddleware::builder(store.clone(), key.clone())
                .cookie_secure(false)
                .cookie_content_security(CookieContentSecurity::Signed)
                .build();
            App::new()
                .wrap(middleware)
                .route(PATH_NONE, web::get().to(no_session))
                .route(PATH_READ, web::get().to(peer::read))
                .route(PATH_WRITE, web::get().to(peer::write))
                .route(PATH_BIG_SEED, web::get().to(peer::big_seed))
                .route(PATH_BIG, web::get().to(peer::big))
                .route(PATH_LOGIN, web::get().to(peer::login))
        })
        .workers(WORKERS)
        .bind(("127.0.0.1", 0))?;
        Ok((bound(&server.addrs())?, server.run()))
    })
}

/// Where a bound server listens, and the server itself (started, not yet awaited).
type Started = (SocketAddr, Server);

/// The address `server` bound, for [`Started`].
fn bound(server: &[SocketAddr]) -> Result<SocketAddr, Error> {
    server
        .first()
        .copied()
        .ok_or_else(|| "actix server bound no address".into())
}

/// Builds a server inside a fresh actix system on its own thread and runs it there.
fn spawn<F, Fut>(build: F) -> Result<ActixServer, Error>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Started, Error>>,
{
    let (ready, started) = mpsc::channel::<Result<(SocketAddr, ServerHandle), String>>();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let (addr, server) = match build().await {
                Ok(started) => started,
                Err(e) => {
                    let _ = ready.send(Err(e.to_string()));
                    return;
                }
            };
            let _ = ready.send(Ok((addr, server.handle())));
            if let Err(e) = server.await {
                eprintln!("actix bench server on {addr} stopped: {e}");
            }
        });
    });
    let (addr, handle) = started
        .recv()
        .map_err(|_| "actix server thread ended before it started")??;
    Ok(ActixServer {
        addr,
        handle,
        thread: Some(thread),
    })
}
