#![doc = include_str!("../README.md")]

mod codec;
mod dialect;
mod error;
mod ident;
mod migrate;
mod queries;
mod statements;
#[cfg(feature = "testing")]
pub mod testing;

pub use codec::{
    RECORD_COLUMNS, SUMMARY_COLUMNS, record_from_row, summary_from_row, version_from_db,
    version_to_db,
};
pub use dialect::{ColumnType, Dialect};
pub use error::map_error;
pub use ident::{Ident, InvalidIdentifier};
pub use migrate::{Ledger, execute, run_migrations};
pub use queries::{DEFAULT_OPERATION_TIMEOUT, Queries, bounded};
pub use statements::sql_text;
