#![doc = include_str!("../README.md")]

mod codec;
mod dialect;
mod rotate;
mod schema;
mod store;
mod update;

pub use session_core::store::CleanupHandle;
pub use sqlx;
pub use store::{BUSY_TIMEOUT, DEFAULT_CLEANUP_BATCH, DEFAULT_TABLE, SqliteStore};
pub use store_sql::{DEFAULT_OPERATION_TIMEOUT, InvalidIdentifier};

/// Entry points for the fuzz targets in `fuzz/` (not a stable API): the `data` column
/// codec, forwarded unchanged.
#[doc(hidden)]
pub mod fuzzing {
    use session_core::store::{Data, StoreError};
    use store_sql::Dialect as _;

    /// Session data from the JSON text of the `data` column, as `load` decodes it.
    pub fn decode_data(text: &str) -> Result<Data, StoreError> {
        crate::codec::decode_data(text)
    }

    /// The JSON text `create` binds to the `data` column.
    pub fn encode_data(data: &Data) -> Result<String, StoreError> {
        crate::dialect::SqliteDialect::encode_data(data)
    }
}
