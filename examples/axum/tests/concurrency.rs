//! 200 concurrent requests on one session of `example-axum`, on every store: racing writes
//! of different keys all survive; strict mode turns same-key races into 409s and loses no
//! acknowledged write; a logout racing writes never resurrects the session.
//!
//! Every store is required. Services come from the environment (`POSTGRES_URL`,
//! `REDIS_URL` with local defaults; `REDIS_CLUSTER_URLS`, `REDIS_SENTINEL_URL`,
//! `MONGO_URI` without); a missing or unreachable one fails its test — `cargo xtask
//! test-all` provides them all.

use example_support::testing::concurrency::every_scenario;
use example_support::testing::temp_path;

const BIN: &str = env!("CARGO_BIN_EXE_example-axum");

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn required(name: &str, what: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not set: point it at {what}. `cargo xtask test-all` starts every \
                 service and sets it (`cargo xtask services` prints the export lines)"
            )
        })
}

fn unreachable(what: &str, var: &str) -> String {
    format!(
        "cannot reach {what} ({var}): start it or fix {var}; `cargo xtask test-all` starts \
         every service"
    )
}

async fn run(store: &str, url: &str, hint: &str) {
    let report = every_scenario(BIN, url, hint).await;
    eprintln!("concurrency[{store}]: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory() {
    run("memory", "memory:", "the memory store needs no service").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file() {
    let path = temp_path("db");
    let url = format!("sqlite://{}", path.display());
    run("sqlite", &url, "cannot open a temporary SQLite file").await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let url = env_or("POSTGRES_URL", "postgres://root@127.0.0.1:5432/test");
    let hint = unreachable(&format!("PostgreSQL at {url}"), "POSTGRES_URL");
    run("postgres", &url, &hint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    let url = env_or("REDIS_URL", "redis://127.0.0.1:6379");
    let hint = unreachable(&format!("Redis at {url}"), "REDIS_URL");
    run("redis", &url, &hint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster() {
    let urls = required(
        "REDIS_CLUSTER_URLS",
        "a Redis Cluster (comma-separated redis://host:port URLs of its nodes)",
    );
    let nodes: Vec<&str> = urls
        .split(',')
        .map(|u| {
            u.trim()
                .trim_start_matches("redis://")
                .trim_end_matches('/')
        })
        .filter(|n| !n.is_empty())
        .collect();
    let url = format!("redis+cluster://{}", nodes.join(","));
    let hint = unreachable(
        &format!("the Redis Cluster at {urls}"),
        "REDIS_CLUSTER_URLS",
    );
    run("redis-cluster", &url, &hint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sentinel() {
    let url = required(
        "REDIS_SENTINEL_URL",
        "Redis Sentinel (redis+sentinel://host:port,…/<master>)",
    );
    // Every write confirmed by a replica: the durability option under concurrent load.
    let url = format!("{url}?wait=1&wait_timeout_ms=500");
    let hint = unreachable(&format!("Redis Sentinel at {url}"), "REDIS_SENTINEL_URL");
    run("redis-sentinel", &url, &hint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo() {
    let uri = required("MONGO_URI", "a MongoDB server");
    let hint = unreachable("MongoDB at MONGO_URI", "MONGO_URI");
    run("mongo", &uri, &hint).await;
}
