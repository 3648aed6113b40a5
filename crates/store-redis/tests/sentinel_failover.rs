//! A failover the store must follow by itself (`REDIS_SENTINEL_URL`, required): the
//! sentinels are told to fail over (`SENTINEL FAILOVER`, so the old master is demoted and
//! its clients disconnected, not killed); the same store keeps answering `Ok` or
//! `Unavailable` (never another error, never a hang past its bound) and then writes to
//! the new master (checked there directly: a write the old master took just before its
//! demotion does not count), where a session written before the failover is still there. The
//! deployment is left healthy (a master with two replicas in sync) for the tests after it.
//! Run with `WAIT 2` (every replica), no acknowledged write may be lost; with `WAIT 1` the
//! losses are reported. The examples' `sentinel_failover` test kills the master instead.

mod common;

use std::time::{Duration, Instant};

use session_core::{
    Timestamp,
    store::{CreateOutcome, Record, SessionStore, StoreError, StoreKey},
};

/// The longest the sentinels may take to promote a replica and the store to follow.
const LIMIT: Duration = Duration::from_secs(30);

fn record() -> Record {
    Record::new(
        Timestamp::now(),
        Timestamp::now() + Duration::from_secs(300),
        false,
    )
}

/// The first sentinel's address, from `REDIS_SENTINEL_URL`.
fn first_sentinel() -> String {
    let url = common::sentinel_url();
    let hosts = url
        .strip_prefix("redis+sentinel://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("REDIS_SENTINEL_URL={url} is not redis+sentinel://h:p,…/m"));
    let host = hosts.split(',').next().unwrap_or(hosts).trim();
    format!("redis://{host}")
}

async fn sentinel_conn() -> redis::aio::MultiplexedConnection {
    let url = first_sentinel();
    redis::Client::open(url.as_str())
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("cannot reach the sentinel at {url}: {e}"))
}

async fn master_addr(sentinel: &mut redis::aio::MultiplexedConnection) -> String {
    let addr: Vec<String> = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(master_name())
        .query_async(sentinel)
        .await
        .unwrap_or_else(|e| panic!("SENTINEL GET-MASTER-ADDR-BY-NAME: {e}"));
    addr.join(":")
}

fn master_name() -> String {
    let url = common::sentinel_url();
    url.rsplit('/')
        .next()
        .and_then(|m| m.split('?').next())
        .unwrap_or_default()
        .to_owned()
}

/// Whether the node at `addr` holds `key` (`false` when it cannot be asked).
async fn exists_on(addr: &str, key: &str) -> bool {
    let url = format!("redis://{addr}");
    let found = async {
        let mut conn = redis::Client::open(url.as_str())
            .ok()?
            .get_multiplexed_async_connection()
            .await
            .ok()?;
        redis::cmd("EXISTS")
            .arg(key)
            .query_async::<i64>(&mut conn)
            .await
            .ok()
    }
    .await;
    found == Some(1)
}

/// Waits until the master at `addr` has two replicas online, so the tests after this one
/// (`WAIT 2`) find the deployment as they expect it.
async fn wait_two_replicas(addr: &str, deadline: Instant) {
    let url = format!("redis://{addr}");
    loop {
        let online = async {
            let mut conn = redis::Client::open(url.as_str())
                .ok()?
                .get_multiplexed_async_connection()
                .await
                .ok()?;
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query_async(&mut conn)
                .await
                .ok()?;
            Some(info.matches("state=online").count())
        }
        .await;
        if online == Some(2) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the new master {addr} has {online:?} replicas online, not 2, after {LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One `SENTINEL FAILOVER` followed by a store whose writes wait for `replicas`; returns
/// how many acknowledged writes were lost.
async fn follow_a_failover(replicas: u32) -> usize {
    let prefix = common::random_prefix();
    let store = common::sentinel_builder()
        .wait_for_replicas(replicas, Duration::from_millis(500))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("cannot connect through the sentinels: {e}"))
        .with_prefix(prefix.clone());
    let before = StoreKey::random();
    assert_eq!(
        store.create(&before, &record()).await.expect("create"),
        CreateOutcome::Created
    );
    let mut sentinel = sentinel_conn().await;
    let old = master_addr(&mut sentinel).await;
    let _: String = redis::cmd("SENTINEL")
        .arg("FAILOVER")
        .arg(master_name())
        .query_async(&mut sentinel)
        .await
        .unwrap_or_else(|e| panic!("SENTINEL FAILOVER: {e}"));

    let started = Instant::now();
    let deadline = started + LIMIT;
    let (mut failures, mut wrote_after) = (0usize, false);
    let mut acknowledged = Vec::new();
    while !wrote_after {
        assert!(
            Instant::now() < deadline,
            "no write reached a new master within {LIMIT:?} ({failures} unavailable)"
        );
        let key = StoreKey::random();
        let call = Instant::now();
        match store.create(&key, &record()).await {
            Ok(CreateOutcome::Created) => {
                acknowledged.push(key.clone());
                // Written on the new master, not on the old one before its demotion.
                let now = master_addr(&mut sentinel).await;
                wrote_after =
                    now != old && exists_on(&now, &format!("{prefix}{}", key.as_str())).await;
            }
            Ok(other) => panic!("a fresh key answered {other:?}"),
            Err(StoreError::Unavailable(_)) => failures += 1,
            Err(e) => panic!("only Unavailable may be seen during a failover: {e}"),
        }
        let bound = Duration::from_secs(4) + Duration::from_millis(500);
        assert!(
            call.elapsed() <= bound,
            "one call took {:?}",
            call.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reached = started.elapsed();
    let new = master_addr(&mut sentinel).await;
    wait_two_replicas(&new, deadline).await;
    // Acknowledged during the switch but not on the new master: taken by the old master
    // after the promotion (reported; the README says why WAIT cannot prevent it).
    let mut lost = 0;
    for key in &acknowledged {
        if store
            .load(key)
            .await
            .expect("load after the failover")
            .is_none()
        {
            lost += 1;
        }
    }
    eprintln!(
        "sentinel failover (SENTINEL FAILOVER, WAIT {replicas}): {old} -> {new}; a write \
         reached the new master {reached:?} after the command; {failures} calls answered \
         Unavailable; {} writes acknowledged meanwhile, {lost} of them lost",
        acknowledged.len()
    );
    assert!(
        store.load(&before).await.expect("load").is_some(),
        "the session written before the failover (confirmed by WAIT) is gone"
    );
    lost
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_follows_a_failover_without_a_restart() {
    // Every replica confirms each write: the promoted one has them all.
    let lost = follow_a_failover(2).await;
    assert_eq!(lost, 0, "acknowledged writes lost with WAIT 2");
    // One replica is not enough when the old master stays up: writes it takes after the
    // promotion can be confirmed by the replica that is not promoted, then discarded
    // when both follow the new master. Reported, not asserted (README, "What a failover
    // can lose").
    follow_a_failover(1).await;
}
