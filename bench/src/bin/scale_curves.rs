//! Scale curves on Redis: workload (d) (one key of the session rewritten per request) with
//! sessions of 1, 20, 200 and 2,000 keys × 200 B at 1, 8, 32 and 128 connections, ours
//! (`adapter-axum` + `store-redis`) against tower-sessions (`tower-sessions-redis-store`),
//! each served by its own `bench_server` process, alternating rounds, CPU per request from
//! `/proc`.
//!
//! `cargo run --release --manifest-path bench/Cargo.toml --bin scale_curves -- [--secs 2]
//! [--rounds 2] [--keys 1,20,200,2000] [--concurrency 1,8,32,128]
//! [--out target/bench-results/scale_curves.json]`. Each session size seeds its sessions once
//! (as many as the largest concurrency), every point drives the first N of them, and the
//! sessions are deleted afterwards (the store is shared).

use std::{path::PathBuf, time::Duration};

use session_bench::{
    apps::{PATH_SCALE_DROP, SCALE_KEYS, scale_paths},
    cpu::StoreServer,
    driver::{self, Client, LoadConfig, RunResult, Workload},
    report::{self, Summary},
    scale::{self, ScalePoint, ScaleResult},
    server_process::ServerProcess,
    stacks::{self, Side},
    workloads,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Options {
    load: LoadConfig,
    rounds: usize,
    keys: Vec<usize>,
    concurrency: Vec<usize>,
    out: PathBuf,
}

fn list(text: &str) -> Result<Vec<usize>, Error> {
    text.split(',')
        .map(|v| v.trim().parse::<usize>().map_err(Error::from))
        .collect()
}

impl Options {
    fn parse() -> Result<Self, Error> {
        let mut options = Self {
            load: LoadConfig {
                concurrency: 0,
                max_requests: 10_000_000,
                max_duration: Duration::from_secs(2),
            },
            rounds: 2,
            keys: SCALE_KEYS.to_vec(),
            concurrency: vec![1, 8, 32, 128],
            out: PathBuf::from("target/bench-results/scale_curves.json"),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
            match arg.as_str() {
                "--secs" => options.load.max_duration = Duration::from_secs_f64(value.parse()?),
                "--rounds" => options.rounds = value.parse()?,
                "--keys" => options.keys = list(&value)?,
                "--concurrency" => options.concurrency = list(&value)?,
                "--out" => options.out = PathBuf::from(value),
                other => return Err(format!("unknown argument {other}").into()),
            }
        }
        if let Some(bad) = options.keys.iter().find(|k| scale_paths(**k).is_none()) {
            return Err(format!("--keys: {bad} is not one of {SCALE_KEYS:?}").into());
        }
        if options.rounds == 0 || options.concurrency.contains(&0) {
            return Err("--rounds and every --concurrency must be at least 1".into());
        }
        Ok(options)
    }
}

/// Drives the first `n` of `clients` on `side`; the rest wait.
async fn point(
    side: &mut workloads::Side,
    clients: &mut Vec<Client>,
    n: usize,
    path: &'static str,
    load: LoadConfig,
) -> Result<RunResult, Error> {
    let rest = clients.split_off(n.min(clients.len()));
    let driving = std::mem::take(clients);
    let (result, driven) = side
        .measured(driver::run_clients(driving, path, load))
        .await?;
    *clients = driven;
    clients.extend(rest);
    Ok(result)
}

/// Deletes every client's session.
async fn drop_sessions(clients: &mut [Client]) -> Result<(), Error> {
    for client in clients {
        let (status, _) = client.get(PATH_SCALE_DROP).await?;
        if !status.is_success() {
            return Err(format!("{PATH_SCALE_DROP} answered {status}").into());
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let options = Options::parse()?;
    let most = options.concurrency.iter().copied().max().unwrap_or(1);
    let mut sides = Vec::new();
    for side in [Side::Ours, Side::Peer] {
        let server = ServerProcess::start("redis", side, "unused")?;
        driver::check_session(server.addr, "/write", "/read").await?;
        let store = StoreServer::Redis(stacks::redis_url());
        sides.push(workloads::Side::new(side.name(), server, store));
    }
    let warmup = LoadConfig {
        max_duration: options.load.max_duration.min(Duration::from_millis(500)),
        ..options.load
    };
    let mut points = Vec::new();
    for &keys in &options.keys {
        let (path, seed) = scale_paths(keys).ok_or("unknown size")?;
        let workload = Workload {
            label: "(d) scale",
            path,
            seed: Some(seed),
            cookies: true,
        };
        let mut clients = Vec::new();
        for side in &sides {
            clients.push(driver::connect_seeded(side.server.addr, &workload, most).await?);
        }
        for &n in &options.concurrency {
            let mut runs: Vec<Vec<RunResult>> = vec![Vec::new(), Vec::new()];
            for (side, clients) in sides.iter_mut().zip(clients.iter_mut()) {
                point(side, clients, n, path, warmup).await?;
                side.take_cpu();
            }
            for round in 1..=options.rounds {
                for (which, (side, clients)) in sides.iter_mut().zip(clients.iter_mut()).enumerate()
                {
                    let run = point(side, clients, n, path, options.load).await?;
                    eprintln!(
                        "scale: {keys:>5} keys {n:>4} connections round {round} {:<4} {:>8.0} req/s ({} errors)",
                        side.name,
                        run.rps(),
                        run.errors
                    );
                    runs[which].push(run);
                }
            }
            points.push(ScalePoint {
                keys,
                concurrency: n,
                ours: Summary::of(&runs[0]),
                peer: Summary::of(&runs[1]),
                ours_cpu: sides[0].take_cpu().0,
                peer_cpu: sides[1].take_cpu().0,
            });
        }
        for clients in &mut clients {
            drop_sessions(clients).await?;
        }
    }
    let result = ScaleResult {
        stack: "axum, Redis: ours vs tower-sessions".to_owned(),
        settings: format!(
            "{} s × {} alternating rounds per side and point after a 0.5 s warm-up; one \
             seeded session per connection; values of 200 B",
            options.load.max_duration.as_secs_f64(),
            options.rounds
        ),
        points,
    };
    println!("{}", scale::markdown(&result));
    report::write_json(&options.out, &result)?;
    eprintln!("wrote {}", options.out.display());
    Ok(())
}
