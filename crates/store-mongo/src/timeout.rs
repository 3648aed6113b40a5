//! The bound on one store operation, and the driver timeouts [`crate::MongoStore::connect`]
//! sets so that nothing waits for the driver's 30-second defaults.

use std::future::Future;
use std::time::Duration;

use session_core::store::StoreError;

/// How long one store operation (one [`session_core::store::SessionStore`] call, every round trip
/// it makes included) may take before it fails with [`StoreError::Unavailable`]: 4 s, like
/// store-redis's `Timeouts::operation()`. Change it with
/// [`MongoStore::with_operation_timeout`](crate::MongoStore::with_operation_timeout).
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(4);

/// The driver's `connectTimeoutMS` (one TCP connection and its handshake) and
/// `serverSelectionTimeoutMS` (finding a usable server) as set by
/// [`MongoStore::connect`](crate::MongoStore::connect), unless the URI names them: 2 s each.
pub const DEFAULT_DRIVER_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the driver checks the server when the URI does not say
/// (`heartbeatFrequencyMS`): it bounds how long sessions stay down after a server that
/// stopped answering is back (the driver's own default is 10 s).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);

/// Runs `fut`, turning "no answer within `limit`" into `Unavailable`.
///
/// Dropping the future abandons the operation on the client side; a request already sent
/// may still run on the server. Every multi-step protocol of this crate is safe to stop
/// between any two steps (see the README).
pub async fn bounded<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::unavailable(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("MongoDB did not answer within {limit:?}"),
        ))),
    }
}
