//! HTTP load comparison: our axum adapter against tower-sessions, on memory and on Redis.
//!
//! `cargo run --release -p session-bench --bin http_load -- [--concurrency 32] [--secs 3]
//! [--requests 1000000] [--rounds 3] [--skip-redis]`; `REDIS_URL` defaults to
//! `redis://127.0.0.1:6379`. Prints progress on stderr and a markdown table on stdout.

use std::time::Duration;

use session_bench::{
    apps::{self, PATH_NONE, PATH_READ, PATH_WRITE, Server},
    driver::{self, LoadConfig, RunResult},
    report::{self, Row, Summary},
};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// (label, measured path, seed path giving each connection a session first).
const WORKLOADS: [(&str, &str, Option<&str>); 3] = [
    ("(a) no session access", PATH_NONE, None),
    ("(b) read-only", PATH_READ, Some(PATH_WRITE)),
    ("(c) read + write", PATH_WRITE, Some(PATH_WRITE)),
];

#[derive(Debug)]
struct Options {
    load: LoadConfig,
    rounds: usize,
    skip_redis: bool,
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
            skip_redis: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--concurrency" => options.load.concurrency = value()?.parse()?,
                "--requests" => options.load.max_requests = value()?.parse()?,
                "--secs" => options.load.max_duration = Duration::from_secs(value()?.parse()?),
                "--rounds" => options.rounds = value()?.parse()?,
                "--skip-redis" => options.skip_redis = true,
                other => return Err(format!("unknown argument {other}").into()),
            }
        }
        if options.load.concurrency == 0 || options.rounds == 0 {
            return Err("--concurrency and --rounds must be at least 1".into());
        }
        Ok(options)
    }

    /// A short unmeasured run to warm caches, pools and the allocator.
    fn warmup(&self) -> LoadConfig {
        LoadConfig {
            max_duration: self.load.max_duration.min(Duration::from_secs(1)),
            ..self.load
        }
    }
}

/// Runs every workload on `ours` and `peer`, alternating them each round.
async fn compare(
    backend: &str,
    ours: &Server,
    peer: &Server,
    options: &Options,
    rows: &mut Vec<Row>,
) -> Result<(), Error> {
    for server in [ours, peer] {
        driver::check_session(server.addr, PATH_WRITE, PATH_READ).await?;
    }
    for (workload, path, seed) in WORKLOADS {
        let mut runs: [Vec<RunResult>; 2] = [Vec::new(), Vec::new()];
        for (server, _) in [(ours, 0), (peer, 1)] {
            driver::run(server.addr, path, seed, options.warmup()).await?;
        }
        for round in 1..=options.rounds {
            for (which, server) in [ours, peer].into_iter().enumerate() {
                let run = driver::run(server.addr, path, seed, options.load).await?;
                eprintln!(
                    "{backend:>14} {workload:<22} round {round} {:<4} {:>8.0} req/s",
                    ["ours", "peer"][which],
                    run.rps()
                );
                runs[which].push(run);
            }
        }
        rows.push(Row {
            workload: workload.to_owned(),
            backend: backend.to_owned(),
            ours: Summary::of(&runs[0]),
            peer: Some(Summary::of(&runs[1])),
        });
    }
    Ok(())
}

/// The bare-axum baseline for workload (a).
async fn baseline(options: &Options, rows: &mut Vec<Row>) -> Result<(), Error> {
    let server = apps::serve(apps::bare()).await?;
    let (workload, path, seed) = WORKLOADS[0];
    driver::run(server.addr, path, seed, options.warmup()).await?;
    let mut runs = Vec::new();
    for round in 1..=options.rounds {
        let run = driver::run(server.addr, path, seed, options.load).await?;
        eprintln!(
            "{:>14} {workload:<22} round {round} bare {:>8.0} req/s",
            "axum",
            run.rps()
        );
        runs.push(run);
    }
    rows.push(Row {
        workload: workload.to_owned(),
        backend: "bare axum (no layer)".to_owned(),
        ours: Summary::of(&runs),
        peer: None,
    });
    Ok(())
}

async fn memory(options: &Options, rows: &mut Vec<Row>) -> Result<(), Error> {
    let ours = apps::serve(apps::ours(session_core::MemoryStore::default())?).await?;
    let moka = tower_sessions_moka_store::MokaStore::new(Some(100_000));
    let peer = apps::serve(apps::peer(moka)).await?;
    compare("axum, memory", &ours, &peer, options, rows).await
}

async fn redis(options: &Options, rows: &mut Vec<Row>) -> Result<(), Error> {
    use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let unreachable = |e: &dyn std::fmt::Display| {
        format!("cannot reach Redis at {url}: start it, set REDIS_URL or pass --skip-redis ({e})")
    };
    let ours_store = store_redis::RedisStore::connect(&url)
        .await
        .map_err(|e| unreachable(&e))?
        .with_prefix("bench:ours:");
    // The pool size the tower-sessions-redis-store documentation uses.
    let pool = Pool::new(Config::from_url(&url)?, None, None, None, 6)?;
    let connecting = pool.init();
    tokio::time::timeout(Duration::from_secs(5), connecting)
        .await
        .map_err(|_| unreachable(&"timed out"))?
        .map_err(|e| unreachable(&e))?;
    let ours = apps::serve(apps::ours(ours_store)?).await?;
    let peer = apps::serve(apps::peer(tower_sessions_redis_store::RedisStore::new(
        pool,
    )))
    .await?;
    compare("axum, Redis", &ours, &peer, options, rows).await
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let options = Options::parse()?;
    eprintln!("{options:?}");
    let mut rows = Vec::new();
    baseline(&options, &mut rows).await?;
    memory(&options, &mut rows).await?;
    if !options.skip_redis {
        redis(&options, &mut rows).await?;
    }
    println!("{}", report::markdown(&rows));
    Ok(())
}
