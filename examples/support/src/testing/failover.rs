//! A Redis Sentinel failover under load: an example process on
//! `SESSION_STORE=redis+sentinel://…` serves [`CLIENTS`] clients, each overwriting one
//! data key with an increasing counter, while the master of a private deployment (one
//! master, two replicas, three sentinels; see [`super::sentinel_topology`]) is SIGKILLed.
//!
//! Checked: every session answer is 200 or 503 and none takes longer than the request
//! bound (no hang), `/health` stays 200, the app keeps running, session routes succeed
//! again without a restart once the sentinels have promoted a replica, and every client
//! then writes and reads again. Measured: the window (the kill to the first success after
//! the first 503) and the acknowledged writes lost (a client's last 200 counter newer than
//! what it reads back at the end). With the durability option (`wait=1`) none may be lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;

use super::sentinel_topology::{self, SentinelTopology};
use super::{Client, Server, temp_path, test_key};

/// Concurrent clients, each with its own session.
pub const CLIENTS: usize = 20;
/// Load with the master up, before the kill.
const BASELINE: Duration = Duration::from_millis(1500);
/// The longest the failover may take before the test fails: the sentinels' 1 s
/// `down-after-milliseconds`, their election (a failed one is retried after the 5 s
/// `failover-timeout`), the promotion and the replica's reconfiguration, with room for a
/// loaded two-core machine. The window itself is reported, not asserted.
pub const FAILOVER_LIMIT: Duration = Duration::from_secs(30);
/// Load kept up after the first success following the failover.
const AFTER_RECOVERY: Duration = Duration::from_secs(2);
/// A client's pause between two requests.
const PAUSE: Duration = Duration::from_millis(20);
/// What a session request may take beyond its load and save (each within the operation
/// bound): the HTTP round trip and a two-core machine's scheduling.
const REQUEST_SLACK: Duration = Duration::from_secs(2);

/// What one failover run measured.
#[derive(Debug, Clone)]
pub struct FailoverReport {
    /// From the SIGKILL to the first 503.
    pub first_503: Duration,
    /// From the SIGKILL to the first 200 of a session request started after the first
    /// 503: how long session routes were unavailable.
    pub window: Duration,
    /// The slowest session request of the run.
    pub max_latency: Duration,
    /// Session writes answered 200, and answered 503.
    pub writes: (usize, usize),
    /// Acknowledged (200) writes whose value was not read back at the end.
    pub lost: usize,
    /// The master's address before and after (`host:port`).
    pub masters: (String, String),
}

/// One answered request; times since the load started.
#[derive(Debug, Clone, Copy)]
struct Sample {
    health: bool,
    start: Duration,
    end: Duration,
    status: u16,
}

/// Starts a private Sentinel deployment and `bin` on it (`query` is appended to the
/// `redis+sentinel://` URL, e.g. `?wait=1&wait_timeout_ms=500`; `operation` is the bound
/// on one store operation, passed as `SESSION_STORE_TIMEOUT_MS`), kills the master under
/// load, checks what the module docs say and returns the measurements.
pub async fn failover_under_load(bin: &str, query: &str, operation: Duration) -> FailoverReport {
    let dir = temp_path("sentinel");
    let mut topology = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || sentinel_topology::start(&dir)
    })
    .await
    .unwrap_or_else(|e| panic!("the Sentinel deployment did not start: {e}"))
    .unwrap_or_else(|e| panic!("the Sentinel deployment did not start: {e}"));
    let report = run(bin, &mut topology, query, operation).await;
    drop(topology);
    let _ = std::fs::remove_dir_all(&dir);
    report
}

async fn run(
    bin: &str,
    topology: &mut SentinelTopology,
    query: &str,
    operation: Duration,
) -> FailoverReport {
    let url = format!("{}{query}", topology.url());
    let ms = operation.as_millis().to_string();
    let env = [("SESSION_STORE_TIMEOUT_MS", ms.as_str())];
    let mut server = Server::spawn_with(bin, &url, &test_key(), &env)
        .await
        .unwrap_or_else(|e| panic!("the example did not start on {url}: {e}"));
    let clients = signed_in_clients(&server).await;
    let before = topology.current_master().unwrap_or_default();

    let t0 = Instant::now();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let acked = Arc::new(Mutex::new(vec![Vec::new(); CLIENTS]));
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = JoinSet::new();
    for (i, client) in clients.iter().cloned().enumerate() {
        let load_run = ClientRun {
            client,
            index: i,
            t0,
            samples: samples.clone(),
            acked: acked.clone(),
            stop: stop.clone(),
        };
        load.spawn(load_run.run());
    }

    tokio::time::sleep(BASELINE).await;
    let killed = t0.elapsed();
    topology.kill_master();
    let recovered = loop {
        let now = t0.elapsed();
        if let Some(window) = window(&lock(&samples), killed) {
            break window;
        }
        assert!(
            now < killed + FAILOVER_LIMIT,
            "session routes did not recover within {FAILOVER_LIMIT:?} of killing the master"
        );
        assert!(
            server.is_running(),
            "the app exited:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(AFTER_RECOVERY).await;
    stop.store(true, Ordering::Relaxed);
    let bound = 2 * operation + REQUEST_SLACK;
    let joined = tokio::time::timeout(bound + Duration::from_secs(5), async {
        while let Some(result) = load.join_next().await {
            if let Err(e) = result {
                panic!("a load client failed (the app stopped answering?): {e}");
            }
        }
    })
    .await;
    assert!(joined.is_ok(), "requests still unanswered: the app hangs");
    assert!(
        server.is_running(),
        "the app exited:\n{}",
        server.log_text()
    );
    assert!(
        !server.log_text().contains("panicked"),
        "the app panicked:\n{}",
        server.log_text()
    );

    let samples = lock(&samples).clone();
    let mut max_latency = Duration::ZERO;
    for s in &samples {
        let allowed: &[u16] = if s.health { &[200] } else { &[200, 503] };
        assert!(
            allowed.contains(&s.status),
            "{} started at {:?} answered {}",
            if s.health {
                "/health"
            } else {
                "a session request"
            },
            s.start,
            s.status
        );
        let latency = s.end - s.start;
        assert!(
            latency <= bound,
            "a request started at {:?} took {latency:?}, more than {bound:?}",
            s.start
        );
        if !s.health {
            max_latency = max_latency.max(latency);
        }
    }
    let first_503 = samples
        .iter()
        .filter(|s| !s.health && s.status == 503 && s.end >= killed)
        .map(|s| s.end - killed)
        .min()
        .unwrap_or_default();
    let acked = lock(&acked).clone();
    let lost = lost_writes(&clients, &acked).await;
    every_client_writes_again(&clients).await;
    let writes = (
        acked.iter().map(Vec::len).sum(),
        samples
            .iter()
            .filter(|s| !s.health && s.status == 503)
            .count(),
    );
    FailoverReport {
        first_503,
        window: recovered,
        max_latency,
        writes,
        lost,
        masters: (before, topology.current_master().unwrap_or_default()),
    }
}

/// From `killed` to the first success of a session request started after the first 503
/// that ended after `killed`; `None` while there is none yet.
fn window(samples: &[Sample], killed: Duration) -> Option<Duration> {
    let first_503 = samples
        .iter()
        .filter(|s| !s.health && s.status == 503 && s.end >= killed)
        .map(|s| s.end)
        .min()?;
    samples
        .iter()
        .filter(|s| !s.health && s.status == 200 && s.start >= first_503)
        .map(|s| s.end - killed)
        .min()
}

/// [`CLIENTS`] clients, each signed in (its own session in the store).
async fn signed_in_clients(server: &Server) -> Vec<Client> {
    let mut set = JoinSet::new();
    for i in 0..CLIENTS {
        let client = Client::new(server.base());
        set.spawn(async move {
            client
                .post_json("/api/login", &json!({ "user": format!("failover-{i}") }))
                .await
                .expect(200);
            client
        });
    }
    set.join_all().await
}

/// One load client: alternates `PUT /api/data/n` (the next counter) and `/health`.
struct ClientRun {
    client: Client,
    index: usize,
    t0: Instant,
    samples: Arc<Mutex<Vec<Sample>>>,
    /// Per client, the counters answered 200.
    acked: Arc<Mutex<Vec<Vec<u64>>>>,
    stop: Arc<AtomicBool>,
}

impl ClientRun {
    async fn run(self) {
        let mut counter = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            counter += 1;
            let start = self.t0.elapsed();
            let answer = self.client.put_json("/api/data/n", &json!(counter)).await;
            let end = self.t0.elapsed();
            if answer.status == 200 {
                lock(&self.acked)[self.index].push(counter);
            }
            let write = Sample {
                health: false,
                start,
                end,
                status: answer.status,
            };
            let start = self.t0.elapsed();
            let health = self.client.get("/health").await;
            let health = Sample {
                health: true,
                start,
                end: self.t0.elapsed(),
                status: health.status,
            };
            lock(&self.samples).extend([write, health]);
            tokio::time::sleep(PAUSE).await;
        }
    }
}

/// The acknowledged counters newer than what each client reads back.
async fn lost_writes(clients: &[Client], acked: &[Vec<u64>]) -> usize {
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

/// After the failover, every client writes and reads a value through its session.
async fn every_client_writes_again(clients: &[Client]) {
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
