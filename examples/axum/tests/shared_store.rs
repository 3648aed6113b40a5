//! Two `example-axum` processes on one store: a session created through one is read and
//! updated through the other. Services come from the environment (see the README); an
//! unreachable one fails the test, it is never skipped.

use example_support::testing::shared::two_processes_share_one_store;
use example_support::testing::temp_path;

const BIN: &str = env!("CARGO_BIN_EXE_example-axum");

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file() {
    let path = temp_path("db");
    let url = format!("sqlite://{}", path.display());
    two_processes_share_one_store(BIN, &url, "cannot open a temporary SQLite file").await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let url = env_or("POSTGRES_URL", "postgres://root@127.0.0.1:5432/test");
    let hint = format!("cannot reach PostgreSQL at {url}: start it or set POSTGRES_URL");
    two_processes_share_one_store(BIN, &url, &hint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    let url = env_or("REDIS_URL", "redis://127.0.0.1:6379");
    let hint = format!("cannot reach Redis at {url}: start it or set REDIS_URL");
    two_processes_share_one_store(BIN, &url, &hint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo() {
    let Some(uri) = std::env::var("MONGO_URI").ok().filter(|v| !v.is_empty()) else {
        panic!(
            "MONGO_URI is not set: point it at a MongoDB server (`cargo xtask services` starts \
             one and prints the export line)"
        );
    };
    let hint = "cannot reach MongoDB at MONGO_URI: start it or fix MONGO_URI";
    two_processes_share_one_store(BIN, &uri, hint).await;
}
