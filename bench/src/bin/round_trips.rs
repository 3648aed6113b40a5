//! Store round trips per HTTP request, ours against the peers, read from the servers' own
//! counters (see `session_bench::round_trips`).
//!
//! `cargo run --release --manifest-path bench/Cargo.toml --bin round_trips -- [--requests 200]
//! [--warmup 20] [--only redis,postgres,mongo,sqlite] [--out PATH] [--verbose]`.
//! Needs `PG_STATS_URL` (a PostgreSQL preloading `pg_stat_statements`) and `MONGO_URI`,
//! which `cargo xtask bench` provides; `REDIS_URL` defaults to `redis://127.0.0.1:6379`.
//! Writes JSON to `--out` (default `target/bench-results/round_trips.json`), progress to
//! stderr, and a markdown section to stdout.

use std::path::PathBuf;

use session_bench::round_trips::{self, Backend, Config, Error};

fn parse() -> Result<(Config, PathBuf), Error> {
    let mut config = Config::default();
    let mut out = PathBuf::from("target/bench-results/round_trips.json");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--requests" => config.requests = value()?.parse()?,
            "--warmup" => config.warmup = value()?.parse()?,
            "--out" => out = PathBuf::from(value()?),
            "--verbose" | "-v" => config.verbose = true,
            "--only" => {
                config.backends = value()?
                    .split(',')
                    .map(|name| {
                        Backend::from_name(name.trim()).ok_or_else(|| {
                            format!("unknown backend {name} (redis, postgres, mongo, sqlite)")
                        })
                    })
                    .collect::<Result<_, _>>()?;
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok((config, out))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (config, out) = parse()?;
    let result = round_trips::run(&config).await?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(&result)?;
    std::fs::write(&out, json).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("round trips: wrote {}", out.display());
    println!("{}", round_trips::markdown(&result));
    Ok(())
}
