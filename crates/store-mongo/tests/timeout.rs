//! Every operation is bounded: an unreachable server is `Unavailable` within the
//! operation timeout, never after the driver's 30-second default.

use std::time::{Duration, Instant};

use session_core::store::{SessionStore, StoreError, StoreKey};
use store_mongo::mongodb::Client;
use store_mongo::mongodb::options::ClientOptions;
use store_mongo::{DEFAULT_COLLECTION, DEFAULT_DATABASE, DEFAULT_OPERATION_TIMEOUT, MongoStore};

/// Nothing listens here (port 1 on the loopback interface refuses connections).
const DEAD: &str = "mongodb://127.0.0.1:1/?directConnection=true";

#[tokio::test]
async fn connect_to_a_dead_server_fails_fast() {
    let started = Instant::now();
    let result = MongoStore::connect(DEAD, DEFAULT_DATABASE, DEFAULT_COLLECTION).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < DEFAULT_OPERATION_TIMEOUT + Duration::from_secs(1));
}

#[tokio::test]
async fn the_operation_timeout_bounds_a_patient_client() {
    let mut options = ClientOptions::parse(DEAD).await.expect("options");
    options.server_selection_timeout = Some(Duration::from_secs(30));
    let client = Client::with_options(options).expect("client");
    let limit = Duration::from_millis(300);
    let store =
        MongoStore::new(client.database("db").collection("sessions")).with_operation_timeout(limit);
    assert_eq!(store.operation_timeout(), limit);
    let started = Instant::now();
    let result = store.load(&StoreKey::random()).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    let result = store.delete_sessions_of("someone", None).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
