//! The SQL text of the fixed statements, rendered once per table.
//!
//! Placeholders are `$N`: PostgreSQL's syntax, which sqlx also accepts for SQLite.

use crate::codec::RECORD_COLUMNS;

/// The fixed statements for one table (`apply` is each backend's own).
#[derive(Debug)]
pub(crate) struct Statements {
    pub load: String,
    pub create: String,
    pub touch: String,
    pub delete: String,
    pub delete_expired_batch: String,
    pub sessions_of: String,
    pub delete_sessions_of: String,
}

impl Statements {
    /// The statements on table `t` (SQL text: quoted, possibly schema-qualified), with
    /// `batch_lock` appended to the sub-select that picks a batch of expired rows.
    pub(crate) fn new(t: &str, batch_lock: &str) -> Self {
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
            touch: format!("UPDATE {t} SET expires_at = $1 WHERE key = $2 AND expires_at > $3"),
            delete: format!("DELETE FROM {t} WHERE key = $1"),
            delete_expired_batch: format!(
                "DELETE FROM {t} WHERE key IN \
                 (SELECT key FROM {t} WHERE expires_at <= $1 LIMIT $2{batch_lock})"
            ),
            sessions_of: format!(
                "SELECT key, created_at, expires_at FROM {t} \
                 WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at, key"
            ),
            delete_sessions_of: format!(
                "DELETE FROM {t} WHERE user_id = $1 AND (CAST($2 AS TEXT) IS NULL OR key <> $2) \
                 RETURNING expires_at"
            ),
        }
    }
}
