//! The servers under test. Every stack serves the same routes with the same handler logic,
//! once on our adapter and once on the peer's, so a comparison differs only in the session
//! layer and its store.

use std::{
    net::SocketAddr,
    sync::atomic::{AtomicUsize, Ordering},
};

use axum::{Router, routing::get};
use tokio::task::JoinHandle;

/// Workload (a): the handler never touches the session.
pub const PATH_NONE: &str = "/none";
/// Workload (b): the handler reads one small value from the session.
pub const PATH_READ: &str = "/read";
/// Workload (c): the handler reads one small value and writes it back incremented.
pub const PATH_WRITE: &str = "/write";
/// Seeds workload (d): writes [`BIG_KEYS`] keys of [`BIG_VALUE_BYTES`] bytes each.
pub const PATH_BIG_SEED: &str = "/big/seed";
/// Workload (d): rewrites one of the [`BIG_KEYS`] keys of a seeded session.
pub const PATH_BIG: &str = "/big";
/// Workload (e): a login on a request without a cookie, so every request makes a session.
pub const PATH_LOGIN: &str = "/login";

/// Seeds a scale-curve session of `{keys}` keys: `/scale/{keys}/seed` (see [`scale_paths`]).
pub const PATH_SCALE_SEED: &str = "/scale/{keys}/seed";
/// A scale-curve request: rewrites one of the `{keys}` keys, `/scale/{keys}`.
pub const PATH_SCALE: &str = "/scale/{keys}";
/// Ends a scale-curve session (its store entry is deleted), so the big sessions do not stay
/// behind in a shared store.
pub const PATH_SCALE_DROP: &str = "/scale-drop";
/// The session sizes of the scale curves.
pub const SCALE_KEYS: [usize; 4] = [1, 20, 200, 2000];

/// The (measured, seed) paths of the scale curve with `keys` keys, for one of [`SCALE_KEYS`].
pub fn scale_paths(keys: usize) -> Option<(&'static str, &'static str)> {
    match keys {
        1 => Some(("/scale/1", "/scale/1/seed")),
        20 => Some(("/scale/20", "/scale/20/seed")),
        200 => Some(("/scale/200", "/scale/200/seed")),
        2000 => Some(("/scale/2000", "/scale/2000/seed")),
        _ => None,
    }
}

/// The largest session a scale route accepts.
const MAX_SCALE_KEYS: usize = 10_000;

/// The name of key `i` of a scale-curve session.
pub(crate) fn scale_key(i: usize) -> String {
    format!("s{i:05}")
}

/// Which key of a `keys`-key session a scale request rewrites, and with what (a process-wide
/// counter, like [`next_big_write`]); `None` for a size out of range.
pub(crate) fn next_scale_write(keys: usize) -> Option<(String, String)> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    if keys == 0 || keys > MAX_SCALE_KEYS {
        return None;
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Some((scale_key(n % keys), big_value(n)))
}

/// Number of keys in a workload-(d) session.
pub const BIG_KEYS: usize = 20;
/// Bytes per value in a workload-(d) session.
pub const BIG_VALUE_BYTES: usize = 200;

/// The session key the small workloads use.
pub(crate) const KEY: &str = "n";
/// The session key a login writes.
pub(crate) const USER_KEY: &str = "user_id";

/// The key names of a workload-(d) session.
pub(crate) const BIG_KEY_NAMES: [&str; BIG_KEYS] = [
    "k00", "k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k10", "k11", "k12",
    "k13", "k14", "k15", "k16", "k17", "k18", "k19",
];

/// Which key a workload-(d) request rewrites, and with what: a process-wide counter, so the
/// value really changes on every request.
pub(crate) fn next_big_write() -> (&'static str, String) {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    (BIG_KEY_NAMES[n % BIG_KEYS], big_value(n))
}

pub(crate) fn big_value(n: usize) -> String {
    let letter = char::from(b'a' + (n % 26) as u8);
    std::iter::repeat_n(letter, BIG_VALUE_BYTES).collect()
}

async fn no_session() -> &'static str {
    "ok"
}

/// A router without any session layer: the baseline for workload (a). Its seed route sets a
/// cookie as long as ours, so its (a) requests carry the same bytes as the layered stacks'.
pub fn bare() -> Router {
    async fn seed() -> ([(axum::http::HeaderName, String); 1], &'static str) {
        let value = format!("sid={}; Path=/; HttpOnly", "x".repeat(86));
        ([(axum::http::header::SET_COOKIE, value)], "1")
    }
    Router::new()
        .route(PATH_NONE, get(no_session))
        .route(PATH_WRITE, get(seed))
}

/// Handlers on our `adapter-axum` extractor.
mod ours {
    use adapter_axum::{Error, Session};
    use axum::{extract::Path, http::StatusCode};

    use super::{
        BIG_KEY_NAMES, KEY, USER_KEY, big_value, next_big_write, next_scale_write, scale_key,
    };

    pub(super) async fn read(session: Session) -> Result<String, Error> {
        let n = session.get::<u64>(KEY).await?.unwrap_or(0);
        Ok(n.to_string())
    }

    pub(super) async fn write(session: Session) -> Result<String, Error> {
        let n = session.get::<u64>(KEY).await?.unwrap_or(0) + 1;
        session.insert(KEY, n).await?;
        Ok(n.to_string())
    }

    pub(super) async fn big_seed(session: Session) -> Result<&'static str, Error> {
        for (i, key) in BIG_KEY_NAMES.iter().enumerate() {
            session.insert(key, big_value(i)).await?;
        }
        Ok("seeded")
    }

    pub(super) async fn big(session: Session) -> Result<&'static str, Error> {
        let (key, value) = next_big_write();
        session.insert(key, value).await?;
        Ok("ok")
    }

    pub(super) async fn login(session: Session) -> Result<&'static str, Error> {
        session.insert(USER_KEY, 42_u64).await?;
        Ok("ok")
    }

    pub(super) async fn scale_seed(
        Path(keys): Path<usize>,
        session: Session,
    ) -> Result<Result<&'static str, StatusCode>, Error> {
        if next_scale_write(keys).is_none() {
            return Ok(Err(StatusCode::BAD_REQUEST));
        }
        for i in 0..keys {
            session.insert(&scale_key(i), big_value(i)).await?;
        }
        Ok(Ok("seeded"))
    }

    pub(super) async fn scale(
        Path(keys): Path<usize>,
        session: Session,
    ) -> Result<Result<&'static str, StatusCode>, Error> {
        let Some((key, value)) = next_scale_write(keys) else {
            return Ok(Err(StatusCode::BAD_REQUEST));
        };
        session.insert(&key, value).await?;
        Ok(Ok("ok"))
    }

    pub(super) async fn scale_drop(session: Session) -> Result<&'static str, Error> {
        session.destroy().await?;
        Ok("dropped")
    }
}

/// Handlers on the `tower-sessions` extractor.
mod peer {
    use axum::{extract::Path, http::StatusCode};
    use tower_sessions::Session;

    use super::{
        BIG_KEY_NAMES, KEY, USER_KEY, big_value, next_big_write, next_scale_write, scale_key,
    };

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

    pub(super) async fn big_seed(session: Session) -> Result<&'static str, StatusCode> {
        for (i, key) in BIG_KEY_NAMES.iter().enumerate() {
            session.insert(key, big_value(i)).await.map_err(internal)?;
        }
        Ok("seeded")
    }

    pub(super) async fn big(session: Session) -> Result<&'static str, StatusCode> {
        let (key, value) = next_big_write();
        session.insert(key, value).await.map_err(internal)?;
        Ok("ok")
    }

    pub(super) async fn login(session: Session) -> Result<&'static str, StatusCode> {
        session.insert(USER_KEY, 42_u64).await.map_err(internal)?;
        Ok("ok")
    }

    pub(super) async fn scale_seed(
        Path(keys): Path<usize>,
        session: Session,
    ) -> Result<&'static str, StatusCode> {
        if next_scale_write(keys).is_none() {
            return Err(StatusCode::BAD_REQUEST);
        }
        for i in 0..keys {
            session
                .insert(&scale_key(i), big_value(i))
                .await
                .map_err(internal)?;
        }
        Ok("seeded")
    }

    pub(super) async fn scale(
        Path(keys): Path<usize>,
        session: Session,
    ) -> Result<&'static str, StatusCode> {
        let (key, value) = next_scale_write(keys).ok_or(StatusCode::BAD_REQUEST)?;
        session.insert(&key, value).await.map_err(internal)?;
        Ok("ok")
    }

    pub(super) async fn scale_drop(session: Session) -> Result<&'static str, StatusCode> {
        session.flush().await.map_err(internal)?;
        Ok("dropped")
    }
}

/// Our configuration for every benchmark: signed cookies with a fresh key, `secure` off
/// (plain-HTTP loopback), a data limit of 1 MiB (the default 64 KiB would refuse the
/// scale curves' 2,000-key sessions; the peers have no limit), everything else at its
/// defaults.
pub fn our_manager(
    store: impl session_core::store::SessionStore,
) -> Result<session_core::SessionManager, session_core::ConfigError> {
    let config = session_core::SessionConfig::builder([session_core::Key::generate()])
        .secure(false)
        .max_data_bytes(1 << 20)
        .build()?;
    Ok(session_core::SessionManager::new(store, config))
}

/// Our stack: `adapter-axum` over `store` (see [`our_manager`]).
pub fn ours(
    store: impl session_core::store::SessionStore,
) -> Result<Router, session_core::ConfigError> {
    Ok(Router::new()
        .route(PATH_NONE, get(no_session))
        .route(PATH_READ, get(ours::read))
        .route(PATH_WRITE, get(ours::write))
        .route(PATH_BIG_SEED, get(ours::big_seed))
        .route(PATH_BIG, get(ours::big))
        .route(PATH_LOGIN, get(ours::login))
        .route(PATH_SCALE_SEED, get(ours::scale_seed))
        .route(PATH_SCALE, get(ours::scale))
        .route(PATH_SCALE_DROP, get(ours::scale_drop))
        .layer(adapter_axum::SessionLayer::new(our_manager(store)?)))
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
        .route(PATH_BIG_SEED, get(peer::big_seed))
        .route(PATH_BIG, get(peer::big))
        .route(PATH_LOGIN, get(peer::login))
        .route(PATH_SCALE_SEED, get(peer::scale_seed))
        .route(PATH_SCALE, get(peer::scale))
        .route(PATH_SCALE_DROP, get(peer::scale_drop))
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
