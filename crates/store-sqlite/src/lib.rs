#![doc = include_str!("../README.md")]

mod apply;
mod cleanup;
mod codec;
mod error;
mod ident;
mod schema;
mod store;

pub use cleanup::CleanupHandle;
pub use ident::InvalidIdentifier;
pub use sqlx;
pub use store::{BUSY_TIMEOUT, DEFAULT_CLEANUP_BATCH, DEFAULT_TABLE, SqliteStore};
