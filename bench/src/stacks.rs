//! The stacks the `bench_server` binary serves, one per process: a backend (memory, SQLite,
//! PostgreSQL, Redis, actix-web on Redis) and a side (ours, the peer, or bare axum), built
//! exactly as the in-process benchmarks did, so the only change is where the load comes from.

use std::{str::FromStr, time::Duration};

use crate::{actix_apps, apps};

/// Any failure building a stack (a store unreachable, a bad URL).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Every backend `http_load` knows, in the order it runs them.
pub const BACKENDS: [&str; 5] = ["memory", "sqlite", "postgres", "redis", "actix"];

/// Which implementation of a backend's stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Our adapter and store.
    Ours,
    /// The peer: tower-sessions (axum) or actix-session (actix-web).
    Peer,
    /// axum without a session layer (the backend is ignored).
    Bare,
}

impl Side {
    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ours => "ours",
            Self::Peer => "peer",
            Self::Bare => "bare",
        }
    }
}

impl FromStr for Side {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ours" => Ok(Self::Ours),
            "peer" => Ok(Self::Peer),
            "bare" => Ok(Self::Bare),
            other => Err(format!("unknown side {other}: ours, peer or bare")),
        }
    }
}

/// `REDIS_URL`, or the local server.
pub fn redis_url() -> String {
    env_or("REDIS_URL", "redis://127.0.0.1:6379")
}

/// `POSTGRES_URL`, or the local server's `test` database.
pub fn postgres_url() -> String {
    env_or("POSTGRES_URL", "postgres://root@127.0.0.1:5432/test")
}

/// `url` with `application_name=name` added, so the server's backends can be told apart in
/// `pg_stat_activity`.
pub fn with_application_name(url: &str, name: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={name}")
}

/// The `application_name` of a side's PostgreSQL pool (one per bench process).
pub fn application_name(side: Side) -> String {
    format!("session-bench-{}-{}", side.name(), std::process::id())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn unreachable(what: &str, url: &str, e: &dyn std::fmt::Display) -> Error {
    format!("cannot reach {what} at {url}: start it (`cargo xtask services`) or leave it out with --only ({e})").into()
}

/// A stack being served; it stops when dropped (the process exits anyway).
pub enum Served {
    /// An axum router on the current tokio runtime.
    Axum(apps::Server),
    /// An actix system on its own thread.
    Actix(actix_apps::ActixServer),
}

impl Served {
    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        match self {
            Self::Axum(s) => s.addr,
            Self::Actix(s) => s.addr,
        }
    }
}

/// Builds and serves `backend` on `side`. PostgreSQL pools connect with `pg_app_name` as
/// their `application_name`.
pub async fn serve(backend: &str, side: Side, pg_app_name: &str) -> Result<Served, Error> {
    if side == Side::Bare {
        return Ok(Served::Axum(apps::serve(apps::bare()).await?));
    }
    let router = match (backend, side) {
        ("actix", Side::Ours) => {
            let url = redis_url();
            let server =
                actix_apps::serve_ours(url.clone()).map_err(|e| unreachable("Redis", &url, &e))?;
            return Ok(Served::Actix(server));
        }
        ("actix", _) => {
            let url = redis_url();
            let server =
                actix_apps::serve_peer(url.clone()).map_err(|e| unreachable("Redis", &url, &e))?;
            return Ok(Served::Actix(server));
        }
        (backend, side) => router(backend, side, pg_app_name).await?,
    };
    Ok(Served::Axum(apps::serve(router).await?))
}

/// The axum router of `backend` on `side` (ours or the peer), not yet served.
pub async fn router(backend: &str, side: Side, pg_app_name: &str) -> Result<axum::Router, Error> {
    Ok(match (backend, side) {
        ("memory", Side::Ours) => apps::ours(session_core::MemoryStore::default())?,
        ("memory", _) => apps::peer(tower_sessions_moka_store::MokaStore::new(Some(100_000))),
        ("sqlite", side) => sqlite(side).await?,
        ("postgres", side) => postgres(side, pg_app_name).await?,
        ("redis", side) => redis(side).await?,
        (other, _) => return Err(format!("unknown backend {other}; known: {BACKENDS:?}").into()),
    })
}

/// A pool with WAL, synchronous=NORMAL and a busy timeout (the same options in both sqlx
/// majors: ours is on 0.9, the peer on 0.8) on a file of its own in a fresh directory.
async fn sqlite(side: Side) -> Result<axum::Router, Error> {
    let dir = std::env::temp_dir().join(format!(
        "session-bench-{}-{}",
        side.name(),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("sessions.db").display());
    if side == Side::Ours {
        use sqlx::sqlite::{
            SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
        };
        let options = SqliteConnectOptions::from_str(&url)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let store =
            store_sqlite::SqliteStore::new(SqlitePoolOptions::new().connect_with(options).await?);
        store.migrate().await?;
        Ok(apps::ours(store)?)
    } else {
        use sqlx08::sqlite::{
            SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
        };
        let options = SqliteConnectOptions::from_str(&url)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let store = tower_sessions_sqlx_store::SqliteStore::new(
            SqlitePoolOptions::new().connect_with(options).await?,
        );
        store.migrate().await?;
        Ok(apps::peer(store))
    }
}

/// A default sqlx pool on the same database for both sides; ours in schema `bench_ours`, the
/// peer in its default schema `tower_sessions`.
async fn postgres(side: Side, app_name: &str) -> Result<axum::Router, Error> {
    let base = postgres_url();
    let url = with_application_name(&base, app_name);
    if side == Side::Ours {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(5))
            .connect(&url)
            .await
            .map_err(|e| unreachable("PostgreSQL", &base, &e))?;
        sqlx::query("CREATE SCHEMA IF NOT EXISTS bench_ours")
            .execute(&pool)
            .await?;
        let store = store_postgres::PostgresStore::new(pool).with_schema("bench_ours")?;
        store.migrate().await?;
        Ok(apps::ours(store)?)
    } else {
        let pool = sqlx08::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(5))
            .connect(&url)
            .await
            .map_err(|e| unreachable("PostgreSQL", &base, &e))?;
        let store = tower_sessions_sqlx_store::PostgresStore::new(pool);
        store.migrate().await?;
        Ok(apps::peer(store))
    }
}

/// Ours with prefix `bench:ours:`; the peer on a fred pool of 6 (the size the
/// tower-sessions-redis-store documentation uses).
async fn redis(side: Side) -> Result<axum::Router, Error> {
    use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
    let url = redis_url();
    if side == Side::Ours {
        let store = store_redis::RedisStore::connect(&url)
            .await
            .map_err(|e| unreachable("Redis", &url, &e))?
            .with_prefix("bench:ours:");
        return Ok(apps::ours(store)?);
    }
    let pool = Pool::new(Config::from_url(&url)?, None, None, None, 6)?;
    tokio::time::timeout(Duration::from_secs(5), pool.init())
        .await
        .map_err(|_| unreachable("Redis", &url, &"timed out"))?
        .map_err(|e| unreachable("Redis", &url, &e))?;
    Ok(apps::peer(tower_sessions_redis_store::RedisStore::new(
        pool,
    )))
}
