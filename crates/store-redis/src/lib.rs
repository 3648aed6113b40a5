#![doc = include_str!("../README.md")]

mod conn;
mod index;
mod layout;
mod scripts;
mod store;

pub use conn::Timeouts;
pub use store::{DEFAULT_PREFIX, RedisStore};
