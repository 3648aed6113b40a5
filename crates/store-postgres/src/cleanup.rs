//! The background task that deletes expired rows.

use std::sync::Weak;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::store::Inner;

/// The running cleanup task of a store (see `PostgresStore::spawn_cleanup`).
///
/// The task ends by itself when the last clone of its store is dropped. Dropping the
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

/// Spawns the loop on the current tokio runtime.
pub(crate) fn spawn(
    store: Weak<Inner>,
    closed: watch::Receiver<()>,
    every: Duration,
) -> CleanupHandle {
    CleanupHandle {
        task: tokio::spawn(run(store, closed, every)),
    }
}

async fn run(store: Weak<Inner>, mut closed: watch::Receiver<()>, every: Duration) {
    loop {
        // `changed` fails once the store (the sender's owner) is dropped: stop at once.
        if let Ok(Err(_)) = tokio::time::timeout(jittered(every), closed.changed()).await {
            return;
        }
        let Some(store) = store.upgrade() else { return };
        match store.delete_expired().await {
            Ok(n) => tracing::debug!(removed = n, "expired sessions deleted"),
            Err(e) => tracing::warn!(error = %e, "session cleanup failed"),
        }
    }
}

/// `every` scaled by a random factor in [0.9, 1.1), so that many processes sharing one
/// database do not sweep in lockstep.
fn jittered(every: Duration) -> Duration {
    let r = getrandom::u32().unwrap_or(u32::MAX / 2);
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
