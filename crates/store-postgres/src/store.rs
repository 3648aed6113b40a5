//! `PostgresStore`: construction, migration and the `SessionStore` implementation.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    ApplyOutcome, Changeset, CleanupHandle, CreateOutcome, Record, SessionStore, SessionSummary,
    StoreError, StoreKey, Timestamp,
};
use sqlx::PgPool;
use sqlx::Row;
use sqlx::postgres::PgPoolOptions;
use store_sql::{Dialect, Ident, InvalidIdentifier, Queries, version_from_db, version_to_db};

use crate::codec::{encode_data, escape_str};
use crate::dialect::PgDialect;
use crate::schema::{self, Table, apply_sql};

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
    /// See [`apply_sql`].
    apply: String,
}

impl PostgresStore {
    /// Opens a pool on `url` (`postgres://user:password@host:5432/database`); fails with
    /// [`StoreError::Unavailable`] when the server cannot be reached within
    /// [`CONNECT_TIMEOUT`].
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
    pub fn new(pool: PgPool) -> Self {
        let name = Ident::new(DEFAULT_TABLE).unwrap_or_else(|_| unreachable!());
        Self::build(pool, Table { schema: None, name }, DEFAULT_CLEANUP_BATCH)
    }

    /// The same store on table `name` (`[A-Za-z0-9_]{1,40}`).
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
        Self::build(inner.queries.pool().clone(), inner.table.clone(), rows)
    }

    fn rebuild(&self, table: Table) -> Self {
        let queries = &self.inner.queries;
        Self::build(queries.pool().clone(), table, queries.batch())
    }

    fn build(pool: PgPool, table: Table, batch: u32) -> Self {
        let qualified = table.sql();
        let inner = Inner {
            queries: Arc::new(Queries::new(pool, &qualified, batch)),
            apply: apply_sql(&qualified),
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

    /// Creates the schema (if set), the table and its indexes if they do not exist yet.
    /// Idempotent, and safe to call from many processes at once.
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

/// Everything but `apply` is the shared [`Queries`].
#[async_trait]
impl SessionStore for PostgresStore {
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
        let removed: Vec<String> = changes
            .removed
            .iter()
            .map(|k| escape_str(k).into_owned())
            .collect();
        let new_user = changes
            .user
            .as_ref()
            .and_then(|u| u.as_deref().map(escape_str));
        let row = sqlx::query(&self.inner.apply)
            .bind(key.as_str())
            .bind(Timestamp::now().as_millis())
            .bind(changes.cleared)
            .bind(removed)
            .bind(encode_data(&changes.set))
            .bind(changes.expires_at.as_millis())
            .bind(changes.user.is_some())
            .bind(new_user)
            .bind(changes.persistent)
            .bind(expected_version.map(version_to_db).transpose()?)
            .fetch_one(self.pool())
            .await
            .map_err(PgDialect::map_error)?;
        let applied: Option<i64> = row.try_get("applied").map_err(PgDialect::map_error)?;
        let live: bool = row.try_get("live").map_err(PgDialect::map_error)?;
        Ok(match (applied, live) {
            (Some(version), _) => ApplyOutcome::Applied(version_from_db(version)?),
            (None, true) if expected_version.is_some() => ApplyOutcome::Conflict,
            (None, _) => ApplyOutcome::Missing,
        })
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

    async fn sessions_of(&self, user: &str) -> Result<Vec<SessionSummary>, StoreError> {
        self.inner.queries.sessions_of(user).await
    }

    async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        self.inner.queries.delete_sessions_of(user, except).await
    }
}
