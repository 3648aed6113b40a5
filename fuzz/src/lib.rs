//! The fuzz targets' bodies, one function per target; `fuzz_targets/*.rs` only call them.
//! Each asserts its property with a panic, which libFuzzer reports as a crash.

mod cookie;
mod records;

pub use cookie::cookie;
pub use records::{mongo_record, postgres_data, redis_record, sqlite_data};
