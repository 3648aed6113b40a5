//! Stores on the local PostgreSQL server for the tests.
//!
//! Every test process uses its own schema, `store_pg_t_<unix secs>_<pid>_<random>`, created
//! by the first store's `migrate()` and shared by the process's tests (their keys and user
//! names are random). Schemas of this form older than an hour are left over from earlier
//! runs and are dropped once per process, so runs never collide and nothing piles up.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};
use store_postgres::PostgresStore;
use store_sql::testing::Fixture;

const DEFAULT_URL: &str = "postgres://root@127.0.0.1:5432/test";
const PREFIX: &str = "store_pg_t_";
const STALE_AFTER_SECS: u64 = 3600;

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `POSTGRES_URL`, or the local default.
pub fn url() -> String {
    std::env::var("POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// This process's schema.
pub fn schema() -> &'static str {
    static SCHEMA: OnceLock<String> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let random = session_core::store::StoreKey::random().as_str()[..6].to_owned();
        format!("{PREFIX}{}_{}_{random}", unix_secs(), std::process::id())
    })
}

/// A fresh pool (one per test: every test has its own runtime). Panics with a clear
/// message when the server cannot be reached.
pub async fn pool() -> PgPool {
    let url = url();
    PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot reach PostgreSQL at {url}: {e}; start it or set POSTGRES_URL")
        })
}

/// Drops the schemas that earlier runs left behind, once per process.
async fn drop_stale_schemas(pool: &PgPool) {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)")
            .bind(PREFIX)
            .fetch_all(pool)
            .await
            .expect("listing schemas failed");
    let now = unix_secs();
    for name in names {
        let created = name[PREFIX.len()..]
            .split('_')
            .next()
            .and_then(|s| s.parse::<u64>().ok());
        let stale = created.is_some_and(|t| now.saturating_sub(t) > STALE_AFTER_SECS);
        let plain = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if stale && plain {
            // Another process may be dropping it too: IF EXISTS, and errors are not ours.
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
            )))
            .execute(pool)
            .await;
        }
    }
}

/// A migrated store on table `table` in this process's schema.
pub async fn store_on(table: &str) -> PostgresStore {
    let pool = pool().await;
    drop_stale_schemas(&pool).await;
    let store = PostgresStore::new(pool)
        .with_schema(schema())
        .expect("valid schema name")
        .with_table(table)
        .expect("valid table name");
    store.migrate().await.expect("migration failed");
    store
}

/// A migrated store on the shared `sessions` table of this process's schema.
pub async fn store() -> PostgresStore {
    store_on("sessions").await
}

/// [`store_on`] with its pool and table, for the shared behaviour tests.
pub async fn fixture_on(table: &str) -> Fixture<PostgresStore, Postgres> {
    let store = store_on(table).await;
    Fixture {
        pool: store.pool().clone(),
        table: format!("\"{}\".\"{table}\"", schema()),
        revocations: format!("\"{}\".\"{table}_revocations\"", schema()),
        store,
    }
}
