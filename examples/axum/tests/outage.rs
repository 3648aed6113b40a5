//! Store outage and recovery: `example-axum` under 50 concurrent clients while its private
//! store server (a `redis-server`, a SecantusDB) is killed and restarted on the same
//! loopback port. Session routes answer 503 within the configured timeout, `/health` stays
//! 200, the process survives, and session routes work again within 5 s of the restart.

use std::time::Duration;

use example_support::testing::daemon::Daemon;
use example_support::testing::outage::{Timings, outage_and_recovery};

const BIN: &str = env!("CARGO_BIN_EXE_example-axum");

/// The store timeout given to the app (Redis: `SESSION_STORE_TIMEOUT_MS`; MongoDB:
/// `serverSelectionTimeoutMS` and `connectTimeoutMS` in the URI).
const STORE_TIMEOUT: Duration = Duration::from_millis(2000);
/// The longest a session request may take: two store operations (load, save) of up to
/// `STORE_TIMEOUT` each, plus slack for a loaded machine.
const BOUND: Duration = Duration::from_millis(2 * 2000 + 2000);

fn report(store: &str, t: &Timings) {
    eprintln!(
        "outage[{store}]: first 503 {:?} after the kill; max session latency while down {:?}; \
         store listened again after {:?}; first success {:?} after that; {} session requests \
         ({} answered 503), {} /health requests (all 200)",
        t.first_503,
        t.max_outage_latency,
        t.restart,
        t.first_success,
        t.session_requests.0,
        t.session_requests.1,
        t.health_requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_and_recovery() {
    let mut redis = Daemon::redis().await;
    let url = format!("redis://127.0.0.1:{}", redis.port());
    let timeout = STORE_TIMEOUT.as_millis().to_string();
    let env = [("SESSION_STORE_TIMEOUT_MS", timeout.as_str())];
    let timings = outage_and_recovery(BIN, &mut redis, &url, &env, BOUND).await;
    report("redis", &timings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_outage_and_recovery() {
    let mut mongo = Daemon::secantus(BIN).await;
    let ms = STORE_TIMEOUT.as_millis();
    let url = format!(
        "mongodb://127.0.0.1:{}/outage?serverSelectionTimeoutMS={ms}&connectTimeoutMS={ms}",
        mongo.port()
    );
    let timings = outage_and_recovery(BIN, &mut mongo, &url, &[], BOUND).await;
    report("mongo", &timings);
}
