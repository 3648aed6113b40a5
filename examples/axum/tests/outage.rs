//! Store outages and recovery: `example-axum` under 50 concurrent clients while its private
//! store server (a `redis-server`, a SecantusDB, a PostgreSQL cluster) is killed and
//! restarted on the same loopback port, or frozen (SIGSTOP to every process of the
//! server) for longer than the operation bound and thawed (SIGCONT). Session routes answer
//! 503 within the configured operation bound, `/health` stays 200, the process survives,
//! and session routes work again within 5 s of the restart or the thaw.
//!
//! The runs take turns (`one_at_a_time`): each asserts latency bounds, so they must not
//! load the machine for each other. A missing `redis-server`, SecantusDB venv, `initdb`
//! or `postgres` fails the test; nothing is skipped.

use std::time::Duration;

use example_support::testing::daemon::Daemon;
use example_support::testing::outage::{Fault, Timings, one_at_a_time, outage_and_recovery};

const BIN: &str = env!("CARGO_BIN_EXE_example-axum");

/// The bound on one store operation given to the app (`SESSION_STORE_TIMEOUT_MS`, every
/// store). Below the stores' 4 s default to keep the runs short; MongoDB's driver keeps the
/// store's own 2 s server-selection and connect timeouts.
const OPERATION: Duration = Duration::from_millis(2000);

async fn run(store: &str, daemon: &mut Daemon, url: &str, fault: Fault) {
    let ms = OPERATION.as_millis().to_string();
    let env = [("SESSION_STORE_TIMEOUT_MS", ms.as_str())];
    let t = outage_and_recovery(BIN, daemon, url, &env, fault, OPERATION).await;
    report(store, fault, &t);
}

fn report(store: &str, fault: Fault, t: &Timings) {
    let (repair, recovery) = match fault {
        Fault::Kill => ("store listened again after", "after it listened"),
        Fault::Freeze => ("SIGCONT sent in", "after the SIGCONT"),
    };
    eprintln!(
        "outage[{store}, {fault:?}]: first 503 {:?} after the fault; max session latency \
         while down {:?} (bound {OPERATION:?} + slack); {repair} {:?}; first success {:?} \
         {recovery}; {} session requests ({} answered 503), {} /health requests (all 200)",
        t.first_503,
        t.max_outage_latency,
        t.repair,
        t.first_success,
        t.session_requests.0,
        t.session_requests.1,
        t.health_requests
    );
}

fn redis_url(redis: &Daemon) -> String {
    format!("redis://127.0.0.1:{}", redis.port())
}

fn mongo_url(mongo: &Daemon) -> String {
    format!("mongodb://127.0.0.1:{}/outage", mongo.port())
}

fn postgres_url(postgres: &Daemon) -> String {
    format!("postgres://postgres@127.0.0.1:{}/postgres", postgres.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_and_recovery() {
    let _turn = one_at_a_time().await;
    let mut redis = Daemon::redis().await;
    let url = redis_url(&redis);
    run("redis", &mut redis, &url, Fault::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_freeze_and_recovery() {
    let _turn = one_at_a_time().await;
    let mut redis = Daemon::redis().await;
    let url = redis_url(&redis);
    run("redis", &mut redis, &url, Fault::Freeze).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_outage_and_recovery() {
    let _turn = one_at_a_time().await;
    let mut mongo = Daemon::secantus(BIN).await;
    let url = mongo_url(&mongo);
    run("mongo", &mut mongo, &url, Fault::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_freeze_and_recovery() {
    let _turn = one_at_a_time().await;
    let mut mongo = Daemon::secantus(BIN).await;
    let url = mongo_url(&mongo);
    run("mongo", &mut mongo, &url, Fault::Freeze).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_and_recovery() {
    let _turn = one_at_a_time().await;
    let mut postgres = Daemon::postgres().await;
    let url = postgres_url(&postgres);
    run("postgres", &mut postgres, &url, Fault::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_freeze_and_recovery() {
    let _turn = one_at_a_time().await;
    let mut postgres = Daemon::postgres().await;
    let url = postgres_url(&postgres);
    run("postgres", &mut postgres, &url, Fault::Freeze).await;
}
