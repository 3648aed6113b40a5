//! The migration runner: embedded scripts applied once per table, in a ledger.

use session_core::{Timestamp, store::StoreError};
use sqlx::{AssertSqlSafe, Database, Encode, Executor, IntoArguments, Type};

use crate::{ColumnType, Dialect};

/// The ledger of applied migrations (`version`, `applied_at`), one per table.
#[derive(Debug, Clone, Copy)]
pub struct Ledger<'a> {
    /// The ledger table as SQL text: quoted, possibly schema-qualified.
    pub table: &'a str,
    /// Its column definitions, in the backend's types: `(version …, applied_at …)`.
    pub columns: &'a str,
}

/// Applies the `(version, script)` pairs of `migrations` that `ledger` does not list yet,
/// in order, on `conn` (a transaction the caller opened, locked as its backend needs, and
/// commits), and records each in the ledger (created if needed).
///
/// `render` turns a script template into SQL (substituting the table name); a script is
/// a `;`-separated list of statements and quotes no `;`.
pub async fn run_migrations<D: Dialect>(
    conn: &mut <D::Db as Database>::Connection,
    ledger: Ledger<'_>,
    migrations: &[(i64, &str)],
    render: impl Fn(&str) -> String,
) -> Result<(), StoreError>
where
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    usize: sqlx::ColumnIndex<<D::Db as Database>::Row>,
    i64: for<'q> Encode<'q, D::Db> + Type<D::Db>,
    bool: ColumnType<D::Db>,
{
    let Ledger { table, columns } = ledger;
    execute::<D>(
        conn,
        &format!("CREATE TABLE IF NOT EXISTS {table} {columns}"),
    )
    .await?;
    for &(version, template) in migrations {
        let done: bool = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {table} WHERE version = $1)"
        )))
        .bind(version)
        .fetch_one(&mut *conn)
        .await
        .map_err(D::map_error)?;
        if done {
            continue;
        }
        for statement in statements(&render(template)) {
            execute::<D>(conn, statement).await?;
        }
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {table} (version, applied_at) VALUES ($1, $2)"
        )))
        .bind(version)
        .bind(Timestamp::now().as_millis())
        .execute(&mut *conn)
        .await
        .map_err(D::map_error)?;
    }
    Ok(())
}

/// Runs one statement without parameters: SQL text of our own (a migration script, or DDL
/// naming tables by [`crate::Ident`]s), never anything a request supplied.
pub async fn execute<D: Dialect>(
    conn: &mut <D::Db as Database>::Connection,
    sql: &str,
) -> Result<(), StoreError>
where
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
{
    sqlx::query(AssertSqlSafe(sql))
        .execute(conn)
        .await
        .map_err(D::map_error)?;
    Ok(())
}

/// The `;`-separated statements of a migration script. A `;` between a pair of `$$`
/// (the body of a PostgreSQL `DO` block) does not separate; migration comments stay free
/// of `$$`.
fn statements(script: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut start = 0;
    let mut cuts = Vec::new();
    let bytes = script.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => {
                quoted = !quoted;
                i += 1;
            }
            b';' if !quoted => {
                cuts.push(&script[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    cuts.push(&script[start..]);
    cuts.into_iter().map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn scripts_split_into_trimmed_statements() {
        let got: Vec<_> = statements("CREATE a;\n  CREATE b ;\n\n").collect();
        assert_eq!(got, ["CREATE a", "CREATE b"]);
    }

    #[test]
    fn a_dollar_quoted_body_stays_one_statement() {
        let script = "CREATE a; DO $$ BEGIN x; EXCEPTION WHEN y THEN NULL; END $$;\nCREATE b";
        let got: Vec<_> = statements(script).collect();
        assert_eq!(
            got,
            [
                "CREATE a",
                "DO $$ BEGIN x; EXCEPTION WHEN y THEN NULL; END $$",
                "CREATE b"
            ]
        );
    }
}
