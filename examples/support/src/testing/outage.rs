//! A store outage under load: an example process serves [`CLIENTS`] concurrent clients while
//! its store server is killed and restarted on the same port. Session routes must fail
//! fast with 503 (never hang, never take the process down), `/health` must stay 200, and
//! session routes must work again soon after the store is back, without restarting the app.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;

use super::daemon::Daemon;
use super::{Client, Server, test_key};

/// Concurrent clients, each with its own session.
pub const CLIENTS: usize = 50;
/// Most requests one client sends (half of them `/health`).
const MAX_REQUESTS_PER_CLIENT: usize = 500;
/// A client's pause between two requests.
const PAUSE: Duration = Duration::from_millis(25);
/// Load with the store up, before the kill.
const BASELINE: Duration = Duration::from_millis(1500);
/// How long the store stays down.
const OUTAGE: Duration = Duration::from_secs(4);
/// Session routes must succeed again within this long after the store listens again.
pub const RECOVERY_LIMIT: Duration = Duration::from_secs(5);
/// Load kept up after the first success following the restart.
const AFTER_RECOVERY: Duration = Duration::from_secs(1);

/// What one outage run measured (times since the kill or since the store listened again).
#[derive(Debug, Clone)]
pub struct Timings {
    /// From the kill to the first 503 answer.
    pub first_503: Duration,
    /// The slowest session request among those started while the store was down.
    pub max_outage_latency: Duration,
    /// How long the store server took to listen again.
    pub restart: Duration,
    /// From the store listening again to the first 200 of a session request started
    /// after that.
    pub first_success: Duration,
    /// Session requests sent, and how many of them were answered 503.
    pub session_requests: (usize, usize),
    /// `/health` requests sent (every one answered 200).
    pub health_requests: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Health,
    Session,
}

/// One answered request; times since the load started.
#[derive(Debug, Clone)]
struct Sample {
    route: Route,
    what: &'static str,
    start: Duration,
    end: Duration,
    status: u16,
}

impl Sample {
    fn latency(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }
}

/// Runs `bin` on `store_url` (served by `daemon`) with the extra environment `env`, kills
/// and restarts the store under load, checks the behaviour described in the module docs
/// and returns the timings. `bound` is the longest a session request may take, outage
/// or not (the configured store timeout, twice — load and save — plus slack).
pub async fn outage_and_recovery(
    bin: &str,
    daemon: &mut Daemon,
    store_url: &str,
    env: &[(&str, &str)],
    bound: Duration,
) -> Timings {
    let mut server = Server::spawn_with(bin, store_url, &test_key(), env)
        .await
        .unwrap_or_else(|e| panic!("the example did not start on {store_url}: {e}"));
    let clients = signed_in_clients(&server).await;

    let t0 = Instant::now();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = JoinSet::new();
    for client in clients.iter().cloned() {
        load.spawn(run_client(client, t0, samples.clone(), stop.clone()));
    }

    tokio::time::sleep(BASELINE).await;
    // The kill takes effect somewhere between these two instants (it also waits for the
    // process to be reaped): answers before the first must all succeed, requests started
    // after the second must all fail, and either is fine in between.
    let kill_sent = t0.elapsed();
    daemon.kill();
    let killed = t0.elapsed();
    tokio::time::sleep(OUTAGE).await;
    assert!(
        server.is_running(),
        "the app exited during the outage:\n{}",
        server.log_text()
    );
    let restarting = t0.elapsed();
    daemon.start().await;
    let listening = t0.elapsed();
    let deadline = listening + RECOVERY_LIMIT + Duration::from_secs(1);
    while first_success_after(&snapshot(&samples), listening).is_none() && t0.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(AFTER_RECOVERY).await;
    stop.store(true, Ordering::Relaxed);
    let joined = tokio::time::timeout(bound + Duration::from_secs(5), async {
        while let Some(result) = load.join_next().await {
            if let Err(e) = result {
                panic!("a load client failed (the app stopped answering?): {e}");
            }
        }
    })
    .await;
    assert!(
        joined.is_ok(),
        "requests still unanswered {:?} after the load stopped: the app hangs",
        bound + Duration::from_secs(5)
    );

    let samples = snapshot(&samples);
    let timings = check(&samples, kill_sent, killed, restarting, listening, bound);
    assert!(
        server.is_running(),
        "the app exited after the outage:\n{}",
        server.log_text()
    );
    assert!(
        !server.log_text().contains("panicked"),
        "the app panicked:\n{}",
        server.log_text()
    );
    every_client_writes_again(&clients).await;
    timings
}

/// [`CLIENTS`] clients, each signed in (its own session in the store).
async fn signed_in_clients(server: &Server) -> Vec<Client> {
    let mut set = JoinSet::new();
    for i in 0..CLIENTS {
        let client = Client::new(server.base());
        set.spawn(async move {
            client
                .post_json("/api/login", &json!({ "user": format!("load-{i}") }))
                .await
                .expect(200);
            client
        });
    }
    set.join_all().await
}

/// Alternates a session request and `/health` until `stop` or the request cap.
async fn run_client(
    client: Client,
    t0: Instant,
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
) {
    for i in 0..MAX_REQUESTS_PER_CLIENT {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let start = t0.elapsed();
        let (route, what, answer) = match i % 4 {
            0 => (
                Route::Session,
                "PUT /api/data/load",
                client.put_json("/api/data/load", &json!(i)).await,
            ),
            2 => (Route::Session, "GET /api/me", client.get("/api/me").await),
            _ => (Route::Health, "GET /health", client.get("/health").await),
        };
        let sample = Sample {
            route,
            what,
            start,
            end: t0.elapsed(),
            status: answer.status,
        };
        lock(&samples).push(sample);
        tokio::time::sleep(PAUSE).await;
    }
}

fn lock(samples: &Mutex<Vec<Sample>>) -> std::sync::MutexGuard<'_, Vec<Sample>> {
    samples.lock().unwrap_or_else(|p| p.into_inner())
}

fn snapshot(samples: &Mutex<Vec<Sample>>) -> Vec<Sample> {
    lock(samples).clone()
}

/// The first successful session request started at or after `since`.
fn first_success_after(samples: &[Sample], since: Duration) -> Option<&Sample> {
    samples
        .iter()
        .filter(|s| s.route == Route::Session && s.start >= since && s.status == 200)
        .min_by_key(|s| s.end)
}

/// Checks every sample against the timeline and measures the timings.
fn check(
    samples: &[Sample],
    kill_sent: Duration,
    killed: Duration,
    restarting: Duration,
    listening: Duration,
    bound: Duration,
) -> Timings {
    let (health, session): (Vec<&Sample>, Vec<&Sample>) =
        samples.iter().partition(|s| s.route == Route::Health);
    for s in &health {
        assert_eq!(
            s.status, 200,
            "{} at {:?} answered {}",
            s.what, s.start, s.status
        );
    }
    for s in &session {
        let (phase, allowed): (&str, &[u16]) = if s.end < kill_sent {
            ("with the store up", &[200])
        } else if s.start >= killed && s.end < restarting {
            ("with the store down", &[503])
        } else {
            ("around a kill or restart", &[200, 503])
        };
        assert!(
            allowed.contains(&s.status),
            "{} {phase} (started {:?}, store killed between {kill_sent:?} and {killed:?}, \
             restarted at {restarting:?}) answered {}, expected one of {allowed:?}",
            s.what,
            s.start,
            s.status
        );
        assert!(
            s.latency() <= bound,
            "{} started at {:?} took {:?}, more than the bound {bound:?} (store killed at \
             {killed:?})",
            s.what,
            s.start,
            s.latency()
        );
    }
    let first_503 = session
        .iter()
        .filter(|s| s.status == 503)
        .map(|s| s.end)
        .min()
        .unwrap_or_else(|| panic!("no session request answered 503 while the store was down"));
    let max_outage_latency = session
        .iter()
        .filter(|s| s.start >= killed && s.start < restarting)
        .map(|s| s.latency())
        .max()
        .unwrap_or_default();
    let first_success = first_success_after(samples, listening)
        .map(|s| s.end - listening)
        .unwrap_or_else(|| {
            panic!("no session request succeeded within {RECOVERY_LIMIT:?} of the store's restart")
        });
    assert!(
        first_success <= RECOVERY_LIMIT,
        "session routes took {first_success:?} to succeed again after the store came back \
         (limit {RECOVERY_LIMIT:?})"
    );
    Timings {
        first_503: first_503 - killed,
        max_outage_latency,
        restart: listening - restarting,
        first_success,
        session_requests: (
            session.len(),
            session.iter().filter(|s| s.status == 503).count(),
        ),
        health_requests: health.len(),
    }
}

/// After the outage, every client writes and reads a value through its session.
async fn every_client_writes_again(clients: &[Client]) {
    let mut set = JoinSet::new();
    for (i, client) in clients.iter().cloned().enumerate() {
        set.spawn(async move {
            client
                .put_json("/api/data/after", &json!(i))
                .await
                .expect(200);
            assert_eq!(
                client.get("/api/data/after").await.expect(200).json(),
                json!(i)
            );
        });
    }
    while let Some(result) = set.join_next().await {
        if let Err(e) = result {
            panic!("a session request failed after the store came back: {e}");
        }
    }
}
