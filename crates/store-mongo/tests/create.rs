//! `create` over an expired leftover the TTL monitor has not removed yet.

mod common;

use std::time::Duration;

use session_core::{
    Timestamp,
    store::{CreateOutcome, Record, SessionStore, StoreKey},
};

#[tokio::test]
async fn create_replaces_an_expired_leftover_but_not_a_live_record() {
    let store = common::make_store().await;
    let key = StoreKey::random();
    let now = Timestamp::now();
    let expired = Record::new(now, now.sub(Duration::from_secs(5)), false);
    let fresh = Record::new(now, now.add(Duration::from_secs(3600)), true);

    assert_eq!(
        store.create(&key, &expired).await.expect("create failed"),
        CreateOutcome::Created
    );
    assert_eq!(
        store.create(&key, &fresh).await.expect("create failed"),
        CreateOutcome::Created
    );
    assert_eq!(
        store.load(&key).await.expect("load failed"),
        Some(fresh.clone())
    );
    assert_eq!(
        store.create(&key, &expired).await.expect("create failed"),
        CreateOutcome::AlreadyExists
    );
    assert_eq!(store.load(&key).await.expect("load failed"), Some(fresh));
}
