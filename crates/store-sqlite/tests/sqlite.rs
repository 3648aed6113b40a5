//! SQLite behaviour: schema, bad data, awkward keys, cleanup, concurrency. The bodies of
//! the tests shared with the other SQL stores are in `store_sql::testing`.

mod common;

use std::time::Duration;

use session_core::store::{CreateOutcome, SessionStore, StoreKey};
use store_sql::testing::{self, created, live_record};
use store_sqlite::{DEFAULT_OPERATION_TIMEOUT, SqliteStore};

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
    assert_eq!(
        indexes,
        [
            "sessions_expires_at_idx",
            "sessions_user_created_idx",
            "sessions_user_id_idx"
        ]
    );
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

/// A database that version 1 of the schema created (no `authenticated_at`, no
/// revocations table) upgrades in place: its sessions load, and revocations work.
#[tokio::test]
async fn migrate_upgrades_a_version_1_database() {
    let store = SqliteStore::connect(&common::fresh_file_url())
        .await
        .expect("cannot open the SQLite test database");
    let v1 = include_str!("../migrations/0001_sessions.sql").replace("{name}", "sessions");
    let ledger = "CREATE TABLE sessions_migrations \
        (version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL); \
        INSERT INTO sessions_migrations VALUES (1, 0)";
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("{v1}; {ledger}")))
        .execute(store.pool())
        .await
        .expect("creating the version 1 schema failed");
    let user = format!("user-{}", StoreKey::random());
    let mut record = live_record();
    record.user = Some(user.clone());
    let key = StoreKey::random();
    sqlx::query(
        "INSERT INTO sessions (key, data, created_at, expires_at, user_id, persistent, version) \
         VALUES ($1, '{\"n\": 1}', $2, $3, $4, FALSE, 1)",
    )
    .bind(key.as_str())
    .bind(record.created_at.as_millis())
    .bind(record.expires_at.as_millis())
    .bind(&user)
    .execute(store.pool())
    .await
    .expect("inserting a version 1 row failed");

    store.migrate().await.expect("upgrade failed");
    store.migrate().await.expect("second migrate failed");
    assert_eq!(store.load(&key).await.expect("load"), Some(record.clone()));
    let n = store.delete_sessions_of(&user, None).await;
    assert_eq!(n.expect("delete_sessions_of failed"), 1);
    let again = store.create(&StoreKey::random(), &record).await;
    assert_eq!(again.expect("create failed"), CreateOutcome::Revoked);
}

#[tokio::test]
async fn delete_expired_prunes_old_revocations() {
    let fixture = common::file_fixture().await;
    fixture.delete_expired_prunes_old_revocations().await;
}

#[tokio::test]
async fn blocked_operation_fails_within_the_timeout() {
    let mut fixture = common::file_fixture().await;
    fixture.store = fixture
        .store
        .with_operation_timeout(Duration::from_millis(300));
    fixture.blocked_operation_fails_within_the_timeout().await;
}

#[tokio::test]
async fn connect_bounds_the_wait_for_a_connection() {
    let store = common::file_store().await;
    let acquire = store.pool().options().get_acquire_timeout();
    assert_eq!(acquire, DEFAULT_OPERATION_TIMEOUT);
}

/// Rows written before migration 3 hold NULL `last_seen` and `label`: they load as last
/// seen when created and unlabelled, and are listed so.
#[tokio::test]
async fn rows_from_before_the_account_page_columns_still_load() {
    let store = common::file_store().await;
    let mut record = live_record();
    record.user = Some(format!("old-{}", StoreKey::random()));
    record.last_seen = record.created_at.add(Duration::from_secs(5));
    record.label = Some("set".into());
    let key = StoreKey::random();
    assert_eq!(
        store.create(&key, &record).await.expect("create"),
        CreateOutcome::Created
    );
    sqlx::query("UPDATE sessions SET last_seen = NULL, label = NULL WHERE key = $1")
        .bind(key.as_str())
        .execute(store.pool())
        .await
        .expect("update failed");
    let loaded = store.load(&key).await.expect("load").expect("live");
    assert_eq!(loaded.last_seen, record.created_at);
    assert_eq!(loaded.label, None);
    let user = record.user.as_deref().unwrap_or_default();
    let page = store
        .sessions_of(user, &Default::default())
        .await
        .expect("sessions_of");
    assert_eq!(page.sessions.len(), 1);
    assert_eq!(page.sessions[0].last_seen, record.created_at);
}
