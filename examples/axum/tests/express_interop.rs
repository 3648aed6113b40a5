//! The Express interop scenarios (`example_support::testing::interop`) between the
//! Express peer in interop/express and this example in `SESSION_COMPAT=express` mode, on
//! each shared store: Redis, Redis Cluster, PostgreSQL and MongoDB (the stand-in in CI).
//! Services come from the environment; one that is missing fails the test.

use example_support::testing::interop::{Interop, SharedStore};

const BIN: &str = env!("CARGO_BIN_EXE_example-axum");

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn required(name: &str, hint: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| panic!("{name} is not set: {hint}"))
}

async fn run(store: SharedStore) -> Interop {
    let interop = Interop::start(BIN, &store).await;
    for line in interop.run_all().await {
        println!("{store:?}: {line}");
    }
    interop
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_redis() {
    run(SharedStore::Redis(env_or(
        "REDIS_URL",
        "redis://127.0.0.1:6379",
    )))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_redis_on_a_cluster() {
    let urls = required(
        "REDIS_CLUSTER_URLS",
        "run `cargo xtask test-all` (it starts a Redis Cluster) or set it to the node URLs",
    );
    let nodes = urls.split(',').map(str::trim).map(str::to_owned).collect();
    run(SharedStore::RedisCluster(nodes)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_pg_simple() {
    let url = env_or("POSTGRES_URL", "postgres://root@127.0.0.1:5432/test");
    let interop = run(SharedStore::Postgres(url.clone())).await;
    let pool = sqlx::PgPool::connect(&url)
        .await
        .expect("cleanup: PostgreSQL");
    let drop_table = format!("DROP TABLE IF EXISTS \"{}\"", interop.names().pg_table);
    sqlx::query(sqlx::AssertSqlSafe(drop_table))
        .execute(&pool)
        .await
        .expect("cleanup: drop the interop table");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_mongo() {
    let uri = required(
        "MONGO_URI",
        "point it at a MongoDB server (`cargo xtask services` starts the stand-in)",
    );
    let interop = run(SharedStore::Mongo(uri)).await;
    let url = interop.store_url().to_owned();
    let (_, database) = url.rsplit_once('/').expect("a database in the URL");
    let client = mongodb::Client::with_uri_str(&url)
        .await
        .expect("cleanup: MongoDB");
    client
        .database(database)
        .drop()
        .await
        .expect("cleanup: drop the interop database");
}
