//! Embedded migrations and the SQL text of every fixed statement, rendered once per table.

use sqlx::SqlitePool;

use session_core::StoreError;

use crate::codec::RECORD_COLUMNS;
use crate::error;
use crate::ident::Ident;

/// The embedded migrations, in order: `(version, SQL with {name} for the table name)`.
/// Each runs once per table; versions already applied are recorded in `<table>_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/0001_sessions.sql"))];

/// Creates the table and its indexes if needed. Idempotent, and safe to run from several
/// processes at once: it holds SQLite's write lock (`BEGIN IMMEDIATE`) throughout.
pub(crate) async fn migrate(pool: &SqlitePool, table: &Ident) -> Result<(), StoreError> {
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(error::map)?;
    let ledger = format!("\"{table}_migrations\"");
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {ledger} (version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL)"
    ))
    .execute(&mut *tx)
    .await
    .map_err(error::map)?;
    for (version, template) in MIGRATIONS {
        let done: bool = sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM {ledger} WHERE version = ?1)"
        ))
        .bind(version)
        .fetch_one(&mut *tx)
        .await
        .map_err(error::map)?;
        if done {
            continue;
        }
        let sql = template.replace("{name}", &table.to_string());
        for statement in statements(&sql) {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(error::map)?;
        }
        sqlx::query(&format!(
            "INSERT INTO {ledger} (version, applied_at) VALUES (?1, ?2)"
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

/// The fixed statements for one table (`apply` is built per changeset, see `apply.rs`).
#[derive(Debug)]
pub(crate) struct Statements {
    pub load: String,
    pub create: String,
    pub exists: String,
    pub touch: String,
    pub delete: String,
    pub delete_expired_batch: String,
    pub sessions_of: String,
    pub delete_sessions_of: String,
}

impl Statements {
    pub(crate) fn new(table: &Ident) -> Self {
        let t = format!("\"{table}\"");
        Self {
            load: format!("SELECT {RECORD_COLUMNS} FROM {t} WHERE key = ?1 AND expires_at > ?2"),
            create: format!(
                "INSERT INTO {t} AS s (key, data, created_at, expires_at, user_id, persistent, version) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (key) DO UPDATE SET data = excluded.data, \
                 created_at = excluded.created_at, expires_at = excluded.expires_at, \
                 user_id = excluded.user_id, persistent = excluded.persistent, \
                 version = excluded.version \
                 WHERE s.expires_at <= ?8"
            ),
            exists: format!("SELECT EXISTS (SELECT 1 FROM {t} WHERE key = ?1 AND expires_at > ?2)"),
            touch: format!("UPDATE {t} SET expires_at = ?1 WHERE key = ?2 AND expires_at > ?3"),
            delete: format!("DELETE FROM {t} WHERE key = ?1"),
            delete_expired_batch: format!(
                "DELETE FROM {t} WHERE key IN \
                 (SELECT key FROM {t} WHERE expires_at <= ?1 LIMIT ?2)"
            ),
            sessions_of: format!(
                "SELECT key, created_at, expires_at FROM {t} \
                 WHERE user_id = ?1 AND expires_at > ?2 ORDER BY created_at, key"
            ),
            delete_sessions_of: format!(
                "DELETE FROM {t} WHERE user_id = ?1 AND (?2 IS NULL OR key <> ?2) \
                 RETURNING expires_at"
            ),
        }
    }
}
