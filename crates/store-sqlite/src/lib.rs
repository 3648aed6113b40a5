#![doc = include_str!("../README.md")]

mod apply;
mod codec;
mod dialect;
mod schema;
mod store;

pub use session_core::CleanupHandle;
pub use sqlx;
pub use store::{BUSY_TIMEOUT, DEFAULT_CLEANUP_BATCH, DEFAULT_TABLE, SqliteStore};
pub use store_sql::InvalidIdentifier;
