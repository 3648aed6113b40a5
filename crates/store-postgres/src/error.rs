//! Mapping sqlx errors onto the store's typed errors.

use session_core::StoreError;

/// SQLSTATEs (besides class 08, connection exceptions) that mean the server cannot serve
/// us right now: too many connections, admin/crash shutdown, starting up.
const UNAVAILABLE_STATES: &[&str] = &["53300", "57P01", "57P02", "57P03"];

/// Classifies an sqlx error: connectivity problems are `Unavailable`, undecodable columns
/// are `Corrupt`, the rest is `Backend`.
pub(crate) fn map(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(e),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Corrupt(e.to_string())
        }
        sqlx::Error::Database(ref db) => {
            let state = db.code().unwrap_or_default();
            if state.starts_with("08") || UNAVAILABLE_STATES.contains(&&*state) {
                StoreError::unavailable(e)
            } else {
                StoreError::backend(e)
            }
        }
        other => StoreError::backend(other),
    }
}
