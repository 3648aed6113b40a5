//! `migrate-express` on 10,000 sessions per connect-* store (plus a few signed in through
//! the real Express app): a run cut short (`--max`) and a second run that resumes, then
//! every session is in the native layout under its hashed key, and the cookies Node issued
//! still sign their users in with `SESSION_COMPAT=express-migrated`. Services come from
//! the environment (`REDIS_URL`, `POSTGRES_URL`, `MONGO_URI`); a missing one fails.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use example_support::compat::{ExpressNames, open_express};
use example_support::testing::Client;
use example_support::testing::node::NodePeer;
use example_support::{StoreUrl, connect_with};
use futures_util::StreamExt as _;
use serde_json::json;
use session_core::express::ExpressFormat;
use session_core::{
    ExpressSecrets, SessionConfig, SessionManager, SidKeying, Timestamp,
    store::{Record, SessionStore, StoreKey},
};

const BIN: &str = env!("CARGO_BIN_EXE_migrate-express");
const SESSIONS: usize = 10_000;
const SECRETS: &str = "migration secret";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn names(prefix: &str, table: &str) -> ExpressNames {
    ExpressNames {
        redis_prefix: prefix.to_owned(),
        pg_schema: None,
        pg_table: table.to_owned(),
        mongo_collection: "sessions".to_owned(),
    }
}

/// `seen=… copied=… already=…` of a run's last line.
fn counts(stdout: &str) -> (u64, u64, u64) {
    let field = |name: &str| {
        stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name}= in {stdout:?}"))
    };
    (field("seen"), field("copied"), field("already"))
}

fn migrate(
    from: &str,
    to: &str,
    names: &ExpressNames,
    extra: &[&str],
) -> ((u64, u64, u64), Duration) {
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["--from", from, "--to", to, "--timeout-ms", "30000"])
        .args(extra)
        .env("SESSION_EXPRESS_PREFIX", &names.redis_prefix)
        .env("SESSION_EXPRESS_TABLE", &names.pg_table)
        .env("SESSION_EXPRESS_COLLECTION", &names.mongo_collection)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "migrate-express failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (counts(&stdout), started.elapsed())
}

/// Writes the sessions as connect-* records: through the store's `create`, or for Mongo
/// (whose stand-in takes ~10 ms a write) in bulk.
async fn fill(
    source: &StoreUrl,
    from: &Arc<dyn session_core::express::ExpressSource>,
    records: &[(String, Record)],
) {
    if let StoreUrl::Mongo(url) = source {
        let client = store_mongo::mongodb::Client::with_uri_str(url)
            .await
            .expect("MongoDB");
        let database = url.rsplit_once('/').map(|(_, db)| db).expect("a database");
        let sessions = client
            .database(database)
            .collection::<store_mongo::mongodb::bson::Document>("sessions");
        let now = Timestamp::now();
        for chunk in records.chunks(2000) {
            let docs = chunk.iter().map(|(sid, record)| {
                let session = ExpressFormat::default().encode(record, now).expect("encode");
                store_mongo::mongodb::bson::doc! {
                    "_id": sid,
                    "expires": store_mongo::mongodb::bson::DateTime::from_millis(record.expires_at.as_millis()),
                    "session": serde_json::to_string(&session).expect("json"),
                }
            });
            sessions.insert_many(docs).await.expect("bulk insert");
        }
        return;
    }
    futures_util::stream::iter(records)
        .for_each_concurrent(16, |(sid, record)| {
            let from = from.clone();
            async move {
                let created = from.create(&StoreKey::plain_sid(sid), record).await;
                assert!(
                    matches!(created, Ok(session_core::store::CreateOutcome::Created)),
                    "{created:?}"
                );
            }
        })
        .await;
}

async fn scenario(source_url: &str, names: ExpressNames, native_url: &str) {
    let source = StoreUrl::parse(source_url).unwrap_or_else(|e| panic!("{e}"));
    // A few sessions the real Express app signs in: their cookies must survive.
    let node = NodePeer::spawn(
        source_url,
        SECRETS,
        &[
            ("SESSION_EXPRESS_PREFIX", &names.redis_prefix),
            ("SESSION_EXPRESS_TABLE", &names.pg_table),
        ],
    )
    .await
    .unwrap_or_else(|e| panic!("the Express peer did not start: {e}"));
    let mut signed_in = Vec::new();
    for i in 0..5 {
        let c = Client::named(node.base(), "connect.sid");
        let user = format!("node-user-{i}");
        c.post_json("/api/login", &json!({ "user": user }))
            .await
            .expect(200);
        c.put_json("/api/data/cart", &json!([i, "x"]))
            .await
            .expect(200);
        signed_in.push((c.cookie().unwrap_or_default(), user));
    }
    drop(node); // The Node app is switched off before the migration.

    let slow_ok = Some(Duration::from_secs(30)); // the Mongo stand-in is one Python process
    let from = open_express(&source, &names, ExpressFormat::default(), slow_ok)
        .await
        .unwrap_or_else(|e| panic!("cannot open the connect-* store: {e}"));
    let now = Timestamp::now();
    let records: Vec<(String, Record)> = (0..SESSIONS)
        .map(|i| {
            let mut record = Record::new(now, now.add(Duration::from_secs(3600)), i % 3 == 0);
            record.user = Some(format!("user-{i}"));
            record.data.insert("i".into(), json!(i).into());
            (
                format!("{}-{i:05}", &StoreKey::random().as_str()[..12]),
                record,
            )
        })
        .collect();
    let filling = Instant::now();
    fill(&source, &from, &records).await;
    println!(
        "{source}: {SESSIONS} sessions written in {:.1?}",
        filling.elapsed()
    );

    let total = u64::try_from(SESSIONS + signed_in.len()).unwrap_or(u64::MAX);
    let ((seen, copied, already), first) =
        migrate(source_url, native_url, &names, &["--max", "4000"]);
    assert!(
        seen >= 4000 && seen < total,
        "the first run stops early: seen {seen}"
    );
    assert_eq!((copied, already), (seen, 0), "first run");
    let ((seen2, copied2, already2), second) = migrate(source_url, native_url, &names, &[]);
    assert_eq!(seen2, total, "the second run lists everything");
    assert_eq!(
        (already2, copied2),
        (copied, total - copied),
        "the second run resumes"
    );
    println!(
        "{source}: migrated {total} sessions: {copied} in a first run cut short ({first:.1?}), the other {copied2} on resuming ({second:.1?})"
    );

    let native: Arc<dyn SessionStore> = connect_with(
        &StoreUrl::parse(native_url).unwrap_or_else(|e| panic!("{e}")),
        slow_ok,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    futures_util::stream::iter(&records)
        .for_each_concurrent(16, |(sid, record)| {
            let native = native.clone();
            async move {
                let moved = native.load(&StoreKey::hashed_sid(sid)).await;
                let moved = moved
                    .unwrap_or_else(|e| panic!("{sid}: {e}"))
                    .unwrap_or_else(|| panic!("{sid} not moved"));
                assert_eq!(
                    (&moved.data, &moved.user),
                    (&record.data, &record.user),
                    "{sid}"
                );
                assert_eq!(
                    (moved.expires_at, moved.persistent),
                    (record.expires_at, record.persistent)
                );
            }
        })
        .await;

    // The Rust app after the switch: express cookie, native layout, hashed keys.
    let secrets = ExpressSecrets::new([SECRETS]).unwrap_or_else(|e| panic!("{e}"));
    let config = SessionConfig::builder([])
        .express_compatible(secrets, SidKeying::Hashed)
        .secure(false)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let manager = SessionManager::from_arc(native, config);
    for (cookie, user) in &signed_in {
        let header = format!("connect.sid={cookie}");
        let session = manager.start([header.as_bytes()]);
        let got = session.user().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got.as_deref(),
            Some(user.as_str()),
            "Node's cookie after the migration"
        );
        let cart: Option<serde_json::Value> = session
            .get("data:cart")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(cart.is_some(), "{user}'s data moved too");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_connect_redis() {
    let url = env_or("REDIS_URL", "redis://127.0.0.1:6379");
    let prefix = format!("sess:mig{}:", &StoreKey::random().as_str()[..10]);
    scenario(&url, names(&prefix, "session"), &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_connect_pg_simple() {
    let url = env_or("POSTGRES_URL", "postgres://root@127.0.0.1:5432/test");
    let table = format!("session_mig{}", &StoreKey::random().as_str()[..10]);
    scenario(&url, names("sess:", &table), &url).await;
    let pool = store_postgres::sqlx::PgPool::connect(&url)
        .await
        .expect("cleanup: PostgreSQL");
    let drop_table = format!("DROP TABLE IF EXISTS \"{table}\"");
    store_postgres::sqlx::query(store_postgres::sqlx::AssertSqlSafe(drop_table))
        .execute(&pool)
        .await
        .expect("cleanup: drop the source table");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_connect_mongo() {
    let Some(uri) = std::env::var("MONGO_URI")
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        panic!(
            "MONGO_URI is not set: point it at a MongoDB server (`cargo xtask services` starts the stand-in)"
        );
    };
    let base = uri
        .split('?')
        .next()
        .unwrap_or(&uri)
        .trim_end_matches('/')
        .to_owned();
    let run = StoreKey::random().as_str()[..10].to_owned();
    // Both layouts name their collection `sessions`: the native one goes to another database.
    let (source, native) = (format!("migrate_{run}"), format!("migrate_{run}_native"));
    let (from, to) = (format!("{base}/{source}"), format!("{base}/{native}"));
    scenario(&from, names("sess:", "session"), &to).await;
    let client = store_mongo::mongodb::Client::with_uri_str(&from)
        .await
        .expect("cleanup: MongoDB");
    for database in [source, native] {
        client
            .database(&database)
            .drop()
            .await
            .expect("cleanup: drop a database");
    }
}
