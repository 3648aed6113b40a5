//! The operations whose SQL is the same on every backend, run on a pool.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use session_core::{
    PageRequest, SessionPage, Timestamp,
    store::{
        CleanupHandle, CreateOutcome, REVOCATION_HORIZON, Record, StoreError, StoreKey,
        spawn_cleanup,
    },
};
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, Pool, Row, SqlStr, Type};

use crate::codec::{record_from_row, summary_from_row, version_to_db};
use crate::statements::Statements;
use crate::{ColumnType, Dialect};

/// How long one store operation may take unless configured otherwise (the same bound as
/// store-redis's default `Timeouts`): past it, the operation fails with
/// [`StoreError::Unavailable`].
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(4);

/// Runs `op`, turning "not done within `limit`" into [`StoreError::Unavailable`].
///
/// The operation is abandoned, not undone: a write that timed out may still have been
/// applied (as with any request whose answer was lost).
pub async fn bounded<T>(
    limit: Duration,
    op: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, op).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::unavailable(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the database did not answer within {limit:?}"),
        ))),
    }
}

/// The fewest rows one batch of `delete_sessions_of` deletes (the cleanup batch size when
/// larger).
const REVOKE_BATCH_MIN: u32 = 500;

/// A table's fixed statements and the pool they run on: everything of a session store
/// but `apply` and `rotate`, which each backend builds its own way.
pub struct Queries<D: Dialect> {
    pool: Pool<D::Db>,
    sql: Statements,
    batch: u32,
    limit: Duration,
}

impl<D: Dialect> fmt::Debug for Queries<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queries")
            .field("sql", &self.sql)
            .field("batch", &self.batch)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<D: Dialect> Queries<D> {
    /// The statements on `table` and its `revocations` table (SQL text naming them:
    /// quoted, possibly schema-qualified, built from [`crate::Ident`]s), deleting at most
    /// `batch` expired rows per statement (at least 1), each operation bounded by
    /// [`DEFAULT_OPERATION_TIMEOUT`].
    pub fn new(pool: Pool<D::Db>, table: &str, revocations: &str, batch: u32) -> Self {
        Self {
            pool,
            sql: Statements::new(table, revocations, D::BATCH_LOCK, D::KEY_AMONG),
            batch: batch.max(1),
            limit: DEFAULT_OPERATION_TIMEOUT,
        }
    }

    /// The same statements with every operation bounded by `limit` instead (see
    /// [`Queries::bounded`]).
    pub fn with_operation_timeout(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }

    /// The pool the statements run on.
    pub fn pool(&self) -> &Pool<D::Db> {
        &self.pool
    }

    /// How many expired rows one cleanup statement deletes at most.
    pub fn batch(&self) -> u32 {
        self.batch
    }

    /// The bound on one operation.
    pub fn operation_timeout(&self) -> Duration {
        self.limit
    }

    /// Runs `op` within this store's operation timeout ([`bounded`]); the backends wrap
    /// their own operations (`apply`, `rotate`) in it too.
    pub async fn bounded<T>(
        &self,
        op: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        bounded(self.limit, op).await
    }
}

impl<D: Dialect> Queries<D>
where
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'a> &'a str: ColumnIndex<<D::Db as Database>::Row> + Encode<'a, D::Db> + Type<D::Db>,
    for<'a> Option<&'a str>: Encode<'a, D::Db>,
    for<'a> Option<i64>: Encode<'a, D::Db>,
    usize: ColumnIndex<<D::Db as Database>::Row>,
    i64: ColumnType<D::Db>,
    bool: ColumnType<D::Db>,
    String: ColumnType<D::Db>,
{
    /// Starts a task that runs [`Queries::delete_expired`] about every `every` (with ±10%
    /// random jitter, see [`session_core::store::spawn_cleanup`]) until `queries` is dropped.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn spawn_cleanup(queries: &Arc<Self>, every: Duration) -> CleanupHandle {
        spawn_cleanup(Arc::downgrade(queries), every, |q: Arc<Self>| async move {
            q.delete_expired().await
        })
    }

    /// [`session_core::store::SessionStore::load`].
    pub async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        self.bounded(async {
            let row = sqlx::query(self.sql.load.clone())
                .bind(key.as_str())
                .bind(Timestamp::now().as_millis())
                .fetch_optional(&self.pool)
                .await
                .map_err(D::map_error)?;
            row.as_ref().map(record_from_row::<D>).transpose()
        })
        .await
    }

    /// [`session_core::store::SessionStore::create`]: inserts, or replaces an expired row, unless
    /// the record's user was revoked after it signed in (checked in the same statement).
    ///
    /// When nothing was written for a record with a user, a second query (only on that
    /// rare path) tells a live row under the key (`AlreadyExists`) from a revocation
    /// (`Revoked`). The statement reads the revocations table without locking it, so this
    /// is for backends that run write statements one at a time (SQLite); PostgreSQL's
    /// store has its own `create`, which locks the user's revocation row.
    pub async fn create(
        &self,
        key: &StoreKey,
        record: &Record,
    ) -> Result<CreateOutcome, StoreError> {
        self.bounded(async {
            let now = Timestamp::now().as_millis();
            let user = record.user.as_deref().map(D::encode_text);
            let since = record.authenticated_at.unwrap_or(record.created_at);
            let done = sqlx::query(self.sql.create.clone())
                .bind(key.as_str())
                .bind(D::encode_data(&record.data)?)
                .bind(record.created_at.as_millis())
                .bind(record.expires_at.as_millis())
                .bind(user.as_deref())
                .bind(record.authenticated_at.map(Timestamp::as_millis))
                .bind(record.persistent)
                .bind(version_to_db(record.version)?)
                .bind(now)
                .bind(since.as_millis())
                .bind(record.last_seen.as_millis())
                .bind(record.label.as_deref().map(D::encode_text).as_deref())
                .execute(&self.pool)
                .await
                .map_err(D::map_error)?;
            if D::rows_affected(&done) == 1 {
                return Ok(CreateOutcome::Created);
            }
            let Some(user) = user else {
                return Ok(CreateOutcome::AlreadyExists);
            };
            let row = sqlx::query(self.sql.create_refused.clone())
                .bind(key.as_str())
                .bind(now)
                .bind(&*user)
                .bind(since.as_millis())
                .fetch_one(&self.pool)
                .await
                .map_err(D::map_error)?;
            let live: bool = row.try_get("live").map_err(D::map_error)?;
            let revoked: bool = row.try_get("revoked").map_err(D::map_error)?;
            // Revocations only accumulate (within the horizon), so a revocation seen now
            // that was not there at the insert is one a create now would meet as well.
            Ok(if revoked && !live {
                CreateOutcome::Revoked
            } else {
                CreateOutcome::AlreadyExists
            })
        })
        .await
    }

    /// [`session_core::store::SessionStore::touch`].
    pub async fn touch(&self, key: &StoreKey, expires_at: Timestamp) -> Result<bool, StoreError> {
        self.bounded(async {
            let done = sqlx::query(self.sql.touch.clone())
                .bind(expires_at.as_millis())
                .bind(key.as_str())
                .bind(Timestamp::now().as_millis())
                .execute(&self.pool)
                .await
                .map_err(D::map_error)?;
            Ok(D::rows_affected(&done) > 0)
        })
        .await
    }

    /// [`session_core::store::SessionStore::delete`].
    pub async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.bounded(async {
            sqlx::query(self.sql.delete.clone())
                .bind(key.as_str())
                .execute(&self.pool)
                .await
                .map_err(D::map_error)?;
            Ok(())
        })
        .await
    }

    /// [`session_core::store::SessionStore::delete_expired`]: one statement per batch until a
    /// batch comes back short, then the same for revocations older than
    /// [`REVOCATION_HORIZON`]; returns how many sessions went. Each statement (not the
    /// whole sweep, which may be long after an outage) is bounded by the operation timeout.
    pub async fn delete_expired(&self) -> Result<u64, StoreError> {
        let now = Timestamp::now();
        let sessions = self
            .delete_batches(&self.sql.delete_expired_batch, now)
            .await?;
        let horizon = now.sub(REVOCATION_HORIZON);
        self.delete_batches(&self.sql.prune_revocations_batch, horizon)
            .await?;
        Ok(sessions)
    }

    /// Runs `sql` (`$1` the cutoff, `$2` the batch size) until a batch comes back short.
    async fn delete_batches(&self, sql: &SqlStr, cutoff: Timestamp) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let done = self
                .bounded(async {
                    sqlx::query(sql.clone())
                        .bind(cutoff.as_millis())
                        .bind(i64::from(self.batch))
                        .execute(&self.pool)
                        .await
                        .map_err(D::map_error)
                })
                .await?;
            let n = D::rows_affected(&done);
            total += n;
            if n < u64::from(self.batch) {
                return Ok(total);
            }
            // Let other tasks (and, on SQLite, other writers) in between batches.
            tokio::task::yield_now().await;
        }
    }

    /// [`session_core::store::SessionStore::sessions_of`]: one indexed query for `limit + 1`
    /// rows (the extra one says whether a next page exists).
    pub async fn sessions_of(
        &self,
        user: &str,
        page: &PageRequest,
    ) -> Result<SessionPage, StoreError> {
        self.bounded(async {
            let user = D::encode_text(user);
            let rows = i64::try_from(page.limit() + 1).unwrap_or(i64::MAX);
            let now = Timestamp::now().as_millis();
            let query = match page.before() {
                None => sqlx::query(self.sql.sessions_of.clone())
                    .bind(&*user)
                    .bind(now)
                    .bind(rows),
                Some(cursor) => sqlx::query(self.sql.sessions_of_after.clone())
                    .bind(&*user)
                    .bind(now)
                    .bind(rows)
                    .bind(cursor.created_at.as_millis())
                    .bind(cursor.key.as_str()),
            };
            let rows = query.fetch_all(&self.pool).await.map_err(D::map_error)?;
            let summaries = rows
                .iter()
                .map(summary_from_row::<D>)
                .collect::<Result<_, _>>()?;
            Ok(page.page_of(summaries))
        })
        .await
    }

    /// [`session_core::store::SessionStore::delete_session_of`]: one `DELETE` keyed by the
    /// primary key and guarded by the owner.
    pub async fn delete_session_of(&self, user: &str, key: &StoreKey) -> Result<bool, StoreError> {
        self.bounded(async {
            let deadline: Option<i64> = sqlx::query_scalar(self.sql.delete_session_of.clone())
                .bind(key.as_str())
                .bind(&*D::encode_text(user))
                .fetch_optional(&self.pool)
                .await
                .map_err(D::map_error)?;
            Ok(deadline.is_some_and(|d| d > Timestamp::now().as_millis()))
        })
        .await
    }

    /// [`session_core::store::SessionStore::trim_sessions_of`]: one `DELETE` whose sub-select
    /// keeps the `max - 1` most recently seen others; the user's expired rows go too, but
    /// only live ones count.
    pub async fn trim_sessions_of(
        &self,
        user: &str,
        keep: &StoreKey,
        max: usize,
    ) -> Result<u64, StoreError> {
        self.bounded(async {
            let now = Timestamp::now().as_millis();
            let others = i64::try_from(max.saturating_sub(1)).unwrap_or(i64::MAX);
            let deadlines: Vec<i64> = sqlx::query_scalar(self.sql.trim_sessions_of.clone())
                .bind(&*D::encode_text(user))
                .bind(keep.as_str())
                .bind(now)
                .bind(others)
                .fetch_all(&self.pool)
                .await
                .map_err(D::map_error)?;
            Ok(deadlines.iter().filter(|&&d| d > now).count() as u64)
        })
        .await
    }

    /// [`session_core::store::SessionStore::delete_sessions_of`]: records the revocation (now,
    /// keeping `except`; a later one already recorded stays) and commits it, then deletes
    /// the user's rows, expired ones too, in batches of [`Queries::batch`] rows (at least
    /// 500) until a batch comes back short, then once more by the user alone (the last
    /// sweep, which on PostgreSQL follows a row a rotation in flight moved), and counts the
    /// live ones. Each step is bounded by the operation timeout on its own, so a user with
    /// very many sessions is signed out completely however long the whole takes.
    ///
    /// On PostgreSQL the revocation locks the user's revocation row, which every write
    /// that binds the user locks too: a login that committed before it is seen by the
    /// sweeps (each reads a fresh snapshot) and deleted, a login that waits for it sees it
    /// and is refused, and a login or rotation begun before it and arriving later is
    /// refused by the rule. A plain rotation that missed the revocation and commits while
    /// the last sweep runs is re-checked by it under its new key.
    pub async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        let now = Timestamp::now().as_millis();
        let user = D::encode_text(user);
        let except = except.map(StoreKey::as_str);
        self.bounded(async {
            sqlx::query(self.sql.revoke.clone())
                .bind(&*user)
                .bind(now)
                .bind(except)
                .execute(&self.pool)
                .await
                .map_err(D::map_error)
        })
        .await?;
        let batch = i64::from(self.batch.max(REVOKE_BATCH_MIN));
        let mut live = 0;
        let mut last = false;
        loop {
            let (sql, rows) = if last {
                (&self.sql.delete_sessions_of, None)
            } else {
                (&self.sql.delete_sessions_of_batch, Some(batch))
            };
            let deadlines: Vec<i64> = self
                .bounded(async {
                    let query = sqlx::query_scalar(sql.clone()).bind(&*user).bind(except);
                    let query = match rows {
                        Some(rows) => query.bind(rows),
                        None => query,
                    };
                    query.fetch_all(&self.pool).await.map_err(D::map_error)
                })
                .await?;
            // Expired rows of the user go too, but only live sessions count as logged out.
            live += deadlines.iter().filter(|&&d| d > now).count() as u64;
            if last {
                return Ok(live);
            }
            // A short batch leaves few rows: the last sweep takes them and any row moved
            // meanwhile.
            last = (deadlines.len() as i64) < batch;
            tokio::task::yield_now().await;
        }
    }
}
