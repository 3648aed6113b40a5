//! Mapping sqlx errors onto the store's typed errors.

use session_core::StoreError;

/// SQLite primary result codes that mean "could not get at the database right now".
const BUSY: i32 = 5;
const LOCKED: i32 = 6;
const CANTOPEN: i32 = 14;

/// Classifies an sqlx error: connectivity and lock timeouts are `Unavailable`, undecodable
/// columns are `Corrupt`, the rest is `Backend`.
pub(crate) fn map(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(e),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Corrupt(e.to_string())
        }
        sqlx::Error::Database(ref db) => {
            let primary = db
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .map(|c| c & 0xff);
            match primary {
                Some(BUSY | LOCKED | CANTOPEN) => StoreError::unavailable(e),
                _ => StoreError::backend(e),
            }
        }
        other => StoreError::backend(other),
    }
}
