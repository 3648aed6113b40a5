//! Criterion micro-benchmarks: each store's single operations (`load`, `apply`, `create`,
//! `touch`) next to the raw driver doing the equivalent single operation on a comparable
//! table / key / collection, so that the difference is our overhead over the backend's own
//! limit.
//!
//! Results land in `target/criterion/<backend>/<op>/<ours|raw>/new/estimates.json`, which
//! `session_bench::micro::collect` reads. Backends: `memory`, `sqlite` (a file in a temp
//! directory), `postgres` (`POSTGRES_URL`), `redis` (`REDIS_URL`), `mongo` (`MONGO_URI`).
//! A backend whose service is missing makes the run fail loudly; filter with criterion's
//! usual arguments (`cargo bench --manifest-path bench/Cargo.toml --bench stores -- memory`) to run fewer.
//! A backend is only set up when at least one of its benchmarks is selected.
//!
//! Every session holds the same small record: data `{"n": 1}`, a user, not persistent,
//! one hour to live. The raw side writes the same row / hash / document shape, on a table
//! or collection with the same indexes as ours.

use std::cell::{Cell, OnceCell};
use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_main};
use mongodb::bson::{DateTime, Document, doc};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, IndexModel};
use redis::aio::ConnectionManager;
use serde_json::{Value, json};
use session_core::{
    MemoryStore, Timestamp,
    store::{ApplyOutcome, Changeset, CreateOutcome, Record, SessionStore, StoreKey},
};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};
use store_mongo::MongoStore;
use store_postgres::PostgresStore;
use store_redis::RedisStore;
use store_sqlite::SqliteStore;
use tokio::runtime::Runtime;

const POSTGRES_DEFAULT: &str = "postgres://root@127.0.0.1:5432/test";
const REDIS_DEFAULT: &str = "redis://127.0.0.1:6379";
/// How long every benchmarked session lives (from setup): far beyond the run.
const TTL: Duration = Duration::from_secs(3600);
/// The user every benchmarked session belongs to.
const USER: &str = "bench-user";
/// Sessions created per timed chunk by the `create` benchmarks (see [`time_creates`]).
const CREATE_CHUNK: u64 = 10_000;

/// PostgreSQL schema holding both tables (dropped before and after the run).
const PG_SCHEMA: &str = "session_bench_micro";
/// Redis key prefix of everything written here (deleted before and after the run).
const REDIS_PREFIX: &str = "bench:micro:";
/// MongoDB database holding both collections (dropped before and after the run).
const MONGO_DATABASE: &str = "session_bench_micro";

// ---------------------------------------------------------------------------------------
// Shared plumbing
// ---------------------------------------------------------------------------------------

/// The one multi-threaded runtime every benchmark (and every setup) runs on.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("cannot build the tokio runtime")
    })
}

/// Stops the run: a service the benchmarks need is not there. Never skip silently.
fn service_missing(var: &str, url: &str, what: &str, error: impl std::fmt::Display) -> ! {
    panic!(
        "{what} is not reachable via {var}={url:?}: {error}\n\
         Start the test services with `cargo xtask services` (it prints the environment \
         variables to export, {var} among them) or run everything with `cargo xtask bench`; \
         or pick other backends with a criterion filter (e.g. `-- memory`)."
    )
}

/// The value of `result`, or [`service_missing`].
fn need<T, E: std::fmt::Display>(result: Result<T, E>, var: &str, url: &str, what: &str) -> T {
    result.unwrap_or_else(|e| service_missing(var, url, what, e))
}

/// `var`, or `default` when it is unset.
fn env_or(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// The record every standing and every created session holds.
fn sample_record(now: Timestamp) -> Record {
    let mut record = Record::new(now, now.add(TTL), false);
    record.data.insert("n".into(), json!(1).into());
    record.user = Some(USER.into());
    record
}

/// `n` fresh random-looking store keys, cheaply (a splitmix64 stream seeded from the OS):
/// creating millions of keys with `StoreKey::random` would dominate the wall time of the
/// in-process `create` benchmarks, though it is not timed.
fn fresh_keys(n: u64) -> Vec<StoreKey> {
    static STATE: OnceLock<AtomicU64> = OnceLock::new();
    let state = STATE.get_or_init(|| {
        let seed = StoreKey::random();
        let seed = u64::from_str_radix(&seed.as_str()[..16], 16).expect("hex store key");
        AtomicU64::new(seed)
    });
    let next = || {
        let mut z = state.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..n)
        .map(|_| {
            let hex = format!(
                "{:016x}{:016x}{:016x}{:016x}",
                next(),
                next(),
                next(),
                next()
            );
            StoreKey::parse(&hex).expect("64 lowercase hex digits")
        })
        .collect()
}

/// Times `iters` calls of `create`, each with a fresh key, in chunks of [`CREATE_CHUNK`]:
/// keys are made before a chunk's clock starts and `discard` runs after it stops, so
/// neither is timed. Only the in-process backend discards (its maps would otherwise grow
/// by millions of entries); the others keep what was created until the final cleanup.
async fn time_creates(
    iters: u64,
    mut create: impl AsyncFnMut(&StoreKey),
    mut discard: impl AsyncFnMut(&[StoreKey]),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CREATE_CHUNK);
        let keys = fresh_keys(n);
        let start = Instant::now();
        for key in &keys {
            create(key).await;
        }
        total += start.elapsed();
        discard(&keys).await;
        left -= n;
    }
    total
}

/// The raw-driver side of one backend: the same four operations, with no session logic.
trait Raw {
    /// Reads the whole session `key` (it exists).
    async fn load(&self, key: &StoreKey);
    /// Writes value `n` under data key `"n"` of session `key` and moves its deadline.
    async fn apply(&self, key: &StoreKey, n: u64, expires_at: Timestamp);
    /// Inserts a new session `key` holding `record`.
    async fn create(&self, key: &StoreKey, record: &Record);
    /// Moves the deadline of session `key`.
    async fn touch(&self, key: &StoreKey, expires_at: Timestamp);
    /// Removes created sessions after a timed chunk (in-process backend only).
    async fn discard(&self, _keys: &[StoreKey]) {}
    /// Removes everything both sides wrote.
    async fn teardown(&self);
}

/// One backend ready to be measured: both sides, each with a standing session.
struct Fixture<S, R> {
    ours: S,
    raw: R,
    /// The standing session of `ours` (loaded, applied to, touched).
    ours_key: StoreKey,
    /// The standing session of `raw`.
    raw_key: StoreKey,
    /// What `create` inserts (both sides).
    record: Record,
    /// Whether `ours` deletes what `create` made after each timed chunk.
    discard_created: bool,
}

impl<S: SessionStore, R: Raw> Fixture<S, R> {
    /// Both sides with their standing session created and checked.
    async fn new(ours: S, raw: R, discard_created: bool) -> Self {
        let record = sample_record(Timestamp::now());
        let [ours_key, raw_key]: [StoreKey; 2] = fresh_keys(2).try_into().expect("two keys");
        let created = ours
            .create(&ours_key, &record)
            .await
            .expect("create failed");
        assert_eq!(created, CreateOutcome::Created, "standing session exists");
        raw.create(&raw_key, &record).await;
        let loaded = ours.load(&ours_key).await.expect("load failed");
        assert_eq!(
            loaded.as_ref(),
            Some(&record),
            "standing session round trip"
        );
        raw.load(&raw_key).await;
        Self {
            ours,
            raw,
            ours_key,
            raw_key,
            record,
            discard_created,
        }
    }
}

/// Registers the eight benchmarks of one backend in group `name`. `setup` runs (once)
/// only when one of them is selected; the backend is cleaned up after the group.
fn bench_backend<S, R, Fut>(c: &mut Criterion, name: &str, setup: impl Fn() -> Fut)
where
    S: SessionStore,
    R: Raw,
    Fut: Future<Output = Fixture<S, R>>,
{
    let rt = runtime();
    let cell: OnceCell<Fixture<S, R>> = OnceCell::new();
    let fixture = || cell.get_or_init(|| rt.block_on(setup()));
    // Distinct values for every write, so no backend can skip a write as a no-op.
    let counter = Cell::new(1_u64);
    let next = || {
        counter.set(counter.get() + 1);
        counter.get()
    };
    let mut group = c.benchmark_group(name);
    if name == "mongo" {
        // The SecantusDB stand-in takes milliseconds per write: the minimum sample keeps
        // the Mongo rows to seconds instead of minutes.
        group.sample_size(10);
    }

    group.bench_function(BenchmarkId::new("load", "ours"), |b| {
        let fx = fixture();
        b.to_async(rt).iter(|| async {
            let found = fx.ours.load(&fx.ours_key).await.expect("load failed");
            assert!(found.is_some(), "the standing session is gone");
            found
        });
    });
    group.bench_function(BenchmarkId::new("load", "raw"), |b| {
        let fx = fixture();
        b.to_async(rt).iter(|| fx.raw.load(&fx.raw_key));
    });

    group.bench_function(BenchmarkId::new("apply", "ours"), |b| {
        let fx = fixture();
        let deadline = fx.record.expires_at;
        b.to_async(rt).iter_batched(
            || {
                let n = next();
                let mut changes = Changeset::new(deadline.add(Duration::from_millis(n)));
                changes.set.insert("n".into(), Value::from(n).into());
                changes
            },
            |changes| async move {
                let outcome = fx.ours.apply(&fx.ours_key, &changes, None).await;
                let outcome = outcome.expect("apply failed");
                assert!(matches!(outcome, ApplyOutcome::Applied(_)), "{outcome:?}");
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function(BenchmarkId::new("apply", "raw"), |b| {
        let fx = fixture();
        let deadline = fx.record.expires_at;
        b.to_async(rt).iter_batched(
            || {
                let n = next();
                (n, deadline.add(Duration::from_millis(n)))
            },
            |(n, expires_at)| fx.raw.apply(&fx.raw_key, n, expires_at),
            BatchSize::SmallInput,
        );
    });

    group.bench_function(BenchmarkId::new("create", "ours"), |b| {
        let fx = fixture();
        b.to_async(rt).iter_custom(|iters| {
            time_creates(
                iters,
                async |key| {
                    let outcome = fx.ours.create(key, &fx.record).await;
                    assert_eq!(outcome.expect("create failed"), CreateOutcome::Created);
                },
                async |keys| {
                    if fx.discard_created {
                        for key in keys {
                            fx.ours.delete(key).await.expect("delete failed");
                        }
                    }
                },
            )
        });
    });
    group.bench_function(BenchmarkId::new("create", "raw"), |b| {
        let fx = fixture();
        b.to_async(rt).iter_custom(|iters| {
            time_creates(
                iters,
                async |key| fx.raw.create(key, &fx.record).await,
                async |keys| fx.raw.discard(keys).await,
            )
        });
    });

    group.bench_function(BenchmarkId::new("touch", "ours"), |b| {
        let fx = fixture();
        let deadline = fx.record.expires_at;
        b.to_async(rt).iter_batched(
            || deadline.add(Duration::from_millis(next())),
            |expires_at| async move {
                let touched = fx.ours.touch(&fx.ours_key, expires_at).await;
                assert!(
                    touched.expect("touch failed"),
                    "the standing session is gone"
                );
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function(BenchmarkId::new("touch", "raw"), |b| {
        let fx = fixture();
        let deadline = fx.record.expires_at;
        b.to_async(rt).iter_batched(
            || deadline.add(Duration::from_millis(next())),
            |expires_at| fx.raw.touch(&fx.raw_key, expires_at),
            BatchSize::SmallInput,
        );
    });

    group.finish();
    if let Some(fx) = cell.into_inner() {
        rt.block_on(fx.raw.teardown());
    }
}

// ---------------------------------------------------------------------------------------
// memory
// ---------------------------------------------------------------------------------------

/// A mutex-guarded map of records: what any in-process store does at the least.
#[derive(Default)]
struct MemoryRaw {
    map: Mutex<HashMap<String, Record>>,
}

impl MemoryRaw {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        self.map.lock().expect("raw map poisoned")
    }
}

impl Raw for MemoryRaw {
    async fn load(&self, key: &StoreKey) {
        // Mirrors MemoryStore::load: a clone of the record under the lock.
        let record = self.map().get(key.as_str()).cloned();
        assert!(black_box(record).is_some(), "raw session is gone");
    }

    async fn apply(&self, key: &StoreKey, n: u64, expires_at: Timestamp) {
        // Mirrors MemoryStore::apply: set one data key, move the deadline, bump the version.
        let mut map = self.map();
        let record = map.get_mut(key.as_str()).expect("raw session is gone");
        record.data.insert("n".to_owned(), Value::from(n).into());
        record.expires_at = expires_at;
        record.version += 1;
    }

    async fn create(&self, key: &StoreKey, record: &Record) {
        // Mirrors MemoryStore::create: insert a copy of the record under a new key.
        let old = self.map().insert(key.as_str().to_owned(), record.clone());
        assert!(old.is_none(), "raw key reused");
    }

    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) {
        // Mirrors MemoryStore::touch: move the deadline.
        let mut map = self.map();
        map.get_mut(key.as_str())
            .expect("raw session is gone")
            .expires_at = expires_at;
    }

    async fn discard(&self, keys: &[StoreKey]) {
        let mut map = self.map();
        for key in keys {
            map.remove(key.as_str());
        }
    }

    async fn teardown(&self) {}
}

fn memory(c: &mut Criterion) {
    bench_backend(c, "memory", || async {
        Fixture::new(MemoryStore::default(), MemoryRaw::default(), true).await
    });
}

// ---------------------------------------------------------------------------------------
// SQL (shared by SQLite and PostgreSQL)
// ---------------------------------------------------------------------------------------

/// The raw statements on one table, in `$N` placeholders (both backends accept them).
/// Held as shared [`SqlStr`]s, as our stores hold theirs, so neither side copies the text
/// per query.
struct RawSql {
    load: SqlStr,
    apply: SqlStr,
    create: SqlStr,
    touch: SqlStr,
}

/// Our own SQL text (table names we chose), shared.
fn sql_text(text: String) -> SqlStr {
    AssertSqlSafe(Arc::<str>::from(text)).into_sql_str()
}

impl RawSql {
    fn new(table: &str) -> Self {
        Self {
            // Mirrors `load`: the whole row by primary key (columns as ours selects them).
            load: sql_text(format!(
                "SELECT data, created_at, expires_at, user_id, persistent, version \
                 FROM {table} WHERE key = $1"
            )),
            // Mirrors `apply`: one row by primary key, new data and deadline.
            apply: sql_text(format!(
                "UPDATE {table} SET data = $1, expires_at = $2 WHERE key = $3"
            )),
            // Mirrors `create`: a plain insert of a whole new row.
            create: sql_text(format!(
                "INSERT INTO {table} (key, data, created_at, expires_at, user_id, persistent, \
                 version) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            )),
            // Mirrors `touch`: the deadline of one row by primary key.
            touch: sql_text(format!("UPDATE {table} SET expires_at = $1 WHERE key = $2")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// sqlite
// ---------------------------------------------------------------------------------------

/// A pool on the same database file as ours, set up the same way (WAL, synchronous=NORMAL,
/// busy timeout), on table `raw_sessions` with ours' column types and indexes.
struct SqliteRaw {
    pool: SqlitePool,
    sql: RawSql,
    dir: PathBuf,
    ours_pool: SqlitePool,
}

/// The statements of a migration file, for the raw baselines' tables: our own migrations,
/// so the raw driver works on exactly our table shape.
fn statements(migration: &str) -> Vec<String> {
    migration
        .split(';')
        .map(str::trim)
        .filter(|statement| !statement.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Our SQLite migration, for the raw baseline's table `raw_sessions`.
fn sqlite_raw_ddl() -> Vec<String> {
    statements(
        &include_str!("../../crates/store-sqlite/migrations/0001_sessions.sql")
            .replace("{name}", "raw_sessions"),
    )
}

impl Raw for SqliteRaw {
    async fn load(&self, key: &StoreKey) {
        let row = sqlx::query(self.sql.load.clone())
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await
            .expect("raw SQLite load failed");
        assert!(black_box(row).is_some(), "raw session is gone");
    }

    async fn apply(&self, key: &StoreKey, n: u64, expires_at: Timestamp) {
        let done = sqlx::query(self.sql.apply.clone())
            .bind(json!({ "n": n }).to_string())
            .bind(expires_at.as_millis())
            .bind(key.as_str())
            .execute(&self.pool)
            .await
            .expect("raw SQLite apply failed");
        assert_eq!(done.rows_affected(), 1);
    }

    async fn create(&self, key: &StoreKey, record: &Record) {
        let data = serde_json::to_string(&record.data).expect("encodable data");
        sqlx::query(self.sql.create.clone())
            .bind(key.as_str())
            .bind(data)
            .bind(record.created_at.as_millis())
            .bind(record.expires_at.as_millis())
            .bind(record.user.as_deref())
            .bind(record.persistent)
            .bind(i64::try_from(record.version).expect("small version"))
            .execute(&self.pool)
            .await
            .expect("raw SQLite create failed");
    }

    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) {
        let done = sqlx::query(self.sql.touch.clone())
            .bind(expires_at.as_millis())
            .bind(key.as_str())
            .execute(&self.pool)
            .await
            .expect("raw SQLite touch failed");
        assert_eq!(done.rows_affected(), 1);
    }

    async fn teardown(&self) {
        self.pool.close().await;
        self.ours_pool.close().await;
        std::fs::remove_dir_all(&self.dir).expect("cannot remove the SQLite bench directory");
    }
}

fn sqlite(c: &mut Criterion) {
    bench_backend(c, "sqlite", || async {
        let dir = std::env::temp_dir().join(format!("session-bench-micro-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("cannot clear the SQLite bench directory");
        }
        std::fs::create_dir_all(&dir).expect("cannot create the SQLite bench directory");
        let file = dir.join("micro.db");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let ours = SqliteStore::connect(&url)
            .await
            .expect("cannot open the SQLite database");
        ours.migrate().await.expect("SQLite migration failed");
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(store_sqlite::BUSY_TIMEOUT);
        let pool = SqlitePool::connect_with(options)
            .await
            .expect("cannot open the raw SQLite pool");
        for ddl in sqlite_raw_ddl() {
            sqlx::query(AssertSqlSafe(ddl))
                .execute(&pool)
                .await
                .expect("cannot create the raw SQLite table");
        }
        let raw = SqliteRaw {
            pool,
            sql: RawSql::new("raw_sessions"),
            dir,
            ours_pool: ours.pool().clone(),
        };
        Fixture::new(ours, raw, false).await
    });
}

// ---------------------------------------------------------------------------------------
// postgres
// ---------------------------------------------------------------------------------------

/// A pool of its own on table `raw_sessions` in [`PG_SCHEMA`], with ours' column types
/// and indexes; ours uses `ours_sessions` in the same schema.
struct PostgresRaw {
    pool: PgPool,
    sql: RawSql,
}

impl Raw for PostgresRaw {
    async fn load(&self, key: &StoreKey) {
        let row = sqlx::query(self.sql.load.clone())
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await
            .expect("raw PostgreSQL load failed");
        assert!(black_box(row).is_some(), "raw session is gone");
    }

    async fn apply(&self, key: &StoreKey, n: u64, expires_at: Timestamp) {
        let done = sqlx::query(self.sql.apply.clone())
            .bind(Json(json!({ "n": n })))
            .bind(expires_at.as_millis())
            .bind(key.as_str())
            .execute(&self.pool)
            .await
            .expect("raw PostgreSQL apply failed");
        assert_eq!(done.rows_affected(), 1);
    }

    async fn create(&self, key: &StoreKey, record: &Record) {
        sqlx::query(self.sql.create.clone())
            .bind(key.as_str())
            .bind(Json(&record.data))
            .bind(record.created_at.as_millis())
            .bind(record.expires_at.as_millis())
            .bind(record.user.as_deref())
            .bind(record.persistent)
            .bind(i64::try_from(record.version).expect("small version"))
            .execute(&self.pool)
            .await
            .expect("raw PostgreSQL create failed");
    }

    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) {
        let done = sqlx::query(self.sql.touch.clone())
            .bind(expires_at.as_millis())
            .bind(key.as_str())
            .execute(&self.pool)
            .await
            .expect("raw PostgreSQL touch failed");
        assert_eq!(done.rows_affected(), 1);
    }

    async fn teardown(&self) {
        drop_pg_schema(&self.pool).await;
        self.pool.close().await;
    }
}

async fn drop_pg_schema(pool: &PgPool) {
    sqlx::query(AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{PG_SCHEMA}\" CASCADE"
    )))
    .execute(pool)
    .await
    .expect("cannot drop the PostgreSQL bench schema");
}

fn postgres(c: &mut Criterion) {
    bench_backend(c, "postgres", || async {
        let url = env_or("POSTGRES_URL", POSTGRES_DEFAULT);
        let pool = PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(5))
            .connect(&url)
            .await;
        let pool = need(pool, "POSTGRES_URL", &url, "PostgreSQL");
        drop_pg_schema(&pool).await;
        let ours = PostgresStore::connect(&url).await;
        let ours = need(ours, "POSTGRES_URL", &url, "PostgreSQL")
            .with_schema(PG_SCHEMA)
            .expect("valid schema name")
            .with_table("ours_sessions")
            .expect("valid table name");
        ours.migrate().await.expect("PostgreSQL migration failed");
        // Our migration, run for the raw baseline's table `raw_sessions`: the same shape.
        let t = format!("\"{PG_SCHEMA}\".\"raw_sessions\"");
        let ddl = statements(
            &include_str!("../../crates/store-postgres/migrations/0001_sessions.sql")
                .replace("{table}", &t)
                .replace("{name}", "raw_sessions"),
        );
        for statement in &ddl {
            sqlx::query(AssertSqlSafe(statement.as_str()))
                .execute(&pool)
                .await
                .expect("cannot create the raw PostgreSQL table");
        }
        let raw = PostgresRaw {
            pool,
            sql: RawSql::new(&t),
        };
        Fixture::new(ours, raw, false).await
    });
}

// ---------------------------------------------------------------------------------------
// redis
// ---------------------------------------------------------------------------------------

/// A connection manager of its own (multiplexed, like ours), on hashes with the same
/// metadata fields as ours (v c e p u i) and a field `d:<key>` per data key (the layout
/// before 0.4) under `bench:micro:raw:`; ours uses `bench:micro:ours:`. A floor of plain
/// commands: a write is one `HSET` of one field, with no version check and no merge.
struct RedisRaw {
    conn: ConnectionManager,
}

impl RedisRaw {
    fn hash(key: &StoreKey) -> String {
        format!("{REDIS_PREFIX}raw:{}", key.as_str())
    }

    /// Deletes every key under [`REDIS_PREFIX`].
    async fn clear(&self) {
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{REDIS_PREFIX}*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .expect("Redis SCAN failed");
            if !keys.is_empty() {
                redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async::<i64>(&mut conn)
                    .await
                    .expect("Redis UNLINK failed");
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
}

impl Raw for RedisRaw {
    async fn load(&self, key: &StoreKey) {
        // Mirrors `load`: HGETALL of the session hash.
        let mut conn = self.conn.clone();
        let fields: HashMap<Vec<u8>, Vec<u8>> = redis::cmd("HGETALL")
            .arg(Self::hash(key))
            .query_async(&mut conn)
            .await
            .expect("raw Redis HGETALL failed");
        assert!(!black_box(fields).is_empty(), "raw session is gone");
    }

    async fn apply(&self, key: &StoreKey, n: u64, _expires_at: Timestamp) {
        // Mirrors `apply`: HSET of one data field (JSON text).
        let mut conn = self.conn.clone();
        redis::cmd("HSET")
            .arg(Self::hash(key))
            .arg("d:n")
            .arg(n.to_string())
            .query_async::<i64>(&mut conn)
            .await
            .expect("raw Redis HSET failed");
    }

    async fn create(&self, key: &StoreKey, record: &Record) {
        // Mirrors `create`: HSET of every field of a new hash + PEXPIREAT, pipelined (one
        // round trip, no script, no check for an existing hash, no per-user index).
        let hash = Self::hash(key);
        let expires = record.expires_at.as_millis();
        let horizon = expires + (expires - Timestamp::now().as_millis());
        let mut hset = redis::cmd("HSET");
        hset.arg(&hash)
            .arg("v")
            .arg(record.version)
            .arg("c")
            .arg(record.created_at.as_millis())
            .arg("e")
            .arg(expires)
            .arg("p")
            .arg(if record.persistent { "1" } else { "0" });
        if let Some(user) = &record.user {
            hset.arg("u").arg(user).arg("i").arg(horizon);
        }
        for (k, v) in &record.data {
            hset.arg(format!("d:{k}")).arg(v.to_string());
        }
        let mut pipe = redis::pipe();
        pipe.add_command(hset)
            .ignore()
            .cmd("PEXPIREAT")
            .arg(&hash)
            .arg(expires)
            .ignore();
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn)
            .await
            .expect("raw Redis create failed");
    }

    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) {
        // Mirrors `touch`: PEXPIREAT of the session hash.
        let mut conn = self.conn.clone();
        let set: i64 = redis::cmd("PEXPIREAT")
            .arg(Self::hash(key))
            .arg(expires_at.as_millis())
            .query_async(&mut conn)
            .await
            .expect("raw Redis PEXPIREAT failed");
        assert_eq!(set, 1, "raw session is gone");
    }

    async fn teardown(&self) {
        self.clear().await;
    }
}

fn redis(c: &mut Criterion) {
    bench_backend(c, "redis", || async {
        let url = env_or("REDIS_URL", REDIS_DEFAULT);
        let (var, what) = ("REDIS_URL", "Redis");
        let client = need(redis::Client::open(url.as_str()), var, &url, what);
        let connecting = client.get_connection_manager();
        let conn = need(
            tokio::time::timeout(Duration::from_secs(5), connecting).await,
            var,
            &url,
            what,
        );
        let raw = RedisRaw {
            conn: need(conn, var, &url, what),
        };
        raw.clear().await;
        let ours = need(RedisStore::connect(&url).await, var, &url, what)
            .with_prefix(format!("{REDIS_PREFIX}ours:"));
        Fixture::new(ours, raw, false).await
    });
}

// ---------------------------------------------------------------------------------------
// mongo
// ---------------------------------------------------------------------------------------

/// A client of its own on collection `raw` of [`MONGO_DATABASE`], with ours' indexes (TTL
/// on `expires_at`, `user`) and ours' document shape (`crates/store-mongo/src/codec.rs`:
/// data values as JSON text, BSON dates, Int64 version); ours uses collection `ours`.
struct MongoRaw {
    collection: Collection<Document>,
}

impl Raw for MongoRaw {
    async fn load(&self, key: &StoreKey) {
        // Mirrors `load`: find_one by _id.
        let found = self
            .collection
            .find_one(doc! { "_id": key.as_str() })
            .await
            .expect("raw MongoDB find_one failed");
        assert!(black_box(found).is_some(), "raw session is gone");
    }

    async fn apply(&self, key: &StoreKey, n: u64, _expires_at: Timestamp) {
        // Mirrors `apply`: update_one with $set of one data field.
        let done = self
            .collection
            .update_one(
                doc! { "_id": key.as_str() },
                doc! { "$set": { "data.n": n.to_string() } },
            )
            .await
            .expect("raw MongoDB update_one failed");
        assert_eq!(done.matched_count, 1, "raw session is gone");
    }

    async fn create(&self, key: &StoreKey, record: &Record) {
        // Mirrors `create`: insert_one of the whole document.
        let data: Document = record
            .data
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string().into()))
            .collect();
        let document = doc! {
            "_id": key.as_str(),
            "data": data,
            "created_at": DateTime::from_millis(record.created_at.as_millis()),
            "expires_at": DateTime::from_millis(record.expires_at.as_millis()),
            "user": record.user.as_deref(),
            "persistent": record.persistent,
            "version": i64::try_from(record.version).expect("small version"),
        };
        self.collection
            .insert_one(document)
            .await
            .expect("raw MongoDB insert_one failed");
    }

    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) {
        // Mirrors `touch`: update_one with $set of expires_at.
        let done = self
            .collection
            .update_one(
                doc! { "_id": key.as_str() },
                doc! { "$set": { "expires_at": DateTime::from_millis(expires_at.as_millis()) } },
            )
            .await
            .expect("raw MongoDB update_one failed");
        assert_eq!(done.matched_count, 1, "raw session is gone");
    }

    async fn teardown(&self) {
        self.collection
            .client()
            .database(MONGO_DATABASE)
            .drop()
            .await
            .expect("cannot drop the MongoDB bench database");
    }
}

fn mongo(c: &mut Criterion) {
    bench_backend(c, "mongo", || async {
        let Ok(uri) = std::env::var("MONGO_URI") else {
            let why = "it is not set and has no default";
            service_missing("MONGO_URI", "<unset>", "MongoDB", why);
        };
        let (var, what) = ("MONGO_URI", "MongoDB");
        let mut options = need(ClientOptions::parse(&uri).await, var, &uri, what);
        options.server_selection_timeout = Some(Duration::from_secs(5));
        let client = need(Client::with_options(options), var, &uri, what);
        let database = client.database(MONGO_DATABASE);
        need(database.drop().await, var, &uri, what);
        let ours = MongoStore::new(database.collection("ours"));
        need(ours.migrate().await, var, &uri, what);
        let collection = database.collection::<Document>("raw");
        // Ours' indexes (`crates/store-mongo/src/schema.rs`).
        let ttl = IndexModel::builder()
            .keys(doc! { "expires_at": 1 })
            .options(
                IndexOptions::builder()
                    .name("expires_at_ttl".to_owned())
                    .expire_after(Duration::ZERO)
                    .build(),
            )
            .build();
        let by_user = IndexModel::builder()
            .keys(doc! { "user": 1 })
            .options(IndexOptions::builder().name("user".to_owned()).build())
            .build();
        collection
            .create_indexes([ttl, by_user])
            .await
            .expect("cannot create the raw MongoDB indexes");
        Fixture::new(ours, MongoRaw { collection }, false).await
    });
}

// ---------------------------------------------------------------------------------------

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(30)
        .without_plots()
}

/// The criterion group (in a module of its own: the function the macro generates has no
/// documentation of its own).
mod group {
    criterion::criterion_group! {
        name = stores;
        config = super::config();
        targets = super::memory, super::sqlite, super::postgres, super::redis, super::mongo
    }
}
criterion_main!(group::stores);
