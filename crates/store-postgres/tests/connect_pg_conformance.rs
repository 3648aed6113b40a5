//! The Express-compatible conformance cases on the connect-pg-simple layout
//! (`POSTGRES_URL`), in this process's test schema; plus the time-zone rule: `expire` is
//! UTC wall-clock whatever the connection's `TimeZone`.

mod common;

use std::sync::OnceLock;

use session_core::express::{ConnectLayout, ExpressFormat};
use session_core::{Timestamp, store::StoreKey};
use store_postgres::{ConnectPgLayout, ConnectPgStore};

async fn layout() -> ConnectPgLayout {
    layout_on(common::pool().await).await
}

async fn layout_on(pool: sqlx::PgPool) -> ConnectPgLayout {
    static TABLE: OnceLock<String> = OnceLock::new();
    let table = TABLE.get_or_init(|| format!("session_{}", &StoreKey::random().as_str()[..8]));
    let layout = ConnectPgLayout::new(pool)
        .with_schema(common::schema())
        .expect("schema name")
        .with_table(table)
        .expect("table name");
    layout.migrate().await.expect("migration failed");
    layout
}

async fn make() -> ConnectPgStore {
    ConnectPgStore::new(layout().await, ExpressFormat::default())
}

session_core::express_conformance_tests!(make());

/// A row written through a connection in another time zone holds the same UTC `expire`,
/// and what Node (TimeZone=UTC) computes with `to_timestamp` matches it to the second.
#[tokio::test]
async fn expire_is_utc_whatever_the_connection_time_zone() {
    let table = layout().await.table_sql();
    let new_york = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET TimeZone = 'America/New_York'")
                    .execute(conn)
                    .await
                    .map(drop)
            })
        })
        .connect(&common::url())
        .await
        .expect("cannot reach PostgreSQL");
    let layout = layout_on(new_york).await;
    assert_eq!(layout.table_sql(), table);
    let deadline = Timestamp::from_millis((Timestamp::now().as_millis() / 1000 + 3600) * 1000);
    let sid = StoreKey::random();
    let session = serde_json::json!({"cookie": {"path": "/"}});
    assert!(
        layout
            .insert(sid.as_str(), &session, deadline)
            .await
            .expect("insert")
    );
    let stored = layout
        .read(sid.as_str())
        .await
        .expect("read")
        .expect("live");
    assert_eq!(stored.deadline, deadline);
    let node_view: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT expire = (to_timestamp($1) AT TIME ZONE 'UTC') FROM {} WHERE sid = $2",
        layout.table_sql()
    )))
    .bind(deadline.as_millis() / 1000)
    .bind(sid.as_str())
    .fetch_one(&common::pool().await)
    .await
    .expect("compare");
    assert!(
        node_view,
        "expire is not the UTC wall-clock of the deadline"
    );
}
