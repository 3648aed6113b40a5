//! The operations whose SQL is the same on every backend, run on a pool.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use session_core::{
    CleanupHandle, CreateOutcome, Record, SessionSummary, StoreError, StoreKey, Timestamp,
    spawn_cleanup,
};
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, Pool, Type};

use crate::codec::{record_from_row, summary_from_row, version_to_db};
use crate::statements::Statements;
use crate::{ColumnType, Dialect};

/// A table's fixed statements and the pool they run on: everything of a session store
/// but `apply`, which each backend builds its own way.
pub struct Queries<D: Dialect> {
    pool: Pool<D::Db>,
    sql: Statements,
    batch: u32,
}

impl<D: Dialect> fmt::Debug for Queries<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queries")
            .field("sql", &self.sql)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl<D: Dialect> Queries<D> {
    /// The statements on `table` (SQL text naming it: quoted, possibly schema-qualified,
    /// built from [`crate::Ident`]s), deleting at most `batch` expired rows per statement
    /// (at least 1).
    pub fn new(pool: Pool<D::Db>, table: &str, batch: u32) -> Self {
        Self {
            pool,
            sql: Statements::new(table, D::BATCH_LOCK),
            batch: batch.max(1),
        }
    }

    /// The pool the statements run on.
    pub fn pool(&self) -> &Pool<D::Db> {
        &self.pool
    }

    /// How many expired rows one cleanup statement deletes at most.
    pub fn batch(&self) -> u32 {
        self.batch
    }
}

impl<D: Dialect> Queries<D>
where
    for<'q> <D::Db as Database>::Arguments<'q>: IntoArguments<'q, D::Db>,
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'a> &'a str: ColumnIndex<<D::Db as Database>::Row> + Encode<'a, D::Db> + Type<D::Db>,
    for<'a> Option<&'a str>: Encode<'a, D::Db>,
    usize: ColumnIndex<<D::Db as Database>::Row>,
    i64: ColumnType<D::Db>,
    bool: ColumnType<D::Db>,
    String: ColumnType<D::Db>,
{
    /// Starts a task that runs [`Queries::delete_expired`] about every `every` (with ±10%
    /// random jitter, see [`session_core::spawn_cleanup`]) until `queries` is dropped.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn spawn_cleanup(queries: &Arc<Self>, every: Duration) -> CleanupHandle {
        spawn_cleanup(Arc::downgrade(queries), every, |q: Arc<Self>| async move {
            q.delete_expired().await
        })
    }

    /// [`session_core::SessionStore::load`].
    pub async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(&self.sql.load)
            .bind(key.as_str())
            .bind(Timestamp::now().as_millis())
            .fetch_optional(&self.pool)
            .await
            .map_err(D::map_error)?;
        row.as_ref().map(record_from_row::<D>).transpose()
    }

    /// [`session_core::SessionStore::create`]: inserts, or replaces an expired row.
    pub async fn create(
        &self,
        key: &StoreKey,
        record: &Record,
    ) -> Result<CreateOutcome, StoreError> {
        let user = record.user.as_deref().map(D::encode_text);
        let done = sqlx::query(&self.sql.create)
            .bind(key.as_str())
            .bind(D::encode_data(&record.data)?)
            .bind(record.created_at.as_millis())
            .bind(record.expires_at.as_millis())
            .bind(user.as_deref())
            .bind(record.persistent)
            .bind(version_to_db(record.version)?)
            .bind(Timestamp::now().as_millis())
            .execute(&self.pool)
            .await
            .map_err(D::map_error)?;
        Ok(if D::rows_affected(&done) == 1 {
            CreateOutcome::Created
        } else {
            CreateOutcome::AlreadyExists
        })
    }

    /// [`session_core::SessionStore::touch`].
    pub async fn touch(&self, key: &StoreKey, expires_at: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(&self.sql.touch)
            .bind(expires_at.as_millis())
            .bind(key.as_str())
            .bind(Timestamp::now().as_millis())
            .execute(&self.pool)
            .await
            .map_err(D::map_error)?;
        Ok(D::rows_affected(&done) > 0)
    }

    /// [`session_core::SessionStore::delete`].
    pub async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        sqlx::query(&self.sql.delete)
            .bind(key.as_str())
            .execute(&self.pool)
            .await
            .map_err(D::map_error)?;
        Ok(())
    }

    /// [`session_core::SessionStore::delete_expired`]: one statement per batch until a
    /// batch comes back short.
    pub async fn delete_expired(&self) -> Result<u64, StoreError> {
        let now = Timestamp::now().as_millis();
        let mut total = 0;
        loop {
            let done = sqlx::query(&self.sql.delete_expired_batch)
                .bind(now)
                .bind(i64::from(self.batch))
                .execute(&self.pool)
                .await
                .map_err(D::map_error)?;
            let n = D::rows_affected(&done);
            total += n;
            if n < u64::from(self.batch) {
                return Ok(total);
            }
            // Let other tasks (and, on SQLite, other writers) in between batches.
            tokio::task::yield_now().await;
        }
    }

    /// [`session_core::SessionStore::sessions_of`].
    pub async fn sessions_of(&self, user: &str) -> Result<Vec<SessionSummary>, StoreError> {
        let rows = sqlx::query(&self.sql.sessions_of)
            .bind(&*D::encode_text(user))
            .bind(Timestamp::now().as_millis())
            .fetch_all(&self.pool)
            .await
            .map_err(D::map_error)?;
        rows.iter().map(summary_from_row::<D>).collect()
    }

    /// [`session_core::SessionStore::delete_sessions_of`]: deletes the user's rows, expired
    /// ones too, and counts the live ones.
    pub async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        let now = Timestamp::now().as_millis();
        let deadlines: Vec<i64> = sqlx::query_scalar(&self.sql.delete_sessions_of)
            .bind(&*D::encode_text(user))
            .bind(except.map(StoreKey::as_str))
            .fetch_all(&self.pool)
            .await
            .map_err(D::map_error)?;
        // Expired rows of the user go too, but only live sessions count as logged out.
        Ok(deadlines.iter().filter(|&&d| d > now).count() as u64)
    }
}
