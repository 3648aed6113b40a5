//! Where the table lives, the embedded migrations, and the `apply` statement (the other
//! statements are the shared ones of `store-sql`).

use session_core::StoreError;
use sqlx::PgPool;
use store_sql::{Dialect, Ident, Ledger, execute, run_migrations};

use crate::dialect::PgDialect;

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
    pub(crate) fn qualified(&self, name: &str) -> String {
        match &self.schema {
            Some(schema) => format!("\"{schema}\".\"{name}\""),
            None => format!("\"{name}\""),
        }
    }

    /// The table itself, qualified.
    pub(crate) fn sql(&self) -> String {
        self.qualified(&self.name.to_string())
    }
}

/// Creates the schema (if one is set), the table and its indexes. Idempotent, and safe to
/// run concurrently: a transaction-scoped advisory lock serialises migrators, and all of
/// it commits or nothing does.
pub(crate) async fn migrate(pool: &PgPool, table: &Table) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(PgDialect::map_error)?;
    // One lock for every migration of this crate (not per table): concurrent
    // `CREATE SCHEMA IF NOT EXISTS` for one schema from two tables would collide too.
    let lock = "SELECT pg_advisory_xact_lock(hashtext('store-postgres migrate'))";
    execute::<PgDialect>(&mut tx, lock).await?;
    if let Some(schema) = &table.schema {
        let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
        execute::<PgDialect>(&mut tx, &create).await?;
    }
    let ledger = Ledger {
        table: &table.qualified(&format!("{}_migrations", table.name)),
        columns: "(version bigint PRIMARY KEY, applied_at bigint NOT NULL)",
    };
    let (qualified, name) = (table.sql(), table.name.to_string());
    run_migrations::<PgDialect>(&mut tx, ledger, MIGRATIONS, |sql| {
        sql.replace("{table}", &qualified).replace("{name}", &name)
    })
    .await?;
    tx.commit().await.map_err(PgDialect::map_error)
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
pub(crate) fn apply_sql(t: &str) -> String {
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
