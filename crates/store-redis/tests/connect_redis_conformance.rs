//! The Express-compatible conformance cases on the connect-redis layout, on the
//! standalone server (`REDIS_URL`) and on the Redis Cluster (`REDIS_CLUSTER_URLS`,
//! required): each case under a random prefix.

mod common;

use session_core::express::ExpressFormat;
use store_redis::{ConnectRedisLayout, ConnectRedisStore};

async fn layout_on(store: store_redis::RedisStore) -> ConnectRedisStore {
    let layout = ConnectRedisLayout::new(&store).with_prefix(common::random_prefix());
    ConnectRedisStore::new(layout, ExpressFormat::default())
}

mod standalone {
    use super::*;
    session_core::express_conformance_tests!(layout_on(common::standalone().await));
}

mod cluster {
    use super::*;
    session_core::express_conformance_tests!(layout_on(common::cluster().await));
}
