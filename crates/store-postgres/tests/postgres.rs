//! PostgreSQL behaviour: schema, bad data, NUL escaping, cleanup, concurrency. The bodies
//! of the tests shared with the other SQL stores are in `store_sql::testing`.

mod common;

use std::time::Duration;

use serde_json::json;
use session_core::store::{
    ApplyOutcome, Changeset, CreateOutcome, SessionStore, StoreError, StoreKey,
};
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
            "migrated_user_created_idx",
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
        .insert("k\0".into(), json!(["v\0", {"\0": "\u{E000}0"}]).into());
    let key = StoreKey::random();
    let outcome = store.create(&key, &record).await.expect("create failed");
    assert_eq!(outcome, CreateOutcome::Created);
    assert_eq!(store.load(&key).await.expect("load"), Some(record.clone()));

    let mut changes = Changeset::new(record.expires_at);
    changes.removed.insert("k\0".into());
    changes.set.insert("\0".into(), json!("\0").into());
    let outcome = store
        .apply(&key, &changes, Some(1))
        .await
        .expect("apply failed");
    assert_eq!(outcome, ApplyOutcome::Applied(2));
    record.apply(&changes);
    assert_eq!(store.load(&key).await.expect("load"), Some(record));
    let listed = store
        .sessions_of(&user, &Default::default())
        .await
        .expect("sessions_of");
    assert_eq!(listed.sessions.len(), 1);
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

/// Migration 4: the session document is compressed with lz4 wherever the server can
/// (checked by creating a column with it), which the upgrade test above reaches too.
#[tokio::test]
async fn migrate_sets_lz4_compression_where_the_server_has_it() {
    common::store_on("compressed").await;
    let (pool, schema) = (common::pool().await, common::schema());
    let probe =
        sqlx::raw_sql("CREATE TEMP TABLE lz4_probe (t text COMPRESSION lz4); DROP TABLE lz4_probe")
            .execute(&pool)
            .await;
    let method: String = sqlx::query_scalar(
        "SELECT attcompression::text FROM pg_attribute \
         WHERE attrelid = $1::regclass AND attname = 'data'",
    )
    .bind(format!("\"{schema}\".\"compressed\""))
    .fetch_one(&pool)
    .await
    .expect("reading the column's compression failed");
    let expected = if probe.is_ok() { "l" } else { "" };
    assert_eq!(method, expected, "lz4 probe: {probe:?}");
}

/// A table that version 1 of the schema created (no `authenticated_at`, no revocations
/// table) upgrades in place: its sessions load, and revocations work.
#[tokio::test]
async fn migrate_upgrades_a_version_1_table() {
    let pool = common::pool().await;
    let schema = common::schema();
    let store = PostgresStore::new(pool.clone())
        .with_schema(schema)
        .and_then(|s| s.with_table("upgraded"))
        .expect("valid names");
    let table = format!("\"{schema}\".\"upgraded\"");
    let v1 = include_str!("../migrations/0001_sessions.sql")
        .replace("{table}", &table)
        .replace("{name}", "upgraded");
    let ledger = format!(
        "CREATE TABLE \"{schema}\".\"upgraded_migrations\" \
         (version bigint PRIMARY KEY, applied_at bigint NOT NULL); \
         INSERT INTO \"{schema}\".\"upgraded_migrations\" VALUES (1, 0)"
    );
    let create_schema = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "{create_schema}; {v1}; {ledger}"
    )))
    .execute(&pool)
    .await
    .expect("creating the version 1 schema failed");
    let user = format!("user-{}", StoreKey::random());
    let mut record = live_record();
    record.user = Some(user.clone());
    let key = StoreKey::random();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {table} (key, data, created_at, expires_at, user_id, persistent, version) \
         VALUES ($1, '{{\"n\": 1}}', $2, $3, $4, FALSE, 1)"
    )))
    .bind(key.as_str())
    .bind(record.created_at.as_millis())
    .bind(record.expires_at.as_millis())
    .bind(&user)
    .execute(&pool)
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
    let fixture = common::fixture_on("sessions").await;
    fixture.delete_expired_prunes_old_revocations().await;
}

#[tokio::test]
async fn blocked_operation_fails_within_the_timeout() {
    let mut fixture = common::fixture_on("sessions").await;
    fixture.store = fixture
        .store
        .with_operation_timeout(Duration::from_millis(300));
    fixture.blocked_operation_fails_within_the_timeout().await;
}

/// A rotation onto a key that a concurrent `create` inserted after the rotation's
/// snapshot would violate the primary key: that is `KeyTaken`, not an error. (Simulated:
/// the new key's row is inserted by a transaction that commits while the rotation waits
/// for the old row's lock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_onto_a_key_inserted_meanwhile_is_key_taken() {
    let fixture = common::fixture_on("sessions").await;
    let store = &fixture.store;
    let from = testing::created(store).await;
    let to = StoreKey::random();
    let mut tx = fixture.pool.begin().await.expect("begin failed");
    let lock = format!("SELECT 1 FROM {} WHERE key = $1 FOR UPDATE", fixture.table);
    sqlx::query(sqlx::AssertSqlSafe(lock.as_str()))
        .bind(from.as_str())
        .execute(&mut *tx)
        .await
        .expect("locking failed");
    let changes = Changeset::new(live_record().expires_at);
    let rotation = tokio::spawn({
        let (store, from, to, changes) = (store.clone(), from.clone(), to.clone(), changes);
        async move { store.rotate(&from, &to, &changes, None).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let insert = format!(
        "INSERT INTO {} (key, data, created_at, expires_at, user_id, persistent, version) \
         VALUES ($1, '{{}}', 0, $2, NULL, FALSE, 1)",
        fixture.table
    );
    sqlx::query(sqlx::AssertSqlSafe(insert.as_str()))
        .bind(to.as_str())
        .bind(live_record().expires_at.as_millis())
        .execute(&mut *tx)
        .await
        .expect("inserting the new key failed");
    tx.commit().await.expect("commit failed");
    let outcome = rotation
        .await
        .expect("rotate panicked")
        .expect("rotate failed");
    assert_eq!(outcome, session_core::store::RotateOutcome::KeyTaken);
    assert!(store.load(&from).await.expect("load").is_some());
}
