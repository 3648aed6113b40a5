//! The store conformance suite through Redis Sentinel (`REDIS_SENTINEL_URL`, required),
//! with every write confirmed by a replica (`WAIT 1`).

mod common;

async fn make_store() -> store_redis::RedisStore {
    common::sentinel().await
}

session_core::store_conformance_tests!(make_store(), native_expiry);
