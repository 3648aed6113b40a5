//! How SQLite stores sessions, for the shared code of `store-sql`: JSON text in `data`,
//! strings as they are, and which result codes mean "busy".

use session_core::store::{Data, StoreError};
use sqlx::error::DatabaseError;
use sqlx::sqlite::{SqliteQueryResult, SqliteRow};
use sqlx::{Row, Sqlite};
use store_sql::Dialect;

/// SQLite primary result codes that mean "could not get at the database right now".
const BUSY: i32 = 5;
const LOCKED: i32 = 6;
const CANTOPEN: i32 = 14;

/// The SQLite [`Dialect`].
pub(crate) struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Db = Sqlite;
    type Data = String;

    /// Lock timeouts and unopenable files.
    fn is_unavailable(e: &dyn DatabaseError) -> bool {
        let primary = e
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .map(|c| c & 0xff);
        matches!(primary, Some(BUSY | LOCKED | CANTOPEN))
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    /// The JSON text stored in the `data` column.
    fn encode_data(data: &Data) -> Result<String, StoreError> {
        Ok(crate::codec::encode_data(data))
    }

    fn decode_data(row: &SqliteRow) -> Result<Data, StoreError> {
        let text: String = row.try_get("data").map_err(Self::map_error)?;
        crate::codec::decode_data(&text)
    }
}
