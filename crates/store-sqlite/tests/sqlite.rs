//! SQLite behaviour: schema, bad data, awkward keys, cleanup, concurrency. The bodies of
//! the tests shared with the other SQL stores are in `store_sql::testing`.

mod common;

use session_core::SessionStore;
use store_sql::testing::{self, created};
use store_sqlite::SqliteStore;

#[tokio::test]
async fn migrate_is_idempotent_and_creates_the_indexes() {
    let store = common::file_store().await;
    store.migrate().await.expect("second migrate failed");
    store.migrate().await.expect("third migrate failed");
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions' \
         AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(store.pool())
    .await
    .expect("listing indexes failed");
    assert_eq!(indexes, ["sessions_expires_at_idx", "sessions_user_id_idx"]);
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .expect("pragma failed");
    assert_eq!(journal, "wal");
}

#[tokio::test]
async fn table_names_are_validated_and_separate() {
    let store = common::file_store().await;
    testing::bad_identifiers_are_refused(&store, SqliteStore::with_table);
    let other = store
        .clone()
        .with_table("other_sessions")
        .expect("valid name");
    other.migrate().await.expect("migrate failed");
    let key = created(&other).await;
    assert!(other.load(&key).await.expect("load").is_some());
    assert!(store.load(&key).await.expect("load").is_none());
}

#[tokio::test]
async fn corrupt_rows_load_as_corrupt() {
    let garbage = [
        ("data", "'not json{'"),
        ("data", "'[1, 2]'"),
        ("version", "-1"),
        ("created_at", "'yesterday'"),
    ];
    let fixture = common::file_fixture().await;
    fixture.corrupt_rows_load_as_corrupt(&garbage).await;
}

#[tokio::test]
async fn awkward_keys_are_replaced_not_duplicated() {
    let fixture = common::file_fixture().await;
    fixture
        .awkward_keys_are_replaced_not_duplicated("json_each")
        .await;
}

#[tokio::test]
async fn delete_expired_removes_ten_thousand_expired_rows_in_batches() {
    let mut fixture = common::file_fixture().await;
    fixture.store = fixture.store.with_cleanup_batch(500);
    fixture
        .delete_expired_removes_ten_thousand_expired_rows_in_batches()
        .await;
}

#[tokio::test]
async fn cleanup_task_sweeps_and_stops_with_the_store() {
    let fixture = common::file_fixture().await;
    fixture
        .cleanup_task_sweeps_and_stops_with_the_store(SqliteStore::spawn_cleanup)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_writers_on_a_file_get_no_busy_errors() {
    testing::fifty_concurrent_writers(common::file_store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_writers_in_memory_share_one_database() {
    testing::fifty_concurrent_writers(common::memory_store().await).await;
}
