//! `SESSION_STORE`: which backend, and connecting to it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use session_core::{
    MemoryStore,
    store::{SessionStore, StoreError},
};

/// How often SQL stores delete expired rows.
pub const CLEANUP_EVERY: Duration = Duration::from_secs(60);

/// A parsed `SESSION_STORE` value.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `memory:` — the bounded in-process store (single process only).
    Memory,
    /// `sqlite://<path>` or `sqlite::memory:`.
    Sqlite(String),
    /// `postgres://…` / `postgresql://…`.
    Postgres(String),
    /// `redis://…` / `rediss://…`.
    Redis(String),
    /// `redis+cluster://h:p,h:p`: the seed nodes, as `redis://h:p` URLs.
    RedisCluster(Vec<String>),
    /// `redis+sentinel://h:p,h:p/<master>[/<db>][?wait=N&wait_timeout_ms=M]`: the
    /// sentinels, the master's name and the durability option, as
    /// `store_redis::SentinelBuilder::from_url` reads them.
    RedisSentinel(String),
    /// `mongodb://…` / `mongodb+srv://…`.
    Mongo(String),
}

impl StoreUrl {
    /// Parses a `SESSION_STORE` value.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        let scheme = url.split(':').next().unwrap_or_default();
        Ok(match scheme {
            "memory" => Self::Memory,
            "sqlite" => Self::Sqlite(url.to_owned()),
            "postgres" | "postgresql" => Self::Postgres(url.to_owned()),
            "redis" | "rediss" => Self::Redis(url.to_owned()),
            "redis+cluster" | "rediss+cluster" => {
                let tls = scheme.starts_with("rediss");
                let nodes = url
                    .split_once("://")
                    .map(|(_, rest)| rest)
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|n| format!("{}://{n}", if tls { "rediss" } else { "redis" }))
                    .collect::<Vec<_>>();
                if nodes.is_empty() {
                    return Err(format!("{scheme}:// needs at least one host:port"));
                }
                Self::RedisCluster(nodes)
            }
            "redis+sentinel" => Self::RedisSentinel(url.to_owned()),
            "mongodb" | "mongodb+srv" => Self::Mongo(url.to_owned()),
            _ => {
                return Err(format!(
                    "unknown store {:?}: use memory:, sqlite://<path>, postgres://…, redis://…, redis+cluster://h:p,h:p, redis+sentinel://h:p,h:p/<master> or mongodb://…",
                    redact(url)
                ));
            }
        })
    }

    /// The backend's name, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite(_) => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
            Self::Redis(_) => "Redis",
            Self::RedisCluster(_) => "Redis Cluster",
            Self::RedisSentinel(_) => "Redis Sentinel",
            Self::Mongo(_) => "MongoDB",
        }
    }
}

/// Without credentials: safe to log.
impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory:"),
            Self::Sqlite(u)
            | Self::Postgres(u)
            | Self::Redis(u)
            | Self::RedisSentinel(u)
            | Self::Mongo(u) => f.write_str(&redact(u)),
            Self::RedisCluster(nodes) => {
                let nodes: Vec<String> = nodes.iter().map(|n| redact(n)).collect();
                write!(f, "redis+cluster: {}", nodes.join(","))
            }
        }
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({self})")
    }
}

/// `url` with any `user:password@` replaced by `***@`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// Why the store could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the {kind} session store at {url}: {source}")]
pub struct ConnectError {
    kind: &'static str,
    url: String,
    #[source]
    source: StoreError,
}

impl ConnectError {
    /// The failure to open `url`.
    pub(crate) fn new(url: &StoreUrl, source: StoreError) -> Self {
        Self {
            kind: url.kind(),
            url: url.to_string(),
            source,
        }
    }
}

/// Connects to the store, runs its migrations and starts its cleanup task where the
/// backend needs one. Call it inside the tokio runtime that serves requests.
pub async fn connect(url: &StoreUrl) -> Result<Arc<dyn SessionStore>, ConnectError> {
    connect_with(url, None).await
}

/// [`connect`], with `timeout` bounding each store operation (Redis: split evenly between
/// connecting and waiting for the answer; SQLite, PostgreSQL, MongoDB: the store's
/// `with_operation_timeout`); `None` keeps the store's default (4 s for each of them).
/// The memory store ignores it.
pub async fn connect_with(
    url: &StoreUrl,
    timeout: Option<Duration>,
) -> Result<Arc<dyn SessionStore>, ConnectError> {
    open(url, timeout).await.map_err(|source| ConnectError {
        kind: url.kind(),
        url: url.to_string(),
        source,
    })
}

async fn open(
    url: &StoreUrl,
    #[cfg_attr(
        not(any(
            feature = "sqlite",
            feature = "postgres",
            feature = "redis",
            feature = "mongo"
        )),
        allow(unused_variables)
    )]
    timeout: Option<Duration>,
) -> Result<Arc<dyn SessionStore>, StoreError> {
    match url {
        StoreUrl::Memory => Ok(Arc::new(MemoryStore::default())),
        #[cfg(feature = "sqlite")]
        StoreUrl::Sqlite(u) => {
            let mut store = store_sqlite::SqliteStore::connect(&create_if_missing(u)).await?;
            if let Some(limit) = timeout {
                store = store.with_operation_timeout(limit);
            }
            store.migrate().await?;
            drop(store.spawn_cleanup(CLEANUP_EVERY));
            Ok(Arc::new(store))
        }
        #[cfg(feature = "postgres")]
        StoreUrl::Postgres(u) => {
            let mut store = store_postgres::PostgresStore::connect(u).await?;
            if let Some(limit) = timeout {
                store = store.with_operation_timeout(limit);
            }
            store.migrate().await?;
            drop(store.spawn_cleanup(CLEANUP_EVERY));
            Ok(Arc::new(store))
        }
        #[cfg(feature = "redis")]
        StoreUrl::Redis(_) | StoreUrl::RedisCluster(_) => {
            Ok(Arc::new(open_redis(url, timeout).await?))
        }
        #[cfg(feature = "redis")]
        StoreUrl::RedisSentinel(u) => Ok(Arc::new(
            store_redis::SentinelBuilder::from_url(u)?
                .timeouts(redis_timeouts(timeout))
                .connect()
                .await?,
        )),
        #[cfg(feature = "mongo")]
        StoreUrl::Mongo(u) => {
            let database = mongo_database(u).unwrap_or(store_mongo::DEFAULT_DATABASE);
            let mut store =
                store_mongo::MongoStore::connect(u, database, store_mongo::DEFAULT_COLLECTION)
                    .await?;
            if let Some(limit) = timeout {
                store = store.with_operation_timeout(limit);
            }
            Ok(Arc::new(store))
        }
        #[allow(unreachable_patterns)]
        other => Err(StoreError::backend(format!(
            "this build has no {} support: enable the matching feature of example-support",
            other.kind()
        ))),
    }
}

/// The Redis store (standalone or cluster) of a `redis://` or `redis+cluster://` URL.
#[cfg(feature = "redis")]
pub(crate) async fn open_redis(
    url: &StoreUrl,
    timeout: Option<Duration>,
) -> Result<store_redis::RedisStore, StoreError> {
    let timeouts = redis_timeouts(timeout);
    match url {
        StoreUrl::RedisCluster(nodes) => {
            store_redis::RedisStore::connect_cluster_with(
                nodes.iter().map(String::as_str),
                timeouts,
            )
            .await
        }
        StoreUrl::Redis(u) => store_redis::RedisStore::connect_with(u, timeouts).await,
        other => Err(StoreError::backend(format!(
            "{} is not Redis",
            other.kind()
        ))),
    }
}

/// Redis timeouts whose sum (the bound on one operation) is `timeout`.
#[cfg(feature = "redis")]
fn redis_timeouts(timeout: Option<Duration>) -> store_redis::Timeouts {
    match timeout {
        Some(total) => store_redis::Timeouts {
            connect: total / 2,
            response: total - total / 2,
        },
        None => store_redis::Timeouts::default(),
    }
}

/// An SQLite file URL that creates the file when missing (unless the URL sets a mode).
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
fn create_if_missing(url: &str) -> String {
    if url.contains(":memory:") || url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The database named in the URI's path (`mongodb://host/db?…`), if any.
#[cfg_attr(not(feature = "mongo"), allow(dead_code))]
pub(crate) fn mongo_database(uri: &str) -> Option<&str> {
    let rest = uri.split_once("://")?.1;
    let path = rest.split_once('/')?.1;
    let db = path.split('?').next()?;
    (!db.is_empty()).then_some(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        let ok = |s: &str| StoreUrl::parse(s).expect(s);
        assert_eq!(ok("memory:"), StoreUrl::Memory);
        assert_eq!(
            ok("sqlite://x.db"),
            StoreUrl::Sqlite("sqlite://x.db".into())
        );
        assert_eq!(
            ok("postgresql://h/db"),
            StoreUrl::Postgres("postgresql://h/db".into())
        );
        assert_eq!(ok("redis://h:1"), StoreUrl::Redis("redis://h:1".into()));
        assert_eq!(
            ok("redis+cluster://a:1, b:2"),
            StoreUrl::RedisCluster(vec!["redis://a:1".into(), "redis://b:2".into()])
        );
        assert_eq!(
            ok("mongodb://h/db"),
            StoreUrl::Mongo("mongodb://h/db".into())
        );
        assert_eq!(
            ok("redis+sentinel://a:1,b:2/m?wait=1"),
            StoreUrl::RedisSentinel("redis+sentinel://a:1,b:2/m?wait=1".into())
        );
        assert!(StoreUrl::parse("redis+cluster://").is_err());
        assert!(StoreUrl::parse("mysql://h").is_err());
    }

    #[test]
    fn credentials_are_not_displayed() {
        let url = StoreUrl::parse("postgres://me:hunter2@db:5432/app?x=1").expect("url");
        assert_eq!(url.to_string(), "postgres://***@db:5432/app?x=1");
        let err = StoreUrl::parse("ftp://me:hunter2@h").expect_err("unknown");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn sqlite_files_are_created_and_mongo_databases_found() {
        assert_eq!(create_if_missing("sqlite://s.db"), "sqlite://s.db?mode=rwc");
        assert_eq!(
            create_if_missing("sqlite://s.db?mode=ro"),
            "sqlite://s.db?mode=ro"
        );
        assert_eq!(create_if_missing("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(mongo_database("mongodb://h:1/app?w=1"), Some("app"));
        assert_eq!(mongo_database("mongodb://h:1/?w=1"), None);
        assert_eq!(mongo_database("mongodb://h:1"), None);
    }
}
