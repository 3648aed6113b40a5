//! Fresh stores for the tests: file databases under cargo's per-target temp dir, and
//! in-memory ones.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use sqlx::Sqlite;
use store_sql::testing::Fixture;
use store_sqlite::SqliteStore;

/// Test databases older than this are left over from earlier runs and get deleted.
const STALE_AFTER: Duration = Duration::from_secs(3600);

fn test_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("store-sqlite-tests")
}

/// Deletes database files of earlier runs, once per process.
fn sweep_stale_files() {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(test_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > STALE_AFTER);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A URL for a new database file used by nobody else.
pub fn fresh_file_url() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    sweep_stale_files();
    let dir = test_dir();
    std::fs::create_dir_all(&dir).expect("cannot create the test database directory");
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let path = dir.join(format!("{}-{n}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    format!("sqlite://{}?mode=rwc", path.display())
}

/// A migrated store on a new database file (WAL mode, pool of several connections).
pub async fn file_store() -> SqliteStore {
    let store = SqliteStore::connect(&fresh_file_url())
        .await
        .expect("cannot open the SQLite test database");
    store.migrate().await.expect("migration failed");
    store
}

/// A migrated store on a new in-memory database.
pub async fn memory_store() -> SqliteStore {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("cannot open an in-memory SQLite database");
    store.migrate().await.expect("migration failed");
    store
}

/// [`file_store`] with its pool and table, for the shared behaviour tests.
pub async fn file_fixture() -> Fixture<SqliteStore, Sqlite> {
    let store = file_store().await;
    Fixture {
        pool: store.pool().clone(),
        table: "\"sessions\"".to_owned(),
        revocations: "\"sessions_revocations\"".to_owned(),
        store,
    }
}
