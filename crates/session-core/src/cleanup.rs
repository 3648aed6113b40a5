//! The periodic sweep of expired sessions, for stores whose backend has no native expiry
//! (SQL tables, the memory store). One loop, shared by every such store.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::StoreError;
use crate::id::random_bytes;

/// A running cleanup task.
///
/// The task ends by itself, at its next tick, once its store has been dropped. Dropping the
/// handle leaves it running; [`CleanupHandle::stop`] ends it at once.
#[derive(Debug)]
pub struct CleanupHandle {
    task: JoinHandle<()>,
}

impl CleanupHandle {
    /// Stops the task.
    pub fn stop(self) {
        self.task.abort();
    }

    /// Whether the task has ended (its store was dropped, or it was stopped).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// Spawns, on the current tokio runtime, a loop that calls `sweep` on `store` every
/// `every` (± 10 % random jitter, so processes sharing a database do not sweep in lockstep)
/// until `store` is gone. Failures are logged and retried at the next tick.
///
/// # Panics
/// Outside a tokio runtime.
pub fn spawn_cleanup<T, F, Fut>(store: Weak<T>, every: Duration, sweep: F) -> CleanupHandle
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<u64, StoreError>> + Send,
{
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(jittered(every)).await;
            let Some(store) = store.upgrade() else { return };
            match sweep(store).await {
                Ok(n) => tracing::debug!(removed = n, "expired sessions deleted"),
                Err(e) => tracing::warn!(error = %e, "session cleanup failed"),
            }
        }
    });
    CleanupHandle { task }
}

/// `every` scaled by a random factor in [0.9, 1.1).
fn jittered(every: Duration) -> Duration {
    let r = u32::from_le_bytes(random_bytes());
    every.mul_f64(0.9 + 0.2 * (f64::from(r) / f64::from(u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(100));
            assert!(
                d >= Duration::from_secs(90) && d <= Duration::from_secs(110),
                "{d:?}"
            );
        }
    }
}
