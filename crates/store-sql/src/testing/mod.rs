//! Behaviour tests shared by the SQL stores' test suites (feature `testing`).
//!
//! Each test is written once here, generic over the store, and called from a `#[tokio::test]`
//! in each backend crate with a [`Fixture`]: a migrated store, its pool and its table.
//! Raw SQL in here uses `$N` placeholders and types both backends accept.

mod revocation;

use std::time::Duration;

use serde_json::json;
use session_core::{
    Timestamp,
    store::{
        ApplyOutcome, Changeset, CleanupHandle, CreateOutcome, Record, SessionStore, StoreError,
        StoreKey,
    },
};
use sqlx::{AssertSqlSafe, Database, Encode, Executor, IntoArguments, Pool, Type};

use crate::{ColumnType, InvalidIdentifier};

/// A migrated store with what the tests need to look under it.
#[derive(Debug)]
pub struct Fixture<S, DB: Database> {
    /// The store under test.
    pub store: S,
    /// Its pool.
    pub pool: Pool<DB>,
    /// Its table as SQL text (quoted, possibly schema-qualified).
    pub table: String,
    /// Its revocations table, likewise.
    pub revocations: String,
}

/// A live record (one hour left) holding `{"n": 1}`.
pub fn live_record() -> Record {
    let now = Timestamp::now();
    let mut record = Record::new(now, now.add(Duration::from_secs(3600)), false);
    record.data.insert("n".into(), json!(1).into());
    record
}

/// Creates a [`live_record`] under a new key.
pub async fn created(store: &impl SessionStore) -> StoreKey {
    let key = StoreKey::random();
    let outcome = store
        .create(&key, &live_record())
        .await
        .expect("create failed");
    assert_eq!(outcome, CreateOutcome::Created);
    key
}

impl<S: SessionStore, DB: Database> Fixture<S, DB>
where
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    i64: ColumnType<DB>,
{
    /// Rows of the table matching `filter`, in which `$1` is now (ms).
    pub async fn count(&self, filter: &str) -> i64 {
        let table = &self.table;
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE {filter}"
        )))
        .bind(Timestamp::now().as_millis())
        .fetch_one(&self.pool)
        .await
        .expect("count failed")
    }

    /// Inserts empty sessions under `keys` directly, expiring at `expires_at` (ms).
    pub async fn insert_rows(&self, keys: &[String], expires_at: i64) {
        for chunk in keys.chunks(1000) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, '{{}}', $1, $2, NULL, FALSE, 1)", i + 3))
                .collect();
            let sql = format!(
                "INSERT INTO {} (key, data, created_at, expires_at, user_id, persistent, version) \
                 VALUES {}",
                self.table,
                rows.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(Timestamp::now().as_millis())
                .bind(expires_at);
            for key in chunk {
                q = q.bind(key.as_str());
            }
            q.execute(&self.pool).await.expect("bulk insert failed");
        }
    }

    /// Hand-written garbage in a row (`column = garbage`, SQL) is reported as `Corrupt`
    /// by `load`, never as a panic.
    pub async fn corrupt_rows_load_as_corrupt(&self, garbage: &[(&str, &str)]) {
        for (column, garbage) in garbage {
            let key = created(&self.store).await;
            let sql = format!(
                "UPDATE {} SET {column} = {garbage} WHERE key = $1",
                self.table
            );
            sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(key.as_str())
                .execute(&self.pool)
                .await
                .expect("corrupting the row failed");
            let got = self.store.load(&key).await;
            assert!(
                matches!(got, Err(StoreError::Corrupt(_))),
                "{column} = {garbage}: {got:?}"
            );
        }
    }

    /// 10,000 expired rows and 1,000 live ones: cleanup (with batches of 500, which the
    /// store must be configured with) removes exactly the expired ones.
    pub async fn delete_expired_removes_ten_thousand_expired_rows_in_batches(&self) {
        let now = Timestamp::now().as_millis();
        let keys = |n| (0..n).map(|_| StoreKey::random().to_string()).collect();
        let (expired, live): (Vec<String>, Vec<String>) = (keys(10_000), keys(1_000));
        self.insert_rows(&expired, now - 60_000).await;
        self.insert_rows(&live, now + 3_600_000).await;
        let deleted = self.store.delete_expired().await.expect("delete_expired");
        assert_eq!(deleted, 10_000);
        assert_eq!(self.count("expires_at <= $1").await, 0);
        assert_eq!(self.count("expires_at > $1").await, 1_000);
        for key in &live {
            let key = StoreKey::parse(key).expect("valid key");
            assert!(self.store.load(&key).await.expect("load").is_some());
        }
        assert_eq!(
            self.store.delete_expired().await.expect("delete_expired"),
            0
        );
    }

    /// Awkward keys (quotes, NUL, empty, dots, `$`, non-ASCII, tabs) are stored, replaced
    /// in place by `apply` and loaded back exactly. `members` is the backend's set-returning
    /// function listing a JSON object's members (`json_each`, `jsonb_object_keys`), used to
    /// show that no duplicate member appeared.
    pub async fn awkward_keys_are_replaced_not_duplicated(&self, members: &str) {
        let keys = ["a\"b'c\\d", "nul\0key", "", "a.b.c", "$", "ключ🔑", "tab\t"];
        let mut record = live_record();
        for k in keys {
            record.data.insert(k.into(), json!("old").into());
        }
        let key = StoreKey::random();
        let outcome = self
            .store
            .create(&key, &record)
            .await
            .expect("create failed");
        assert_eq!(outcome, CreateOutcome::Created);
        let mut changes = Changeset::new(record.expires_at);
        for k in keys {
            changes.set.insert(k.into(), json!({ "new": k }).into());
        }
        let outcome = self
            .store
            .apply(&key, &changes, Some(1))
            .await
            .expect("apply failed");
        assert_eq!(outcome, ApplyOutcome::Applied(2));
        let t = &self.table;
        let stored: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {t}, {members}({t}.data) WHERE {t}.key = $1"
        )))
        .bind(key.as_str())
        .fetch_one(&self.pool)
        .await
        .expect("counting members failed");
        assert_eq!(stored, i64::try_from(keys.len() + 1).expect("small"));
        record.apply(&changes);
        assert_eq!(self.store.load(&key).await.expect("load"), Some(record));
    }

    /// The background task started by `spawn` sweeps expired rows, and ends once the
    /// store is dropped.
    pub async fn cleanup_task_sweeps_and_stops_with_the_store(
        self,
        spawn: impl FnOnce(&S, Duration) -> CleanupHandle,
    ) {
        let mut record = live_record();
        record.expires_at = Timestamp::now().sub(Duration::from_secs(1));
        let store = &self.store;
        let outcome = store
            .create(&StoreKey::random(), &record)
            .await
            .expect("create");
        assert_eq!(outcome, CreateOutcome::Created);
        let live = created(store).await;
        let handle = spawn(store, Duration::from_millis(50));
        let mut swept = false;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.count("expires_at <= $1").await == 0 {
                swept = true;
                break;
            }
        }
        assert!(swept, "the cleanup task never deleted the expired row");
        assert!(store.load(&live).await.expect("load").is_some());
        let Self { store, pool, .. } = self;
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
}

/// `rename` (such as `with_table`) refuses every name that is not `[A-Za-z0-9_]{1,40}`.
pub fn bad_identifiers_are_refused<S: Clone>(
    store: &S,
    rename: impl Fn(S, &str) -> Result<S, InvalidIdentifier>,
) {
    for bad in ["", "a b", "x;DROP TABLE sessions", "quo\"te", "dot.ted"] {
        let err = rename(store.clone(), bad).err();
        assert_eq!(err, Some(InvalidIdentifier(bad.to_owned())), "{bad:?}");
    }
}

/// 50 writers on one pool, hammering one session and their own: every write lands, and
/// none fails (no lock timeouts surface).
pub async fn fifty_concurrent_writers<S: SessionStore + Clone + 'static>(store: S) {
    let shared = created(&store).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = store.clone();
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            let own = StoreKey::random();
            assert_eq!(
                store.create(&own, &live_record()).await?,
                CreateOutcome::Created
            );
            for round in 0..10 {
                let mut changes = Changeset::new(Timestamp::now().add(Duration::from_secs(60)));
                changes.set.insert(format!("w{i}"), json!(round).into());
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
        assert_eq!(got.data.get(&format!("w{i}")), Some(&json!(9).into()));
    }
}
