//! Mapping sqlx errors onto the store's typed errors.

use session_core::store::StoreError;
use sqlx::error::DatabaseError;

/// Classifies an sqlx error: connectivity problems (and database errors for which
/// `unavailable` says so, such as lock timeouts or a server shutting down) are
/// `Unavailable`, undecodable columns are `Corrupt`, the rest is `Backend`.
pub fn map_error(
    e: sqlx::Error,
    unavailable: impl FnOnce(&dyn DatabaseError) -> bool,
) -> StoreError {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(e),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Corrupt(e.to_string())
        }
        sqlx::Error::Database(ref db) if unavailable(db.as_ref()) => StoreError::unavailable(e),
        other => StoreError::backend(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectivity_is_unavailable_and_decoding_is_corrupt() {
        let never = |_: &dyn DatabaseError| false;
        assert!(matches!(
            map_error(sqlx::Error::PoolTimedOut, never),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_error(sqlx::Error::Decode("bad".into()), never),
            StoreError::Corrupt(_)
        ));
        assert!(matches!(
            map_error(sqlx::Error::RowNotFound, never),
            StoreError::Backend(_)
        ));
    }
}
