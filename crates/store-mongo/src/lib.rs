#![doc = include_str!("../README.md")]

mod account;
mod apply;
mod codec;
mod connect_mongo;
mod error;
mod escape;
mod revoke;
mod rotate;
mod schema;
mod store;
mod timeout;

pub use connect_mongo::{
    CONNECT_MONGO_COLLECTION, ConnectMongoLayout, ConnectMongoStore, MongoToken,
};
pub use escape::{escape_key, unescape_key};
pub use store::{DEFAULT_COLLECTION, DEFAULT_DATABASE, MongoStore, REVOCATIONS_SUFFIX};
pub use timeout::{DEFAULT_DRIVER_TIMEOUT, DEFAULT_HEARTBEAT, DEFAULT_OPERATION_TIMEOUT};

/// The MongoDB driver this crate is built on, re-exported so callers can build a client
/// or collection with custom options for [`MongoStore::new`] without a version mismatch.
pub use mongodb;

/// Entry points for the fuzz targets in `fuzz/` (not a stable API): the document codec,
/// forwarded unchanged.
#[doc(hidden)]
pub mod fuzzing {
    use mongodb::bson::Document;
    use session_core::store::{Record, StoreError, StoreKey};

    /// The record held by a stored document, as `load` decodes it.
    pub fn decode_record(doc: &Document) -> Result<Record, StoreError> {
        crate::codec::doc_to_record(doc)
    }

    /// The whole document `create` stores for `record` under `key`.
    pub fn encode_record(key: &StoreKey, record: &Record) -> Result<Document, StoreError> {
        crate::codec::record_to_doc(key, record)
    }
}
