//! Helpers shared by the test files: where Redis is, and fresh stores on it.
#![allow(dead_code)] // each test binary uses a different subset

use session_core::store::StoreKey;
use store_redis::RedisStore;

/// `REDIS_URL`, default `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// `REDIS_CLUSTER_URLS` split on commas; panics when unset (never skips).
pub fn cluster_urls() -> Vec<String> {
    let Ok(urls) = std::env::var("REDIS_CLUSTER_URLS") else {
        panic!(
            "REDIS_CLUSTER_URLS is not set: run `cargo xtask test-all` (it starts a local \
             Redis Cluster) or set REDIS_CLUSTER_URLS to comma-separated node URLs, e.g. \
             redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002"
        )
    };
    urls.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A prefix no other test run uses, so runs and cases never collide.
pub fn random_prefix() -> String {
    format!("test:{}:", &StoreKey::random().as_str()[..16])
}

/// A store on the standalone server under a random prefix; returns it with the prefix.
pub async fn standalone_with_prefix() -> (RedisStore, String) {
    let url = redis_url();
    let prefix = random_prefix();
    let store = RedisStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach Redis at {url}: {e}: start it or set REDIS_URL"));
    (store.with_prefix(prefix.clone()), prefix)
}

/// A store on the standalone server under a random prefix.
pub async fn standalone() -> RedisStore {
    standalone_with_prefix().await.0
}

/// A store on the cluster under a random prefix.
pub async fn cluster() -> RedisStore {
    let urls = cluster_urls();
    let store = RedisStore::connect_cluster(urls.iter().map(String::as_str))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot reach the Redis Cluster at {urls:?}: {e}: start it (cargo xtask \
                 test-all does) or fix REDIS_CLUSTER_URLS"
            )
        });
    store.with_prefix(random_prefix())
}

/// A raw connection to the standalone server, to look behind the store's back.
pub async fn raw() -> redis::aio::MultiplexedConnection {
    let url = redis_url();
    redis::Client::open(url.as_str())
        .expect("REDIS_URL is not a valid Redis URL")
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("cannot reach Redis at {url}: {e}: start it or set REDIS_URL"))
}

/// `REDIS_SENTINEL_URL` (`redis+sentinel://h:p,…/<master>`); panics when unset (never
/// skips).
pub fn sentinel_url() -> String {
    std::env::var("REDIS_SENTINEL_URL").unwrap_or_else(|_| {
        panic!(
            "REDIS_SENTINEL_URL is not set: run `cargo xtask test-all` (it starts a master, \
             two replicas and three sentinels) or set it, e.g. \
             redis+sentinel://127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381/sessions"
        )
    })
}

/// The Sentinel deployment's builder, for tests that configure it further.
pub fn sentinel_builder() -> store_redis::SentinelBuilder {
    let url = sentinel_url();
    store_redis::SentinelBuilder::from_url(&url)
        .unwrap_or_else(|e| panic!("REDIS_SENTINEL_URL={url} is not a Sentinel URL: {e}"))
}

/// A store on the Sentinel deployment's master under a random prefix, every write
/// confirmed by one replica (`WAIT 1`).
pub async fn sentinel() -> RedisStore {
    let store = sentinel_builder()
        .wait_for_replicas(1, std::time::Duration::from_millis(500))
        .connect()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot reach Redis through the sentinels at {}: {e}: start them (cargo \
                 xtask test-all does) or fix REDIS_SENTINEL_URL",
                sentinel_url()
            )
        });
    store.with_prefix(random_prefix())
}
