//! `wait_for_replicas` through Sentinel (`REDIS_SENTINEL_URL`, required; the deployment
//! has two replicas): a write that fewer replicas than asked confirm is `Unavailable`,
//! never reported as saved, and reads are unaffected.

mod common;

use std::time::Duration;

use session_core::{
    Timestamp,
    store::{CreateOutcome, Record, SessionStore, StoreError, StoreKey},
};

fn record() -> Record {
    Record::new(
        Timestamp::now(),
        Timestamp::now() + Duration::from_secs(60),
        false,
    )
}

#[tokio::test]
async fn a_write_two_replicas_confirm_is_saved() {
    let store = common::sentinel_builder()
        .wait_for_replicas(2, Duration::from_millis(500))
        .connect()
        .await
        .expect("connect through the sentinels")
        .with_prefix(common::random_prefix());
    let key = StoreKey::random();
    let created = store.create(&key, &record()).await.expect("create");
    assert_eq!(created, CreateOutcome::Created);
    assert!(store.load(&key).await.expect("load").is_some());
}

#[tokio::test]
async fn a_write_fewer_replicas_confirm_is_unavailable() {
    let store = common::sentinel_builder()
        .wait_for_replicas(3, Duration::from_millis(100))
        .connect()
        .await
        .expect("connect through the sentinels")
        .with_prefix(common::random_prefix());
    let key = StoreKey::random();
    let refused = store.create(&key, &record()).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "3 replicas asked, 2 exist: {refused:?}"
    );
    // Reads send no WAIT; the unconfirmed write may be on the master, and that is all.
    store.load(&key).await.expect("a read needs no replica");
}

#[tokio::test]
async fn a_wait_as_long_as_the_response_timeout_is_refused() {
    let timeouts = store_redis::Timeouts {
        connect: Duration::from_millis(500),
        response: Duration::from_millis(500),
    };
    let refused = common::sentinel_builder()
        .timeouts(timeouts)
        .wait_for_replicas(1, Duration::from_millis(500))
        .connect()
        .await;
    assert!(
        matches!(refused, Err(StoreError::Backend(_))),
        "{refused:?}"
    );
}
