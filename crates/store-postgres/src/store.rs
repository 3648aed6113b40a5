//! `PostgresStore`: construction, migration and the `SessionStore` implementation.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    ApplyOutcome, Changeset, CleanupHandle, CreateOutcome, Record, SessionStore, SessionSummary,
    StoreError, StoreKey, Timestamp, spawn_cleanup,
};
use sqlx::PgPool;
use sqlx::Row;
use sqlx::postgres::PgPoolOptions;

use crate::codec::{
    encode_data, escape_str, record_from_row, summary_from_row, version_from_db, version_to_db,
};
use crate::error;
use crate::ident::{Ident, InvalidIdentifier};
use crate::schema::{self, Statements, Table};

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

pub(crate) struct Inner {
    pool: PgPool,
    table: Table,
    sql: Statements,
    batch: u32,
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
            .map_err(error::map)?;
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
        Ok(Self::build(
            self.inner.pool.clone(),
            table,
            self.inner.batch,
        ))
    }

    /// The same store with its table in schema `name` (`[A-Za-z0-9_]{1,40}`), which
    /// [`PostgresStore::migrate`] creates if needed.
    pub fn with_schema(self, name: &str) -> Result<Self, InvalidIdentifier> {
        let table = Table {
            schema: Some(Ident::new(name)?),
            ..self.inner.table.clone()
        };
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

    fn build(pool: PgPool, table: Table, batch: u32) -> Self {
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
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Creates the schema (if set), the table and its indexes if they do not exist yet.
    /// Idempotent, and safe to call from many processes at once.
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
        }
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
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
            .bind(encode_data(&record.data))
            .bind(record.created_at.as_millis())
            .bind(record.expires_at.as_millis())
            .bind(record.user.as_deref().map(escape_str))
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
        let removed: Vec<String> = changes
            .removed
            .iter()
            .map(|k| escape_str(k).into_owned())
            .collect();
        let new_user = changes
            .user
            .as_ref()
            .and_then(|u| u.as_deref().map(escape_str));
        let row = sqlx::query(&self.inner.sql.apply)
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
            .fetch_one(&self.inner.pool)
            .await
            .map_err(error::map)?;
        let applied: Option<i64> = row.try_get("applied").map_err(error::map)?;
        let live: bool = row.try_get("live").map_err(error::map)?;
        Ok(match (applied, live) {
            (Some(version), _) => ApplyOutcome::Applied(version_from_db(version)?),
            (None, true) if expected_version.is_some() => ApplyOutcome::Conflict,
            (None, _) => ApplyOutcome::Missing,
        })
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
            .bind(escape_str(user))
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
            .bind(escape_str(user))
            .bind(except.map(StoreKey::as_str))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(error::map)?;
        // Expired rows of the user go too, but only live sessions count as logged out.
        Ok(deadlines.iter().filter(|&&d| d > now).count() as u64)
    }
}
