//! What a backend crate tells the shared code about its database.

use std::borrow::Cow;

use session_core::store::{Data, StoreError};
use sqlx::error::DatabaseError;
use sqlx::{Database, Encode, Type};

/// A database backend of the SQL stores: its sqlx driver and the few places where the
/// stored representation differs (how `data` is stored, how strings are escaped, which
/// database errors mean "unavailable").
///
/// Implemented by a unit type in each backend crate; the shared [`crate::Queries`],
/// [`crate::run_migrations`] and row decoding are generic over it.
pub trait Dialect: Send + Sync + 'static {
    /// The sqlx database driver.
    type Db: Database;
    /// The value bound to the `data` column by `create`.
    type Data: for<'q> Encode<'q, Self::Db> + Type<Self::Db> + Send;

    /// A clause appended to the sub-select choosing a batch of expired rows (for example
    /// `" FOR UPDATE SKIP LOCKED"`, leading space included, so that concurrent cleaners do
    /// not wait for each other).
    const BATCH_LOCK: &'static str = "";

    /// How a statement says "`key` is one of the keys this sub-select returns", as the
    /// text before and after the sub-select. `key IN (…)` by default; PostgreSQL plans
    /// `key = ANY(ARRAY(…))` as primary-key lookups where it would hash-join `IN (…)`
    /// against the whole table.
    const KEY_AMONG: (&'static str, &'static str) = ("key IN (", ")");

    /// Whether a database error means the database cannot serve us right now.
    fn is_unavailable(e: &dyn DatabaseError) -> bool;

    /// How many rows a statement changed.
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;

    /// Session data as bound to the `data` column.
    fn encode_data(data: &Data) -> Result<Self::Data, StoreError>;

    /// Session data read back from the `data` column of `row`; anything but a JSON object
    /// (or undecodable text) is [`StoreError::Corrupt`].
    fn decode_data(row: &<Self::Db as Database>::Row) -> Result<Data, StoreError>;

    /// A string (user id) as stored, for databases that cannot store every string as is.
    fn encode_text(s: &str) -> Cow<'_, str> {
        Cow::Borrowed(s)
    }

    /// The inverse of [`Dialect::encode_text`]; a string it cannot decode is corrupt.
    fn decode_text(s: String) -> Result<String, StoreError> {
        Ok(s)
    }

    /// Maps an sqlx error with [`crate::map_error`] and [`Dialect::is_unavailable`].
    fn map_error(e: sqlx::Error) -> StoreError {
        crate::map_error(e, Self::is_unavailable)
    }
}

/// A Rust type that is bound to and read from columns of `DB` (shorthand for the sqlx
/// `Encode + Decode + Type` triple in the shared code's bounds).
pub trait ColumnType<DB: Database>:
    for<'q> Encode<'q, DB> + for<'r> sqlx::Decode<'r, DB> + Type<DB>
{
}

impl<DB: Database, T> ColumnType<DB> for T where
    T: for<'q> Encode<'q, DB> + for<'r> sqlx::Decode<'r, DB> + Type<DB>
{
}
