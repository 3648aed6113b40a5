//! The connect-pg-simple 10 layout, next to the native one: what an Express app's
//! `new (require('connect-pg-simple')(session))({pool})` reads and writes.
//!
//! ```sql
//! CREATE TABLE "session" (sid varchar NOT NULL COLLATE "default", sess json NOT NULL,
//!                         expire timestamp(6) NOT NULL);   -- + PRIMARY KEY (sid), index on expire
//! ```
//!
//! Keyed by the **plain** session id. `sess` is written as `json` text, verbatim (like
//! node-postgres's `JSON.stringify`); compare-and-set writes compare `sess::text` with the
//! text that was read.
//!
//! # Time zones, made explicit
//!
//! `expire` is `timestamp WITHOUT time zone`. connect-pg-simple writes
//! `to_timestamp(<epoch seconds>)`, a `timestamptz` that PostgreSQL turns into a wall-clock
//! time in the **session's `TimeZone`** — node-postgres sends none, so the server's (or the
//! database's or role's) default applies. sqlx sets `TimeZone=UTC` on its connections. This
//! layout never depends on either: it converts instants itself as UTC wall-clock
//! (`TIMESTAMP 'epoch' + <ms> * INTERVAL '1 millisecond'`, and `EXTRACT(EPOCH FROM expire)`
//! back), so `expire` always holds UTC. The Node side must then also write UTC: run
//! PostgreSQL (or the Node app's role or database) with `TimeZone = 'UTC'`, or give
//! node-postgres `options: '-c TimeZone=UTC'`. With any other zone, each side would see
//! the other's sessions expire hours early or late.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use session_core::express::{ConnectLayout, ExpressFormat, ExpressStore, Stored};
use session_core::{Timestamp, store::StoreError};
use sqlx::{PgPool, Row, SqlStr};
use store_sql::{DEFAULT_OPERATION_TIMEOUT, Dialect, Ident, InvalidIdentifier, bounded, sql_text};

use crate::dialect::PgDialect;
use crate::schema::Table;

/// connect-pg-simple's default table name.
pub const CONNECT_PG_TABLE: &str = "session";

/// Expired rows deleted per statement by [`ConnectLayout::prune`].
const PRUNE_BATCH: i64 = 1000;

/// An instant (ms since the epoch, bound as `int8`) as a UTC wall-clock `timestamp`.
fn utc(param: &str) -> String {
    format!("(TIMESTAMP 'epoch' + {param}::int8 * INTERVAL '1 millisecond')")
}

#[derive(Debug)]
struct Statements {
    read: SqlStr,
    insert: SqlStr,
    replace: SqlStr,
    remove: SqlStr,
    expire: SqlStr,
    delete: SqlStr,
    prune: SqlStr,
    list: SqlStr,
}

impl Statements {
    fn new(t: &str) -> Self {
        Self {
            read: sql_text(format!(
                "SELECT sess::text AS sess, (EXTRACT(EPOCH FROM expire) * 1000)::int8 AS expire_ms \
                 FROM {t} WHERE sid = $1 AND expire >= {}",
                utc("$2")
            )),
            insert: sql_text(format!(
                "INSERT INTO {t} AS s (sid, sess, expire) VALUES ($1, $2::json, {}) \
                 ON CONFLICT (sid) DO UPDATE SET sess = EXCLUDED.sess, expire = EXCLUDED.expire \
                 WHERE s.expire < {}",
                utc("$3"),
                utc("$4")
            )),
            replace: sql_text(format!(
                "UPDATE {t} SET sess = $2::json, expire = {} \
                 WHERE sid = $1 AND sess::text = $4 AND expire >= {}",
                utc("$3"),
                utc("$5")
            )),
            remove: sql_text(format!(
                "DELETE FROM {t} WHERE sid = $1 AND sess::text = $2"
            )),
            expire: sql_text(format!(
                "UPDATE {t} SET expire = {} WHERE sid = $1 AND expire >= {}",
                utc("$2"),
                utc("$3")
            )),
            delete: sql_text(format!("DELETE FROM {t} WHERE sid = $1")),
            list: sql_text(format!(
                "SELECT sid FROM {t} WHERE $1::text IS NULL OR sid > $1 ORDER BY sid LIMIT $2"
            )),
            prune: sql_text(format!(
                "DELETE FROM {t} WHERE sid IN (SELECT sid FROM {t} WHERE expire < {} \
                 LIMIT {PRUNE_BATCH} FOR UPDATE SKIP LOCKED)",
                utc("$1")
            )),
        }
    }
}

/// The connect-pg-simple layout on a pool. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnectPgLayout {
    pool: PgPool,
    table: Table,
    sql: std::sync::Arc<Statements>,
    limit: Duration,
}

/// The sessions an Express app on connect-pg-simple shares.
pub type ConnectPgStore = ExpressStore<ConnectPgLayout>;

impl ConnectPgLayout {
    /// Table `session` in the connection's `search_path` (connect-pg-simple's defaults),
    /// each operation bounded by [`DEFAULT_OPERATION_TIMEOUT`].
    pub fn new(pool: PgPool) -> Self {
        let name = Ident::new(CONNECT_PG_TABLE).unwrap_or_else(|_| unreachable!());
        Self::build(
            pool,
            Table { schema: None, name },
            DEFAULT_OPERATION_TIMEOUT,
        )
    }

    /// The Node side's `tableName` (`[A-Za-z0-9_]{1,40}`).
    pub fn with_table(self, name: &str) -> Result<Self, InvalidIdentifier> {
        let table = Table {
            name: Ident::new(name)?,
            ..self.table.clone()
        };
        Ok(Self::build(self.pool, table, self.limit))
    }

    /// The Node side's `schemaName` (`[A-Za-z0-9_]{1,40}`).
    pub fn with_schema(self, name: &str) -> Result<Self, InvalidIdentifier> {
        let table = Table {
            schema: Some(Ident::new(name)?),
            ..self.table.clone()
        };
        Ok(Self::build(self.pool, table, self.limit))
    }

    /// Every operation bounded by `limit` instead.
    pub fn with_operation_timeout(self, limit: Duration) -> Self {
        Self::build(self.pool, self.table, limit)
    }

    fn build(pool: PgPool, table: Table, limit: Duration) -> Self {
        Self {
            sql: std::sync::Arc::new(Statements::new(&table.sql())),
            pool,
            table,
            limit,
        }
    }

    /// The table, quoted and qualified, as SQL text.
    pub fn table_sql(&self) -> String {
        self.table.sql()
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the schema (if set), the table, its primary key and its `expire` index as
    /// connect-pg-simple's `table.sql` does, unless they exist (then nothing changes:
    /// a table the Node app created is used as it is). The constraint and index are named
    /// `<table>_pkey` and `IDX_<table>_expire` — for the default table exactly
    /// connect-pg-simple's `session_pkey` and `IDX_session_expire`.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let t = self.table.sql();
        let name = self.table.name.to_string();
        let mut tx = self.pool.begin().await.map_err(PgDialect::map_error)?;
        let mut statements = vec![
            "SELECT pg_advisory_xact_lock(hashtext('store-postgres connect-pg-simple'))".to_owned(),
        ];
        if let Some(schema) = &self.table.schema {
            statements.push(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""));
        }
        statements.push(format!(
            "CREATE TABLE IF NOT EXISTS {t} (\"sid\" varchar NOT NULL COLLATE \"default\", \
             \"sess\" json NOT NULL, \"expire\" timestamp(6) NOT NULL, \
             CONSTRAINT \"{name}_pkey\" PRIMARY KEY (\"sid\") NOT DEFERRABLE INITIALLY IMMEDIATE)"
        ));
        statements.push(format!(
            "CREATE INDEX IF NOT EXISTS \"IDX_{name}_expire\" ON {t} (\"expire\")"
        ));
        for sql in statements {
            sqlx::query(sql_text(sql))
                .execute(&mut *tx)
                .await
                .map_err(PgDialect::map_error)?;
        }
        tx.commit().await.map_err(PgDialect::map_error)
    }
}

impl crate::PostgresStore {
    /// The same pool's sessions in connect-pg-simple's layout (table `session`), as a
    /// store for an Express-compatible manager. Run [`ConnectPgLayout::migrate`] (or let
    /// the Node app's `createTableIfMissing` create the table) first.
    pub fn connect_pg(&self, format: ExpressFormat) -> ConnectPgStore {
        ExpressStore::new(ConnectPgLayout::new(self.pool().clone()), format)
    }
}

#[async_trait]
impl ConnectLayout for ConnectPgLayout {
    type Token = String;

    async fn read(&self, sid: &str) -> Result<Option<Stored<String>>, StoreError> {
        bounded(self.limit, async {
            let row = sqlx::query(self.sql.read.clone())
                .bind(sid)
                .bind(Timestamp::now().as_millis())
                .fetch_optional(&self.pool)
                .await
                .map_err(PgDialect::map_error)?;
            let Some(row) = row else {
                return Ok(None);
            };
            let text: String = row.try_get("sess").map_err(PgDialect::map_error)?;
            let expire_ms: i64 = row.try_get("expire_ms").map_err(PgDialect::map_error)?;
            let session = serde_json::from_str(&text).map_err(|e| {
                StoreError::Corrupt(format!("connect-pg-simple sess is not JSON: {e}"))
            })?;
            Ok(Some(Stored {
                session,
                deadline: Timestamp::from_millis(expire_ms),
                token: text,
            }))
        })
        .await
    }

    async fn insert(
        &self,
        sid: &str,
        session: &Value,
        deadline: Timestamp,
    ) -> Result<bool, StoreError> {
        let text = session_core::express::session_text(session)?;
        bounded(self.limit, async {
            let done = sqlx::query(self.sql.insert.clone())
                .bind(sid)
                .bind(text)
                .bind(deadline.as_millis())
                .bind(Timestamp::now().as_millis())
                .execute(&self.pool)
                .await
                .map_err(PgDialect::map_error)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn replace(
        &self,
        sid: &str,
        token: &String,
        session: &Value,
        deadline: Timestamp,
    ) -> Result<bool, StoreError> {
        let text = session_core::express::session_text(session)?;
        bounded(self.limit, async {
            let done = sqlx::query(self.sql.replace.clone())
                .bind(sid)
                .bind(text)
                .bind(deadline.as_millis())
                .bind(token.as_str())
                .bind(Timestamp::now().as_millis())
                .execute(&self.pool)
                .await
                .map_err(PgDialect::map_error)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn remove(&self, sid: &str, token: &String) -> Result<bool, StoreError> {
        bounded(self.limit, async {
            let done = sqlx::query(self.sql.remove.clone())
                .bind(sid)
                .bind(token.as_str())
                .execute(&self.pool)
                .await
                .map_err(PgDialect::map_error)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn expire(&self, sid: &str, deadline: Timestamp) -> Result<bool, StoreError> {
        bounded(self.limit, async {
            let now = Timestamp::now();
            let done = sqlx::query(self.sql.expire.clone())
                .bind(sid)
                .bind(deadline.as_millis())
                .bind(now.as_millis())
                .execute(&self.pool)
                .await
                .map_err(PgDialect::map_error)?;
            Ok(done.rows_affected() == 1 && deadline > now)
        })
        .await
    }

    async fn delete(&self, sid: &str) -> Result<(), StoreError> {
        bounded(self.limit, async {
            sqlx::query(self.sql.delete.clone())
                .bind(sid)
                .execute(&self.pool)
                .await
                .map(drop)
                .map_err(PgDialect::map_error)
        })
        .await
    }

    /// connect-pg-simple's prune (`DELETE … WHERE expire < now`), in batches.
    async fn prune(&self) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let gone = bounded(self.limit, async {
                sqlx::query(self.sql.prune.clone())
                    .bind(Timestamp::now().as_millis())
                    .execute(&self.pool)
                    .await
                    .map(|done| done.rows_affected())
                    .map_err(PgDialect::map_error)
            })
            .await?;
            total += gone;
            if gone < PRUNE_BATCH.unsigned_abs() {
                return Ok(total);
            }
        }
    }

    /// Keyset pages in `sid` order; the cursor is the last sid of the page.
    async fn list(
        &self,
        cursor: Option<String>,
        page: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let limit = i64::try_from(page.max(1)).unwrap_or(i64::MAX);
        bounded(self.limit, async {
            let sids: Vec<String> = sqlx::query_scalar(self.sql.list.clone())
                .bind(cursor)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(PgDialect::map_error)?;
            let full = i64::try_from(sids.len()).unwrap_or(0) == limit;
            let next = if full { sids.last().cloned() } else { None };
            Ok((sids, next))
        })
        .await
    }
}
