//! The store conformance suite on a Redis Cluster (`REDIS_CLUSTER_URLS`, required).

mod common;

async fn make_store() -> store_redis::RedisStore {
    common::cluster().await
}

session_core::store_conformance_tests!(make_store(), native_expiry);
