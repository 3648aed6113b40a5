//! Where the tables live, and the embedded migrations.

use session_core::store::StoreError;
use sqlx::PgPool;
use store_sql::{Dialect, Ident, Ledger, execute, run_migrations};

use crate::dialect::PgDialect;

/// The embedded migrations, in order: `(version, SQL)` with `{table}` for the qualified
/// table name, `{revocations}` for its qualified revocations table and `{name}` for the
/// bare table name. Each runs once per table; applied versions are recorded in
/// `<table>_migrations` beside the table.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_sessions.sql")),
    (2, include_str!("../migrations/0002_revocations.sql")),
    // Issue 12: last_seen and label (NULL in existing rows: read as created_at / none),
    // and the index the newest-first listing walks.
    (3, include_str!("../migrations/0003_account_page.sql")),
    // Issue 14: lz4 for the TOASTed document, where the server has it.
    (4, include_str!("../migrations/0004_lz4.sql")),
];

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

    /// Its revocations table, `<name>_revocations`, qualified.
    pub(crate) fn revocations(&self) -> String {
        self.qualified(&format!("{}_revocations", self.name))
    }
}

/// Creates the schema (if one is set), the tables and their indexes, or upgrades them.
/// Idempotent, and safe to run concurrently: a transaction-scoped advisory lock serialises
/// migrators, and all of it commits or nothing does.
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
    let revocations = table.revocations();
    run_migrations::<PgDialect>(&mut tx, ledger, MIGRATIONS, |sql| {
        sql.replace("{table}", &qualified)
            .replace("{revocations}", &revocations)
            .replace("{name}", &name)
    })
    .await?;
    tx.commit().await.map_err(PgDialect::map_error)
}
