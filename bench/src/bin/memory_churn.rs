//! The memory store under churn: resident memory while short-lived sessions pass through a
//! bounded `MemoryStore`, and bytes per live session.
//!
//! `cargo run --release --manifest-path bench/Cargo.toml --bin memory_churn -- [--sessions 5000000]
//! [--bound 100000] [--live 1000000] [--ttl-ms 2000]
//! [--out target/bench-results/memory_churn.json]`. Each part runs in a child process of
//! this binary (`--part live|churn`, which prints that part's JSON on stdout), so the two do
//! not share a heap. Progress goes to stderr, the markdown section to stdout.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use session_bench::churn::{self, ChurnResult, ChurnRun, LiveRun};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug)]
struct Options {
    sessions: u64,
    bound: u64,
    live: u64,
    ttl_ms: u64,
    out: PathBuf,
    part: Option<String>,
}

impl Options {
    fn parse() -> Result<Self, Error> {
        let mut options = Self {
            sessions: 5_000_000,
            bound: 100_000,
            live: 1_000_000,
            ttl_ms: 2_000,
            out: PathBuf::from("target/bench-results/memory_churn.json"),
            part: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--sessions" => options.sessions = value()?.parse()?,
                "--bound" => options.bound = value()?.parse()?,
                "--live" => options.live = value()?.parse()?,
                "--ttl-ms" => options.ttl_ms = value()?.parse()?,
                "--out" => options.out = value()?.into(),
                "--part" => options.part = Some(value()?),
                other => return Err(format!("unknown argument {other}").into()),
            }
        }
        if options.sessions == 0 || options.bound == 0 || options.live == 0 {
            return Err("--sessions, --bound and --live must be at least 1".into());
        }
        Ok(options)
    }
}

/// Child mode: runs one part on a multi-threaded runtime and prints its JSON on stdout.
fn run_part(part: &str, options: &Options) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let json = match part {
        "live" => serde_json::to_string(&runtime.block_on(churn::measure_live(options.live))?)?,
        "churn" => serde_json::to_string(&runtime.block_on(churn::measure_churn(
            options.sessions,
            options.bound,
            Duration::from_millis(options.ttl_ms),
        ))?)?,
        other => return Err(format!("unknown part {other}").into()),
    };
    println!("{json}");
    Ok(())
}

/// Runs `--part part` in a child process of this binary and parses what it prints.
fn spawn_part<T: serde::de::DeserializeOwned>(part: &str, options: &Options) -> Result<T, Error> {
    // `/proc/self/exe` rather than `current_exe()`: it still runs this very binary when a
    // build in the shared target directory has replaced the file meanwhile.
    let output = Command::new("/proc/self/exe")
        .args(["--part", part])
        .args(["--sessions", &options.sessions.to_string()])
        .args(["--bound", &options.bound.to_string()])
        .args(["--live", &options.live.to_string()])
        .args(["--ttl-ms", &options.ttl_ms.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start the {part} part: {e}"))?;
    if !output.status.success() {
        return Err(format!("the {part} part failed ({}); see above", output.status).into());
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

fn run() -> Result<(), Error> {
    let options = Options::parse()?;
    if let Some(part) = &options.part {
        return run_part(part, &options);
    }
    let start = Instant::now();
    eprintln!("memory_churn: live part, {} sessions", options.live);
    let live: LiveRun = spawn_part("live", &options)?;
    eprintln!(
        "memory_churn: churn part, {} sessions through a bound of {}",
        options.sessions, options.bound
    );
    let churn: ChurnRun = spawn_part("churn", &options)?;
    let result = ChurnResult {
        live,
        churn,
        total_secs: start.elapsed().as_secs_f64(),
    };
    if let Some(dir) = options.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&options.out, serde_json::to_string_pretty(&result)?)?;
    eprintln!("memory_churn: results written to {}", options.out.display());
    print!("{}", churn::markdown(&result));
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("memory_churn: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
