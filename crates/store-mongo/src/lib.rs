#![doc = include_str!("../README.md")]

mod codec;
mod error;
mod escape;
mod schema;
mod store;

pub use escape::{escape_key, unescape_key};
pub use store::{DEFAULT_COLLECTION, DEFAULT_DATABASE, MongoStore};

/// The MongoDB driver this crate is built on, re-exported so callers can build a client
/// or collection with custom options for [`MongoStore::new`] without a version mismatch.
pub use mongodb;
