//! `PostgresStore`: construction, migration and the `SessionStore` implementation.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    PageRequest, SessionPage, Timestamp,
    store::{
        ApplyOutcome, Changeset, CleanupHandle, CreateOutcome, Record, RotateOutcome, SessionStore,
        StoreError, StoreKey,
    },
};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, SqlStr};
use store_sql::{DEFAULT_OPERATION_TIMEOUT, Dialect, Ident, InvalidIdentifier, Queries, sql_text};

use crate::dialect::PgDialect;
use crate::schema::{self, Table};
use crate::{ops, sql};

/// The table used unless [`PostgresStore::with_table`] names another.
pub const DEFAULT_TABLE: &str = "sessions";
/// Rows deleted per statement by [`SessionStore::delete_expired`] unless configured.
pub const DEFAULT_CLEANUP_BATCH: u32 = 1000;
/// How long [`PostgresStore::connect`] waits for a connection before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`SessionStore`] on PostgreSQL. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    queries: Arc<Queries<PgDialect>>,
    table: Table,
    /// See [`sql::create`].
    create: SqlStr,
    /// See [`sql::apply`].
    apply: SqlStr,
    /// See [`sql::apply_unguarded`].
    apply_unguarded: SqlStr,
    /// See [`sql::rotate`].
    rotate: SqlStr,
}

impl PostgresStore {
    /// Opens a pool on `url` (`postgres://user:password@host:5432/database`); fails with
    /// [`StoreError::Unavailable`] when the server cannot be reached within
    /// [`CONNECT_TIMEOUT`], which also bounds every later wait for a pooled connection
    /// (instead of sqlx's 30 s; each operation is bounded by the operation timeout anyway).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::store::StoreError> {
    /// use store_postgres::PostgresStore;
    ///
    /// let url = std::env::var("POSTGRES_URL").unwrap_or("postgres://localhost/test".into());
    /// let store = PostgresStore::connect(&url).await?;
    /// store.migrate().await?; // creates the tables on first use
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect(url)
            .await
            .map_err(PgDialect::map_error)?;
        Ok(Self::new(pool))
    }

    /// A store on an existing pool, using table [`DEFAULT_TABLE`] in the connection's
    /// `search_path`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use store_postgres::{PostgresStore, sqlx::PgPool};
    ///
    /// let url = std::env::var("POSTGRES_URL").unwrap_or("postgres://localhost/test".into());
    /// let store = PostgresStore::new(PgPool::connect(&url).await?).with_schema("public")?;
    /// store.migrate().await?;
    /// # Ok(()) }
    /// ```
    pub fn new(pool: PgPool) -> Self {
        let name = Ident::new(DEFAULT_TABLE).unwrap_or_else(|_| unreachable!());
        let table = Table { schema: None, name };
        Self::build(
            pool,
            table,
            DEFAULT_CLEANUP_BATCH,
            DEFAULT_OPERATION_TIMEOUT,
        )
    }

    /// The same store on table `name` (`[A-Za-z0-9_]{1,40}`), with its revocations in
    /// `<name>_revocations` beside it.
    pub fn with_table(self, name: &str) -> Result<Self, InvalidIdentifier> {
        let table = Table {
            name: Ident::new(name)?,
            ..self.inner.table.clone()
        };
        Ok(self.rebuild(table))
    }

    /// The same store with its table in schema `name` (`[A-Za-z0-9_]{1,40}`), which
    /// [`PostgresStore::migrate`] creates if needed.
    pub fn with_schema(self, name: &str) -> Result<Self, InvalidIdentifier> {
        let table = Table {
            schema: Some(Ident::new(name)?),
            ..self.inner.table.clone()
        };
        Ok(self.rebuild(table))
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
    /// server, a row lock or a pooled connection — fails with [`StoreError::Unavailable`].
    /// A write that timed out may still land. `delete_expired` bounds each batch, not the
    /// whole sweep. Give pools you build yourself an acquire timeout no longer than `limit`.
    pub fn with_operation_timeout(self, limit: Duration) -> Self {
        let inner = &self.inner;
        let (pool, batch) = (inner.queries.pool().clone(), inner.queries.batch());
        Self::build(pool, inner.table.clone(), batch, limit)
    }

    fn rebuild(&self, table: Table) -> Self {
        let queries = &self.inner.queries;
        let limit = queries.operation_timeout();
        Self::build(queries.pool().clone(), table, queries.batch(), limit)
    }

    fn build(pool: PgPool, table: Table, batch: u32, limit: Duration) -> Self {
        let (qualified, revocations) = (table.sql(), table.revocations());
        let queries =
            Queries::new(pool, &qualified, &revocations, batch).with_operation_timeout(limit);
        let inner = Inner {
            queries: Arc::new(queries),
            create: sql_text(sql::create(&qualified, &revocations)),
            apply: sql_text(sql::apply(&qualified, &revocations)),
            apply_unguarded: sql_text(sql::apply_unguarded(&qualified)),
            rotate: sql_text(sql::rotate(&qualified, &revocations)),
            table,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The underlying pool.
    pub fn pool(&self) -> &PgPool {
        self.inner.queries.pool()
    }

    /// Creates the schema (if set), the tables and their indexes, or upgrades them, with
    /// the embedded migrations not applied yet. Idempotent, and safe to call from many
    /// processes at once. Not bounded by the operation timeout.
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

/// `create`, `apply` and `rotate` are this crate's own statements (the private `sql` module), the rest is the
/// shared [`Queries`]; every operation is bounded by the operation timeout.
#[async_trait]
impl SessionStore for PostgresStore {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        self.inner.queries.load(key).await
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<CreateOutcome, StoreError> {
        let inner = &self.inner;
        let create = ops::create(self.pool(), &inner.create, key, record);
        inner.queries.bounded(create).await
    }

    async fn apply(
        &self,
        key: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<ApplyOutcome, StoreError> {
        let inner = &self.inner;
        let sql = (&inner.apply, &inner.apply_unguarded);
        let apply = ops::apply(self.pool(), sql, key, changes, expected_version);
        inner.queries.bounded(apply).await
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
        let rotate = ops::rotate(self.pool(), &inner.rotate, keys, changes, expected_version);
        inner.queries.bounded(rotate).await
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
