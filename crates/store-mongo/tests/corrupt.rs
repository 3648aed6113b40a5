//! Documents the store cannot decode are `Corrupt`, never a panic nor a silent `None`.

mod common;

use session_core::{
    Timestamp,
    store::{SessionStore, StoreError, StoreKey},
};
use store_mongo::mongodb::bson::{DateTime, Document, doc};

/// A way to spoil a valid document, named for the failure message.
type Spoiler = (&'static str, fn(&mut Document));

fn future() -> DateTime {
    DateTime::from_millis(Timestamp::now().as_millis() + 3_600_000)
}

fn valid(key: &StoreKey) -> Document {
    doc! {
        "_id": key.as_str(),
        "data": { "a": "1" },
        "created_at": DateTime::now(),
        "expires_at": future(),
        "user": null,
        "persistent": false,
        "version": 1_i64,
    }
}

#[tokio::test]
async fn undecodable_documents_load_as_corrupt() {
    let store = common::make_store().await;
    let raw = store.collection();

    let key = StoreKey::random();
    raw.insert_one(valid(&key)).await.expect("insert failed");
    assert!(store.load(&key).await.expect("valid document").is_some());

    let garbage: [Spoiler; 7] = [
        ("value not JSON text", |d| {
            d.insert("data", doc! { "a": "{not json" });
        }),
        ("value not a string", |d| {
            d.insert("data", doc! { "a": 5 });
        }),
        ("badly escaped key", |d| {
            d.insert("data", doc! { "a%zz": "1" });
        }),
        ("data not a document", |d| {
            d.insert("data", "garbage");
        }),
        ("missing created_at", |d| {
            d.remove("created_at");
        }),
        ("negative version", |d| {
            d.insert("version", -3_i64);
        }),
        ("user not a string", |d| {
            d.insert("user", 42);
        }),
    ];
    for (what, spoil) in garbage {
        let key = StoreKey::random();
        let mut document = valid(&key);
        spoil(&mut document);
        raw.insert_one(document).await.expect("insert failed");
        match store.load(&key).await {
            Err(StoreError::Corrupt(_)) => {}
            other => panic!("{what}: expected Err(Corrupt), got {other:?}"),
        }
    }
}
