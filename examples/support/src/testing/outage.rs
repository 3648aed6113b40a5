//! A store fault under load: an example process serves [`CLIENTS`] concurrent clients while
//! its store server is either killed and restarted on the same port ([`Fault::Kill`]) or
//! frozen with SIGSTOP and thawed with SIGCONT ([`Fault::Freeze`]: its sockets stay open,
//! nothing answers). Session routes must fail fast with 503 (within the store's operation
//! bound, never hang, never take the process down), `/health` must stay 200, and session
//! routes must work again within [`RECOVERY_LIMIT`] of the repair, without restarting the
//! app.

mod timeline;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;

pub use self::timeline::Timings;
use self::timeline::{Bounds, Route, Sample, Timeline, first_success_after};
use super::daemon::Daemon;
use super::{Client, Server, test_key};

/// Concurrent clients, each with its own session.
pub const CLIENTS: usize = 50;
/// Most requests one client sends (half of them `/health`).
const MAX_REQUESTS_PER_CLIENT: usize = 500;
/// A client's pause between two requests.
const PAUSE: Duration = Duration::from_millis(25);
/// Load with the store up, before the fault.
const BASELINE: Duration = Duration::from_millis(1500);
/// How long the store stays down at least (and at least twice the operation bound, so
/// that requests started early in a freeze time out while the store is still frozen).
const OUTAGE: Duration = Duration::from_secs(4);
/// Session routes must succeed again within this long after the repair.
pub const RECOVERY_LIMIT: Duration = Duration::from_secs(5);
/// Load kept up after the first success following the repair.
const AFTER_RECOVERY: Duration = Duration::from_secs(1);
/// What a session request started while the store is down may take beyond the operation
/// bound: the HTTP round trip over loopback, the app's 503, and the scheduling of the
/// app's and this test's tasks on a two-core machine, in debug builds, when the requests
/// that started together as the store stopped time out together. Measured there: at
/// most about 0.2 s. Well below a second store operation (another full bound), which
/// would mean the request did not stop at its first failure.
pub const DOWN_SLACK: Duration = Duration::from_millis(500);
/// What any other session request (a load and a save, each within the operation bound)
/// may take beyond twice the operation bound.
const REQUEST_SLACK: Duration = Duration::from_secs(2);

/// What happens to the store server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL (a crash), then a restart on the same port.
    Kill,
    /// SIGSTOP to the server's processes, then SIGCONT.
    Freeze,
}

/// Set while an outage run holds its turn (see [`one_at_a_time`]).
static BUSY: AtomicBool = AtomicBool::new(false);

/// A turn from [`one_at_a_time`]; dropping it (a panic included) ends the turn.
pub struct Turn(());

impl Drop for Turn {
    fn drop(&mut self) {
        BUSY.store(false, Ordering::Release);
    }
}

/// Waits for the other outage runs of this test process to end. Take it before starting
/// the store server: each run puts [`CLIENTS`] clients on the machine and asserts
/// latency bounds, and several at once (or a SecantusDB import, an `initdb`) would
/// measure each other.
pub async fn one_at_a_time() -> Turn {
    while BUSY
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Turn(())
}

/// Runs `bin` on `store_url` (served by `daemon`) with the extra environment `env`, makes
/// `fault` happen to the store under load, checks the behaviour described in the module
/// docs and returns the timings. `operation` is the bound on one store operation the app
/// was configured with: a session request started while the store is down (at least
/// that bound plus [`DOWN_SLACK`] before the repair) must be answered 503 within it plus
/// [`DOWN_SLACK`]; any other within twice it plus 2 s (a load and a save).
pub async fn outage_and_recovery(
    bin: &str,
    daemon: &mut Daemon,
    store_url: &str,
    env: &[(&str, &str)],
    fault: Fault,
    operation: Duration,
) -> Timings {
    let bounds = Bounds {
        down: operation + DOWN_SLACK,
        any: 2 * operation + REQUEST_SLACK,
    };
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
    let fault_sent = t0.elapsed();
    match fault {
        Fault::Kill => daemon.kill(),
        Fault::Freeze => daemon.freeze(),
    }
    let fault_done = t0.elapsed();
    tokio::time::sleep(OUTAGE.max(2 * operation)).await;
    assert!(
        server.is_running(),
        "the app exited during the outage:\n{}",
        server.log_text()
    );
    let repair_sent = t0.elapsed();
    match fault {
        Fault::Kill => daemon.start().await,
        Fault::Freeze => daemon.thaw(),
    }
    let repaired = t0.elapsed();
    let deadline = repaired + RECOVERY_LIMIT + Duration::from_secs(1);
    while first_success_after(&snapshot(&samples), repaired).is_none() && t0.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(AFTER_RECOVERY).await;
    stop.store(true, Ordering::Relaxed);
    let patience = bounds.any + Duration::from_secs(5);
    let joined = tokio::time::timeout(patience, async {
        while let Some(result) = load.join_next().await {
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

    let timeline = Timeline {
        fault_sent,
        fault_done,
        repair_sent,
        repaired,
    };
    let timings = timeline::check(&snapshot(&samples), &timeline, bounds);
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
