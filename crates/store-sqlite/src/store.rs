//! `SqliteStore`: construction, migration and the `SessionStore` implementation.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    ApplyOutcome, Changeset, CleanupHandle, CreateOutcome, Record, SessionStore, SessionSummary,
    StoreError, StoreKey, Timestamp, spawn_cleanup,
};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::codec::{encode_data, record_from_row, summary_from_row, version_to_db};
use crate::ident::{Ident, InvalidIdentifier};
use crate::schema::{self, Statements};
use crate::{apply, error};

/// The table used unless [`SqliteStore::with_table`] names another.
pub const DEFAULT_TABLE: &str = "sessions";
/// How long a statement waits for another connection's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows deleted per statement by [`SessionStore::delete_expired`] unless configured.
pub const DEFAULT_CLEANUP_BATCH: u32 = 1000;

/// A [`SessionStore`] on SQLite. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pool: SqlitePool,
    table: Ident,
    sql: Statements,
    batch: u32,
}

impl SqliteStore {
    /// Opens a pool on `url` (`sqlite://path.db?mode=rwc`, `sqlite::memory:`) set up for
    /// sessions: WAL journal and a busy timeout for files; a single connection that is never
    /// closed for in-memory databases, so that every query sees the same database.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(error::map)?
            .busy_timeout(BUSY_TIMEOUT);
        let pool = if is_in_memory(url) {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
        } else {
            let options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            SqlitePoolOptions::new().connect_with(options).await
        }
        .map_err(error::map)?;
        Ok(Self::new(pool))
    }

    /// A store on an existing pool, using table [`DEFAULT_TABLE`]. Configure the pool with
    /// WAL and a busy timeout (as [`SqliteStore::connect`] does) for concurrent writers.
    pub fn new(pool: SqlitePool) -> Self {
        let table = Ident::new(DEFAULT_TABLE).unwrap_or_else(|_| unreachable!());
        Self::build(pool, table, DEFAULT_CLEANUP_BATCH)
    }

    /// The same store on table `name` (`[A-Za-z0-9_]{1,40}`).
    pub fn with_table(self, name: &str) -> Result<Self, InvalidIdentifier> {
        let table = Ident::new(name)?;
        Ok(Self::build(
            self.inner.pool.clone(),
            table,
            self.inner.batch,
        ))
    }

    /// The same store deleting at most `rows` expired rows per statement (at least 1).
    pub fn with_cleanup_batch(self, rows: u32) -> Self {
        let inner = &self.inner;
        Self::build(inner.pool.clone(), inner.table.clone(), rows.max(1))
    }

    fn build(pool: SqlitePool, table: Ident, batch: u32) -> Self {
        let sql = Statements::new(&table);
        Self {
            inner: Arc::new(Inner {
                pool,
                table,
                sql,
                batch,
            }),
        }
    }

    /// The underlying pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }

    /// Creates the table and its indexes if they do not exist yet. Idempotent.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        schema::migrate(&self.inner.pool, &self.inner.table).await
    }

    /// Starts a task that runs [`SessionStore::delete_expired`] about every `every` (with
    /// ±10% random jitter). It stops when the last clone of this store is dropped.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn spawn_cleanup(&self, every: Duration) -> CleanupHandle {
        spawn_cleanup(
            Arc::downgrade(&self.inner),
            every,
            |inner: Arc<Inner>| async move { inner.delete_expired().await },
        )
    }
}

fn is_in_memory(url: &str) -> bool {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    path.ends_with(":memory:") || query.split('&').any(|p| p == "mode=memory")
}

impl Inner {
    pub(crate) async fn delete_expired(&self) -> Result<u64, StoreError> {
        let now = Timestamp::now().as_millis();
        let mut total = 0;
        loop {
            let n = sqlx::query(&self.sql.delete_expired_batch)
                .bind(now)
                .bind(i64::from(self.batch))
                .execute(&self.pool)
                .await
                .map_err(error::map)?
                .rows_affected();
            total += n;
            if n < u64::from(self.batch) {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(&self.inner.sql.load)
            .bind(key.as_str())
            .bind(Timestamp::now().as_millis())
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(error::map)?;
        row.as_ref().map(record_from_row).transpose()
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<CreateOutcome, StoreError> {
        let done = sqlx::query(&self.inner.sql.create)
            .bind(key.as_str())
            .bind(encode_data(&record.data)?)
            .bind(record.created_at.as_millis())
            .bind(record.expires_at.as_millis())
            .bind(record.user.as_deref())
            .bind(record.persistent)
            .bind(version_to_db(record.version)?)
            .bind(Timestamp::now().as_millis())
            .execute(&self.inner.pool)
            .await
            .map_err(error::map)?;
        Ok(if done.rows_affected() == 1 {
            CreateOutcome::Created
        } else {
            CreateOutcome::AlreadyExists
        })
    }

    async fn apply(
        &self,
        key: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<ApplyOutcome, StoreError> {
        let now = Timestamp::now();
        let expected = expected_version.map(version_to_db).transpose()?;
        let mut statement = apply::statement(&self.inner.table, key, changes, expected, now)?;
        let applied: Option<i64> = statement
            .build_query_scalar()
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(error::map)?;
        match (applied, expected) {
            (Some(version), _) => Ok(ApplyOutcome::Applied(
                u64::try_from(version)
                    .map_err(|_| StoreError::Corrupt("negative version".into()))?,
            )),
            (None, None) => Ok(ApplyOutcome::Missing),
            // Strict mode and nothing matched: a second query (only on this rare path) tells
            // a live row at another version (Conflict) from no live row (Missing).
            (None, Some(_)) => {
                let live: bool = sqlx::query_scalar(&self.inner.sql.exists)
                    .bind(key.as_str())
                    .bind(now.as_millis())
                    .fetch_one(&self.inner.pool)
                    .await
                    .map_err(error::map)?;
                Ok(if live {
                    ApplyOutcome::Conflict
                } else {
                    ApplyOutcome::Missing
                })
            }
        }
    }

    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(&self.inner.sql.touch)
            .bind(expires_at.as_millis())
            .bind(key.as_str())
            .bind(Timestamp::now().as_millis())
            .execute(&self.inner.pool)
            .await
            .map_err(error::map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        sqlx::query(&self.inner.sql.delete)
            .bind(key.as_str())
            .execute(&self.inner.pool)
            .await
            .map_err(error::map)?;
        Ok(())
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.inner.delete_expired().await
    }

    async fn sessions_of(&self, user: &str) -> Result<Vec<SessionSummary>, StoreError> {
        let rows = sqlx::query(&self.inner.sql.sessions_of)
            .bind(user)
            .bind(Timestamp::now().as_millis())
            .fetch_all(&self.inner.pool)
            .await
            .map_err(error::map)?;
        rows.iter().map(summary_from_row).collect()
    }

    async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        let now = Timestamp::now().as_millis();
        let deadlines: Vec<i64> = sqlx::query_scalar(&self.inner.sql.delete_sessions_of)
            .bind(user)
            .bind(except.map(StoreKey::as_str))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(error::map)?;
        // Expired rows of the user go too, but only live sessions count as logged out.
        Ok(deadlines.iter().filter(|&&d| d > now).count() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::is_in_memory;

    #[test]
    fn in_memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://x.db?mode=memory&cache=shared"));
        assert!(!is_in_memory("sqlite://sessions.db?mode=rwc"));
    }
}
