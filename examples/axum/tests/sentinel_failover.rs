//! A Redis Sentinel failover under load: `example-axum` on a private deployment (one
//! master, two replicas, three sentinels on loopback) while its master is SIGKILLed.
//! Session routes answer 503 while there is no master (never hang), `/health` stays 200,
//! session routes recover without a restart once a replica is promoted, and — every write
//! confirmed by a replica (`wait=1`) — no acknowledged write is lost. The run without the
//! durability option reports what it lost and asserts nothing about it.
//!
//! The runs take the outage tests' turns (`one_at_a_time`): they load the machine too.

use std::time::Duration;

use example_support::testing::failover::{FailoverReport, failover_under_load};
use example_support::testing::outage::one_at_a_time;

const BIN: &str = env!("CARGO_BIN_EXE_example-axum");

/// The bound on one store operation given to the app (`SESSION_STORE_TIMEOUT_MS`).
const OPERATION: Duration = Duration::from_millis(2000);

fn report(what: &str, r: &FailoverReport) {
    eprintln!(
        "failover[redis+sentinel, {what}]: master {} -> {}; first 503 {:?} after the kill; \
         window (kill to first success after the first 503) {:?}; max session latency {:?} \
         (bound 2 x {OPERATION:?} + 2 s); writes {} answered 200, {} answered 503; \
         acknowledged writes lost: {}",
        r.masters.0,
        r.masters.1,
        r.first_503,
        r.window,
        r.max_latency,
        r.writes.0,
        r.writes.1,
        r.lost
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_with_wait_loses_no_acknowledged_write() {
    let _turn = one_at_a_time().await;
    let r = failover_under_load(BIN, "?wait=1&wait_timeout_ms=500", OPERATION).await;
    report("wait=1", &r);
    assert_ne!(
        r.masters.0, r.masters.1,
        "the sentinels promoted no replica"
    );
    assert_eq!(r.lost, 0, "acknowledged writes were lost: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_without_wait_recovers() {
    let _turn = one_at_a_time().await;
    let r = failover_under_load(BIN, "", OPERATION).await;
    report("no wait", &r);
    assert_ne!(
        r.masters.0, r.masters.1,
        "the sentinels promoted no replica"
    );
}
