//! The store conformance suite on a standalone Redis (`REDIS_URL`).

mod common;

async fn make_store() -> store_redis::RedisStore {
    common::standalone().await
}

session_core::store_conformance_tests!(make_store(), native_expiry);
