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

use std::time::{Duration, Instant};

use super::counter_load::{
    CounterLoad, Sample, every_client_writes_again, lost_writes, signed_in_clients,
};
use super::sentinel_topology::{self, SentinelTopology};
use super::{Server, temp_path, test_key};

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
    let clients = signed_in_clients(&server, "failover", CLIENTS).await;
    let before = topology.current_master().unwrap_or_default();
    let t0 = Instant::now();
    let load = CounterLoad::start(&clients, t0);

    tokio::time::sleep(BASELINE).await;
    let killed = t0.elapsed();
    topology.kill_master();
    let recovered = loop {
        if let Some(window) = window(&load.snapshot(), killed) {
            break window;
        }
        assert!(
            t0.elapsed() < killed + FAILOVER_LIMIT,
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
    let bound = 2 * operation + REQUEST_SLACK;
    let (samples, acked) = load.stop(bound + Duration::from_secs(5)).await;
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
        assert!(
            s.latency() <= bound,
            "a request started at {:?} took {:?}, more than {bound:?}",
            s.start,
            s.latency()
        );
        if !s.health {
            max_latency = max_latency.max(s.latency());
        }
    }
    let first_503 = samples
        .iter()
        .filter(|s| !s.health && s.status == 503 && s.end >= killed)
        .map(|s| s.end - killed)
        .min()
        .unwrap_or_default();
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
