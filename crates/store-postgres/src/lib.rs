#![doc = include_str!("../README.md")]

mod codec;
mod dialect;
mod schema;
mod store;

pub use session_core::CleanupHandle;
pub use sqlx;
pub use store::{CONNECT_TIMEOUT, DEFAULT_CLEANUP_BATCH, DEFAULT_TABLE, PostgresStore};
pub use store_sql::InvalidIdentifier;
