//! Network faults between `example-axum` and its store, under 20 concurrent clients: the
//! app reaches PostgreSQL, Redis and the Mongo stand-in only through a fault-injecting
//! TCP proxy on loopback (`testing::fault_proxy`), which for 4 s blackholes every
//! connection (open, silent, no RST), adds 200 ms each way, or resets connections
//! mid-response. For each: `/health` stays 200, session routes answer within the
//! operation bound (503 when the store cannot answer in time), nothing hangs, no
//! acknowledged write is lost, and session routes work again within 5 s of the fault
//! ending, without a restart. Each run prints its timings.
//!
//! The stores are the shared test services (`POSTGRES_URL`, `REDIS_URL` with local
//! defaults; `MONGO_URI` required): only this test's own connections pass the proxy. The
//! runs take the outage tests' turns (`one_at_a_time`).

use std::time::Duration;

use example_support::testing::fault_proxy::{FaultProxy, NetFault};
use example_support::testing::network_fault::{
    FaultTimings, network_fault_and_recovery, through_proxy,
};
use example_support::testing::outage::one_at_a_time;

const BIN: &str = env!("CARGO_BIN_EXE_example-axum");

/// The bound on one store operation given to the app (`SESSION_STORE_TIMEOUT_MS`), as in
/// the outage tests.
const OPERATION: Duration = Duration::from_millis(2000);
/// The added latency, each way.
const LATENCY: Duration = Duration::from_millis(200);

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The store's URL for `store`, from the environment.
fn store_url(store: &str) -> String {
    match store {
        "postgres" => env_or("POSTGRES_URL", "postgres://root@127.0.0.1:5432/test"),
        "redis" => env_or("REDIS_URL", "redis://127.0.0.1:6379"),
        _ => {
            let uri = std::env::var("MONGO_URI").unwrap_or_else(|_| {
                panic!(
                    "MONGO_URI is not set: `cargo xtask test-all` starts the Mongo stand-in \
                     and sets it (`cargo xtask services` prints the export lines)"
                )
            });
            // Its own database; one server, talked to directly (never rediscovered past
            // the proxy).
            let base = uri
                .split(['?'])
                .next()
                .unwrap_or(&uri)
                .trim_end_matches('/');
            let base = match base.split_once("://") {
                Some((_, rest)) if rest.contains('/') => base.to_owned(),
                _ => format!("{base}/netfaults"),
            };
            format!("{base}?directConnection=true")
        }
    }
}

async fn run(store: &str, fault: NetFault) {
    let _turn = one_at_a_time().await;
    let (upstream, _) = through_proxy(&store_url(store), 0);
    let proxy = FaultProxy::start(upstream).await;
    let (_, url) = through_proxy(&store_url(store), proxy.port());
    let t = network_fault_and_recovery(BIN, &url, &proxy, fault, OPERATION).await;
    report(store, fault, &t);
}

fn report(store: &str, fault: NetFault, t: &FaultTimings) {
    eprintln!(
        "netfault[{store}, {fault:?}]: first 503 {:?} after the fault began; during the fault \
         {} session writes answered 200 and {} answered 503, the slowest in {:?} (bound \
         {OPERATION:?} per operation); first success {:?} after the fault ended; {} writes \
         acknowledged, {} lost; {} /health requests (all 200)",
        t.first_503,
        t.during.0,
        t.during.1,
        t.max_latency,
        t.recovery,
        t.acknowledged,
        t.lost,
        t.health_requests
    );
}

macro_rules! fault_tests {
    ($($store:ident),*) => {
        $(
            mod $store {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn blackhole() {
                    run(stringify!($store), NetFault::Blackhole).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn latency_200ms_each_way() {
                    run(stringify!($store), NetFault::Latency(LATENCY)).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn reset_mid_response() {
                    run(stringify!($store), NetFault::ResetMidResponse).await;
                }
            }
        )*
    };
}

fault_tests!(postgres, redis, mongo);
