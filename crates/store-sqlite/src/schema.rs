//! Embedded migrations, and the statement `apply` adds to the shared ones.

use session_core::StoreError;
use sqlx::SqlitePool;
use store_sql::{Dialect, Ident, Ledger, run_migrations};

use crate::dialect::SqliteDialect;

/// The embedded migrations, in order: `(version, SQL with {name} for the table name)`.
/// Each runs once per table; versions already applied are recorded in `<table>_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/0001_sessions.sql"))];

/// Creates the table and its indexes if needed. Idempotent, and safe to run from several
/// processes at once: it holds SQLite's write lock (`BEGIN IMMEDIATE`) throughout.
pub(crate) async fn migrate(pool: &SqlitePool, table: &Ident) -> Result<(), StoreError> {
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(SqliteDialect::map_error)?;
    let ledger = Ledger {
        table: &format!("\"{table}_migrations\""),
        columns: "(version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL)",
    };
    let name = table.to_string();
    run_migrations::<SqliteDialect>(&mut tx, ledger, MIGRATIONS, |sql| {
        sql.replace("{name}", &name)
    })
    .await?;
    tx.commit().await.map_err(SqliteDialect::map_error)
}

/// Whether a live row has key `$1` at time `$2` (tells `Conflict` from `Missing` after a
/// strict `apply` matched nothing).
pub(crate) fn exists_sql(table: &str) -> String {
    format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE key = $1 AND expires_at > $2)")
}
