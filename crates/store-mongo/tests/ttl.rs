//! The server's TTL monitor, not the store, deletes expired sessions.

mod common;

use std::time::{Duration, Instant};

use session_core::{
    Timestamp,
    store::{CreateOutcome, Record, SessionStore, StoreKey},
};
use store_mongo::mongodb::bson::doc;

#[tokio::test]
async fn server_deletes_expired_documents_by_itself() {
    let store = common::make_store().await;
    let key = StoreKey::random();
    let now = Timestamp::now();
    let record = Record::new(now, now.add(Duration::from_millis(1500)), false);
    let created = store.create(&key, &record).await.expect("create failed");
    assert_eq!(created, CreateOutcome::Created);
    let raw = store.collection();
    let present = || async {
        raw.count_documents(doc! { "_id": key.as_str() })
            .await
            .expect("count_documents failed")
    };
    assert_eq!(present().await, 1, "the document was not stored");

    let deadline = Instant::now() + Duration::from_secs(10);
    while present().await > 0 {
        assert!(
            Instant::now() < deadline,
            "the server kept an expired document for 10 s: is its TTL monitor running \
             (SecantusDB ttl_sweep_seconds=1, mongod ttlMonitorSleepSecs=1)?"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(store.delete_expired().await.expect("delete_expired"), 0);
}
