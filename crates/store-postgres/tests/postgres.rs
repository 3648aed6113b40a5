//! PostgreSQL-specific behaviour: schema, bad data, NUL escaping, cleanup.

mod common;

use std::time::Duration;

use serde_json::json;
use session_core::{
    ApplyOutcome, Changeset, CreateOutcome, Record, SessionStore, StoreError, StoreKey, Timestamp,
};
use store_postgres::{InvalidIdentifier, PostgresStore};

fn live_record() -> Record {
    let now = Timestamp::now();
    let mut record = Record::new(now, now.add(Duration::from_secs(3600)), false);
    record.data.insert("n".into(), json!(1));
    record
}

async fn created(store: &PostgresStore) -> StoreKey {
    let key = StoreKey::random();
    let outcome = store
        .create(&key, &live_record())
        .await
        .expect("create failed");
    assert_eq!(outcome, CreateOutcome::Created);
    key
}

fn table(name: &str) -> String {
    format!("\"{}\".\"{name}\"", common::schema())
}

async fn count(store: &PostgresStore, name: &str, filter: &str) -> i64 {
    sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {} WHERE {filter}",
        table(name)
    ))
    .bind(Timestamp::now().as_millis())
    .fetch_one(store.pool())
    .await
    .expect("count failed")
}

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
    for bad in ["", "a b", "x;DROP TABLE sessions", "quo\"te", "dot.ted"] {
        let err = store.clone().with_table(bad).err();
        assert_eq!(err, Some(InvalidIdentifier(bad.to_owned())), "{bad:?}");
        let err = store.clone().with_schema(bad).err();
        assert_eq!(err, Some(InvalidIdentifier(bad.to_owned())), "{bad:?}");
    }
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

/// Hand-written garbage in a row is reported as `Corrupt`, never a panic.
#[tokio::test]
async fn corrupt_rows_load_as_corrupt() {
    let store = common::store().await;
    for (column, garbage) in [
        ("data", "'[1, 2]'::jsonb"),
        ("data", "'\"text\"'::jsonb"),
        ("data", "'{\"a\": \"\\ue000x\"}'::jsonb"),
        ("version", "-1"),
    ] {
        let key = created(&store).await;
        let sql = format!(
            "UPDATE {} SET {column} = {garbage} WHERE key = $1",
            table("sessions")
        );
        sqlx::query(&sql)
            .bind(key.as_str())
            .execute(store.pool())
            .await
            .expect("corrupting the row failed");
        let got = store.load(&key).await;
        assert!(
            matches!(got, Err(StoreError::Corrupt(_))),
            "{column} = {garbage}: {got:?}"
        );
    }
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

/// 10,000 expired rows and 1,000 live ones: cleanup removes exactly the expired ones.
#[tokio::test]
async fn delete_expired_removes_ten_thousand_expired_rows_in_batches() {
    let store = common::store_on("cleanup_bulk")
        .await
        .with_cleanup_batch(500);
    let now = Timestamp::now().as_millis();
    let expired: Vec<String> = (0..10_000)
        .map(|_| StoreKey::random().to_string())
        .collect();
    let live: Vec<String> = (0..1_000).map(|_| StoreKey::random().to_string()).collect();
    for (keys, expires_at) in [(&expired, now - 60_000), (&live, now + 3_600_000)] {
        // One statement per group: the keys travel as one text[].
        let sql = format!(
            "INSERT INTO {} (key, data, created_at, expires_at, user_id, persistent, version) \
             SELECT k, '{{}}'::jsonb, $1, $2, NULL, false, 1 FROM unnest($3::text[]) AS k",
            table("cleanup_bulk")
        );
        sqlx::query(&sql)
            .bind(now)
            .bind(expires_at)
            .bind(keys)
            .execute(store.pool())
            .await
            .expect("bulk insert failed");
    }
    assert_eq!(
        store.delete_expired().await.expect("delete_expired"),
        10_000
    );
    assert_eq!(count(&store, "cleanup_bulk", "expires_at <= $1").await, 0);
    assert_eq!(
        count(&store, "cleanup_bulk", "expires_at > $1").await,
        1_000
    );
    let kept: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {} WHERE key = ANY($1)",
        table("cleanup_bulk")
    ))
    .bind(&live)
    .fetch_one(store.pool())
    .await
    .expect("count failed");
    assert_eq!(kept, 1_000);
    assert_eq!(store.delete_expired().await.expect("delete_expired"), 0);
}

/// The background task sweeps expired rows, and ends once the store is dropped.
#[tokio::test]
async fn cleanup_task_sweeps_and_stops_with_the_store() {
    let store = common::store_on("cleanup_task").await;
    let mut record = live_record();
    record.expires_at = Timestamp::now().sub(Duration::from_secs(1));
    store
        .create(&StoreKey::random(), &record)
        .await
        .expect("create");
    let live = created(&store).await;
    let handle = store.spawn_cleanup(Duration::from_millis(50));
    let mut swept = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if count(&store, "cleanup_task", "expires_at <= $1").await == 0 {
            swept = true;
            break;
        }
    }
    assert!(swept, "the cleanup task never deleted the expired row");
    assert!(store.load(&live).await.expect("load").is_some());
    drop(store);
    for _ in 0..100 {
        if handle.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(handle.is_finished(), "the cleanup task outlived its store");
}
