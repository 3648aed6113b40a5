//! Embedded migrations, the tables' names, and the queries `apply` and `rotate` add to the
//! shared ones on their rare paths.

use session_core::store::StoreError;
use sqlx::SqlitePool;
use store_sql::{Dialect, Ident, Ledger, run_migrations};

use crate::dialect::SqliteDialect;

/// The embedded migrations, in order: `(version, SQL with {name} for the table name)`.
/// Each runs once per table; versions already applied are recorded in `<table>_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_sessions.sql")),
    (2, include_str!("../migrations/0002_revocations.sql")),
    // Issue 12: last_seen and label (NULL in existing rows: read as created_at / none),
    // and the index the newest-first listing walks.
    (3, include_str!("../migrations/0003_account_page.sql")),
];

/// The sessions table and its revocations table, as quoted SQL names.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    pub sessions: String,
    pub revocations: String,
}

impl Tables {
    /// `"name"` and `"name_revocations"`.
    pub(crate) fn new(name: &Ident) -> Self {
        Self {
            sessions: format!("\"{name}\""),
            revocations: format!("\"{name}_revocations\""),
        }
    }
}

/// Creates or upgrades the tables and their indexes. Idempotent, and safe to run from
/// several processes at once: it holds SQLite's write lock (`BEGIN IMMEDIATE`) throughout.
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

/// Why a strict `apply` matched nothing: the live row's `version` (no row: not live), and
/// whether `revoked` by the revocation rule. `$1` key, `$2` now, `$3` the user the
/// changeset binds (or NULL), `$4` when the request began.
pub(crate) fn apply_refused_sql(t: &Tables) -> String {
    let Tables {
        sessions,
        revocations,
    } = t;
    format!(
        "SELECT s.version AS version, EXISTS (SELECT 1 FROM {revocations} AS r \
         WHERE r.user_id = $3 AND r.revoked_at > $4 AND (r.kept_key IS NULL OR r.kept_key <> $1)) \
         AS revoked FROM {sessions} AS s WHERE s.key = $1 AND s.expires_at > $2"
    )
}

/// Why `rotate`'s update matched nothing, read inside the write transaction of its rare
/// path: the live row's `version` (no row: not live), whether a live row holds the new key
/// (`taken`), and whether the resulting owner is `revoked`. `$1` from, `$2` to, `$3` now,
/// `$4` whether the changeset sets the user, `$5` that user, `$6` when the request began.
pub(crate) fn rotate_refused_sql(t: &Tables) -> String {
    let Tables {
        sessions,
        revocations,
    } = t;
    format!(
        "SELECT s.version AS version, \
         EXISTS (SELECT 1 FROM {sessions} AS taken WHERE taken.key = $2 AND taken.expires_at > $3) \
         AS taken, \
         EXISTS (SELECT 1 FROM {revocations} AS r \
         WHERE r.user_id = CASE WHEN $4 THEN $5 ELSE s.user_id END \
         AND r.revoked_at > $6 AND (r.kept_key IS NULL OR r.kept_key <> $1)) AS revoked \
         FROM {sessions} AS s WHERE s.key = $1 AND s.expires_at > $3"
    )
}
