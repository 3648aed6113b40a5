#![doc = include_str!("../README.md")]

mod codec;
mod connect_pg;
mod dialect;
mod ops;
mod schema;
mod sql;
mod store;

pub use connect_pg::{CONNECT_PG_TABLE, ConnectPgLayout, ConnectPgStore};
pub use session_core::store::CleanupHandle;
pub use sqlx;
pub use store::{CONNECT_TIMEOUT, DEFAULT_CLEANUP_BATCH, DEFAULT_TABLE, PostgresStore};
pub use store_sql::{DEFAULT_OPERATION_TIMEOUT, InvalidIdentifier};

/// Entry points for the fuzz targets in `fuzz/` (not a stable API): the `data` column
/// codec and the NUL escape, forwarded unchanged.
#[doc(hidden)]
pub mod fuzzing {
    use std::borrow::Cow;

    use session_core::store::{Data, StoreError};

    /// Session data from the JSON text of the `data` column, as `load` decodes it.
    pub fn decode_data(text: &str) -> Result<Data, StoreError> {
        let data = serde_json::from_str(text)
            .map_err(|e| StoreError::Corrupt(format!("data is not a JSON object: {e}")))?;
        crate::codec::decode_data(data)
    }

    /// The JSON text `create` binds to the `data` column.
    pub fn encode_data(data: &Data) -> String {
        crate::codec::encode_data(data).0
    }

    /// A stored string with its NUL escapes undone.
    pub fn unescape_str(s: String) -> Result<String, StoreError> {
        crate::codec::unescape_str(s)
    }

    /// A string as stored, NUL and the escape character escaped.
    pub fn escape_str(s: &str) -> Cow<'_, str> {
        crate::codec::escape_str(s)
    }
}
