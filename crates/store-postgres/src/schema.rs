//! Where the table lives, the embedded migrations, and the SQL text of every statement.

use sqlx::PgPool;

use session_core::StoreError;

use crate::codec::RECORD_COLUMNS;
use crate::error;
use crate::ident::Ident;

/// The embedded migrations, in order: `(version, SQL)` with `{table}` for the qualified
/// table name and `{name}` for the bare one. Each runs once per table; applied versions
/// are recorded in `<table>_migrations` beside the table.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/0001_sessions.sql"))];

/// The table's name and, when set, its schema (otherwise the connection's `search_path`).
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub schema: Option<Ident>,
    pub name: Ident,
}

impl Table {
    /// `"schema"."name"`, or `"name"`.
    fn qualified(&self, name: &str) -> String {
        match &self.schema {
            Some(schema) => format!("\"{schema}\".\"{name}\""),
            None => format!("\"{name}\""),
        }
    }
}

/// Creates the schema (if one is set), the table and its indexes. Idempotent, and safe to
/// run concurrently: a transaction-scoped advisory lock serialises migrators, and all of
/// it commits or nothing does.
pub(crate) async fn migrate(pool: &PgPool, table: &Table) -> Result<(), StoreError> {
    let qualified = table.qualified(&table.name.to_string());
    let ledger = table.qualified(&format!("{}_migrations", table.name));
    let mut tx = pool.begin().await.map_err(error::map)?;
    // One lock for every migration of this crate (not per table): concurrent
    // `CREATE SCHEMA IF NOT EXISTS` for one schema from two tables would collide too.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('store-postgres migrate'))")
        .execute(&mut *tx)
        .await
        .map_err(error::map)?;
    if let Some(schema) = &table.schema {
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&mut *tx)
            .await
            .map_err(error::map)?;
    }
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {ledger} (version bigint PRIMARY KEY, applied_at bigint NOT NULL)"
    ))
    .execute(&mut *tx)
    .await
    .map_err(error::map)?;
    for (version, template) in MIGRATIONS {
        let done: bool = sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM {ledger} WHERE version = $1)"
        ))
        .bind(version)
        .fetch_one(&mut *tx)
        .await
        .map_err(error::map)?;
        if done {
            continue;
        }
        let sql = template
            .replace("{table}", &qualified)
            .replace("{name}", &table.name.to_string());
        for statement in statements(&sql) {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(error::map)?;
        }
        sqlx::query(&format!(
            "INSERT INTO {ledger} (version, applied_at) VALUES ($1, $2)"
        ))
        .bind(version)
        .bind(session_core::Timestamp::now().as_millis())
        .execute(&mut *tx)
        .await
        .map_err(error::map)?;
    }
    tx.commit().await.map_err(error::map)
}

/// The `;`-separated statements of a migration script (the scripts quote no `;`).
fn statements(script: &str) -> impl Iterator<Item = &str> {
    script.split(';').map(str::trim).filter(|s| !s.is_empty())
}

/// Every statement for one table, rendered once.
#[derive(Debug)]
pub(crate) struct Statements {
    pub load: String,
    pub create: String,
    pub apply: String,
    pub touch: String,
    pub delete: String,
    pub delete_expired_batch: String,
    pub sessions_of: String,
    pub delete_sessions_of: String,
}

impl Statements {
    pub(crate) fn new(table: &Table) -> Self {
        let t = table.qualified(&table.name.to_string());
        Self {
            load: format!("SELECT {RECORD_COLUMNS} FROM {t} WHERE key = $1 AND expires_at > $2"),
            create: format!(
                "INSERT INTO {t} AS s (key, data, created_at, expires_at, user_id, persistent, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (key) DO UPDATE SET data = excluded.data, \
                 created_at = excluded.created_at, expires_at = excluded.expires_at, \
                 user_id = excluded.user_id, persistent = excluded.persistent, \
                 version = excluded.version \
                 WHERE s.expires_at <= $8"
            ),
            apply: apply_sql(&t),
            touch: format!("UPDATE {t} SET expires_at = $1 WHERE key = $2 AND expires_at > $3"),
            delete: format!("DELETE FROM {t} WHERE key = $1"),
            delete_expired_batch: format!(
                "DELETE FROM {t} WHERE key IN \
                 (SELECT key FROM {t} WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)"
            ),
            sessions_of: format!(
                "SELECT key, created_at, expires_at FROM {t} \
                 WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at, key"
            ),
            delete_sessions_of: format!(
                "DELETE FROM {t} WHERE user_id = $1 AND ($2::text IS NULL OR key <> $2) \
                 RETURNING expires_at"
            ),
        }
    }
}

/// `apply` as one statement (one round trip), whatever the changeset:
///
/// - `$1` key, `$2` now (ms), `$3` cleared, `$4` removed keys (`text[]`), `$5` set members
///   (`jsonb` object), `$6` new deadline, `$7` whether the user changes, `$8` the new user,
///   `$9` the new persistent flag or NULL, `$10` the expected version or NULL.
/// - `jsonb - text[]` drops the removed keys and `||` replaces or adds the set ones at the
///   top level only, so keys not in the changeset are never rewritten from a stale copy.
/// - `applied` is the new version, or NULL when no live row (at the expected version)
///   matched; `live` (read from the statement's snapshot) then tells `Conflict` from
///   `Missing`.
fn apply_sql(t: &str) -> String {
    format!(
        "WITH live AS ( \
            SELECT version FROM {t} WHERE key = $1 AND expires_at > $2 \
         ), applied AS ( \
            UPDATE {t} SET \
                data = ((CASE WHEN $3 THEN '{{}}'::jsonb ELSE data END) - $4::text[]) || $5::jsonb, \
                expires_at = $6, \
                user_id = CASE WHEN $7 THEN $8 ELSE user_id END, \
                persistent = COALESCE($9, persistent), \
                version = version + 1 \
            WHERE key = $1 AND expires_at > $2 AND ($10::bigint IS NULL OR version = $10) \
            RETURNING version \
         ) \
         SELECT (SELECT version FROM applied) AS applied, EXISTS (SELECT 1 FROM live) AS live"
    )
}
