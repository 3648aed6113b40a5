//! Each backend read and written directly, past the session library: what is really stored
//! under which key, and garbage written into a live session. Services come from the
//! environment (`POSTGRES_URL`, `REDIS_URL`, `REDIS_CLUSTER_URLS`, `MONGO_URI`); one that is
//! missing or unreachable fails the test, naming the variable.

// Each test binary that includes this module uses its own part of it.
#![allow(dead_code)]

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use example_support::testing::attacks::{Tuned, id_of};
use example_support::testing::temp_path;
use mongodb::bson::{Document, doc};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row as _, SqlitePool};

pub const BIN: &str = env!("CARGO_BIN_EXE_example-axum");

/// The backends the example can run on, besides memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    Redis,
    RedisCluster,
    Mongo,
}

/// A running example on one backend, plus a direct connection to that backend.
pub struct Setup {
    pub app: Tuned,
    pub raw: Raw,
}

/// A direct connection to the backend the example stores sessions in.
pub enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    Redis(redis::aio::MultiplexedConnection),
    RedisCluster(redis::cluster_async::ClusterConnection),
    Mongo(mongodb::Collection<Document>),
}

/// The store table (SQL), key prefix (Redis) and collection (Mongo) the example uses.
const TABLE: &str = "sessions";
const PREFIX: &str = "session:";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn required_env(name: &str, what: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not set: point it at {what} (`cargo xtask services` starts one and \
                 prints the export line; `cargo xtask test-all` sets it for every test)"
            )
        })
}

fn unreachable(name: &str, url: &str, e: impl std::fmt::Display) -> ! {
    panic!(
        "cannot reach the service at {url}: start it or set {name} (`cargo xtask services`, or \
         run everything with `cargo xtask test-all`): {e}"
    )
}

impl Kind {
    /// `SESSION_STORE` for this backend, and the variable it came from.
    fn store_url(self) -> (String, &'static str) {
        match self {
            Self::Sqlite => {
                let path: PathBuf = temp_path("db");
                (
                    format!("sqlite://{}", path.display()),
                    "a writable temp dir",
                )
            }
            Self::Postgres => (
                env_or("POSTGRES_URL", "postgres://root@127.0.0.1:5432/test"),
                "POSTGRES_URL",
            ),
            Self::Redis => (env_or("REDIS_URL", "redis://127.0.0.1:6379"), "REDIS_URL"),
            Self::RedisCluster => {
                let nodes = cluster_nodes()
                    .iter()
                    .map(|n| n.trim_start_matches("redis://").to_owned())
                    .collect::<Vec<_>>();
                (
                    format!("redis+cluster://{}", nodes.join(",")),
                    "REDIS_CLUSTER_URLS",
                )
            }
            Self::Mongo => (required_env("MONGO_URI", "a MongoDB server"), "MONGO_URI"),
        }
    }

    /// Starts the example on this backend with `env` added, and connects to the backend.
    pub async fn start(self, env: &[(&str, &str)]) -> Setup {
        let app = if self == Self::Sqlite {
            Tuned::sqlite(BIN, env).await
        } else {
            let (url, var) = self.store_url();
            Tuned::spawn(BIN, &url, env)
                .await
                .unwrap_or_else(|e| unreachable(var, &url, e))
        };
        let raw = Raw::connect(self, &app).await;
        Setup { app, raw }
    }
}

/// The seed nodes of `REDIS_CLUSTER_URLS` (comma-separated `redis://h:p`).
fn cluster_nodes() -> Vec<String> {
    required_env("REDIS_CLUSTER_URLS", "a Redis Cluster")
        .split(',')
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect()
}

/// Lowercase hex SHA-256 of the raw bytes of a cookie's id, computed here (not by
/// session-core) to check the key a store really holds.
pub fn expected_store_key(cookie: &str) -> String {
    let raw = URL_SAFE_NO_PAD
        .decode(id_of(cookie))
        .unwrap_or_else(|e| panic!("cookie id is not base64url: {e}"));
    hex(&Sha256::digest(raw))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn redis_session(key: &str) -> String {
    format!("{PREFIX}{key}")
}

fn redis_user_index(user: &str) -> String {
    format!("{PREFIX}user:{}", hex(&Sha256::digest(user.as_bytes())))
}

impl Raw {
    async fn connect(kind: Kind, app: &Tuned) -> Self {
        match kind {
            Kind::Sqlite => {
                let path = app
                    .sqlite_path()
                    .unwrap_or_else(|| panic!("no SQLite file"));
                let url = format!("sqlite://{}", path.display());
                let pool = SqlitePool::connect(&url)
                    .await
                    .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
                Self::Sqlite(pool)
            }
            Kind::Postgres => {
                let (url, var) = kind.store_url();
                let pool = PgPool::connect(&url)
                    .await
                    .unwrap_or_else(|e| unreachable(var, &url, e));
                Self::Postgres(pool)
            }
            Kind::Redis => {
                let (url, var) = kind.store_url();
                let conn = async {
                    redis::Client::open(url.as_str())?
                        .get_multiplexed_async_connection()
                        .await
                }
                .await
                .unwrap_or_else(|e| unreachable(var, &url, e));
                Self::Redis(conn)
            }
            Kind::RedisCluster => {
                let nodes = cluster_nodes();
                let conn = async {
                    redis::cluster::ClusterClient::new(nodes.clone())?
                        .get_async_connection()
                        .await
                }
                .await
                .unwrap_or_else(|e| unreachable("REDIS_CLUSTER_URLS", &nodes.join(","), e));
                Self::RedisCluster(conn)
            }
            Kind::Mongo => {
                let (uri, var) = kind.store_url();
                let client = mongodb::Client::with_uri_str(&uri)
                    .await
                    .unwrap_or_else(|e| unreachable(var, &uri, e));
                let database = client
                    .default_database()
                    .map_or_else(|| "sessions".to_owned(), |d| d.name().to_owned());
                Self::Mongo(client.database(&database).collection(TABLE))
            }
        }
    }

    /// The store keys of the sessions whose user is `user`, found without knowing any id.
    pub async fn keys_of_user(&self, user: &str) -> Vec<String> {
        let sql = format!("SELECT key FROM {TABLE} WHERE user_id = $1");
        match self {
            Self::Sqlite(pool) => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(user)
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("SQLite: {e}"))
                .iter()
                .map(|row| row.get::<String, _>("key"))
                .collect(),
            Self::Postgres(pool) => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(user)
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL: {e}"))
                .iter()
                .map(|row| row.get::<String, _>("key"))
                .collect(),
            Self::Redis(conn) => redis_index(conn.clone(), user).await,
            Self::RedisCluster(conn) => redis_index(conn.clone(), user).await,
            Self::Mongo(collection) => {
                let mut cursor = collection
                    .find(doc! { "user": user })
                    .await
                    .unwrap_or_else(|e| panic!("MongoDB: {e}"));
                let mut keys = Vec::new();
                while cursor
                    .advance()
                    .await
                    .unwrap_or_else(|e| panic!("MongoDB: {e}"))
                {
                    let doc: Document = cursor
                        .deserialize_current()
                        .unwrap_or_else(|e| panic!("MongoDB: {e}"));
                    keys.push(doc.get_str("_id").unwrap_or_default().to_owned());
                }
                keys
            }
        }
    }

    /// The whole record stored under `key`, as text (every column, field or document
    /// member), or `None` when nothing is stored under it.
    pub async fn dump(&self, key: &str) -> Option<String> {
        let sql = format!(
            "SELECT key, CAST(data AS TEXT) AS data, created_at, expires_at, user_id, version \
             FROM {TABLE} WHERE key = $1"
        );
        let row_text = |row: &dyn Fn(&str) -> String| {
            [
                "key",
                "data",
                "created_at",
                "expires_at",
                "user_id",
                "version",
            ]
            .map(|c| format!("{c}={}", row(c)))
            .join(" ")
        };
        match self {
            Self::Sqlite(pool) => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(key)
                .fetch_optional(pool)
                .await
                .unwrap_or_else(|e| panic!("SQLite: {e}"))
                .map(|r| {
                    row_text(&|c| match c {
                        "created_at" | "expires_at" | "version" => r.get::<i64, _>(c).to_string(),
                        _ => r.get::<Option<String>, _>(c).unwrap_or_default(),
                    })
                }),
            Self::Postgres(pool) => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(key)
                .fetch_optional(pool)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL: {e}"))
                .map(|r| {
                    row_text(&|c| match c {
                        "created_at" | "expires_at" | "version" => r.get::<i64, _>(c).to_string(),
                        _ => r.get::<Option<String>, _>(c).unwrap_or_default(),
                    })
                }),
            Self::Redis(conn) => redis_dump(conn.clone(), key).await,
            Self::RedisCluster(conn) => redis_dump(conn.clone(), key).await,
            Self::Mongo(collection) => collection
                .find_one(doc! { "_id": key })
                .await
                .unwrap_or_else(|e| panic!("MongoDB: {e}"))
                .map(|d| d.to_string()),
        }
    }

    /// Overwrites the stored data of the session under `key` with garbage the store cannot
    /// decode (the deadline is left alone, so the record is still live).
    pub async fn corrupt(&self, key: &str) {
        match self {
            Self::Sqlite(pool) => {
                let sql = format!("UPDATE {TABLE} SET data = 'not json {{' WHERE key = $1");
                let done = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(key)
                    .execute(pool)
                    .await;
                let rows = done
                    .unwrap_or_else(|e| panic!("SQLite: {e}"))
                    .rows_affected();
                assert_eq!(rows, 1, "SQLite: no row under {key}");
            }
            Self::Postgres(pool) => {
                // jsonb only holds JSON: garbage here is JSON that is not an object.
                let sql = format!("UPDATE {TABLE} SET data = '\"garbage\"'::jsonb WHERE key = $1");
                let done = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(key)
                    .execute(pool)
                    .await;
                let rows = done
                    .unwrap_or_else(|e| panic!("PostgreSQL: {e}"))
                    .rows_affected();
                assert_eq!(rows, 1, "PostgreSQL: no row under {key}");
            }
            Self::Redis(conn) => redis_corrupt(conn.clone(), key).await,
            Self::RedisCluster(conn) => redis_corrupt(conn.clone(), key).await,
            Self::Mongo(collection) => {
                let done = collection
                    .update_one(doc! { "_id": key }, doc! { "$set": { "data": "garbage" } })
                    .await
                    .unwrap_or_else(|e| panic!("MongoDB: {e}"));
                assert_eq!(done.matched_count, 1, "MongoDB: no document under {key}");
            }
        }
    }

    /// SQLite only: moves the row's idle deadline an hour into the future.
    pub async fn extend_deadline(&self, key: &str) {
        let Self::Sqlite(pool) = self else {
            panic!("extend_deadline is written for SQLite");
        };
        let sql = format!(
            "UPDATE {TABLE} SET expires_at = CAST(unixepoch('subsec') * 1000 AS INTEGER) + 3600000 \
             WHERE key = $1"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(key)
            .execute(pool)
            .await;
        let rows = done
            .unwrap_or_else(|e| panic!("SQLite: {e}"))
            .rows_affected();
        assert_eq!(rows, 1, "SQLite: no row under {key}");
    }

    /// SQLite only: how many rows the table holds.
    pub async fn count_rows(&self) -> i64 {
        let Self::Sqlite(pool) = self else {
            panic!("count_rows is written for SQLite");
        };
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {TABLE}")))
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("SQLite: {e}"))
    }
}

async fn redis_index(mut conn: impl redis::AsyncCommands, user: &str) -> Vec<String> {
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(redis_user_index(user))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("Redis: {e}"));
    let mut live = Vec::new();
    for key in members {
        let owner: Option<String> = redis::cmd("HGET")
            .arg(redis_session(&key))
            .arg("u")
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("Redis: {e}"));
        if owner.as_deref() == Some(user) {
            live.push(key);
        }
    }
    live
}

async fn redis_dump(mut conn: impl redis::AsyncCommands, key: &str) -> Option<String> {
    let fields: Vec<(String, String)> = conn
        .hgetall(redis_session(key))
        .await
        .unwrap_or_else(|e| panic!("Redis: {e}"));
    (!fields.is_empty()).then(|| {
        let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{} {}", redis_session(key), fields.join(" "))
    })
}

async fn redis_corrupt(mut conn: impl redis::AsyncCommands, key: &str) {
    let name = redis_session(key);
    let exists: bool = conn
        .exists(&name)
        .await
        .unwrap_or_else(|e| panic!("Redis: {e}"));
    assert!(exists, "Redis: no hash {name}");
    let () = conn
        .hset(&name, "d:count", "not json {")
        .await
        .unwrap_or_else(|e| panic!("Redis: {e}"));
}
