//! The Express-compatible conformance cases on the connect-mongo layout (`MONGO_URI`,
//! required), one fresh collection per case; plus reading `stringify: false` documents.

#[allow(dead_code)] // the helpers serve every test file
mod common;

use std::time::Duration;

use session_core::express::ExpressFormat;
use session_core::{
    Timestamp,
    store::{SessionStore, StoreKey},
};
use store_mongo::mongodb::bson::{DateTime, doc};
use store_mongo::{ConnectMongoLayout, ConnectMongoStore};

async fn layout() -> ConnectMongoLayout {
    let layout = ConnectMongoLayout::new(common::fresh_collection().await)
        .with_operation_timeout(Duration::from_secs(10));
    layout
        .migrate()
        .await
        .expect("cannot create the TTL index (is MONGO_URI up?)");
    layout
}

async fn make() -> ConnectMongoStore {
    ConnectMongoStore::new(layout().await, ExpressFormat::default())
}

session_core::express_conformance_tests!(make());

/// A document as connect-mongo writes it with `stringify: false` (sub-document, nulls,
/// BSON dates) loads; so does one without `expires` (immortal for connect-mongo).
#[tokio::test]
async fn stringify_false_and_immortal_documents_load() {
    let layout = layout().await;
    let sid = StoreKey::random();
    let expires = DateTime::from_millis(Timestamp::now().as_millis() + 3_600_000);
    let document = doc! {
        "_id": sid.as_str(),
        "expires": expires,
        "lastModified": DateTime::now(),
        "session": {
            "cookie": {"originalMaxAge": null, "partitioned": null, "priority": null,
                       "expires": null, "secure": null, "httpOnly": true, "domain": null,
                       "path": "/", "sameSite": null},
            "user": "frank", "when": "2026-01-01", "seen": DateTime::from_millis(0),
        },
    };
    layout
        .collection()
        .insert_one(document)
        .await
        .expect("insert");
    let store = ConnectMongoStore::new(layout.clone(), ExpressFormat::default());
    let record = store.load(&sid).await.expect("load").expect("live");
    assert_eq!(record.user.as_deref(), Some("frank"));
    assert_eq!(record.expires_at.as_millis(), expires.timestamp_millis());
    assert_eq!(
        record.data["seen"],
        serde_json::json!("1970-01-01T00:00:00.000Z")
    );
    assert!(!record.persistent);

    let immortal = StoreKey::random();
    let document = doc! { "_id": immortal.as_str(), "session": r#"{"cookie":{},"n":1}"# };
    layout
        .collection()
        .insert_one(document)
        .await
        .expect("insert");
    let record = store.load(&immortal).await.expect("load").expect("live");
    assert_eq!(record.data["n"], serde_json::json!(1));
}
