//! Shared test helpers: a fresh store on a randomly named collection of `MONGO_URI`.

use std::time::Duration;

use session_core::store::StoreKey;
use store_mongo::MongoStore;
use store_mongo::mongodb::bson::Document;
use store_mongo::mongodb::options::ClientOptions;
use store_mongo::mongodb::{Client, Collection};

/// A collection nobody else uses, on the server named by `MONGO_URI`.
///
/// # Panics
/// When `MONGO_URI` is unset or its server cannot be reached: these tests never skip.
pub async fn fresh_collection() -> Collection<Document> {
    let uri = mongo_uri();
    let mut options = ClientOptions::parse(&uri)
        .await
        .unwrap_or_else(|e| panic!("bad MONGO_URI {uri:?}: {e}"));
    options.server_selection_timeout = Some(Duration::from_secs(5));
    let client =
        Client::with_options(options).unwrap_or_else(|e| panic!("bad MONGO_URI {uri:?}: {e}"));
    let name = format!("sessions_{}", &StoreKey::random().as_str()[..16]);
    client.database("store_mongo_tests").collection(&name)
}

/// A migrated store on a fresh collection (see [`fresh_collection`]).
///
/// Its operation timeout is 10 s, not the default 4 s: the test server (one Python process)
/// is shared by parallel cases and other crates' tests, and a case that sends 50 writes at
/// once must not fail on latency. `tests/timeout.rs` checks the bound itself.
pub async fn make_store() -> MongoStore {
    let store =
        MongoStore::new(fresh_collection().await).with_operation_timeout(Duration::from_secs(10));
    store.migrate().await.unwrap_or_else(|e| {
        panic!(
            "cannot reach MongoDB at {}: set MONGO_URI or run cargo xtask test-all ({e})",
            mongo_uri()
        )
    });
    store
}

fn mongo_uri() -> String {
    std::env::var("MONGO_URI").unwrap_or_else(|_| {
        panic!("MONGO_URI is not set: set MONGO_URI or run cargo xtask test-all")
    })
}
