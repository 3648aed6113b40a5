//! SQLite-specific behaviour: schema, bad data, cleanup, concurrency.

mod common;

use std::time::Duration;

use serde_json::json;
use session_core::{
    ApplyOutcome, Changeset, CreateOutcome, Record, SessionStore, StoreError, StoreKey, Timestamp,
};
use store_sqlite::{InvalidIdentifier, SqliteStore};

fn live_record() -> Record {
    let now = Timestamp::now();
    let mut record = Record::new(now, now.add(Duration::from_secs(3600)), false);
    record.data.insert("n".into(), json!(1));
    record
}

async fn created(store: &SqliteStore) -> StoreKey {
    let key = StoreKey::random();
    let outcome = store
        .create(&key, &live_record())
        .await
        .expect("create failed");
    assert_eq!(outcome, CreateOutcome::Created);
    key
}

async fn count(store: &SqliteStore, table: &str, filter: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE {filter}"))
        .bind(Timestamp::now().as_millis())
        .fetch_one(store.pool())
        .await
        .expect("count failed")
}

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
    for bad in ["", "a b", "x;DROP TABLE sessions", "quo\"te", "dot.ted"] {
        let err = store.clone().with_table(bad).err();
        assert_eq!(err, Some(InvalidIdentifier(bad.to_owned())), "{bad:?}");
    }
    let other = store
        .clone()
        .with_table("other_sessions")
        .expect("valid name");
    other.migrate().await.expect("migrate failed");
    let key = created(&other).await;
    assert!(other.load(&key).await.expect("load").is_some());
    assert!(store.load(&key).await.expect("load").is_none());
}

/// Hand-written garbage in a row is reported as `Corrupt`, never a panic.
#[tokio::test]
async fn corrupt_rows_load_as_corrupt() {
    let store = common::file_store().await;
    for (column, garbage) in [
        ("data", "'not json{'"),
        ("data", "'[1, 2]'"),
        ("version", "-1"),
        ("created_at", "'yesterday'"),
    ] {
        let key = created(&store).await;
        sqlx::query(&format!(
            "UPDATE sessions SET {column} = {garbage} WHERE key = ?1"
        ))
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

/// Rewriting existing awkward keys replaces them in place: no duplicate members appear.
#[tokio::test]
async fn awkward_keys_are_replaced_not_duplicated() {
    let store = common::file_store().await;
    let keys = ["a\"b'c\\d", "nul\0key", "", "a.b.c", "$", "ключ🔑", "tab\t"];
    let mut record = live_record();
    for k in keys {
        record.data.insert(k.into(), json!("old"));
    }
    let key = StoreKey::random();
    store.create(&key, &record).await.expect("create failed");
    let mut changes = Changeset::new(record.expires_at);
    for k in keys {
        changes.set.insert(k.into(), json!({ "new": k }));
    }
    let outcome = store
        .apply(&key, &changes, Some(1))
        .await
        .expect("apply failed");
    assert_eq!(outcome, ApplyOutcome::Applied(2));
    let members: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sessions, json_each(sessions.data) WHERE sessions.key = ?1",
    )
    .bind(key.as_str())
    .fetch_one(store.pool())
    .await
    .expect("counting members failed");
    assert_eq!(members, i64::try_from(keys.len() + 1).expect("small"));
    record.apply(&changes);
    assert_eq!(store.load(&key).await.expect("load"), Some(record));
}

/// 10,000 expired rows and 1,000 live ones: cleanup removes exactly the expired ones.
#[tokio::test]
async fn delete_expired_removes_ten_thousand_expired_rows_in_batches() {
    let store = common::file_store().await.with_cleanup_batch(500);
    let now = Timestamp::now().as_millis();
    let expired: Vec<String> = (0..10_000)
        .map(|_| StoreKey::random().to_string())
        .collect();
    let live: Vec<String> = (0..1_000).map(|_| StoreKey::random().to_string()).collect();
    for (keys, expires_at) in [(&expired, now - 60_000), (&live, now + 3_600_000)] {
        // One statement per group: the keys travel as one JSON array.
        sqlx::query(
            "INSERT INTO sessions (key, data, created_at, expires_at, user_id, persistent, version) \
             SELECT value, '{}', ?1, ?2, NULL, 0, 1 FROM json_each(?3)",
        )
        .bind(now)
        .bind(expires_at)
        .bind(serde_json::to_string(keys).expect("keys serialize"))
        .execute(store.pool())
        .await
        .expect("bulk insert failed");
    }
    assert_eq!(
        store.delete_expired().await.expect("delete_expired"),
        10_000
    );
    assert_eq!(count(&store, "sessions", "expires_at <= ?1").await, 0);
    assert_eq!(count(&store, "sessions", "expires_at > ?1").await, 1_000);
    for key in &live {
        let key = StoreKey::parse(key).expect("valid key");
        assert!(store.load(&key).await.expect("load").is_some());
    }
    assert_eq!(store.delete_expired().await.expect("delete_expired"), 0);
}

/// The background task sweeps expired rows, and ends once the store is dropped.
#[tokio::test]
async fn cleanup_task_sweeps_and_stops_with_the_store() {
    let store = common::file_store().await;
    let mut record = live_record();
    record.expires_at = Timestamp::now().sub(Duration::from_secs(1));
    store
        .create(&StoreKey::random(), &record)
        .await
        .expect("create");
    let live = created(&store).await;
    let handle = store.spawn_cleanup(Duration::from_millis(50));
    let pool = store.pool().clone();
    let mut swept = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if count(&store, "sessions", "expires_at <= ?1").await == 0 {
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
    pool.close().await;
}

/// 50 writers on one pool, hammering one session and their own: no SQLITE_BUSY surfaces.
async fn fifty_concurrent_writers(store: SqliteStore) {
    let shared = created(&store).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = store.clone();
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            let own = StoreKey::random();
            store.create(&own, &live_record()).await?;
            for round in 0..10 {
                let mut changes = Changeset::new(Timestamp::now().add(Duration::from_secs(60)));
                changes.set.insert(format!("w{i}"), json!(round));
                assert!(matches!(
                    store.apply(&shared, &changes, None).await?,
                    ApplyOutcome::Applied(_)
                ));
                assert!(matches!(
                    store.apply(&own, &changes, Some(round + 1)).await?,
                    ApplyOutcome::Applied(_)
                ));
                store.load(&own).await?;
            }
            store.delete_expired().await?;
            Ok::<_, StoreError>(())
        }));
    }
    for task in tasks {
        task.await
            .expect("writer panicked")
            .expect("a writer got an error");
    }
    let got = store
        .load(&shared)
        .await
        .expect("load")
        .expect("shared session");
    assert_eq!(got.version, 1 + 50 * 10);
    for i in 0..50 {
        assert_eq!(got.data.get(&format!("w{i}")), Some(&json!(9)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_writers_on_a_file_get_no_busy_errors() {
    fifty_concurrent_writers(common::file_store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_writers_in_memory_share_one_database() {
    fifty_concurrent_writers(common::memory_store().await).await;
}
