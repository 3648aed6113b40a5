//! The pieces of the rotation and revocation protocols the conformance suite cannot reach
//! directly: what a pending placeholder or a binding intent left mid-protocol looks like
//! to every other operation, and what a revocation does to them.

mod common;

use std::time::Duration;

use serde_json::json;
use session_core::{
    Timestamp,
    store::{
        ApplyOutcome, Changeset, CreateOutcome, Record, RotateOutcome, SessionStore, StoreKey,
    },
};
use store_mongo::mongodb::bson::oid::ObjectId;
use store_mongo::mongodb::bson::{DateTime, Document, doc};

fn date_in(secs: i64) -> DateTime {
    DateTime::from_millis(Timestamp::now().as_millis() + secs * 1000)
}

fn record_of(user: Option<&str>) -> Record {
    let now = Timestamp::now();
    let mut record = Record::new(now, now.add(Duration::from_secs(3600)), false);
    record.data.insert("n".into(), json!(1).into());
    record.user = user.map(str::to_owned);
    record.authenticated_at = user.map(|_| now);
    record
}

fn user() -> String {
    format!("user-{}", &StoreKey::random().as_str()[..12])
}

/// A placeholder as step 1 of a rotation leaves it.
fn placeholder(key: &StoreKey, user: &str) -> Document {
    doc! { "_id": key.as_str(), "user": user, "pending_until": date_in(60) }
}

#[tokio::test]
async fn a_pending_placeholder_is_invisible_and_revocation_deletes_it_uncounted() {
    let store = common::make_store().await;
    let user = user();
    let key = StoreKey::random();
    let raw = store.collection();
    raw.insert_one(placeholder(&key, &user))
        .await
        .expect("insert failed");

    assert_eq!(store.load(&key).await.expect("load"), None);
    assert!(
        store
            .sessions_of(&user, &Default::default())
            .await
            .expect("list")
            .sessions
            .is_empty()
    );
    assert!(!store.touch(&key, Timestamp::now()).await.expect("touch"));
    let changes = Changeset::new(Timestamp::now().add(Duration::from_secs(60)));
    let applied = store.apply(&key, &changes, None).await.expect("apply");
    assert_eq!(applied, ApplyOutcome::Missing);
    let created = store.create(&key, &record_of(None)).await.expect("create");
    assert_eq!(created, CreateOutcome::AlreadyExists);
    let from = StoreKey::random();
    assert_eq!(
        store.create(&from, &record_of(None)).await.expect("create"),
        CreateOutcome::Created
    );
    let rotated = store.rotate(&from, &key, &changes, None).await;
    assert_eq!(rotated.expect("rotate"), RotateOutcome::KeyTaken);
    assert!(store.load(&from).await.expect("load").is_some());

    let live = StoreKey::random();
    let created = store.create(&live, &record_of(Some(&user))).await;
    assert_eq!(created.expect("create"), CreateOutcome::Created);
    assert_eq!(
        store.delete_sessions_of(&user, None).await.expect("revoke"),
        1
    );
    let left = raw.count_documents(doc! { "_id": key.as_str() }).await;
    assert_eq!(
        left.expect("count"),
        0,
        "the placeholder survived the revocation"
    );
}

#[tokio::test]
async fn revocation_pulls_binding_intents_but_not_the_kept_sessions() {
    let store = common::make_store().await;
    let user = user();
    let (anonymous, kept) = (StoreKey::random(), StoreKey::random());
    for key in [&anonymous, &kept] {
        let created = store.create(key, &record_of(None)).await.expect("create");
        assert_eq!(created, CreateOutcome::Created);
        let intent = doc! { "$push": { "binds": { "u": &user, "t": ObjectId::new() } } };
        let raw = store.collection();
        let pushed = raw.update_one(doc! { "_id": key.as_str() }, intent).await;
        assert_eq!(pushed.expect("push").matched_count, 1);
    }
    let n = store.delete_sessions_of(&user, Some(&kept)).await;
    assert_eq!(n.expect("revoke"), 0);
    let intents = |key: &StoreKey| {
        let filter = doc! { "_id": key.as_str(), "binds.u": &user };
        store.collection().count_documents(filter)
    };
    assert_eq!(intents(&anonymous).await.expect("count"), 0);
    assert_eq!(intents(&kept).await.expect("count"), 1);
    // The anonymous session itself is untouched and still loads.
    let loaded = store.load(&anonymous).await.expect("load");
    let loaded = loaded.expect("the anonymous session went");
    assert_eq!((loaded.user, loaded.version), (None, 1));
    assert_eq!(loaded.data.get("n"), Some(&json!(1).into()));
}

#[tokio::test]
async fn an_earlier_revocation_never_replaces_a_later_one() {
    let store = common::make_store().await;
    let user = user();
    let later = date_in(600);
    let revocations = store.revocation_collection();
    revocations
        .insert_one(doc! { "_id": &user, "at": later, "kept": "k" })
        .await
        .expect("insert failed");
    assert_eq!(
        store.delete_sessions_of(&user, None).await.expect("revoke"),
        0
    );
    let found = revocations.find_one(doc! { "_id": &user }).await;
    let found = found.expect("find").expect("the revocation went");
    assert_eq!(found.get_datetime("at").ok(), Some(&later));
    assert_eq!(found.get_str("kept").ok(), Some("k"));
}

#[tokio::test]
async fn revocations_older_than_the_horizon_are_ignored_and_expire() {
    let store = common::make_store().await;
    let user = user();
    let revocations = store.revocation_collection();
    let long_ago = date_in(-2 * 3600);
    revocations
        .insert_one(doc! { "_id": &user, "at": long_ago, "kept": null })
        .await
        .expect("insert failed");
    let mut record = record_of(Some(&user));
    record.authenticated_at = Some(Timestamp::from_millis(long_ago.timestamp_millis() - 1000));
    let created = store.create(&StoreKey::random(), &record).await;
    assert_eq!(created.expect("create"), CreateOutcome::Created);

    let mut indexes = revocations.list_indexes().await.expect("list_indexes");
    let mut ttl = None;
    while indexes.advance().await.expect("next index") {
        let index = indexes.deserialize_current().expect("index");
        if index.keys.contains_key("at") {
            ttl = index.options.and_then(|o| o.expire_after);
        }
    }
    assert_eq!(ttl, Some(session_core::store::REVOCATION_HORIZON));
}

#[tokio::test]
async fn documents_without_authenticated_at_still_load() {
    let store = common::make_store().await;
    let key = StoreKey::random();
    let old = doc! {
        "_id": key.as_str(),
        "data": { "a": "1" },
        "created_at": DateTime::now(),
        "expires_at": date_in(3600),
        "user": "someone",
        "persistent": false,
        "version": 3_i64,
    };
    store.collection().insert_one(old).await.expect("insert");
    let loaded = store.load(&key).await.expect("load").expect("the record");
    assert_eq!(loaded.authenticated_at, None);
    assert_eq!(loaded.user.as_deref(), Some("someone"));
}
