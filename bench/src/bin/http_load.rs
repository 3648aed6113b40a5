//! HTTP load comparison: our adapters against tower-sessions (axum) and actix-session (actix),
//! on the same handlers and the same backends, plus bare axum — each stack served by a
//! `bench_server` process of its own, the load driven from this process, and the CPU time of
//! the app and of the store servers read from `/proc/<pid>/stat` around every measured round.
//!
//! `cargo run --release --manifest-path bench/Cargo.toml --bin http_load -- [--concurrency 32] [--secs 5]
//! [--requests 10000000] [--rounds 3] [--only memory,sqlite,postgres,redis,actix] [--workloads abcde]
//! [--out target/bench-results/http_load.json]`. `REDIS_URL` and `POSTGRES_URL` default to the
//! local servers. Progress goes to stderr, a markdown table to stdout, the rows to `--out`.

use std::{path::PathBuf, time::Duration};

use session_bench::{
    apps::{PATH_NONE, PATH_READ, PATH_WRITE},
    cpu::StoreServer,
    driver::{self, LoadConfig, RunResult, Workload},
    report::{self, Row, Summary},
    server_process::ServerProcess,
    stacks::{self, BACKENDS, Side},
    workloads::{self, WORKLOADS},
};

type Error = Box<dyn std::error::Error + Send + Sync>;

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
                max_requests: 10_000_000,
                max_duration: Duration::from_secs(5),
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

    /// A short unmeasured run to warm caches, pools and the allocator.
    fn warmup(&self) -> LoadConfig {
        LoadConfig {
            max_duration: self.load.max_duration.min(Duration::from_secs(1)),
            ..self.load
        }
    }
}

/// The store server processes whose CPU a backend's side is charged.
fn store_server(backend: &str, pg_app_name: &str) -> StoreServer {
    match backend {
        "redis" | "actix" => StoreServer::Redis(stacks::redis_url()),
        "postgres" => StoreServer::Postgres {
            url: stacks::postgres_url(),
            application_name: pg_app_name.to_owned(),
        },
        _ => StoreServer::None,
    }
}

/// The stack's name in reports.
fn stack_label(backend: &str) -> &'static str {
    match backend {
        "memory" => "axum, memory",
        "sqlite" => "axum, SQLite",
        "postgres" => "axum, PostgreSQL",
        "redis" => "axum, Redis",
        _ => "actix-web, Redis (actix-session)",
    }
}

/// Starts ours and the peer for `backend` (and bare axum for the axum stacks), checks that
/// both keep a session, then runs every workload alternating the sides each round. Workload
/// (a) also alternates with bare axum, so the layer's cost is read from the same rounds.
async fn compare(backend: &str, options: &Options, rows: &mut Vec<Row>) -> Result<(), Error> {
    let stack = stack_label(backend);
    let mut sides = Vec::new();
    for side in [Side::Ours, Side::Peer] {
        let app_name = stacks::application_name(side);
        let server = ServerProcess::start(backend, side, &app_name)?;
        driver::check_session(server.addr, PATH_WRITE, PATH_READ).await?;
        sides.push(workloads::Side::new(
            side.name(),
            server,
            store_server(backend, &app_name),
        ));
    }
    let bare = if backend == "actix" {
        None
    } else {
        let server = ServerProcess::start(backend, Side::Bare, "unused")?;
        Some(workloads::Side::new("bare", server, StoreServer::None))
    };
    let mut bare = bare;
    for workload in WORKLOADS.iter().filter(|w| options.runs(w)) {
        let with_bare = workload.path == PATH_NONE && bare.is_some();
        let mut active: Vec<&mut workloads::Side> = sides.iter_mut().collect();
        if with_bare && let Some(bare) = bare.as_mut() {
            active.push(bare);
        }
        for side in &active {
            driver::run(side.server.addr, workload, options.warmup()).await?;
        }
        let mut runs: Vec<Vec<RunResult>> = vec![Vec::new(); active.len()];
        for round in 1..=options.rounds {
            for (which, side) in active.iter_mut().enumerate() {
                let run = side.measure(workload, options.load).await?;
                eprintln!(
                    "{stack:>34} {:<34} round {round} {:<4} {:>8.0} req/s  ({} errors)",
                    workload.label,
                    side.name,
                    run.rps(),
                    run.errors,
                );
                runs[which].push(run);
            }
        }
        let cpu: Vec<_> = active.iter_mut().map(|s| s.take_cpu()).collect();
        let mut row = Row::rates(
            workload.label,
            stack,
            Summary::of(&runs[0]),
            Some(Summary::of(&runs[1])),
            runs.get(2).map(|r| Summary::of(r)),
        );
        let mut cpu = cpu.into_iter();
        (row.ours_cpu, row.ours_threads) = cpu.next().unwrap_or_default();
        (row.peer_cpu, row.peer_threads) = cpu.next().unwrap_or_default();
        row.bare_cpu = cpu.next().and_then(|(c, _)| c);
        rows.push(row);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let options = Options::parse()?;
    eprintln!("{options:?}");
    let mut rows = Vec::new();
    for backend in BACKENDS {
        if options.only.iter().any(|b| b == backend) {
            compare(backend, &options, &mut rows).await?;
        }
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
        "{} keep-alive connections (one seeded session each) from the `http_load` process \
         against one `bench_server` process per side, {} s × {} alternating rounds per side \
         after a 1 s warm-up",
        options.load.concurrency,
        options.load.max_duration.as_secs_f64(),
        options.rounds
    )
}
