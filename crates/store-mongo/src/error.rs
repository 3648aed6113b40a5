//! Driver errors to [`StoreError`].

use mongodb::error::{Error, ErrorKind, WriteFailure};
use session_core::store::StoreError;

/// The server error code of a duplicate `_id`.
const DUPLICATE_KEY: i32 = 11000;

/// Connectivity failures become `Unavailable`, everything else `Backend`.
pub fn store_error(e: Error) -> StoreError {
    match *e.kind {
        ErrorKind::Io(_)
        | ErrorKind::ServerSelection { .. }
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. }
        | ErrorKind::Shutdown => StoreError::unavailable(e),
        _ => StoreError::backend(e),
    }
}

/// Whether `e` is the server refusing a second document with the same `_id`.
pub fn is_duplicate_key(e: &Error) -> bool {
    matches!(
        &*e.kind,
        ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == DUPLICATE_KEY
    )
}
