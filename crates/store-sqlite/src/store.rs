//! `SqliteStore`: construction, migration and the `SessionStore` implementation.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    PageRequest, SessionPage, Timestamp,
    store::{
        ApplyOutcome, Base, Changeset, CleanupHandle, CreateOutcome, Record, RotateOutcome,
        SessionStore, StoreError, StoreKey,
    },
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqlStr, SqlitePool};
use store_sql::{
    DEFAULT_OPERATION_TIMEOUT, Dialect, Ident, InvalidIdentifier, Queries, sql_text,
    version_from_db, version_to_db,
};

use crate::dialect::SqliteDialect;
use crate::rotate::{self, RotateSql};
use crate::schema::{self, Tables, apply_refused_sql, rotate_refused_sql};
use crate::update;

/// The table used unless [`SqliteStore::with_table`] names another.
pub const DEFAULT_TABLE: &str = "sessions";
/// How long a statement waits for another connection's write lock before failing (the
/// operation timeout, [`DEFAULT_OPERATION_TIMEOUT`] unless configured, ends the wait sooner).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows deleted per statement by [`SessionStore::delete_expired`] unless configured.
pub const DEFAULT_CLEANUP_BATCH: u32 = 1000;

/// A [`SessionStore`] on SQLite. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    queries: Arc<Queries<SqliteDialect>>,
    table: Ident,
    tables: Tables,
    /// See [`apply_refused_sql`].
    apply_refused: SqlStr,
    rotate: RotateSql,
}

impl SqliteStore {
    /// Opens a pool on `url` (`sqlite://path.db?mode=rwc`, `sqlite::memory:`) set up for
    /// sessions: WAL journal and a busy timeout for files; a single connection that is never
    /// closed for in-memory databases, so that every query sees the same database. Waiting
    /// for a pooled connection gives up after [`DEFAULT_OPERATION_TIMEOUT`] (not sqlx's 30 s).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::store::StoreError> {
    /// use store_sqlite::SqliteStore;
    ///
    /// let store = SqliteStore::connect("sqlite::memory:").await?;
    /// store.migrate().await?; // creates the tables on first use
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(SqliteDialect::map_error)?
            .busy_timeout(BUSY_TIMEOUT);
        let pool_options = SqlitePoolOptions::new().acquire_timeout(DEFAULT_OPERATION_TIMEOUT);
        let pool = if is_in_memory(url) {
            pool_options
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
            pool_options.connect_with(options).await
        }
        .map_err(SqliteDialect::map_error)?;
        Ok(Self::new(pool))
    }

    /// A store on an existing pool, using table [`DEFAULT_TABLE`]. Configure the pool with
    /// WAL and a busy timeout (as [`SqliteStore::connect`] does) for concurrent writers.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use store_sqlite::{SqliteStore, sqlx::SqlitePool};
    ///
    /// let pool = SqlitePool::connect("sqlite::memory:").await?;
    /// let store = SqliteStore::new(pool);
    /// store.migrate().await?;
    /// # Ok(()) }
    /// ```
    pub fn new(pool: SqlitePool) -> Self {
        let table = Ident::new(DEFAULT_TABLE).unwrap_or_else(|_| unreachable!());
        Self::build(
            pool,
            table,
            DEFAULT_CLEANUP_BATCH,
            DEFAULT_OPERATION_TIMEOUT,
        )
    }

    /// The same store on table `name` (`[A-Za-z0-9_]{1,40}`), with its revocations in
    /// `<name>_revocations`.
    pub fn with_table(self, name: &str) -> Result<Self, InvalidIdentifier> {
        let queries = &self.inner.queries;
        Ok(Self::build(
            queries.pool().clone(),
            Ident::new(name)?,
            queries.batch(),
            queries.operation_timeout(),
        ))
    }

    /// The same store deleting at most `rows` expired rows per statement (at least 1).
    pub fn with_cleanup_batch(self, rows: u32) -> Self {
        let inner = &self.inner;
        let limit = inner.queries.operation_timeout();
        Self::build(
            inner.queries.pool().clone(),
            inner.table.clone(),
            rows,
            limit,
        )
    }

    /// The same store with every operation bounded by `limit` (default
    /// [`DEFAULT_OPERATION_TIMEOUT`], 4 s): an operation still waiting then — for the
    /// write lock, for a pooled connection, for the disk — fails with
    /// [`StoreError::Unavailable`]. A write that timed out may still land. `delete_expired`
    /// bounds each batch, not the whole sweep. Pools built by [`SqliteStore::connect`] also
    /// stop waiting for a connection after 4 s; give pools you build yourself an acquire
    /// timeout no longer than `limit`.
    pub fn with_operation_timeout(self, limit: Duration) -> Self {
        let inner = &self.inner;
        let (pool, batch) = (inner.queries.pool().clone(), inner.queries.batch());
        Self::build(pool, inner.table.clone(), batch, limit)
    }

    fn build(pool: SqlitePool, table: Ident, batch: u32, limit: Duration) -> Self {
        let tables = Tables::new(&table);
        let queries = Queries::new(pool, &tables.sessions, &tables.revocations, batch)
            .with_operation_timeout(limit);
        let inner = Inner {
            queries: Arc::new(queries),
            apply_refused: sql_text(apply_refused_sql(&tables)),
            rotate: RotateSql {
                refused: sql_text(rotate_refused_sql(&tables)),
                delete: sql_text(format!("DELETE FROM {} WHERE key = $1", tables.sessions)),
            },
            tables,
            table,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The underlying pool.
    pub fn pool(&self) -> &SqlitePool {
        self.inner.queries.pool()
    }

    /// Creates the tables and their indexes, or upgrades them, with the embedded
    /// migrations not applied yet. Idempotent. Not bounded by the operation timeout.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        schema::migrate(self.pool(), &self.inner.table).await
    }

    /// Starts a task that runs [`SessionStore::delete_expired`] about every `every` (with
    /// ±10% random jitter). It stops when the last clone of this store is dropped.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn spawn_cleanup(&self, every: Duration) -> CleanupHandle {
        Queries::spawn_cleanup(&self.inner.queries, every)
    }
}

fn is_in_memory(url: &str) -> bool {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    path.ends_with(":memory:") || query.split('&').any(|p| p == "mode=memory")
}

/// Everything but `apply` and `rotate` is the shared [`Queries`]; every operation is bounded
/// by the operation timeout.
#[async_trait]
impl SessionStore for SqliteStore {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        self.inner.queries.load(key).await
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<CreateOutcome, StoreError> {
        self.inner.queries.create(key, record).await
    }

    async fn apply(
        &self,
        key: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<ApplyOutcome, StoreError> {
        let inner = &self.inner;
        inner
            .queries
            .bounded(async {
                let expected = expected_version.map(version_to_db).transpose()?;
                let now = Timestamp::now();
                // With its base (the manager's every write), first the whole data under the
                // loaded version; when another write landed since, the key-by-key merge.
                if let Some(base) = whole_write(changes, expected_version) {
                    let whole = update::apply_whole(&inner.tables, key, changes, base, now)?;
                    if let Some(version) = self.returned_version(whole).await? {
                        return Ok(ApplyOutcome::Applied(version_from_db(version)?));
                    }
                }
                let statement = update::apply(&inner.tables, key, changes, expected, now)?;
                match (self.returned_version(statement).await?, expected) {
                    (Some(version), _) => Ok(ApplyOutcome::Applied(version_from_db(version)?)),
                    // Not live, or refused by the revocation rule: Missing either way.
                    (None, None) => Ok(ApplyOutcome::Missing),
                    // Strict mode and nothing matched: a second query (only on this rare path)
                    // tells a live row at another version (Conflict) from the rest (Missing).
                    (None, Some(expected)) => {
                        let sql = &inner.apply_refused;
                        rotate::apply_refused(self.pool(), sql, key, changes, expected).await
                    }
                }
            })
            .await
    }

    async fn rotate(
        &self,
        from: &StoreKey,
        to: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<RotateOutcome, StoreError> {
        let inner = &self.inner;
        let keys = (from, to);
        let rotation = rotate::rotate(
            self.pool(),
            &inner.tables,
            &inner.rotate,
            keys,
            changes,
            expected_version,
        );
        inner.queries.bounded(rotation).await
    }

    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) -> Result<bool, StoreError> {
        self.inner.queries.touch(key, expires_at).await
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.inner.queries.delete(key).await
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.inner.queries.delete_expired().await
    }

    async fn sessions_of(&self, user: &str, page: &PageRequest) -> Result<SessionPage, StoreError> {
        self.inner.queries.sessions_of(user, page).await
    }

    async fn delete_session_of(&self, user: &str, key: &StoreKey) -> Result<bool, StoreError> {
        self.inner.queries.delete_session_of(user, key).await
    }

    async fn trim_sessions_of(
        &self,
        user: &str,
        keep: &StoreKey,
        max: usize,
    ) -> Result<u64, StoreError> {
        self.inner.queries.trim_sessions_of(user, keep, max).await
    }

    async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        self.inner.queries.delete_sessions_of(user, except).await
    }
}

impl SqliteStore {
    /// Runs an `UPDATE … RETURNING version`: the version when a row was written.
    async fn returned_version(
        &self,
        mut statement: sqlx::QueryBuilder<sqlx::Sqlite>,
    ) -> Result<Option<i64>, StoreError> {
        // `fetch_all`, not `fetch_optional`: step the statement to completion here, so its
        // implicit transaction ends before the connection goes back to the pool rather than
        // whenever the statement is next reset (it yields at most one row).
        Ok(statement
            .build_query_scalar()
            .fetch_all(self.pool())
            .await
            .map_err(SqliteDialect::map_error)?
            .pop())
    }
}

/// The base an `apply` can write whole under: one that changes data, and whose loaded
/// version is the expected one in strict mode (another expected version cannot match).
fn whole_write(changes: &Changeset, expected: Option<u64>) -> Option<&Base> {
    let base = changes.base.as_ref()?;
    (changes.writes_data() && expected.is_none_or(|e| e == base.version)).then_some(base)
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
