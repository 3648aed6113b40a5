//! A network fault between an example process and its store, under load: the app reaches
//! the store only through a [`FaultProxy`], which for [`FAULT_FOR`] blackholes the
//! connections, adds latency, or resets them mid-response, and then heals.
//!
//! Checked, for every fault: `/health` stays 200; every session answer is 200 or 503 and
//! none takes longer than a load and a save within the operation bound (no hang); with the
//! store unreachable (blackhole, resets) a session request started during the fault is
//! answered 503 within one operation bound; under latency session routes keep serving;
//! session routes succeed again within [`RECOVERY_LIMIT`] of the fault ending, without a
//! restart; no acknowledged write is lost; every client writes again afterwards.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::counter_load::{
    CounterLoad, Sample, every_client_writes_again, lost_writes, signed_in_clients,
};
use super::fault_proxy::{FaultProxy, NetFault};
use super::outage::{DOWN_SLACK, RECOVERY_LIMIT};
use super::{Server, test_key};

/// Concurrent clients, each with its own session.
pub const CLIENTS: usize = 20;
/// Load with the network healthy, before the fault.
const BASELINE: Duration = Duration::from_millis(1500);
/// How long the fault lasts at least (and at least twice the operation bound, so that
/// requests started early in it time out while it lasts).
const FAULT_FOR: Duration = Duration::from_secs(4);
/// Load kept up after the first success following the repair.
const AFTER_RECOVERY: Duration = Duration::from_secs(1);
/// What any session request (a load and a save, each within the operation bound) may
/// take beyond twice the bound: the HTTP round trip and a loaded two-core machine.
const REQUEST_SLACK: Duration = Duration::from_secs(2);

/// What one run measured.
#[derive(Debug, Clone)]
pub struct FaultTimings {
    /// From the fault to the first 503 (`None`: no request failed).
    pub first_503: Option<Duration>,
    /// The slowest session request started during the fault.
    pub max_latency: Duration,
    /// Session requests started during the fault: answered 200, answered 503.
    pub during: (usize, usize),
    /// From the fault ending to the first 200 of a session request started after it.
    pub recovery: Duration,
    /// Session writes acknowledged over the whole run.
    pub acknowledged: usize,
    /// Acknowledged writes not read back at the end (must be 0).
    pub lost: usize,
    /// `/health` requests (every one answered 200).
    pub health_requests: usize,
}

/// A store URL rewritten to go through a proxy: the upstream address and the new URL.
pub fn through_proxy(url: &str, proxy_port: u16) -> (SocketAddr, String) {
    let (scheme, rest) = url
        .split_once("://")
        .unwrap_or_else(|| panic!("not a URL: {url}"));
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((user, hp)) => (format!("{user}@"), hp),
        None => (String::new(), authority),
    };
    let upstream = host_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("cannot resolve {host_port} of {url}"));
    let url = format!("{scheme}://{userinfo}127.0.0.1:{proxy_port}{tail}");
    (upstream, url)
}

/// Runs `bin` on `store_url` (which must lead through `proxy`), makes `fault` happen for
/// [`FAULT_FOR`] under load, checks what the module docs say and returns the timings.
/// `operation` is the bound on one store operation the app gets
/// (`SESSION_STORE_TIMEOUT_MS`).
pub async fn network_fault_and_recovery(
    bin: &str,
    store_url: &str,
    proxy: &FaultProxy,
    fault: NetFault,
    operation: Duration,
) -> FaultTimings {
    let ms = operation.as_millis().to_string();
    let env = [("SESSION_STORE_TIMEOUT_MS", ms.as_str())];
    let mut server = Server::spawn_with(bin, store_url, &test_key(), &env)
        .await
        .unwrap_or_else(|e| panic!("the example did not start on {store_url}: {e}"));
    let clients = signed_in_clients(&server, "netfault", CLIENTS).await;
    let t0 = Instant::now();
    let load = CounterLoad::start(&clients, t0);

    tokio::time::sleep(BASELINE).await;
    let fault_at = t0.elapsed();
    proxy.set(fault);
    tokio::time::sleep(FAULT_FOR.max(2 * operation)).await;
    assert!(
        server.is_running(),
        "the app exited during the fault:\n{}",
        server.log_text()
    );
    let healed = t0.elapsed();
    proxy.set(NetFault::None);
    let deadline = healed + RECOVERY_LIMIT + Duration::from_secs(1);
    while first_success_after(&load.snapshot(), healed).is_none() && t0.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(AFTER_RECOVERY).await;
    let any = 2 * operation + REQUEST_SLACK;
    let (samples, acked) = load.stop(any + Duration::from_secs(5)).await;
    assert!(
        server.is_running() && !server.log_text().contains("panicked"),
        "the app exited or panicked:\n{}",
        server.log_text()
    );

    let phases = Phases {
        fault_at,
        healed,
        down: operation + DOWN_SLACK,
        any,
        unreachable: fault != NetFault::None && !matches!(fault, NetFault::Latency(_)),
    };
    let mut timings = phases.check(&samples, fault);
    timings.acknowledged = acked.iter().map(Vec::len).sum();
    timings.lost = lost_writes(&clients, &acked).await;
    assert_eq!(
        timings.lost, 0,
        "{fault:?}: acknowledged writes were lost: {timings:?}"
    );
    every_client_writes_again(&clients).await;
    timings
}

/// When the fault began and ended (since the load started), and the bounds.
struct Phases {
    fault_at: Duration,
    healed: Duration,
    /// A request started while the store is unreachable: one operation bound + slack.
    down: Duration,
    /// Any request: a load and a save.
    any: Duration,
    /// Whether the fault leaves the store unreachable (blackhole, resets).
    unreachable: bool,
}

impl Phases {
    fn check(&self, samples: &[Sample], fault: NetFault) -> FaultTimings {
        let (health, session): (Vec<&Sample>, Vec<&Sample>) =
            samples.iter().partition(|s| s.health);
        for s in &health {
            assert_eq!(
                s.status, 200,
                "{fault:?}: /health at {:?} answered {}",
                s.start, s.status
            );
        }
        // Started during the fault, at least one bound before it ends: with the store
        // unreachable, its first operation fails within the bound.
        let deep = |s: &Sample| s.start >= self.fault_at && s.start + self.down <= self.healed;
        for s in &session {
            let allowed: &[u16] = if s.end < self.fault_at {
                &[200]
            } else if self.unreachable && deep(s) {
                &[503]
            } else {
                &[200, 503]
            };
            assert!(
                allowed.contains(&s.status),
                "{fault:?}: a session write started at {:?} (fault {:?}..{:?}) answered {}, \
                 expected one of {allowed:?}",
                s.start,
                self.fault_at,
                self.healed,
                s.status
            );
            let bound = if self.unreachable && deep(s) {
                self.down
            } else {
                self.any
            };
            assert!(
                s.latency() <= bound,
                "{fault:?}: a session write started at {:?} took {:?}, more than {bound:?}",
                s.start,
                s.latency()
            );
        }
        let during: Vec<&&Sample> = session
            .iter()
            .filter(|s| s.start >= self.fault_at && s.start < self.healed)
            .collect();
        let ok = during.iter().filter(|s| s.status == 200).count();
        if !self.unreachable {
            assert!(
                ok > 0,
                "{fault:?}: no session request succeeded during the fault"
            );
        }
        let recovery = first_success_after(samples, self.healed)
            .map(|s| s.end - self.healed)
            .unwrap_or_else(|| {
                panic!("{fault:?}: no session request succeeded within {RECOVERY_LIMIT:?} of the fault ending")
            });
        assert!(
            recovery <= RECOVERY_LIMIT,
            "{fault:?}: session routes took {recovery:?} to succeed again (limit {RECOVERY_LIMIT:?})"
        );
        FaultTimings {
            first_503: session
                .iter()
                .filter(|s| s.status == 503 && s.end >= self.fault_at)
                .map(|s| s.end - self.fault_at)
                .min(),
            max_latency: during.iter().map(|s| s.latency()).max().unwrap_or_default(),
            during: (ok, during.len() - ok),
            recovery,
            acknowledged: 0,
            lost: 0,
            health_requests: health.len(),
        }
    }
}

/// The first successful session request started at or after `since`.
fn first_success_after(samples: &[Sample], since: Duration) -> Option<&Sample> {
    samples
        .iter()
        .filter(|s| !s.health && s.start >= since && s.status == 200)
        .min_by_key(|s| s.end)
}
