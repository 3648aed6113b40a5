//! PostgreSQL behaviour: schema, bad data, NUL escaping, cleanup, concurrency. The bodies
//! of the tests shared with the other SQL stores are in `store_sql::testing`.

mod common;

use serde_json::json;
use session_core::{ApplyOutcome, Changeset, SessionStore, StoreError, StoreKey};
use store_postgres::PostgresStore;
use store_sql::testing::{self, live_record};

#[tokio::test]
async fn migrate_is_idempotent_and_creates_the_indexes() {
    let store = common::store_on("migrated").await;
    store.migrate().await.expect("second migrate failed");
    store.migrate().await.expect("third migrate failed");
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = 'migrated' \
         ORDER BY indexname",
    )
    .bind(common::schema())
    .fetch_all(store.pool())
    .await
    .expect("listing indexes failed");
    assert_eq!(
        indexes,
        [
            "migrated_expires_at_idx",
            "migrated_pkey",
            "migrated_user_id_idx"
        ]
    );
}

#[tokio::test]
async fn concurrent_migrations_do_not_collide() {
    let pool = common::pool().await;
    let migrations = (0..8).map(|_| {
        let store = PostgresStore::new(pool.clone())
            .with_schema(common::schema())
            .and_then(|s| s.with_table("raced"))
            .expect("valid names");
        tokio::spawn(async move { store.migrate().await })
    });
    for m in migrations.collect::<Vec<_>>() {
        m.await.expect("migrate panicked").expect("migrate failed");
    }
}

#[tokio::test]
async fn identifiers_are_validated() {
    let store = common::store().await;
    testing::bad_identifiers_are_refused(&store, PostgresStore::with_table);
    testing::bad_identifiers_are_refused(&store, PostgresStore::with_schema);
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    let got = PostgresStore::connect("postgres://root@127.0.0.1:1/test").await;
    assert!(
        matches!(got, Err(StoreError::Unavailable(_))),
        "{:?}",
        got.err()
    );
}

#[tokio::test]
async fn corrupt_rows_load_as_corrupt() {
    let garbage = [
        ("data", "'[1, 2]'::jsonb"),
        ("data", "'\"text\"'::jsonb"),
        ("data", "'{\"a\": \"\\ue000x\"}'::jsonb"),
        ("version", "-1"),
    ];
    let fixture = common::fixture_on("sessions").await;
    fixture.corrupt_rows_load_as_corrupt(&garbage).await;
}

#[tokio::test]
async fn awkward_keys_are_replaced_not_duplicated() {
    let fixture = common::fixture_on("sessions").await;
    fixture
        .awkward_keys_are_replaced_not_duplicated("jsonb_object_keys")
        .await;
}

/// NUL is stored escaped (PostgreSQL refuses it) and comes back exactly, via create and
/// apply, in keys, values and user names.
#[tokio::test]
async fn nul_round_trips_through_the_escape() {
    let store = common::store().await;
    let user = format!("nul\0user\u{E000}-{}", StoreKey::random());
    let mut record = live_record();
    record.user = Some(user.clone());
    record
        .data
        .insert("k\0".into(), json!(["v\0", {"\0": "\u{E000}0"}]));
    let key = StoreKey::random();
    store.create(&key, &record).await.expect("create failed");
    assert_eq!(store.load(&key).await.expect("load"), Some(record.clone()));

    let mut changes = Changeset::new(record.expires_at);
    changes.removed.insert("k\0".into());
    changes.set.insert("\0".into(), json!("\0"));
    let outcome = store
        .apply(&key, &changes, Some(1))
        .await
        .expect("apply failed");
    assert_eq!(outcome, ApplyOutcome::Applied(2));
    record.apply(&changes);
    assert_eq!(store.load(&key).await.expect("load"), Some(record));
    let listed = store.sessions_of(&user).await.expect("sessions_of");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        store
            .delete_sessions_of(&user, None)
            .await
            .expect("delete_sessions_of"),
        1
    );
}

#[tokio::test]
async fn delete_expired_removes_ten_thousand_expired_rows_in_batches() {
    let mut fixture = common::fixture_on("cleanup_bulk").await;
    fixture.store = fixture.store.with_cleanup_batch(500);
    fixture
        .delete_expired_removes_ten_thousand_expired_rows_in_batches()
        .await;
}

#[tokio::test]
async fn cleanup_task_sweeps_and_stops_with_the_store() {
    let fixture = common::fixture_on("cleanup_task").await;
    fixture
        .cleanup_task_sweeps_and_stops_with_the_store(PostgresStore::spawn_cleanup)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_writers_all_land() {
    testing::fifty_concurrent_writers(common::store_on("concurrent").await).await;
}
