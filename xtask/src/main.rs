//! Project automation. `cargo xtask test-all` is the one command CI runs: set-up (installing
//! what is missing), lints, the whole store matrix against real servers, the adapters and
//! examples, and cargo-deny.

mod mongo;
mod pg_stats;
mod redis_cluster;
mod services;
mod setup;

use std::process::{Command, ExitCode};

use services::Services;

const USAGE: &str = "\
usage: cargo xtask <command>

  test-all   installs the tools it needs when missing, then fmt, clippy, every test
             against every store (starting the services it needs), cargo-deny; stops at
             the first failure
  services   start the test services (Redis Cluster, Mongo stand-in), print their
             URLs, and keep them up until Enter is pressed
  lint       fmt --check, clippy -D warnings, cargo-deny only
  bench      every benchmark (store micro-benchmarks, memory churn, round trips from the
             servers' counters, HTTP load against the peers), then BENCHMARKS.md and
             bench/chart.svg from their results
";

fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    let result = match command.as_str() {
        "test-all" => test_all(),
        // Only test-all's set-up step (hidden).
        "setup" => setup::run(),
        "lint" => lint(),
        "services" => services_foreground(),
        "bench" => bench(),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn test_all() -> Result<(), String> {
    setup::run()?;
    fmt_and_clippy()?;
    let services = Services::start()?;
    let mut test = cargo(&["test", "--workspace", "--all-targets"]);
    services.export_to(&mut test);
    run(
        "workspace tests (all stores, adapters, examples)",
        &mut test,
    )?;
    let mut doc = cargo(&["test", "--workspace", "--doc"]);
    services.export_to(&mut doc);
    run("doc tests", &mut doc)?;
    drop(services);
    deny()
}

fn bench() -> Result<(), String> {
    let started = std::time::Instant::now();
    let root = workspace_root();
    let target = services::target_dir();
    let results = target.join("bench-results");
    let criterion = target.join("criterion");
    // Start from nothing, so a part that fails cannot leave an older run's numbers behind.
    for dir in [&results, &criterion] {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("{}: {e}", dir.display()));
            }
            _ => {}
        }
    }
    run(
        "build the benchmarks (release)",
        cargo(&[
            "build",
            "--release",
            "-p",
            "session-bench",
            "--bins",
            "--benches",
        ])
        .current_dir(&root),
    )?;
    let services = Services::start()?;
    let stats_postgres = pg_stats::start(&target.join("pg-stats"))?;
    // `cargo run` of one session-bench binary, from the workspace root, in our target dir.
    let bench_bin = |name: &str| {
        let mut command = cargo(&[
            "run",
            "--release",
            "-q",
            "-p",
            "session-bench",
            "--bin",
            name,
            "--",
        ]);
        command.current_dir(&root).env("CARGO_TARGET_DIR", &target);
        command
    };
    let mut criterion_run = cargo(&["bench", "-q", "-p", "session-bench", "--bench", "stores"]);
    criterion_run
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target);
    let mut steps = vec![("store micro-benchmarks (criterion)", criterion_run)];
    for (what, name) in [
        ("memory store churn", "memory_churn"),
        ("round trips per request", "round_trips"),
        ("HTTP load against the peers", "http_load"),
    ] {
        let mut command = bench_bin(name);
        command
            .arg("--out")
            .arg(results.join(format!("{name}.json")));
        steps.push((what, command));
    }
    for (what, mut command) in steps {
        command.env("PG_STATS_URL", stats_postgres.url());
        services.export_to(&mut command);
        run(what, &mut command)?;
    }
    drop(stats_postgres);
    drop(services);
    let mut command = bench_bin("report");
    command
        .arg("--results")
        .arg(&results)
        .arg("--criterion")
        .arg(&criterion)
        .arg("--doc")
        .arg(root.join("BENCHMARKS.md"))
        .arg("--chart")
        .arg(root.join("bench/chart.svg"));
    run("BENCHMARKS.md and bench/chart.svg", &mut command)?;
    eprintln!(
        "xtask: bench finished in {:.1} min",
        started.elapsed().as_secs_f64() / 60.0
    );
    Ok(())
}

/// The workspace root (xtask lives one level below it).
fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lint() -> Result<(), String> {
    fmt_and_clippy()?;
    deny()
}

fn fmt_and_clippy() -> Result<(), String> {
    run(
        "cargo fmt --check",
        &mut cargo(&["fmt", "--all", "--check"]),
    )?;
    run(
        "cargo clippy",
        &mut cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )
}

fn deny() -> Result<(), String> {
    run(
        "cargo deny",
        &mut cargo(&["deny", "--offline", "check", "bans", "licenses", "sources"]),
    )
}

fn services_foreground() -> Result<(), String> {
    let services = Services::start()?;
    for (name, value) in services.env() {
        println!("export {name}='{value}'");
    }
    println!("# services are up; press Enter to stop them");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(services);
    Ok(())
}

fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args);
    command
}

fn run(what: &str, command: &mut Command) -> Result<(), String> {
    eprintln!("xtask: == {what}");
    let status = command
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: {status}"))
    }
}
