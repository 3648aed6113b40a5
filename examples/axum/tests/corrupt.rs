//! Garbage written straight into a live session's stored record, on every backend: the
//! client gets a fresh session (200, no user), the binary logs a warning and keeps running.

mod raw_store;

use example_support::testing::Client;
use example_support::testing::attacks::id_of;
use raw_store::{Kind, expected_store_key};
use serde_json::json;

async fn corrupt_records_give_a_fresh_session_and_a_warning(kind: Kind) {
    // A short idle timeout: the corrupt record left behind expires within a minute.
    let mut setup = kind.start(&[("SESSION_IDLE_SECS", "60")]).await;
    let client = Client::new(setup.app.base());
    let user = format!("corrupt-{}", &example_support::testing::test_key()[..10]);
    client
        .post_json("/api/login", &json!({ "user": user }))
        .await
        .expect(200);
    client.post("/api/count").await.expect(200);
    let cookie = client.cookie().unwrap_or_else(|| panic!("no cookie"));
    let key = expected_store_key(&cookie);

    setup.raw.corrupt(&key).await;
    assert_eq!(
        client.get("/api/me").await.expect(200).json(),
        json!({"user": null, "count": 0}),
        "{kind:?}: a corrupt record reads as no session"
    );
    let log = setup.app.log_text();
    let warning = log
        .lines()
        .find(|l| l.contains("corrupt session record"))
        .unwrap_or_else(|| panic!("{kind:?}: no warning in the log:\n{log}"));
    assert!(warning.contains("WARN"), "{kind:?}: {warning}");
    assert!(
        warning.contains(&key),
        "{kind:?}: names the store key: {warning}"
    );
    assert!(!log.contains("panicked"), "{kind:?}: {log}");

    assert_eq!(
        client.post("/api/count").await.expect(200).json(),
        json!({"count": 1}),
        "{kind:?}: a write starts a fresh session"
    );
    let fresh = client.cookie().unwrap_or_else(|| panic!("no fresh cookie"));
    assert_ne!(
        id_of(&fresh),
        id_of(&cookie),
        "{kind:?}: the corrupt id was kept"
    );
    client.get("/health").await.expect(200);
    assert!(setup.app.is_running(), "{kind:?}: the process died");
    client.post("/api/logout").await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    corrupt_records_give_a_fresh_session_and_a_warning(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    corrupt_records_give_a_fresh_session_and_a_warning(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    corrupt_records_give_a_fresh_session_and_a_warning(Kind::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster() {
    corrupt_records_give_a_fresh_session_and_a_warning(Kind::RedisCluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo() {
    corrupt_records_give_a_fresh_session_and_a_warning(Kind::Mongo).await;
}
