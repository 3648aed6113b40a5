//! The memory store stays bounded and cleans up after itself (express-session's
//! MemoryStore does neither).

use std::time::Duration;

use serde_json::json;
use session_core::{
    MemoryLimits, MemoryStore, Timestamp,
    store::{CreateOutcome, Record, SessionStore, StoreKey},
};

fn record(idle: Duration) -> Record {
    let now = Timestamp::now();
    Record::new(now, now.add(idle), false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_sessions_never_exceed_the_bound_and_expire_on_their_own() {
    const BOUND: usize = 10_000;
    let store = MemoryStore::new(MemoryLimits {
        max_entries: BOUND,
        sweep_every: Duration::from_millis(200),
        ..MemoryLimits::default()
    });
    let mut peak = 0;
    for _ in 0..1_000_000 {
        let outcome = store
            .create(&StoreKey::random(), &record(Duration::from_secs(1)))
            .await
            .expect("create");
        assert_eq!(outcome, CreateOutcome::Created);
        peak = peak.max(store.len());
    }
    assert!(peak <= BOUND, "peak {peak} exceeded {BOUND}");
    assert_eq!(peak, BOUND, "the store filled up to its bound");
    eprintln!("1,000,000 inserts: peak entries {peak} (bound {BOUND})");
    // No further store calls: only the sweeper can empty it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(store.len(), 0, "expired sessions were not swept");
    assert_eq!(store.bytes(), 0);
}

#[tokio::test]
async fn the_byte_bound_holds_and_evicts_the_soonest_to_expire() {
    let store = MemoryStore::new(MemoryLimits {
        max_bytes: 50_000,
        ..MemoryLimits::default()
    });
    let mut keys = Vec::new();
    for i in 0..100u64 {
        let mut r = record(Duration::from_secs(3600 + i));
        r.data.insert("blob".into(), json!("x".repeat(1000)).into());
        let key = StoreKey::random();
        let outcome = store.create(&key, &r).await.expect("create");
        assert_eq!(outcome, CreateOutcome::Created);
        assert!(
            store.bytes() <= 50_000,
            "bytes {} over the bound",
            store.bytes()
        );
        keys.push(key);
    }
    assert!(
        store.load(&keys[99]).await.expect("load").is_some(),
        "newest kept"
    );
    assert!(
        store.load(&keys[0]).await.expect("load").is_none(),
        "soonest-to-expire evicted"
    );
}

/// Issue 12's flood: signed-in sessions fill half the bound, then ten times the bound of
/// anonymous sessions is written (each longer-lived than every signed-in one, so
/// "soonest to expire" alone would evict the users first); every signed-in session
/// still loads.
#[tokio::test]
async fn an_anonymous_flood_never_evicts_signed_in_sessions() {
    const FLOOD_BOUND: usize = 10_000;
    let store = MemoryStore::new(MemoryLimits {
        max_entries: FLOOD_BOUND,
        ..MemoryLimits::default()
    });
    let mut users = Vec::new();
    for i in 0..FLOOD_BOUND / 2 {
        let mut r = record(Duration::from_secs(600));
        r.user = Some(format!("user-{i}"));
        let key = StoreKey::random();
        let outcome = store.create(&key, &r).await.expect("create");
        assert_eq!(outcome, CreateOutcome::Created);
        users.push((key, r));
    }
    let started = std::time::Instant::now();
    for _ in 0..FLOOD_BOUND * 10 {
        let outcome = store
            .create(&StoreKey::random(), &record(Duration::from_secs(3600)))
            .await
            .expect("create");
        assert_eq!(outcome, CreateOutcome::Created);
        assert!(store.len() <= FLOOD_BOUND);
    }
    let flood = started.elapsed();
    let mut kept = 0;
    for (key, r) in &users {
        if store.load(key).await.expect("load").as_ref() == Some(r) {
            kept += 1;
        }
    }
    eprintln!(
        "flood: {} signed-in + {} anonymous writes into a bound of {FLOOD_BOUND} in {flood:?}: \
         {kept}/{} signed-in kept, {} entries held",
        users.len(),
        FLOOD_BOUND * 10,
        users.len(),
        store.len()
    );
    assert_eq!(kept, users.len(), "signed-in sessions were evicted");
    assert_eq!(store.len(), FLOOD_BOUND);
}
