//! What operators see: one event per store call, with its latency, under the target
//! `session_core::store` (`debug` when it answered, `warn` when it failed), and
//! `session_core` events for decisions worth knowing about (conflicts, corrupt records,
//! a logout or rotation that lost to a concurrent one). No event carries a session id,
//! a cookie or session data; store keys appear only at `warn` for corrupt records.

use std::future::Future;
use std::time::Instant;

use crate::StoreError;

/// Awaits one store call and reports it: `op` names the operation, `outcome` summarises a
/// successful answer without its data.
pub(crate) async fn store_call<T>(
    op: &'static str,
    call: impl Future<Output = Result<T, StoreError>>,
    outcome: impl FnOnce(&T) -> &'static str,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = call.await;
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    match &result {
        Ok(answer) => tracing::debug!(
            target: "session_core::store",
            op,
            outcome = outcome(answer),
            micros,
            "store call"
        ),
        // The caller reports a corrupt record itself, with its store key (a `warn`).
        Err(error @ StoreError::Corrupt(_)) => tracing::debug!(
            target: "session_core::store",
            op,
            micros,
            %error,
            "store call found a corrupt record"
        ),
        Err(error) => tracing::warn!(
            target: "session_core::store",
            op,
            micros,
            %error,
            "store call failed"
        ),
    }
    result
}
