//! HTTP load comparison: our adapters against tower-sessions (axum) and actix-session (actix),
//! on the same handlers and the same backends, plus bare axum.
//!
//! `cargo run --release --manifest-path bench/Cargo.toml --bin http_load -- [--concurrency 32] [--secs 3]
//! [--requests 1000000] [--rounds 3] [--only memory,sqlite,postgres,redis,actix] [--workloads abcde]
//! [--out target/bench-results/http_load.json]`. `REDIS_URL` and `POSTGRES_URL` default to the
//! local servers. Progress goes to stderr, a markdown table to stdout, the rows to `--out`.

use std::{net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use session_bench::{
    actix_apps,
    apps::{self, PATH_BIG, PATH_BIG_SEED, PATH_LOGIN, PATH_NONE, PATH_READ, PATH_WRITE},
    driver::{self, LoadConfig, RunResult, Workload},
    report::{self, Row, Summary},
};

type Error = Box<dyn std::error::Error + Send + Sync>;

const WORKLOADS: [Workload; 5] = [
    Workload {
        label: "(a) no session access",
        path: PATH_NONE,
        // With a session cookie, as a signed-in user's request to such a route would carry.
        seed: Some(PATH_WRITE),
        cookies: true,
    },
    Workload {
        label: "(b) read-only",
        path: PATH_READ,
        seed: Some(PATH_WRITE),
        cookies: true,
    },
    Workload {
        label: "(c) read + write",
        path: PATH_WRITE,
        seed: Some(PATH_WRITE),
        cookies: true,
    },
    Workload {
        label: "(d) 20 × 200 B, one key changes",
        path: PATH_BIG,
        seed: Some(PATH_BIG_SEED),
        cookies: true,
    },
    Workload {
        label: "(e) login storm",
        path: PATH_LOGIN,
        seed: None,
        cookies: false,
    },
];

const BACKENDS: [&str; 5] = ["memory", "sqlite", "postgres", "redis", "actix"];

#[derive(Debug)]
struct Options {
    load: LoadConfig,
    rounds: usize,
    only: Vec<String>,
    /// Workload letters to run (`a`..`e`).
    workloads: String,
    out: PathBuf,
}

impl Options {
    fn parse() -> Result<Self, Error> {
        let mut options = Self {
            load: LoadConfig {
                concurrency: 32,
                max_requests: 1_000_000,
                max_duration: Duration::from_secs(3),
            },
            rounds: 3,
            only: BACKENDS.iter().map(|b| (*b).to_owned()).collect(),
            workloads: "abcde".to_owned(),
            out: PathBuf::from("target/bench-results/http_load.json"),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--concurrency" => options.load.concurrency = value()?.parse()?,
                "--requests" => options.load.max_requests = value()?.parse()?,
                "--secs" => {
                    options.load.max_duration = Duration::from_secs_f64(value()?.parse()?);
                }
                "--rounds" => options.rounds = value()?.parse()?,
                "--only" => options.only = value()?.split(',').map(str::to_owned).collect(),
                "--workloads" => options.workloads = value()?.replace(',', ""),
                "--out" => options.out = PathBuf::from(value()?),
                other => return Err(format!("unknown argument {other}").into()),
            }
        }
        if options.load.concurrency == 0 || options.rounds == 0 {
            return Err("--concurrency and --rounds must be at least 1".into());
        }
        if let Some(unknown) = options
            .only
            .iter()
            .find(|b| !BACKENDS.contains(&b.as_str()))
        {
            return Err(format!("--only: unknown backend {unknown}; known: {BACKENDS:?}").into());
        }
        Ok(options)
    }

    /// Whether `workload` was asked for: its label is "(x) …" with x in `--workloads`.
    fn runs(&self, workload: &Workload) -> bool {
        workload
            .label
            .chars()
            .nth(1)
            .is_some_and(|letter| self.workloads.contains(letter))
    }

    fn wants(&self, backend: &str) -> bool {
        self.only.iter().any(|b| b == backend)
    }

    /// A short unmeasured run to warm caches, pools and the allocator.
    fn warmup(&self) -> LoadConfig {
        LoadConfig {
            max_duration: self.load.max_duration.min(Duration::from_secs(1)),
            ..self.load
        }
    }
}

/// Runs every workload on `ours` and `peer`, alternating them each round. Workload (a) also
/// alternates with `bare` (the same framework without a session layer) when given, so the
/// layer's cost is read from the same rounds.
async fn compare(
    stack: &str,
    ours: SocketAddr,
    peer: SocketAddr,
    bare: Option<SocketAddr>,
    options: &Options,
    rows: &mut Vec<Row>,
) -> Result<(), Error> {
    for addr in [ours, peer] {
        driver::check_session(addr, PATH_WRITE, PATH_READ).await?;
    }
    for workload in WORKLOADS.iter().filter(|w| options.runs(w)) {
        let mut sides = vec![("ours", ours), ("peer", peer)];
        if let (Some(bare), PATH_NONE) = (bare, workload.path) {
            sides.push(("bare", bare));
        }
        for (_, addr) in &sides {
            driver::run(*addr, workload, options.warmup()).await?;
        }
        let mut runs: Vec<Vec<RunResult>> = vec![Vec::new(); sides.len()];
        for round in 1..=options.rounds {
            for (which, (name, addr)) in sides.iter().enumerate() {
                let run = driver::run(*addr, workload, options.load).await?;
                eprintln!(
                    "{stack:>34} {:<34} round {round} {name:<4} {:>8.0} req/s  ({} errors)",
                    workload.label,
                    run.rps(),
                    run.errors,
                );
                runs[which].push(run);
            }
        }
        rows.push(Row {
            workload: workload.label.to_owned(),
            stack: stack.to_owned(),
            ours: Summary::of(&runs[0]),
            peer: Some(Summary::of(&runs[1])),
            bare: runs.get(2).map(|r| Summary::of(r)),
        });
    }
    Ok(())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn unreachable(what: &str, url: &str, e: &dyn std::fmt::Display) -> Error {
    format!("cannot reach {what} at {url}: start it (`cargo xtask services`) or leave it out with --only ({e})").into()
}

/// Serves `ours` and `peer` behind the same axum routes and compares them, with bare axum
/// alternating in workload (a).
async fn compare_axum<P>(
    stack: &str,
    ours: impl session_core::store::SessionStore,
    peer: P,
    bare: SocketAddr,
    options: &Options,
    rows: &mut Vec<Row>,
) -> Result<(), Error>
where
    P: tower_sessions::SessionStore + Clone,
{
    let ours = apps::serve(apps::ours(ours)?).await?;
    let peer = apps::serve(apps::peer(peer)).await?;
    compare(stack, ours.addr, peer.addr, Some(bare), options, rows).await
}

async fn memory(bare: SocketAddr, options: &Options, rows: &mut Vec<Row>) -> Result<(), Error> {
    let moka = tower_sessions_moka_store::MokaStore::new(Some(100_000));
    let ours = session_core::MemoryStore::default();
    compare_axum("axum, memory", ours, moka, bare, options, rows).await
}

/// Both sides get a pool with the same options (WAL, synchronous=NORMAL, busy timeout) on a
/// file of their own in a fresh directory.
async fn sqlite(bare: SocketAddr, options: &Options, rows: &mut Vec<Row>) -> Result<(), Error> {
    let dir = std::env::temp_dir().join(format!("session-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = |file: &str| format!("sqlite://{}?mode=rwc", dir.join(file).display());
    // The same options in both sqlx majors: ours is on 0.9, the peer on 0.8.
    let ours_pool = {
        use sqlx::sqlite::{
            SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
        };
        let options = SqliteConnectOptions::from_str(&url("ours.db"))?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        SqlitePoolOptions::new().connect_with(options).await?
    };
    let peer_pool = {
        use sqlx08::sqlite::{
            SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
        };
        let options = SqliteConnectOptions::from_str(&url("peer.db"))?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        SqlitePoolOptions::new().connect_with(options).await?
    };
    let ours_store = store_sqlite::SqliteStore::new(ours_pool);
    ours_store.migrate().await?;
    let peer_store = tower_sessions_sqlx_store::SqliteStore::new(peer_pool);
    peer_store.migrate().await?;
    let result = compare_axum("axum, SQLite", ours_store, peer_store, bare, options, rows).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Both sides get a default sqlx pool on the same database; ours in schema `bench_ours`, the
/// peer in its default schema `tower_sessions`.
async fn postgres(bare: SocketAddr, options: &Options, rows: &mut Vec<Row>) -> Result<(), Error> {
    let url = env_or("POSTGRES_URL", "postgres://root@127.0.0.1:5432/test");
    let ours_pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .map_err(|e| unreachable("PostgreSQL", &url, &e))?;
    sqlx::query("CREATE SCHEMA IF NOT EXISTS bench_ours")
        .execute(&ours_pool)
        .await?;
    let ours_store = store_postgres::PostgresStore::new(ours_pool).with_schema("bench_ours")?;
    ours_store.migrate().await?;
    // The peer's pool, in its sqlx major (0.8), with the same options.
    let peer_pool = sqlx08::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .map_err(|e| unreachable("PostgreSQL", &url, &e))?;
    let peer_store = tower_sessions_sqlx_store::PostgresStore::new(peer_pool);
    peer_store.migrate().await?;
    compare_axum(
        "axum, PostgreSQL",
        ours_store,
        peer_store,
        bare,
        options,
        rows,
    )
    .await
}

async fn redis(bare: SocketAddr, options: &Options, rows: &mut Vec<Row>) -> Result<(), Error> {
    use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

    let url = env_or("REDIS_URL", "redis://127.0.0.1:6379");
    let ours_store = store_redis::RedisStore::connect(&url)
        .await
        .map_err(|e| unreachable("Redis", &url, &e))?
        .with_prefix("bench:ours:");
    // The pool size the tower-sessions-redis-store documentation uses.
    let pool = Pool::new(Config::from_url(&url)?, None, None, None, 6)?;
    tokio::time::timeout(Duration::from_secs(5), pool.init())
        .await
        .map_err(|_| unreachable("Redis", &url, &"timed out"))?
        .map_err(|e| unreachable("Redis", &url, &e))?;
    let peer_store = tower_sessions_redis_store::RedisStore::new(pool);
    compare_axum("axum, Redis", ours_store, peer_store, bare, options, rows).await
}

async fn actix(options: &Options, rows: &mut Vec<Row>) -> Result<(), Error> {
    let url = env_or("REDIS_URL", "redis://127.0.0.1:6379");
    let ours = actix_apps::serve_ours(url.clone()).map_err(|e| unreachable("Redis", &url, &e))?;
    let peer = actix_apps::serve_peer(url.clone()).map_err(|e| unreachable("Redis", &url, &e))?;
    compare(
        "actix-web, Redis (actix-session)",
        ours.addr,
        peer.addr,
        None,
        options,
        rows,
    )
    .await
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let options = Options::parse()?;
    eprintln!("{options:?}");
    let mut rows = Vec::new();
    // Bare axum: workload (a) alternates with it on every axum stack.
    let bare = apps::serve(apps::bare()).await?;
    if options.wants("memory") {
        memory(bare.addr, &options, &mut rows).await?;
    }
    if options.wants("sqlite") {
        sqlite(bare.addr, &options, &mut rows).await?;
    }
    if options.wants("postgres") {
        postgres(bare.addr, &options, &mut rows).await?;
    }
    if options.wants("redis") {
        redis(bare.addr, &options, &mut rows).await?;
    }
    if options.wants("actix") {
        actix(&options, &mut rows).await?;
    }
    println!("{}", report::markdown(&rows));
    let load = report::HttpLoad {
        settings: options_line(&options),
        rows,
    };
    report::write_json(&options.out, &load)?;
    eprintln!("wrote {}", options.out.display());
    Ok(())
}

fn options_line(options: &Options) -> String {
    format!(
        "{} keep-alive connections, {} s × {} alternating rounds per side after a 1 s warm-up",
        options.load.concurrency,
        options.load.max_duration.as_secs_f64(),
        options.rounds
    )
}
