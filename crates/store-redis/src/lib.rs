#![doc = include_str!("../README.md")]

mod account;
mod conn;
mod connect_redis;
mod index;
mod layout;
#[cfg(test)]
mod protocol_tests;
mod revoke;
mod rotate;
mod runtime_conn;
mod scripts;
mod sentinel;
mod sentinel_conn;
mod store;

pub use conn::Timeouts;
pub use connect_redis::{CONNECT_REDIS_PREFIX, ConnectRedisLayout, ConnectRedisStore};
pub use sentinel::SentinelBuilder;
pub use sentinel_conn::Durability;
pub use store::{DEFAULT_PREFIX, RedisStore};

/// Entry points for the fuzz targets in `fuzz/` (not a stable API): the record codec of
/// the hash layout, forwarded unchanged.
#[doc(hidden)]
pub mod fuzzing {
    use std::collections::HashMap;

    use session_core::{
        Timestamp,
        store::{Record, StoreError},
    };

    /// Rebuilds a record from an `HGETALL` field map, as `load` does.
    pub fn decode_record(
        fields: HashMap<Vec<u8>, Vec<u8>>,
        now: Timestamp,
    ) -> Result<Option<Record>, StoreError> {
        crate::layout::decode_record(fields, now)
    }

    /// Every field of a fresh hash for `record`, as `create` writes them.
    pub fn encode_record(record: &Record, horizon: Timestamp) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        crate::layout::encode_record(record, horizon, &mut fields);
        fields
    }
}
