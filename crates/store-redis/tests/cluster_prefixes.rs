//! Key prefixes with braces on a Redis Cluster (`REDIS_CLUSTER_URLS`, required): a
//! user's revocation record must share its index's slot (else Redis answers CROSSSLOT),
//! and prefixes that cannot guarantee it are refused up front.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use session_core::{
    Timestamp,
    store::{Changeset, CreateOutcome, Record, RotateOutcome, SessionStore, StoreKey},
};

async fn cluster_raw() -> store_redis::RedisStore {
    let urls = common::cluster_urls();
    store_redis::RedisStore::connect_cluster(urls.iter().map(String::as_str))
        .await
        .expect("cannot reach the Redis Cluster")
}

#[tokio::test]
async fn prefixes_with_braces_keep_each_user_in_one_slot() {
    let run = StoreKey::random().as_str()[..8].to_owned();
    for prefix in [
        format!("t{run}:{{tenant}}:"),
        format!("t{run}{{open:"),
        format!("t{run}:a}}{{b}}:"),
    ] {
        let store = cluster_raw().await.with_prefix(prefix.clone());
        let user = format!("{{u}}:{run}");
        let now = Timestamp::now();
        let mut record = Record::new(now, now.add(Duration::from_secs(60)), false);
        record.user = Some(user.clone());
        let key = StoreKey::random();
        let created = store.create(&key, &record).await;
        assert_eq!(created.expect(&prefix), CreateOutcome::Created, "{prefix}");
        let to = StoreKey::random();
        let changes = Changeset::new(now.add(Duration::from_secs(60)));
        let rotated = store.rotate(&key, &to, &changes, None).await;
        assert!(matches!(rotated.expect(&prefix), RotateOutcome::Rotated(_)));
        let revoked = store.delete_sessions_of(&user, None).await;
        assert_eq!(revoked.expect(&prefix), 1, "{prefix}");
    }
}

#[tokio::test]
async fn prefixes_that_split_a_user_across_slots_are_refused() {
    let store = cluster_raw().await;
    for prefix in ["a}b:", "x{}y:"] {
        let store = store.clone();
        let refused = catch_unwind(AssertUnwindSafe(move || store.with_prefix(prefix)));
        assert!(refused.is_err(), "{prefix:?} was accepted on a cluster");
    }
    // A single server has no slots: any prefix works there.
    let standalone = common::standalone()
        .await
        .with_prefix(format!("a}}b:{}:", &StoreKey::random().as_str()[..8]));
    assert_eq!(
        standalone
            .delete_sessions_of("nobody", None)
            .await
            .expect("standalone"),
        0
    );
}
