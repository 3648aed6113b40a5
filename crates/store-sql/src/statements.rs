//! The SQL text of the fixed statements, rendered once per table.
//!
//! Placeholders are `$N`: PostgreSQL's syntax, which sqlx also accepts for SQLite.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use crate::codec::{RECORD_COLUMNS, SUMMARY_COLUMNS};

/// SQL text rendered once by a store from constants and [`crate::Ident`]s (never from
/// anything a request supplied), as sqlx's [`SqlStr`]: shared, so handing it to a query
/// is a reference-count bump, not a copy.
pub fn sql_text(text: String) -> SqlStr {
    AssertSqlSafe(Arc::<str>::from(text)).into_sql_str()
}

/// The fixed statements for one table and its revocations table (`apply` and `rotate`
/// are each backend's own).
#[derive(Debug)]
pub(crate) struct Statements {
    pub load: SqlStr,
    pub create: SqlStr,
    pub create_refused: SqlStr,
    pub touch: SqlStr,
    pub delete: SqlStr,
    pub delete_expired_batch: SqlStr,
    pub prune_revocations_batch: SqlStr,
    pub sessions_of: SqlStr,
    pub sessions_of_after: SqlStr,
    pub delete_session_of: SqlStr,
    pub trim_sessions_of: SqlStr,
    pub revoke: SqlStr,
    pub delete_sessions_of_batch: SqlStr,
    pub delete_sessions_of: SqlStr,
}

impl Statements {
    /// The statements on table `t` and revocations table `r` (SQL text: quoted, possibly
    /// schema-qualified), with `batch_lock` appended to the sub-selects that pick a batch
    /// of rows to delete, and `among` (see [`crate::Dialect::KEY_AMONG`]) around the one
    /// of a revocation's batch.
    pub(crate) fn new(t: &str, r: &str, batch_lock: &str, among: (&str, &str)) -> Self {
        let (among_open, among_close) = among;
        Self {
            load: sql_text(format!(
                "SELECT {RECORD_COLUMNS} FROM {t} WHERE key = $1 AND expires_at > $2"
            )),
            // $1 key, $2 data, $3 created_at, $4 expires_at, $5 user, $6 authenticated_at,
            // $7 persistent, $8 version, $9 now, $10 authenticated_at or else created_at,
            // $11 last_seen, $12 label.
            // (SQLite needs the WHERE clause on an upsert's SELECT in any case.)
            create: sql_text(format!(
                "INSERT INTO {t} AS s \
                 (key, data, created_at, expires_at, user_id, authenticated_at, persistent, version, \
                 last_seen, label) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $11, $12 \
                 WHERE NOT EXISTS (SELECT 1 FROM {r} WHERE user_id = $5 AND revoked_at > $10) \
                 ON CONFLICT (key) DO UPDATE SET data = excluded.data, \
                 created_at = excluded.created_at, expires_at = excluded.expires_at, \
                 user_id = excluded.user_id, authenticated_at = excluded.authenticated_at, \
                 persistent = excluded.persistent, version = excluded.version, \
                 last_seen = excluded.last_seen, label = excluded.label \
                 WHERE s.expires_at <= $9"
            )),
            // Why `create` wrote nothing: $1 key, $2 now, $3 user, $4 as `create`'s $10.
            create_refused: sql_text(format!(
                "SELECT EXISTS (SELECT 1 FROM {t} WHERE key = $1 AND expires_at > $2) AS live, \
                 EXISTS (SELECT 1 FROM {r} WHERE user_id = $3 AND revoked_at > $4) AS revoked"
            )),
            touch: sql_text(format!(
                "UPDATE {t} SET expires_at = $1, last_seen = $3 WHERE key = $2 AND expires_at > $3"
            )),
            delete: sql_text(format!("DELETE FROM {t} WHERE key = $1")),
            delete_expired_batch: sql_text(format!(
                "DELETE FROM {t} WHERE key IN \
                 (SELECT key FROM {t} WHERE expires_at <= $1 LIMIT $2{batch_lock})"
            )),
            prune_revocations_batch: sql_text(format!(
                "DELETE FROM {r} WHERE user_id IN \
                 (SELECT user_id FROM {r} WHERE revoked_at <= $1 LIMIT $2{batch_lock})"
            )),
            // The first page, newest first: $1 user, $2 now, $3 rows (the limit + 1).
            sessions_of: sql_text(format!(
                "SELECT {SUMMARY_COLUMNS} FROM {t} WHERE user_id = $1 AND expires_at > $2 \
                 ORDER BY created_at DESC, key DESC LIMIT $3"
            )),
            // A later page: also $4, $5 the cursor's created_at and key.
            sessions_of_after: sql_text(format!(
                "SELECT {SUMMARY_COLUMNS} FROM {t} WHERE user_id = $1 AND expires_at > $2 \
                 AND (created_at < $4 OR (created_at = $4 AND key < $5)) \
                 ORDER BY created_at DESC, key DESC LIMIT $3"
            )),
            // $1 key, $2 user.
            delete_session_of: sql_text(format!(
                "DELETE FROM {t} WHERE key = $1 AND user_id = $2 RETURNING expires_at"
            )),
            // $1 user, $2 the kept key, $3 now, $4 how many others stay (the cap - 1).
            trim_sessions_of: sql_text(format!(
                "DELETE FROM {t} WHERE user_id = $1 AND key <> $2 AND key NOT IN \
                 (SELECT key FROM {t} WHERE user_id = $1 AND key <> $2 AND expires_at > $3 \
                 ORDER BY COALESCE(last_seen, created_at) DESC, key DESC LIMIT $4) \
                 RETURNING expires_at"
            )),
            // Keeps the latest revocation per user: $1 user, $2 revoked_at, $3 kept key.
            revoke: sql_text(format!(
                "INSERT INTO {r} AS r (user_id, revoked_at, kept_key) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET revoked_at = excluded.revoked_at, \
                 kept_key = excluded.kept_key WHERE r.revoked_at <= excluded.revoked_at"
            )),
            // One batch: $1 user, $2 the kept key or NULL, $3 the batch size.
            delete_sessions_of_batch: sql_text(format!(
                "DELETE FROM {t} WHERE {among_open}SELECT key FROM {t} WHERE user_id = $1 \
                 AND (CAST($2 AS TEXT) IS NULL OR key <> $2) LIMIT $3{among_close} \
                 RETURNING expires_at"
            )),
            // The last sweep: its predicate is on the user, so on PostgreSQL a row moved to
            // a new key by a rotation in flight is re-checked and deleted under its new key
            // (a batch's `key IN (…)` would let it go).
            delete_sessions_of: sql_text(format!(
                "DELETE FROM {t} WHERE user_id = $1 AND (CAST($2 AS TEXT) IS NULL OR key <> $2) \
                 RETURNING expires_at"
            )),
        }
    }
}
