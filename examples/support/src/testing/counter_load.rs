//! Load that can tell whether acknowledged writes survived: each client overwrites one
//! data key (`n`) with an increasing counter and remembers which counters were answered
//! 200; at the end it reads `n` back, and every acknowledged counter newer than what is
//! stored is a lost write. Shared by the Sentinel failover and the network-fault tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;

use super::{Client, Server};

/// A client's pause between two rounds (a write and a `/health`).
const PAUSE: Duration = Duration::from_millis(20);

/// One answered request; times since the load started.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// `/health` (else the session write).
    pub health: bool,
    /// When it was sent.
    pub start: Duration,
    /// When its answer was read.
    pub end: Duration,
    /// The answer's status.
    pub status: u16,
}

impl Sample {
    /// How long it took.
    pub fn latency(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }
}

/// The running load: what it saw so far, and the switch that stops it.
pub struct CounterLoad {
    /// Every answered request.
    pub samples: Arc<Mutex<Vec<Sample>>>,
    /// Per client, the counters answered 200.
    pub acked: Arc<Mutex<Vec<Vec<u64>>>>,
    stop: Arc<AtomicBool>,
    tasks: JoinSet<()>,
}

impl CounterLoad {
    /// Starts one load task per client; times are measured from `t0`.
    pub fn start(clients: &[Client], t0: Instant) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let acked = Arc::new(Mutex::new(vec![Vec::new(); clients.len()]));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = JoinSet::new();
        for (index, client) in clients.iter().cloned().enumerate() {
            let (samples, acked, stop) = (samples.clone(), acked.clone(), stop.clone());
            tasks.spawn(async move {
                let mut counter = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    counter += 1;
                    let start = t0.elapsed();
                    let answer = client.put_json("/api/data/n", &json!(counter)).await;
                    let end = t0.elapsed();
                    if answer.status == 200 {
                        lock(&acked)[index].push(counter);
                    }
                    let write = Sample {
                        health: false,
                        start,
                        end,
                        status: answer.status,
                    };
                    let start = t0.elapsed();
                    let status = client.get("/health").await.status;
                    let health = Sample {
                        health: true,
                        start,
                        end: t0.elapsed(),
                        status,
                    };
                    lock(&samples).extend([write, health]);
                    tokio::time::sleep(PAUSE).await;
                }
            });
        }
        Self {
            samples,
            acked,
            stop,
            tasks,
        }
    }

    /// What was answered so far.
    pub fn snapshot(&self) -> Vec<Sample> {
        lock(&self.samples).clone()
    }

    /// Stops the clients and waits for their last requests, at most `patience`; panics
    /// when a client failed or requests are still unanswered then (the app hangs).
    pub async fn stop(mut self, patience: Duration) -> (Vec<Sample>, Vec<Vec<u64>>) {
        self.stop.store(true, Ordering::Relaxed);
        let joined = tokio::time::timeout(patience, async {
            while let Some(result) = self.tasks.join_next().await {
                if let Err(e) = result {
                    panic!("a load client failed (the app stopped answering?): {e}");
                }
            }
        })
        .await;
        assert!(
            joined.is_ok(),
            "requests still unanswered {patience:?} after the load stopped: the app hangs"
        );
        let samples = lock(&self.samples).clone();
        let acked = lock(&self.acked).clone();
        (samples, acked)
    }
}

/// `count` clients, each signed in as `<prefix>-<i>` (its own session in the store).
pub async fn signed_in_clients(server: &Server, prefix: &str, count: usize) -> Vec<Client> {
    let mut set = JoinSet::new();
    for i in 0..count {
        let client = Client::new(server.base());
        let user = format!("{prefix}-{i}");
        set.spawn(async move {
            client
                .post_json("/api/login", &json!({ "user": user }))
                .await
                .expect(200);
            client
        });
    }
    set.join_all().await
}

/// The acknowledged counters newer than what each client reads back.
pub async fn lost_writes(clients: &[Client], acked: &[Vec<u64>]) -> usize {
    let mut lost = 0;
    for (client, acked) in clients.iter().zip(acked) {
        let answer = client.get("/api/data/n").await;
        let stored = match answer.status {
            200 => answer.json().as_u64().unwrap_or(0),
            404 => 0,
            other => panic!("reading the counter back answered {other}: {}", answer.body),
        };
        lost += acked.iter().filter(|&&c| c > stored).count();
    }
    lost
}

/// Every client writes and reads a value through its session.
pub async fn every_client_writes_again(clients: &[Client]) {
    for (i, client) in clients.iter().enumerate() {
        client
            .put_json("/api/data/after", &json!(i))
            .await
            .expect(200);
        assert_eq!(
            client.get("/api/data/after").await.expect(200).json(),
            json!(i)
        );
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
